-- Read models for the API and for analysts, in their own schema. They are derived from the
-- events and can be rebuilt from them at any time; nothing here is a source of truth.
-- Column by column:
--
-- read.exchanges: one row per exchange, written in the same transaction as the exchange's
--   events (so exchange/get and exchange/list see a create at once).
--   id                 the public exchange id (int64)
--   account_id         the merchant account (0x + 40 hex)
--   source_currency, destination_currency, direction (SELL | BUY)
--   source_amount      what the account sells, fee included (source currency)
--   destination_amount what the account receives (destination currency)
--   rate               destination units per source unit, as quoted
--   fee                in the source currency, inside source_amount
--   state              the public state: IN_PROGRESS | COMPLETED | FAILED
--   status             the internal step: requested | quoted | submitted | completed | failed
--   failure_reason     QUOTE_EXPIRED | RATE_MOVED | VENUE_REJECTED | VENUE_TIMEOUT | INSUFFICIENT_LIQUIDITY | PAIR_DISABLED
--   failure_detail     a human explanation of the failure
--   quote_id           the pre-calculate quote it was created from, if any
--   execution_rate     the rate checked at execution
--   client_order_id    the order id sent to the venue
--   created_at, quoted_at, submitted_at, completed_at, failed_at, updated_at: when each step happened
--   stream_version     the last event of the exchange's stream applied to this row
--
-- read.balances: one row per account and currency, written with the account's events.
--   available  spendable now;  held  reserved by exchanges in progress
CREATE SCHEMA IF NOT EXISTS read;

CREATE TABLE read.exchanges (
    id                   bigint PRIMARY KEY,
    account_id           text NOT NULL,
    source_currency      text NOT NULL,
    destination_currency text NOT NULL,
    direction            text NOT NULL,
    source_amount        numeric NOT NULL,
    destination_amount   numeric NOT NULL,
    rate                 numeric NOT NULL,
    fee                  numeric NOT NULL,
    state                text NOT NULL,
    status               text NOT NULL,
    failure_reason       text,
    failure_detail       text,
    quote_id             uuid,
    execution_rate       numeric,
    client_order_id      text,
    created_at           timestamptz NOT NULL,
    quoted_at            timestamptz,
    submitted_at         timestamptz,
    completed_at         timestamptz,
    failed_at            timestamptz,
    updated_at           timestamptz NOT NULL,
    stream_version       bigint NOT NULL
);
-- exchange/list: newest first per account (ids come from a sequence), keyset-paginated on the id.
CREATE INDEX exchanges_account_id ON read.exchanges (account_id, id DESC);
CREATE INDEX exchanges_account_created ON read.exchanges (account_id, created_at);
CREATE INDEX exchanges_pair_created ON read.exchanges (source_currency, destination_currency, created_at);

CREATE TABLE read.balances (
    account_id text NOT NULL,
    currency   text NOT NULL,
    available  numeric NOT NULL DEFAULT 0,
    held       numeric NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (account_id, currency)
);

GRANT USAGE ON SCHEMA read TO swapline_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON read.exchanges, read.balances TO swapline_app;

-- Analysts read the read models only; auditors read the events and the read models. Neither
-- writes anything. Both are NOLOGIN groups: give people LOGIN roles that are members (README).
GRANT USAGE ON SCHEMA read TO swapline_analyst, swapline_auditor;
GRANT SELECT ON ALL TABLES IN SCHEMA read TO swapline_analyst, swapline_auditor;
ALTER DEFAULT PRIVILEGES IN SCHEMA read GRANT SELECT ON TABLES TO swapline_analyst, swapline_auditor;
GRANT SELECT ON events, stream_heads TO swapline_auditor;

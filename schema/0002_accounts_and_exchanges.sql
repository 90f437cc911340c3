-- Tables beside the event store that the API needs to answer fast and safely. None of them is
-- a source of truth for money: balances and exchange states come from the events.

-- Every opened account (its AccountOpened event is the truth); lets admins list accounts.
CREATE TABLE accounts (
    account_id text PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- API keys; the secret is AES-GCM encrypted under SWAPLINE_MASTER_KEY.
CREATE TABLE api_keys (
    api_key           text PRIMARY KEY,
    account_id        text NOT NULL REFERENCES accounts (account_id),
    secret_ciphertext bytea NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    revoked_at        timestamptz
);
CREATE INDEX api_keys_account ON api_keys (account_id);

-- Key and signature of every authenticated request inside the timestamp window: a second use is a replay.
CREATE TABLE seen_requests (
    api_key   text NOT NULL,
    signature text NOT NULL,
    seen_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (api_key, signature)
);

-- Exchange ids are the public int64 ids of Calypso's API.
CREATE SEQUENCE exchange_ids START WITH 1000;

-- Locked quotes from pre-calculate, honoured by any node, used at most once.
CREATE TABLE quotes (
    quote_id             uuid PRIMARY KEY,
    account_id           text NOT NULL,
    source_currency      text NOT NULL,
    destination_currency text NOT NULL,
    direction            text NOT NULL,
    requested_amount     numeric NOT NULL,
    source_amount        numeric NOT NULL,
    destination_amount   numeric NOT NULL,
    rate                 numeric NOT NULL,
    fee                  numeric NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    expires_at           timestamptz NOT NULL,
    used_at              timestamptz,
    exchange_id          bigint
);
CREATE INDEX quotes_expiry ON quotes (expires_at);

-- Idempotency keys of exchange/create, per account, kept 24 hours.
CREATE TABLE idempotency_keys (
    account_id      text NOT NULL,
    idempotency_key text NOT NULL,
    request_hash    bytea NOT NULL,
    exchange_id     bigint NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, idempotency_key)
);

-- Exchanges the execution worker still has to carry to COMPLETED or FAILED. Written in the
-- create's transaction and deleted in the terminal event's, so a crash loses none.
CREATE TABLE execution_queue (
    exchange_id bigint PRIMARY KEY,
    due_at      timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz,
    attempts    int NOT NULL DEFAULT 0
);
CREATE INDEX execution_queue_due ON execution_queue (due_at);

-- The simulated venue's own book: one row per client order id, so a resubmission is a no-op
-- and tests can count fills.
CREATE TABLE venue_orders (
    client_order_id      text PRIMARY KEY,
    source_currency      text NOT NULL,
    destination_currency text NOT NULL,
    source_amount        numeric NOT NULL,
    destination_amount   numeric NOT NULL,
    status               text NOT NULL CHECK (status IN ('PENDING', 'FILLED', 'REJECTED', 'CANCELLED')),
    submitted_at         timestamptz NOT NULL DEFAULT now(),
    fill_due_at          timestamptz NOT NULL,
    filled_at            timestamptz
);

GRANT SELECT, INSERT ON accounts TO swapline_app;
GRANT SELECT, INSERT, UPDATE ON api_keys TO swapline_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON seen_requests TO swapline_app;
GRANT USAGE, SELECT ON SEQUENCE exchange_ids TO swapline_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON quotes TO swapline_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO swapline_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON execution_queue TO swapline_app;
GRANT SELECT, INSERT, UPDATE ON venue_orders TO swapline_app;

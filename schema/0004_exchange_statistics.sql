-- Analysts' statistics per account, pair and UTC day of creation, kept by the projection
-- runner (checkpoint `exchange_statistics` in `checkpoints`, advanced in the same transaction
-- as these rows). They trail the events by the runner's lag; read.exchanges does not.
--
-- read.exchange_timings: one row per exchange, the facts the daily figures are made of.
--   exchange_id, account_id, day (UTC day of creation), source_currency, destination_currency
--   created_at, finished_at    creation and COMPLETED/FAILED time
--   outcome                    NULL while in progress, else COMPLETED or FAILED
--   failure_reason             for FAILED
--   seconds_to_complete        finished_at - created_at in seconds, for COMPLETED
--
-- read.exchange_daily: per account, day and pair
--   created     exchanges created that day
--   completed, failed          how many of those have finished each way
--   source_volume, destination_volume, fees   sums over the completed ones
--
-- read.exchange_failures: per account, day, pair and failure reason, how many failed.
CREATE TABLE read.exchange_timings (
    exchange_id          bigint PRIMARY KEY,
    account_id           text NOT NULL,
    day                  date NOT NULL,
    source_currency      text NOT NULL,
    destination_currency text NOT NULL,
    source_amount        numeric NOT NULL,
    destination_amount   numeric NOT NULL,
    fee                  numeric NOT NULL,
    created_at           timestamptz NOT NULL,
    finished_at          timestamptz,
    outcome              text,
    failure_reason       text,
    seconds_to_complete  numeric
);
CREATE INDEX exchange_timings_day ON read.exchange_timings (account_id, day, source_currency, destination_currency);

CREATE TABLE read.exchange_daily (
    account_id           text NOT NULL,
    day                  date NOT NULL,
    source_currency      text NOT NULL,
    destination_currency text NOT NULL,
    created              bigint NOT NULL DEFAULT 0,
    completed            bigint NOT NULL DEFAULT 0,
    failed               bigint NOT NULL DEFAULT 0,
    source_volume        numeric NOT NULL DEFAULT 0,
    destination_volume   numeric NOT NULL DEFAULT 0,
    fees                 numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, day, source_currency, destination_currency)
);

CREATE TABLE read.exchange_failures (
    account_id           text NOT NULL,
    day                  date NOT NULL,
    source_currency      text NOT NULL,
    destination_currency text NOT NULL,
    failure_reason       text NOT NULL,
    failed               bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, day, source_currency, destination_currency, failure_reason)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON read.exchange_timings, read.exchange_daily, read.exchange_failures TO swapline_app;
GRANT SELECT ON read.exchange_timings, read.exchange_daily, read.exchange_failures TO swapline_analyst, swapline_auditor;
-- Auditors compare the statistics with the events up to the runner's checkpoint.
GRANT SELECT ON checkpoints TO swapline_auditor;

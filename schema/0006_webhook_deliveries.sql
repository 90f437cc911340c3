-- The notifier's outbox and its delivery log.
--
-- The dispatcher (checkpoint `webhook_dispatcher` in `checkpoints`) follows the global event order
-- and, in the same transaction as its checkpoint, writes one row here per matching subscription
-- for every status change (ExchangeRequested, ExchangeCompleted, ExchangeFailed). Delivery workers
-- in any number of processes claim due rows with FOR UPDATE SKIP LOCKED and a lease.
--
-- webhook_deliveries: one webhook to one subscription.
--   delivery_id        the delivery log's id (`deliveryId`)
--   webhook_id         `webhook-id` header and the payload's `id`, the same on every retry
--   subscription_id    webhook_subscriptions.request_id
--   exchange_id, sequence   the exchange and its notification number (1 created, 2 completed/failed)
--   event_position     the status-change event's global_position (one delivery per subscription and event)
--   event_type         EXCHANGE_CREATED, EXCHANGE_COMPLETED or EXCHANGE_FAILED
--   body               the exact JSON bytes sent, so retries and signatures never change
--   status             PENDING (to send, or waiting for a retry), DELIVERED, DEAD (retries exhausted)
--   attempts           attempts so far; round_attempts since it was last queued (the retry schedule's index)
--   next_attempt_at    when it is due
--   lease_token, lease_until   the worker sending it now; a lease that ran out (a crashed worker) is taken over
--   last_error         what went wrong last, for the log
--   created_at, delivered_at, updated_at
--
-- webhook_attempts: every attempt, kept for the delivery log and the blocking rule.
--   at, http_status (NULL when no response came), latency_ms, error, response_excerpt (first 1 KiB)
CREATE TABLE webhook_deliveries (
    delivery_id     bigserial PRIMARY KEY,
    webhook_id      text NOT NULL UNIQUE,
    subscription_id uuid NOT NULL REFERENCES webhook_subscriptions (request_id),
    account_id      text NOT NULL,
    exchange_id     bigint NOT NULL,
    sequence        integer NOT NULL,
    event_position  bigint NOT NULL,
    event_type      text NOT NULL,
    body            bytea NOT NULL,
    status          text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'DELIVERED', 'DEAD')),
    attempts        integer NOT NULL DEFAULT 0,
    round_attempts  integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_token     uuid,
    lease_until     timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (subscription_id, event_position)
);
-- What workers claim: pending rows by due time.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'PENDING';
-- The ordering rule (an earlier pending delivery of the same exchange holds the later back) and the log's filters.
CREATE INDEX webhook_deliveries_exchange ON webhook_deliveries (subscription_id, exchange_id, event_position);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (subscription_id, delivery_id);

CREATE TABLE webhook_attempts (
    delivery_id      bigint NOT NULL REFERENCES webhook_deliveries (delivery_id),
    attempt          integer NOT NULL,
    subscription_id  uuid NOT NULL,
    at               timestamptz NOT NULL,
    http_status      integer,
    latency_ms       integer NOT NULL,
    error            text,
    response_excerpt text,
    PRIMARY KEY (delivery_id, attempt)
);
-- The blocking rule counts a subscription's recent attempts.
CREATE INDEX webhook_attempts_recent ON webhook_attempts (subscription_id, at);

-- When the subscription was blocked (unblocking resends what failed since then).
ALTER TABLE webhook_subscriptions ADD COLUMN blocked_at timestamptz;

GRANT SELECT, INSERT, UPDATE ON webhook_deliveries, webhook_attempts TO swapline_app;
GRANT USAGE ON SEQUENCE webhook_deliveries_delivery_id_seq TO swapline_app;

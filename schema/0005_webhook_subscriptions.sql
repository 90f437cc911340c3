-- Webhook subscriptions (the notifier's first table). Managed through the Calypso-shaped
-- /api/v1/subscription/webhook/... methods; an account sees and changes only its own rows.
--
-- webhook_subscriptions: one row per subscription.
--   request_id                 the client-chosen UUID of the create call; the subscription's public id
--   account_id                 the owning account
--   url                        the callback URL, accepted by the SSRF guard at create/change time
--   event_types                EXCHANGE_CREATED, EXCHANGE_COMPLETED, EXCHANGE_FAILED (a non-empty subset)
--   service_types              EXCHANGE
--   state                      ACTIVE; BLOCKED after sustained failure; DISABLED after a 410 (delivery, later)
--   public_key                 32 hex characters, sent as the `Key` header of each delivery
--   secret_ciphertext          the Calypso `Sign` secret (32 hex), AES-GCM under SWAPLINE_MASTER_KEY
--   webhook_secret_ciphertext  the Standard Webhooks secret (`whsec_` + base64), encrypted likewise
--   previous_secret_ciphertext, previous_webhook_secret_ciphertext
--                              the secrets replaced by the last regenerate, still signing until
--   previous_secrets_until     the end of the rotation overlap (NULL when there is none)
--   created_at, updated_at     creation and last change
--   deleted_at                 soft deletion: a deleted subscription is never listed nor delivered to
CREATE TABLE webhook_subscriptions (
    request_id                         uuid PRIMARY KEY,
    account_id                         text NOT NULL REFERENCES accounts (account_id),
    url                                text NOT NULL,
    event_types                        text[] NOT NULL,
    service_types                      text[] NOT NULL,
    state                              text NOT NULL DEFAULT 'ACTIVE' CHECK (state IN ('ACTIVE', 'BLOCKED', 'DISABLED')),
    public_key                         text NOT NULL UNIQUE,
    secret_ciphertext                  bytea NOT NULL,
    webhook_secret_ciphertext          bytea NOT NULL,
    previous_secret_ciphertext         bytea,
    previous_webhook_secret_ciphertext bytea,
    previous_secrets_until             timestamptz,
    created_at                         timestamptz NOT NULL DEFAULT now(),
    updated_at                         timestamptz NOT NULL DEFAULT now(),
    deleted_at                         timestamptz
);
CREATE INDEX webhook_subscriptions_account ON webhook_subscriptions (account_id, created_at) WHERE deleted_at IS NULL;

GRANT SELECT, INSERT, UPDATE ON webhook_subscriptions TO swapline_app;

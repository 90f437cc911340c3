-- The replay guard keeps one SHA-256 of the key and the (lower-case hex) signature instead of both
-- texts: a 32-byte primary key instead of about 170 bytes of text, so each signed request's row,
-- index entry and WAL are smaller, and the server encodes, sends and compares 32 bytes. The
-- signature is always 128 hex characters, so `key || ' ' || signature` names one pair whatever the
-- key holds. Rows seen before this migration keep guarding their window.
CREATE TABLE seen_request_digests (
    digest  bytea PRIMARY KEY,  -- sha256(api_key || ' ' || signature), computed by the server
    seen_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO seen_request_digests (digest, seen_at)
SELECT sha256(convert_to(api_key || ' ' || signature, 'UTF8')), seen_at FROM seen_requests
ON CONFLICT (digest) DO NOTHING;
DROP TABLE seen_requests;
GRANT SELECT, INSERT, UPDATE, DELETE ON seen_request_digests TO swapline_app;

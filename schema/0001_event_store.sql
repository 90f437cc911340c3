-- The append-only event store: the single source of truth for every exchange and account.
--
-- Hash chain (documented for auditors; recomputable in any language from the stored columns):
--   canonical = stream_id || E'\n' || stream_version || E'\n' || event_id || E'\n' || event_type
--               || E'\n' || schema_version || E'\n' || recorded_at (UTC, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
--               || E'\n' || data::text || E'\n' || metadata::text
--   hash      = sha256(prev_hash || convert_to(canonical, 'UTF8'))
--   prev_hash = the previous event's hash in the same stream; 32 zero bytes for version 1.
-- data::text and metadata::text are jsonb's own normalized output, so the bytes do not depend
-- on how a client formatted its JSON.

CREATE TABLE events (
    global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    stream_id       text        NOT NULL,
    stream_version  bigint      NOT NULL,
    event_id        uuid        NOT NULL UNIQUE,
    event_type      text        NOT NULL,
    schema_version  int         NOT NULL DEFAULT 1,
    data            jsonb       NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}',
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    prev_hash       bytea       NOT NULL,
    hash            bytea       NOT NULL,
    CONSTRAINT events_stream_version_unique UNIQUE (stream_id, stream_version),
    CONSTRAINT events_stream_version_positive CHECK (stream_version > 0)
);

-- Global readers walk (transaction_id, global_position); see EventStore.readGlobal.
CREATE INDEX events_global_order ON events (transaction_id, global_position);

-- The last version and hash of every stream, written in the same transaction as its events,
-- so a deleted last event is detectable.
CREATE TABLE stream_heads (
    stream_id      text   PRIMARY KEY,
    last_version   bigint NOT NULL,
    last_hash      bytea  NOT NULL,
    last_position  bigint NOT NULL
);

CREATE FUNCTION event_canonical_text(e events) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT e.stream_id || E'\n' || e.stream_version::text || E'\n' || e.event_id::text || E'\n'
        || e.event_type || E'\n' || e.schema_version::text || E'\n'
        || to_char(e.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || E'\n'
        || e.data::text || E'\n' || e.metadata::text
$$;

-- Runs as the owner (SECURITY DEFINER) so the runtime role needs no rights on stream_heads.
-- It checks the version against the head (the optimistic-concurrency check, reported as a
-- unique violation like the table constraint), fills the chain, and moves the head.
CREATE FUNCTION events_before_insert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    head stream_heads%ROWTYPE;
    expected_version bigint;
BEGIN
    SELECT * INTO head FROM stream_heads WHERE stream_id = NEW.stream_id FOR UPDATE;
    expected_version := COALESCE(head.last_version, 0) + 1;
    IF NEW.stream_version IS NULL THEN
        NEW.stream_version := expected_version;
    ELSIF NEW.stream_version <> expected_version THEN
        RAISE EXCEPTION 'stream % is at version %, cannot append version %',
            NEW.stream_id, expected_version - 1, NEW.stream_version
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'events_stream_version_unique';
    END IF;
    NEW.transaction_id := pg_current_xact_id();
    NEW.recorded_at := date_trunc('microseconds', clock_timestamp());
    NEW.prev_hash := COALESCE(head.last_hash, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
    NEW.hash := sha256(NEW.prev_hash || convert_to(event_canonical_text(NEW), 'UTF8'));
    IF head.stream_id IS NULL THEN
        INSERT INTO stream_heads (stream_id, last_version, last_hash, last_position)
        VALUES (NEW.stream_id, NEW.stream_version, NEW.hash, NEW.global_position);
    ELSE
        UPDATE stream_heads SET last_version = NEW.stream_version, last_hash = NEW.hash,
            last_position = NEW.global_position
        WHERE stream_id = NEW.stream_id;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER events_chain BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION events_before_insert();

-- Immutability is the database's job, not a convention.
CREATE FUNCTION events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_refuse_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change();
CREATE TRIGGER stream_heads_no_delete BEFORE DELETE ON stream_heads
    FOR EACH ROW EXECUTE FUNCTION events_refuse_change();
CREATE TRIGGER stream_heads_no_truncate BEFORE TRUNCATE ON stream_heads
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change();

-- Wakes subscribers (projections, workers) once per appending statement; delivered at commit.
CREATE FUNCTION events_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('swapline_events', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_notify();

-- Readers and writers keep their place in the global order here, each advanced in the same
-- transaction as the work it covers.
CREATE TABLE checkpoints (
    name           text PRIMARY KEY,
    transaction_id xid8   NOT NULL DEFAULT '0',
    position       bigint NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- The runtime role: reads and appends events, nothing else on them.
GRANT SELECT, INSERT ON events TO swapline_app;
GRANT SELECT ON stream_heads TO swapline_app;
GRANT SELECT, INSERT, UPDATE ON checkpoints TO swapline_app;

-- The read models are written by set-based SQL over the events table (one statement per batch,
-- whether the batch is an append's own events or a rebuild's hundred thousand). This function
-- stops such a statement at an event whose schema version the statement does not read, instead
-- of skipping it: a newer event reaching an older build's projection fails loudly.
CREATE FUNCTION swapline_unreadable_event(stream text, version bigint, event_type text, schema_version integer)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
    RAISE EXCEPTION 'event % of stream % (%) has schema version %, which this build''s read models cannot read',
        version, stream, event_type, schema_version
        USING ERRCODE = 'data_exception';
END
$$;

GRANT EXECUTE ON FUNCTION swapline_unreadable_event(text, bigint, text, integer) TO swapline_app;

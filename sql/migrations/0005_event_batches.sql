-- Append a transaction's events in one statement at its end, so the event-order
-- lock (see append_event) is held only for that statement and the commit.
CREATE FUNCTION append_events(
    p_kinds text[], p_emergency_ids text[], p_visibility text[], p_actors text[],
    p_data text[]
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    last_seq bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(7301850458224812337);  -- the event-order lock
    FOR i IN 1 .. coalesce(array_length(p_kinds, 1), 0) LOOP
        INSERT INTO events (seq, at, kind, emergency_id, visibility, actor, data)
        VALUES (nextval('event_seq'), clock_timestamp(), p_kinds[i], p_emergency_ids[i],
                string_to_array(p_visibility[i], ','), p_actors[i], p_data[i]::jsonb)
        RETURNING seq INTO last_seq;
    END LOOP;
    RETURN last_seq;
END
$$;

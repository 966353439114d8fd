-- The hub's read after a commit of its own, with the NOTIFY that tells the other
-- instances (events/hub.py), in one statement: a round trip per commit less than a
-- NOTIFY of its own. The NOTIFY goes out as this read's own transaction commits,
-- after the commit that poked the hub, as before. Its payload names the hub, whose
-- listener then knows it for its own and does not read again.
CREATE FUNCTION read_events_and_notify(p_since bigint, p_limit int, p_hub text)
RETURNS TABLE (
    seq bigint, at timestamptz, kind text, emergency_id text, visibility text[],
    actor text, data_json text
)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('eadrcc_events', p_hub);
    RETURN QUERY
        SELECT e.seq, e.at, e.kind, e.emergency_id, e.visibility, e.actor, e.data::text
        FROM events e
        WHERE e.seq > p_since
        ORDER BY e.seq
        LIMIT p_limit;
END
$$;

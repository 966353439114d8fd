-- An offer from a nation whose circulation row is already `offered` does not move
-- the row, so it does not lock it for its whole transaction (every offer of the
-- nation would queue behind the last). But a withdrawal of the nation's last other
-- offer must still count it: this holds the row shared from the COMMIT's message
-- to the commit (offers do not wait for each other; a withdrawal, which locks the
-- row before it counts, waits for them), and fails with serialization_failure if
-- the row is no longer `offered` (a withdrawal got there first: the offer runs
-- again and moves it back). Taken after the needs, before the event-order lock,
-- as every transaction that touches both orders them.
CREATE FUNCTION keep_offered(p_emergency_id text, p_country text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM responses
    WHERE emergency_id = p_emergency_id AND country = p_country AND state = 'offered'
    FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the circulation row of % in % is no longer offered',
            p_country, p_emergency_id
            USING ERRCODE = 'serialization_failure';
    END IF;
END
$$;

-- Foundation: who may call (tokens), and the event log every change appends to.

CREATE TABLE tokens (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    role        text NOT NULL
                CHECK (role IN ('admin', 'duty_officer', 'poc', 'integration', 'observer')),
    country     text CHECK (country ~ '^[A-Z]{3}$'),
    token_hash  bytea NOT NULL UNIQUE,
    -- HMAC secrets of an integration, newest first; two are live during a rotation.
    secrets     text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    CONSTRAINT poc_has_country CHECK ((role = 'poc') = (country IS NOT NULL)),
    CONSTRAINT at_most_two_secrets CHECK (cardinality(secrets) <= 2)
);

CREATE SEQUENCE event_seq AS bigint;

CREATE TABLE events (
    seq           bigint PRIMARY KEY,
    at            timestamptz NOT NULL,
    kind          text NOT NULL,
    emergency_id  text,
    -- '*' for everyone, ISO3 codes for the POCs of those countries; staff see all.
    visibility    text[] NOT NULL,
    actor         text NOT NULL,
    data          jsonb NOT NULL
);
CREATE INDEX events_at ON events (at);
CREATE INDEX events_emergency ON events (emergency_id, seq) WHERE emergency_id IS NOT NULL;

-- The only way events are written. The transaction-level advisory lock is taken
-- just before the insert and held to commit, so events become visible in seq
-- order: a reader that has seen seq N can never later find a committed event
-- below N (docs/architecture.md, promise 2; a bare sequence default does not give this,
-- because transactions commit out of order).
CREATE FUNCTION append_event(
    p_kind text, p_emergency_id text, p_visibility text[], p_actor text, p_data jsonb
) RETURNS TABLE (seq bigint, at timestamptz)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7301850458224812337);  -- the event-order lock
    RETURN QUERY
        INSERT INTO events AS e (seq, at, kind, emergency_id, visibility, actor, data)
        VALUES (nextval('event_seq'), clock_timestamp(), p_kind, p_emergency_id,
                p_visibility, p_actor, p_data)
        RETURNING e.seq, e.at;
END
$$;

-- Subscriptions and their outbound delivery (see 0011_subscriptions.sql).

-- name: insert
INSERT INTO subscriptions (id, audience, country, kind, url, address, events, language,
                           secret, owner_token_id, created_by, cursor)
VALUES (:id, :audience, :country, :kind, :url, :address, :events, :language,
        :secret, :owner_token_id, :created_by, (SELECT coalesce(max(seq), 0) FROM events))
RETURNING *;

-- name: get
SELECT * FROM subscriptions WHERE id = :id;

-- name: list_all
-- :country: a country, or NULL for all; :owner: an owner token, or NULL for any.
SELECT * FROM subscriptions
WHERE (:country::text IS NULL OR country = :country)
  AND (:owner::text IS NULL OR owner_token_id = :owner)
ORDER BY created_at, id;

-- name: delete
DELETE FROM subscriptions WHERE id = :id RETURNING id;

-- name: deliveries
SELECT seq, first_seq, status, attempts, last_error, latency_ms, first_attempt_at,
       last_attempt_at, next_attempt_at
FROM deliveries
WHERE subscription_id = :subscription_id
ORDER BY seq DESC
LIMIT :limit;

-- name: channels
-- Per partner: its subscriptions and whether any of them works.
SELECT p.code AS country,
       count(s.id) AS subscriptions,
       count(s.id) FILTER (WHERE s.status = 'active') AS active,
       count(s.id) FILTER (WHERE s.status = 'suspended') AS suspended,
       max(s.last_success_at) AS last_success_at,
       min(s.failing_since) FILTER (WHERE s.status = 'active') AS failing_since,
       coalesce(bool_or(s.status = 'active' AND s.failing_since IS NULL
                        AND s.last_success_at IS NOT NULL), false) AS working
FROM partners p
LEFT JOIN subscriptions s ON s.country = p.code
WHERE :country::text IS NULL OR p.code = :country
GROUP BY p.code
ORDER BY p.code;

-- ---- the lease ------------------------------------------------------------------
-- A worker claims free subscriptions (never leased, lease expired, or its own),
-- renews what it holds, and lets go when it stops. SKIP LOCKED: two instances
-- claiming at once never wait on each other and never take the same row.

-- name: claim
WITH free AS (
    SELECT id FROM subscriptions
    WHERE status = 'active'
      AND (lease_holder IS NULL OR lease_until < now() OR lease_holder = :holder)
    ORDER BY id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
)
UPDATE subscriptions s
SET lease_holder = :holder, lease_until = now() + make_interval(secs => :lease_seconds)
FROM free
WHERE s.id = free.id
RETURNING s.*;

-- name: renew
UPDATE subscriptions
SET lease_until = now() + make_interval(secs => :lease_seconds)
WHERE lease_holder = :holder AND status = 'active' AND lease_until >= now()
RETURNING id;

-- name: release
UPDATE subscriptions SET lease_holder = NULL, lease_until = NULL WHERE lease_holder = :holder;

-- ---- delivering -----------------------------------------------------------------

-- name: pending_events
-- What the subscription has still to receive: after its cursor, visible to its
-- audience (NULL = everything), of the kinds it asked for (no prefixes = all).
-- The head comes from the same snapshot: with nothing pending up to it, the
-- worker waits for the log to pass it.
-- Each event's data comes twice: decoded (mail reads it) and as the text a
-- webhook sends, the same bytes a console is sent (events.fanout).
WITH page AS (
    SELECT seq, at, kind, emergency_id, data, data::text AS data_json
    FROM events e
    WHERE seq > :after
      AND (:until::bigint IS NULL OR seq <= :until)
      AND (:audience::text[] IS NULL OR visibility && :audience::text[])
      AND (cardinality(:prefixes::text[]) = 0
           OR EXISTS (SELECT 1 FROM unnest(:prefixes::text[]) p WHERE starts_with(e.kind, p)))
    ORDER BY seq
    LIMIT :limit
)
SELECT (SELECT coalesce(max(seq), 0) FROM events) AS head,
       coalesce((SELECT jsonb_agg(to_jsonb(page) ORDER BY seq) FROM page), '[]') AS events;

-- name: delivered
-- Acknowledged: advance the cursor and log each event, only while we hold the
-- lease (a worker that lost it must not move the cursor another one owns).
WITH sub AS (
    UPDATE subscriptions
    SET cursor = greatest(cursor, :cursor), attempts = 0, next_attempt_at = NULL,
        failing_since = NULL, last_error = NULL, pending_until = NULL,
        last_success_at = now()
    WHERE id = :id AND lease_holder = :holder
    RETURNING id
), logged AS (
    INSERT INTO deliveries (subscription_id, seq, first_seq, status, attempts, latency_ms,
                            first_attempt_at, last_attempt_at)
    SELECT sub.id, d.seq, d.first_seq, 'delivered', d.attempts, d.latency_ms, d.started,
           now()
    FROM sub, unnest(:seqs::bigint[], :first_seqs::bigint[], :attempts::int[],
                     :latencies::real[], :started::timestamptz[])
             AS d (seq, first_seq, attempts, latency_ms, started)
    ON CONFLICT (subscription_id, seq) DO UPDATE
    SET status = 'delivered', attempts = deliveries.attempts + 1,
        latency_ms = excluded.latency_ms, last_attempt_at = excluded.last_attempt_at,
        next_attempt_at = NULL
    RETURNING 1
)
SELECT count(*) FROM sub;

-- name: failed
-- Not acknowledged: remember the error and when to try again (same fence).
WITH sub AS (
    UPDATE subscriptions
    SET attempts = attempts + 1, next_attempt_at = :next_attempt_at, last_error = :error,
        failing_since = coalesce(failing_since, now()), pending_until = :seq
    WHERE id = :id AND lease_holder = :holder
    RETURNING id, attempts, failing_since
), logged AS (
    INSERT INTO deliveries (subscription_id, seq, first_seq, status, attempts, last_error,
                            latency_ms, first_attempt_at, last_attempt_at, next_attempt_at)
    SELECT sub.id, :seq, :first_seq, 'failing', 1, :error, :latency_ms, now(), now(),
           :next_attempt_at
    FROM sub
    ON CONFLICT (subscription_id, seq) DO UPDATE
    SET status = 'failing', attempts = deliveries.attempts + 1,
        last_error = excluded.last_error, latency_ms = excluded.latency_ms,
        last_attempt_at = excluded.last_attempt_at, next_attempt_at = excluded.next_attempt_at
    RETURNING 1
)
SELECT attempts, failing_since FROM sub;

-- name: suspend
WITH sub AS (
    UPDATE subscriptions
    SET status = 'suspended', suspended_at = now(), lease_holder = NULL, lease_until = NULL,
        next_attempt_at = NULL
    WHERE id = :id AND lease_holder = :holder AND status = 'active'
    RETURNING *
), logged AS (
    UPDATE deliveries d SET status = 'suspended', next_attempt_at = NULL
    FROM sub
    WHERE d.subscription_id = sub.id AND d.status = 'failing'
)
SELECT * FROM sub;

-- name: resume
-- A suspended subscription goes back to active with a fresh retry clock (so it is
-- not suspended again at its first failure), free for any instance to claim.
-- From its cursor by default: nothing it missed is lost; an e-mail batch keeps
-- its last seq (pending_until) so the resent message has the same Message-ID.
-- With :skip, the cursor jumps to the head of the log and what it missed is dropped.
UPDATE subscriptions
SET status = 'active', suspended_at = NULL, attempts = 0, next_attempt_at = NULL,
    failing_since = NULL, lease_holder = NULL, lease_until = NULL,
    pending_until = CASE WHEN :skip::boolean THEN NULL ELSE pending_until END,
    cursor = CASE WHEN :skip::boolean
                  THEN greatest(cursor, (SELECT coalesce(max(seq), 0) FROM events))
                  ELSE cursor END
WHERE id = :id AND status = 'suspended'
RETURNING *;

-- name: get_for_update
SELECT * FROM subscriptions WHERE id = :id FOR UPDATE;

-- name: prune_deliveries
DELETE FROM deliveries WHERE last_attempt_at < now() - make_interval(days => :days);

-- name: emergency_titles
SELECT id, title, exercise FROM emergencies WHERE id = ANY(:ids::text[]);

-- ---- the daily situation report -------------------------------------------------

-- name: active_emergencies
SELECT id, title, exercise, countries FROM emergencies WHERE status = 'active' ORDER BY id;

-- name: claim_sitrep_day
-- Once per emergency and day, across instances and restarts.
INSERT INTO sitrep_sends (emergency_id, day) VALUES (:emergency_id, :day)
ON CONFLICT DO NOTHING
RETURNING emergency_id;

-- name: sitreps_due
-- Active emergencies whose report for the day has not gone yet.
SELECT id, title, exercise, countries FROM emergencies e
WHERE status = 'active'
  AND NOT EXISTS (SELECT 1 FROM sitrep_sends s WHERE s.emergency_id = e.id AND s.day = :day)
ORDER BY id;

-- Circulation: distribution lists and the response matrix.

-- name: lock_emergency
-- The emergency and its distribution, the duty officer's list or the default:
-- every Ally and partner but the emergency's own countries, and nobody for an
-- exercise. NO KEY UPDATE serialises circulations and list changes of one
-- emergency (a nation added while an RFA is filed gets it either way) without
-- blocking inserts that merely reference the emergency.
SELECT e.id, e.title, e.hazard, e.countries AS affected, e.exercise, e.status,
       d.countries IS NOT NULL AS explicit, d.set_at, d.set_by, now() AS now,
       coalesce(d.countries,
                CASE WHEN e.exercise THEN '{}'::text[]
                     ELSE (SELECT coalesce(array_agg(p.code ORDER BY p.code), '{}')
                           FROM partners p WHERE p.code <> ALL (e.countries)) END
       ) AS countries
FROM emergencies e
LEFT JOIN distributions d ON d.emergency_id = e.id
WHERE e.id = :emergency_id
FOR NO KEY UPDATE OF e;

-- name: distribution
-- As lock_emergency, without the lock (reading only).
SELECT e.id, e.exercise, e.status,
       d.countries IS NOT NULL AS explicit, d.set_at, d.set_by,
       coalesce(d.countries,
                CASE WHEN e.exercise THEN '{}'::text[]
                     ELSE (SELECT coalesce(array_agg(p.code ORDER BY p.code), '{}')
                           FROM partners p WHERE p.code <> ALL (e.countries)) END
       ) AS countries
FROM emergencies e
LEFT JOIN distributions d ON d.emergency_id = e.id
WHERE e.id = :emergency_id;

-- name: set_distribution
INSERT INTO distributions (emergency_id, countries, set_by)
VALUES (:emergency_id, :countries::text[], :actor)
ON CONFLICT (emergency_id) DO UPDATE
SET countries = EXCLUDED.countries, set_at = now(), set_by = EXCLUDED.set_by
RETURNING set_at, set_by;

-- name: open_requests
-- The RFAs of an emergency that still ask for something, with their open needs.
SELECT r.id, r.requesting_country, r.reference,
       jsonb_agg(jsonb_build_object(
           'id', n.id, 'resource_type', n.resource_type, 'quantity', n.quantity,
           'priority', n.priority, 'needed_by', n.needed_by, 'status', n.status,
           'place', n.delivery_place) ORDER BY n.position) AS needs
FROM requests r
JOIN needs n ON n.request_id = r.id
WHERE r.emergency_id = :emergency_id
GROUP BY r.id
HAVING bool_or(n.status = 'open')
ORDER BY r.created_at, r.id;

-- name: request_needs
-- One RFA and its needs, as circulated.
SELECT r.id, r.emergency_id, r.requesting_country, r.reference,
       jsonb_agg(jsonb_build_object(
           'id', n.id, 'resource_type', n.resource_type, 'quantity', n.quantity,
           'priority', n.priority, 'needed_by', n.needed_by, 'status', n.status,
           'place', n.delivery_place) ORDER BY n.position) AS needs
FROM requests r
JOIN needs n ON n.request_id = r.id
WHERE r.id = :request_id
GROUP BY r.id;

-- name: lock_rows
-- Rows of one emergency, locked in country order (every writer locks in that order).
SELECT r.*, now() AS now, (SELECT count(*) FROM offers o
             WHERE o.emergency_id = r.emergency_id AND o.offering_country = r.country
               AND o.status = 'open')::int AS offers
FROM responses r
WHERE r.emergency_id = :emergency_id AND r.country = ANY (:countries::text[])
ORDER BY r.country
FOR UPDATE OF r;

-- name: lock_pairs
-- Rows named by (emergency, country) pairs, locked in that order; with :count_offers,
-- each with its nation's open offers (a count that grows with them: an offer's own
-- transaction, which only needs the state, skips it).
SELECT r.*, now() AS now,
       CASE WHEN :count_offers THEN
           (SELECT count(*) FROM offers o
            WHERE o.emergency_id = r.emergency_id AND o.offering_country = r.country
              AND o.status = 'open')::int
       END AS offers
FROM responses r
JOIN unnest(:emergency_ids::text[], :countries::text[]) AS p (emergency_id, country)
  ON r.emergency_id = p.emergency_id AND r.country = p.country
ORDER BY r.emergency_id, r.country
FOR UPDATE OF r;

-- name: write_rows
-- Insert or replace whole rows (the service computed them), keep each version in
-- the history, and answer them with the count of the nation's open offers.
WITH written AS (
    INSERT INTO responses AS r
    SELECT * FROM jsonb_populate_recordset(NULL::responses, :rows::jsonb)
    ON CONFLICT (emergency_id, country) DO UPDATE
    SET state = EXCLUDED.state, reason = EXCLUDED.reason,
        on_distribution = EXCLUDED.on_distribution, notified_at = EXCLUDED.notified_at,
        delivered_at = EXCLUDED.delivered_at, seen_at = EXCLUDED.seen_at,
        acknowledged_at = EXCLUDED.acknowledged_at, reminded_at = EXCLUDED.reminded_at,
        escalated_at = EXCLUDED.escalated_at, version = r.version + 1,
        updated_at = now(), updated_by = EXCLUDED.updated_by
    RETURNING r.*
), kept AS (
    INSERT INTO response_history (emergency_id, country, version, record, changed_by)
    SELECT emergency_id, country, version, to_jsonb(written), updated_by FROM written
)
SELECT w.*, (SELECT count(*) FROM offers o
             WHERE o.emergency_id = w.emergency_id AND o.offering_country = w.country
               AND o.status = 'open')::int AS offers
FROM written w
ORDER BY w.emergency_id, w.country;

-- name: matrix
-- The response matrix of an emergency (of one country when :country is not null).
SELECT r.*, (SELECT count(*) FROM offers o
             WHERE o.emergency_id = r.emergency_id AND o.offering_country = r.country
               AND o.status = 'open')::int AS offers
FROM responses r
WHERE r.emergency_id = :emergency_id AND (:country::text IS NULL OR r.country = :country)
ORDER BY r.country;

-- name: open_offers
SELECT count(*)::int FROM offers
WHERE emergency_id = :emergency_id AND offering_country = :country AND status = 'open';

-- name: due_reminders
-- Unanswered rows silent for :silent_seconds seconds and not reminded yet, with their
-- emergency. Rows another transaction holds are skipped, so two schedulers (which
-- the scheduler lock should prevent anyway) still send nothing twice.
SELECT r.*, now() AS now, e.title, e.hazard, e.countries AS affected, e.exercise
FROM responses r JOIN emergencies e ON e.id = r.emergency_id
WHERE r.state IN ('notified', 'delivered', 'seen') AND r.on_distribution
  AND r.reminded_at IS NULL
  AND r.notified_at <= now() - make_interval(secs => :silent_seconds)
  AND e.status <> 'closed'
ORDER BY r.notified_at
LIMIT :limit
FOR UPDATE OF r SKIP LOCKED;

-- name: due_escalations
SELECT r.*, now() AS now, e.title, e.hazard, e.countries AS affected, e.exercise
FROM responses r JOIN emergencies e ON e.id = r.emergency_id
WHERE r.state IN ('notified', 'delivered', 'seen') AND r.on_distribution
  AND r.escalated_at IS NULL
  AND r.notified_at <= now() - make_interval(secs => :silent_seconds)
  AND e.status <> 'closed'
ORDER BY r.notified_at
LIMIT :limit
FOR UPDATE OF r SKIP LOCKED;

-- name: try_lock
SELECT pg_try_advisory_lock(:key::bigint);

-- name: holding
-- Still ours? (pg_locks splits a bigint key into classid = high and objid = low 32 bits.)
SELECT EXISTS (
    SELECT 1
    FROM pg_locks
    WHERE locktype = 'advisory'
      AND pid = pg_backend_pid()
      AND granted
      AND objsubid = 1
      AND (classid::bigint << 32 | objid::bigint) = :key::bigint
);

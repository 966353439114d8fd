-- name: lock_key
-- Serialises work on one key (an alert's identity, or a hazard's grouping).
SELECT pg_advisory_xact_lock(hashtextextended($1, 0));

-- name: find
SELECT * FROM alerts WHERE sender = $1 AND identifier = $2 AND sent = $3;

-- name: get
SELECT * FROM alerts WHERE id = $1;

-- name: referenced
-- The messages an Update/Cancel refers to, of its own status only (a Test Cancel never
-- reaches a real alert).
SELECT id, group_id, emergency_id, sender, identifier, sent FROM alerts
WHERE (sender, identifier, sent) IN (
    SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[]))
  AND status = $4
ORDER BY received_at;

-- name: early_references
-- Messages of this status that arrived before the one they refer to ($1: its key).
SELECT id, group_id, msg_type FROM alerts
WHERE pending_references @> ARRAY[$1::text] AND pending_references <> '{}' AND status = $2
ORDER BY received_at;

-- name: link_early_references
UPDATE alerts
SET "references" = array_append("references", $2),
    pending_references = array_remove(pending_references, $1)
WHERE id = ANY($3::text[])
RETURNING *;

-- name: candidate_groups
SELECT * FROM alert_groups
WHERE status = $4
  AND ((hazard = $1 AND last_sent > $2::timestamptz - interval '1 day'
        AND first_sent < $2::timestamptz + interval '1 day')
       OR external_ids @> ANY($3::jsonb[]))
ORDER BY last_sent DESC
LIMIT 50;

-- name: open_emergencies_near
-- Open emergencies of a hazard, real or exercise ($5), opened from $3 before the alert's
-- moment $2 to $4 after it (so the alert falls from $4 before their opening to $3
-- after). Distance is judged in Python.
SELECT id, hazard, exercise, status, lat, lon, created_at FROM emergencies
WHERE status IN ('watch', 'active') AND hazard = $1 AND exercise = $5
  AND created_at BETWEEN $2::timestamptz - $3::interval AND $2::timestamptz + $4::interval
ORDER BY created_at DESC
LIMIT 50;

-- name: get_group
SELECT * FROM alert_groups WHERE id = $1;

-- name: insert_group
INSERT INTO alert_groups (id, hazard, lat, lon, first_sent, last_sent, external_ids, status,
                          origin_at)
VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8)
RETURNING *;

-- name: extend_group
-- A group moving to another emergency (its watch was closed) keeps the old one's id.
UPDATE alert_groups
SET first_sent = least(first_sent, $2), last_sent = greatest(last_sent, $2),
    external_ids = $3 || external_ids,
    previous_emergency_ids = CASE
        WHEN emergency_id IS NOT NULL AND $4::text IS NOT NULL AND emergency_id <> $4
        THEN array_append(previous_emergency_ids, emergency_id)
        ELSE previous_emergency_ids END,
    emergency_id = coalesce($4, emergency_id),
    lat = coalesce(lat, $5), lon = coalesce(lon, $6), origin_at = coalesce(origin_at, $7)
WHERE id = $1
RETURNING *;

-- name: insert_alert
INSERT INTO alerts (id, source, cap_version, identifier, sender, sent, status, msg_type, scope,
                    event, hazard, severity, certainty, urgency, headline, lat, lon, countries,
                    level, external_ids, "references", group_id, emergency_id, body, raw,
                    received_by, stale, expires, pending_references)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
        $20, $21, $22, $23, $24, $25, $26, $27, $28, $29)
RETURNING *;

-- name: list
SELECT * FROM alerts
WHERE ($1::text IS NULL OR status = $1)
  AND ($2::text IS NULL OR severity = $2)
  AND ($3::text IS NULL OR hazard = $3)
  AND ($4::boolean IS NULL OR (acknowledged_at IS NOT NULL) = $4)
  AND ($5::text IS NULL OR group_id = $5)
ORDER BY received_at DESC, id DESC
LIMIT $6;

-- name: acknowledge
UPDATE alerts SET acknowledged_at = now(), acknowledged_by = $2
WHERE id = $1 AND acknowledged_at IS NULL
RETURNING *;

-- name: remember_signature
INSERT INTO seen_signatures (token_id, signature) VALUES ($1, $2)
ON CONFLICT DO NOTHING
RETURNING true;

-- name: forget_old_signatures
DELETE FROM seen_signatures WHERE seen_at < now() - $1::interval;

-- name: partner_names
SELECT lower(name) AS name, code FROM partners;

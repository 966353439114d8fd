-- name: lock_key
-- Serialises work on one key (an alert's identity, or a hazard's grouping).
SELECT pg_advisory_xact_lock(hashtextextended($1, 0));

-- name: find
SELECT * FROM alerts WHERE sender = $1 AND identifier = $2 AND sent = $3;

-- name: get
SELECT * FROM alerts WHERE id = $1;

-- name: referenced
SELECT id, group_id FROM alerts
WHERE (sender, identifier, sent) IN (
    SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[]))
ORDER BY received_at;

-- name: candidate_groups
SELECT * FROM alert_groups
WHERE (hazard = $1 AND last_sent > $2::timestamptz - interval '1 day'
       AND first_sent < $2::timestamptz + interval '1 day')
   OR external_ids @> ANY($3::jsonb[])
ORDER BY last_sent DESC
LIMIT 50;

-- name: get_group
SELECT * FROM alert_groups WHERE id = $1;

-- name: insert_group
INSERT INTO alert_groups (id, hazard, lat, lon, first_sent, last_sent, external_ids)
VALUES ($1, $2, $3, $4, $5, $5, $6)
RETURNING *;

-- name: extend_group
UPDATE alert_groups
SET first_sent = least(first_sent, $2), last_sent = greatest(last_sent, $2),
    external_ids = $3 || external_ids, emergency_id = coalesce(emergency_id, $4),
    lat = coalesce(lat, $5), lon = coalesce(lon, $6)
WHERE id = $1
RETURNING *;

-- name: insert_alert
INSERT INTO alerts (id, source, cap_version, identifier, sender, sent, status, msg_type, scope,
                    event, hazard, severity, certainty, urgency, headline, lat, lon, countries,
                    level, external_ids, "references", group_id, emergency_id, body, raw,
                    received_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
        $20, $21, $22, $23, $24, $25, $26)
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

-- name: lock_key
-- Serialises work on one key (an alert's identity, or a hazard's grouping).
SELECT pg_advisory_xact_lock(hashtextextended(:key, 0));

-- name: find
-- Every query that answers an Alert names its columns: never body or raw, which for a
-- large alert are a megabyte or two that the event loop would decode for nothing.
SELECT id, source, cap_version, identifier, sender, sent, status, msg_type, scope, event, hazard,
       severity, certainty, urgency, headline, lat, lon, countries, level, external_ids,
       "references", group_id, emergency_id, received_at, stale, acknowledged_at,
       acknowledged_by
FROM alerts WHERE sender = :sender AND identifier = :identifier AND sent = :sent;

-- name: get
SELECT id, source, cap_version, identifier, sender, sent, status, msg_type, scope, event, hazard,
       severity, certainty, urgency, headline, lat, lon, countries, level, external_ids,
       "references", group_id, emergency_id, received_at, stale, acknowledged_at,
       acknowledged_by
FROM alerts WHERE id = :id;

-- name: referenced
-- The messages an Update/Cancel refers to, of its own status only (a Test Cancel never
-- reaches a real alert).
SELECT id, group_id, emergency_id, sender, identifier, sent FROM alerts
WHERE (sender, identifier, sent) IN (
    SELECT * FROM unnest(:senders::text[], :identifiers::text[], :sents::timestamptz[]))
  AND status = :status
ORDER BY received_at;

-- name: early_references
-- Messages of this status that arrived before the one they refer to (:key, its key).
SELECT id, group_id, msg_type FROM alerts
WHERE pending_references @> ARRAY[:key::text] AND pending_references <> '{}'
  AND status = :status
ORDER BY received_at;

-- name: link_early_references
UPDATE alerts
SET "references" = array_append("references", :alert_id),
    pending_references = array_remove(pending_references, :key)
WHERE id = ANY(:early_ids::text[])
RETURNING id, source, cap_version, identifier, sender, sent, status, msg_type, scope, event, hazard,
          severity, certainty, urgency, headline, lat, lon, countries, level, external_ids,
          "references", group_id, emergency_id, received_at, stale, acknowledged_at,
          acknowledged_by;

-- name: candidate_groups
SELECT * FROM alert_groups
WHERE status = :status
  AND ((hazard = :hazard AND last_sent > :moment::timestamptz - interval '1 day'
        AND first_sent < :moment::timestamptz + interval '1 day')
       OR external_ids @> ANY(:external_ids::jsonb[]))
ORDER BY last_sent DESC
LIMIT 50;

-- name: open_emergencies_near
-- Open emergencies of a hazard, real or exercise, opened from :after before the alert's
-- :moment to :before after it (so the alert falls from :before before their opening to
-- :after after). Distance is judged in Python.
SELECT id, hazard, exercise, status, lat, lon, created_at FROM emergencies
WHERE status IN ('watch', 'active') AND hazard = :hazard AND exercise = :exercise
  AND created_at BETWEEN :moment::timestamptz - :after::interval
                     AND :moment::timestamptz + :before::interval
ORDER BY created_at DESC
LIMIT 50;

-- name: get_group
SELECT * FROM alert_groups WHERE id = :id;

-- name: insert_group
INSERT INTO alert_groups (id, hazard, lat, lon, first_sent, last_sent, external_ids, status,
                          origin_at)
VALUES (:id, :hazard, :lat, :lon, :sent, :sent, :external_ids, :status, :origin_at)
RETURNING *;

-- name: extend_group
-- A group moving to another emergency (its watch was closed) keeps the old one's id.
UPDATE alert_groups
SET first_sent = least(first_sent, :sent), last_sent = greatest(last_sent, :sent),
    external_ids = :external_ids || external_ids,
    previous_emergency_ids = CASE
        WHEN emergency_id IS NOT NULL AND :emergency_id::text IS NOT NULL
             AND emergency_id <> :emergency_id
        THEN array_append(previous_emergency_ids, emergency_id)
        ELSE previous_emergency_ids END,
    emergency_id = coalesce(:emergency_id, emergency_id),
    lat = coalesce(lat, :lat), lon = coalesce(lon, :lon),
    origin_at = coalesce(origin_at, :origin_at)
WHERE id = :id
RETURNING *;

-- name: insert_alert
INSERT INTO alerts (id, source, cap_version, identifier, sender, sent, status, msg_type, scope,
                    event, hazard, severity, certainty, urgency, headline, lat, lon, countries,
                    level, external_ids, "references", group_id, emergency_id, body, raw,
                    received_by, stale, expires, pending_references)
VALUES (:id, :source, :cap_version, :identifier, :sender, :sent, :status, :msg_type, :scope,
        :event, :hazard, :severity, :certainty, :urgency, :headline, :lat, :lon, :countries,
        :level, :external_ids, :references, :group_id, :emergency_id, :body, :raw,
        :received_by, :stale, :expires, :pending_references)
RETURNING id, source, cap_version, identifier, sender, sent, status, msg_type, scope, event, hazard,
          severity, certainty, urgency, headline, lat, lon, countries, level, external_ids,
          "references", group_id, emergency_id, received_at, stale, acknowledged_at,
          acknowledged_by;

-- name: list
SELECT id, source, cap_version, identifier, sender, sent, status, msg_type, scope, event, hazard,
       severity, certainty, urgency, headline, lat, lon, countries, level, external_ids,
       "references", group_id, emergency_id, received_at, stale, acknowledged_at,
       acknowledged_by
FROM alerts
WHERE (:status::text IS NULL OR status = :status)
  AND (:severity::text IS NULL OR severity = :severity)
  AND (:hazard::text IS NULL OR hazard = :hazard)
  AND (:acknowledged::boolean IS NULL OR (acknowledged_at IS NOT NULL) = :acknowledged)
  AND (:group_id::text IS NULL OR group_id = :group_id)
ORDER BY received_at DESC, id DESC
LIMIT :limit;

-- name: acknowledge
UPDATE alerts SET acknowledged_at = now(), acknowledged_by = :actor
WHERE id = :id AND acknowledged_at IS NULL
RETURNING id, source, cap_version, identifier, sender, sent, status, msg_type, scope, event, hazard,
          severity, certainty, urgency, headline, lat, lon, countries, level, external_ids,
          "references", group_id, emergency_id, received_at, stale, acknowledged_at,
          acknowledged_by;

-- name: remember_signature
INSERT INTO seen_signatures (token_id, signature) VALUES (:token_id, :signature)
ON CONFLICT DO NOTHING
RETURNING true;

-- name: forget_old_signatures
DELETE FROM seen_signatures WHERE seen_at < now() - :older_than::interval;

-- name: partner_names
SELECT lower(name) AS name, code FROM partners;

-- name: emergency_events
SELECT seq, at, kind, data
FROM events
WHERE emergency_id = $1 AND ($2::timestamptz IS NULL OR at <= $2)
ORDER BY seq;

-- name: insert
INSERT INTO emergencies (id, title, hazard, countries, lat, lon, severity, status, exercise,
                         created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
RETURNING *;

-- name: get
SELECT * FROM emergencies WHERE id = $1;

-- name: lock
SELECT * FROM emergencies WHERE id = $1 FOR UPDATE;

-- name: list
-- Real emergencies before exercises, newest first: exercises never mix into the top.
SELECT * FROM emergencies
WHERE ($1::text IS NULL OR status = $1) AND ($2::boolean IS NULL OR exercise = $2)
ORDER BY exercise, created_at DESC, id
LIMIT 500;

-- name: update
UPDATE emergencies
SET status = $2, severity = $3, title = $4, countries = $5, updated_at = now()
WHERE id = $1
RETURNING *;

-- name: find_by_title
SELECT id FROM emergencies WHERE title = $1 LIMIT 1;

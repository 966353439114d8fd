-- name: insert
INSERT INTO emergencies (id, title, hazard, countries, lat, lon, severity, status, exercise,
                         created_by)
VALUES (:id, :title, :hazard, :countries, :lat, :lon, :severity, :status, :exercise, :created_by)
RETURNING *;

-- name: get
SELECT * FROM emergencies WHERE id = :id;

-- name: lock
SELECT * FROM emergencies WHERE id = :id FOR UPDATE;

-- name: list
-- Real emergencies before exercises, newest first: exercises never mix into the top.
SELECT * FROM emergencies
WHERE (:status::text IS NULL OR status = :status)
  AND (:exercise::boolean IS NULL OR exercise = :exercise)
ORDER BY exercise, created_at DESC, id
LIMIT 500;

-- name: update
UPDATE emergencies
SET status = :status, severity = :severity, title = :title, countries = :countries,
    updated_at = now()
WHERE id = :id
RETURNING *;

-- name: find_by_title
SELECT id FROM emergencies WHERE title = :title LIMIT 1;

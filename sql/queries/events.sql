-- name: append
SELECT seq, at FROM append_event($1, $2, $3, $4, $5);

-- name: read_since
-- One statement, one snapshot: the page and the head are read together, so
-- advancing to the head when nothing visible is left can skip nothing.
WITH page AS (
    SELECT seq, at, kind, emergency_id, actor, data
    FROM events
    WHERE seq > $1 AND ($2::text[] IS NULL OR visibility && $2::text[])
    ORDER BY seq
    LIMIT $3
)
SELECT (SELECT coalesce(max(seq), 0) FROM events) AS head,
       coalesce((SELECT jsonb_agg(to_jsonb(page) ORDER BY seq) FROM page), '[]') AS events;

-- name: head
SELECT coalesce(max(seq), 0) FROM events;

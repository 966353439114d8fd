-- name: append
SELECT seq, at FROM append_event(:kind, :emergency_id, :visibility, :actor, :data);

-- name: read_since
-- One statement, one snapshot: the page and the head are read together, so
-- advancing to the head when nothing visible is left can skip nothing.
WITH page AS (
    SELECT seq, at, kind, emergency_id, actor, data
    FROM events
    WHERE seq > :since AND (:audience::text[] IS NULL OR visibility && :audience::text[])
    ORDER BY seq
    LIMIT :limit
)
SELECT (SELECT coalesce(max(seq), 0) FROM events) AS head,
       coalesce((SELECT jsonb_agg(to_jsonb(page) ORDER BY seq) FROM page), '[]') AS events;

-- name: head
SELECT coalesce(max(seq), 0) FROM events;

-- name: read_between
-- The backlog of a websocket: after `since`, up to the hub's position at subscribe.
-- The data as text, sent as it is: the same bytes as the live frame (and not decoded
-- only to be encoded again).
SELECT seq, at, kind, emergency_id, actor, data::text AS data_json
FROM events
WHERE seq > :since AND seq <= :until
  AND (:audience::text[] IS NULL OR visibility && :audience::text[])
ORDER BY seq
LIMIT :limit;

-- name: read_all_since
-- The hub's feed: every event, whoever may see it (it filters per socket). The data
-- as JSON text, which the hub puts in each frame as it is (events.fanout).
SELECT seq, at, kind, emergency_id, visibility, actor, data::text AS data_json
FROM events
WHERE seq > :since
ORDER BY seq
LIMIT :limit;

-- name: read_all_since_telling
-- The same, after a commit of this hub's own, telling the other instances with it
-- (migration 0027; the payload names this hub, so its own listener skips it).
SELECT * FROM read_events_and_notify(:since, :limit, :hub);

-- name: first_after
SELECT at FROM events WHERE seq > :since ORDER BY seq LIMIT 1;

-- name: notification_queue_usage
SELECT pg_notification_queue_usage();

-- name: notify
NOTIFY eadrcc_events;

-- name: notify_from
-- A hub's NOTIFY sent on its own (a telling read failed), named as its reads name it.
SELECT pg_notify('eadrcc_events', :hub);

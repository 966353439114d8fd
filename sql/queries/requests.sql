-- name: insert_request
INSERT INTO requests (id, emergency_id, requesting_country, reference, notes, created_by)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING *;

-- name: insert_needs
INSERT INTO needs (id, request_id, emergency_id, resource_type, quantity, priority, needed_by,
                   delivery_lat, delivery_lon, delivery_place, position)
SELECT a, b, c, d, e, f, g, h, i, j, ord::int FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[],
                                 $6::text[], $7::timestamptz[], $8::float8[], $9::float8[],
                                 $10::text[]) WITH ORDINALITY AS u(a, b, c, d, e, f, g, h, i, j, ord);

-- name: get_request
SELECT * FROM requests WHERE id = $1;

-- name: pictures
-- Needs (of the given requests, or by id) with their picture summed from matches.
SELECT n.*,
       coalesce(sum(m.quantity) FILTER (WHERE m.status = 'proposed'), 0) AS proposed,
       coalesce(sum(m.quantity)
                FILTER (WHERE m.status IN ('accepted', 'in_transit', 'delivered')), 0) AS accepted,
       coalesce(sum(m.dispatched - m.delivered)
                FILTER (WHERE m.status IN ('accepted', 'in_transit', 'delivered')), 0) AS in_transit,
       coalesce(sum(m.delivered), 0) AS delivered
FROM needs n
LEFT JOIN matches m ON m.need_id = n.id
WHERE n.request_id = ANY($1::text[]) OR n.id = ANY($2::text[])
GROUP BY n.id
ORDER BY n.request_id, n.position;

-- name: emergency_requests
SELECT * FROM requests WHERE emergency_id = $1 ORDER BY created_at, id;

-- name: lock_need
SELECT n.*, r.requesting_country
FROM needs n JOIN requests r ON r.id = n.request_id
WHERE n.id = $1 AND n.request_id = $2
FOR UPDATE OF n;

-- name: update_need
UPDATE needs
SET quantity = $2, priority = $3, needed_by = $4, status = $5,
    version = version + 1, updated_at = now()
WHERE id = $1
RETURNING *;

-- name: insert_need_history
INSERT INTO need_history (need_id, version, record, changed_by)
SELECT id, version, to_jsonb(needs), $2 FROM needs WHERE id = ANY($1::text[]);

-- name: request_emergency
SELECT emergency_id FROM requests WHERE id = $1;

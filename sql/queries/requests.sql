-- name: insert_request
INSERT INTO requests (id, emergency_id, requesting_country, reference, notes, created_by)
VALUES (:id, :emergency_id, :requesting_country, :reference, :notes, :created_by)
RETURNING *;

-- name: insert_needs
INSERT INTO needs (id, request_id, emergency_id, resource_type, quantity, priority, needed_by,
                   delivery_lat, delivery_lon, delivery_place, position)
-- One array per column, a row per need, in the order the request lists them.
SELECT a, b, c, d, e, f, g, h, i, j, ord::int
FROM unnest(:id::text[], :request_id::text[], :emergency_id::text[], :resource_type::text[],
            :quantity::int[], :priority::text[], :needed_by::timestamptz[],
            :delivery_lat::float8[], :delivery_lon::float8[], :delivery_place::text[])
     WITH ORDINALITY AS u(a, b, c, d, e, f, g, h, i, j, ord);

-- name: get_request
SELECT * FROM requests WHERE id = :id;

-- name: pictures
-- Needs (of the given requests, or by id) with their picture summed from matches:
-- proposed is the counter the plan keeps; accepted, in transit and delivered are
-- disjoint; eta is the latest of help accepted or moving that has not all arrived.
-- :allocated: the statuses of help that counts as accepted (store.ALLOCATED).
SELECT n.id, n.request_id, n.emergency_id, n.resource_type, n.quantity, n.priority,
       n.needed_by, n.delivery_lat, n.delivery_lon, n.delivery_place, n.status, n.version,
       n.allocated, n.proposed,
       coalesce(sum(m.quantity - m.dispatched) FILTER (WHERE m.status = ANY(:allocated)), 0)
           AS accepted,
       coalesce(sum(m.dispatched - m.delivered) FILTER (WHERE m.status = ANY(:allocated)), 0)
           AS in_transit,
       coalesce(sum(m.delivered) FILTER (WHERE m.status = ANY(:allocated)), 0) AS delivered,
       max(m.eta) FILTER (WHERE m.status = ANY(:allocated) AND m.delivered < m.quantity) AS eta,
       coalesce(jsonb_agg(jsonb_build_object(
                    'match_id', m.id, 'offering_country', m.offering_country,
                    'quantity', m.dispatched - m.delivered, 'eta', m.eta)
                ORDER BY m.eta, m.id)
                FILTER (WHERE m.status = ANY(:allocated) AND m.dispatched > m.delivered),
                '[]') AS dispatches
FROM needs n
LEFT JOIN matches m ON m.need_id = n.id
WHERE n.request_id = ANY(:request_ids::text[]) OR n.id = ANY(:need_ids::text[])
GROUP BY n.id
ORDER BY n.request_id, n.position;

-- name: duplicate_pairs
-- Help planned for or given to needs :need_ids that was announced again through
-- another channel (the second copy is flagged possible_duplicate_of the first).
SELECT DISTINCT m.need_id, m.requesting_country, a.id AS item_id, oa.id AS offer_id,
       oa.offering_country, oa.channel, b.id AS duplicate_item_id,
       ob.id AS duplicate_offer_id, ob.channel AS duplicate_channel
FROM matches m
JOIN offer_items a ON a.id = m.offer_item_id
JOIN offers oa ON oa.id = a.offer_id
JOIN offer_items b ON b.possible_duplicate_of = a.id AND b.status = 'open'
JOIN offers ob ON ob.id = b.offer_id
WHERE m.need_id = ANY(:need_ids::text[])
  AND m.status IN ('proposed', 'accepted', 'in_transit', 'delivered')
ORDER BY m.need_id, a.id, b.id;

-- name: alternatives
-- Per open need of :need_ids that still lacks acceptance: up to :shortlist other open
-- items that could fill it and are not proposed to it (nor declined by it), soonest
-- first; the caller scores them and keeps the best few. Listed, never counted.
SELECT n.id AS need_id, n.priority, n.needed_by, n.delivery_lat, n.delivery_lon,
       n.quantity - n.allocated AS room, c.*
FROM needs n
CROSS JOIN LATERAL (
    SELECT i.id AS offer_item_id, i.offer_id, o.offering_country, i.resource_type,
           i.quantity - i.allocated AS available, i.available_from, i.origin_lat,
           i.origin_lon, i.credentials, i.self_sufficient
    FROM type_fills f
    JOIN offer_items i ON i.resource_type = f.offer_type AND i.emergency_id = n.emergency_id
    JOIN offers o ON o.id = i.offer_id
    WHERE f.need_type = n.resource_type
      AND i.status = 'open' AND i.allocated < i.quantity AND i.possible_duplicate_of IS NULL
      AND (o.request_id IS NULL OR o.request_id = n.request_id)
      AND NOT EXISTS (SELECT 1 FROM matches m
                      WHERE m.need_id = n.id AND m.offer_item_id = i.id
                        AND m.status IN ('proposed', 'declined'))
    ORDER BY i.available_from, i.id
    LIMIT :shortlist
) c
WHERE n.id = ANY(:need_ids::text[]) AND n.status = 'open' AND n.allocated < n.quantity
ORDER BY n.id, c.available_from, c.offer_item_id;

-- name: emergency_requests
SELECT * FROM requests WHERE emergency_id = :emergency_id ORDER BY created_at, id;

-- name: lock_need
SELECT n.*, r.requesting_country
FROM needs n JOIN requests r ON r.id = n.request_id
WHERE n.id = :need_id AND n.request_id = :request_id
FOR UPDATE OF n;

-- name: update_need
UPDATE needs
SET quantity = :quantity, priority = :priority, needed_by = :needed_by, status = :status,
    version = version + 1, updated_at = now()
WHERE id = :id
RETURNING *;

-- name: insert_need_history
INSERT INTO need_history (need_id, version, record, changed_by)
SELECT id, version, to_jsonb(needs), :changed_by FROM needs WHERE id = ANY(:need_ids::text[]);

-- name: request_emergency
SELECT emergency_id FROM requests WHERE id = :id;

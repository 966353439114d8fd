-- name: clear_fills
DELETE FROM type_fills;

-- name: upsert_type
INSERT INTO resource_types (code, name, unit, parent, substitutes, description, source, position)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (code) DO UPDATE SET
    name = EXCLUDED.name, unit = EXCLUDED.unit, parent = EXCLUDED.parent,
    substitutes = EXCLUDED.substitutes, description = EXCLUDED.description,
    source = EXCLUDED.source, position = EXCLUDED.position;

-- name: insert_fills
INSERT INTO type_fills (offer_type, need_type, how)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[]);

-- name: upsert_credential
INSERT INTO credentials (code, name, applies_to, programme)
VALUES ($1, $2, $3, $4)
ON CONFLICT (code) DO UPDATE SET
    name = EXCLUDED.name, applies_to = EXCLUDED.applies_to, programme = EXCLUDED.programme;

-- name: list_types
SELECT code, name, unit, parent, substitutes, description FROM resource_types ORDER BY position;

-- name: type_units
SELECT code, unit FROM resource_types WHERE code = ANY($1::text[]);

-- name: list_credentials
SELECT code, name, applies_to, programme FROM credentials ORDER BY code;

-- name: candidate_needs
-- Open needs of this emergency that an item of type $1 can fill, locked against
-- concurrent acceptance until the proposals are written. Uses needs_open_by_type,
-- so open needs of unrelated types cost nothing; and only the $4 most urgent are
-- scored, so thousands of open needs of the same type cost a sort, not a scan in Python.
SELECT n.id, n.request_id, n.priority, n.needed_by, n.delivery_lat, n.delivery_lon,
       n.quantity - n.allocated AS uncovered, r.requesting_country
FROM type_fills f
JOIN needs n ON n.resource_type = f.need_type
JOIN requests r ON r.id = n.request_id
WHERE f.offer_type = $1 AND n.emergency_id = $2
  AND n.status = 'open' AND n.allocated < n.quantity
  AND ($3::text IS NULL OR n.request_id = $3)
  AND n.id <> ALL($5::text[])  -- needs that declined this item: never proposed again
ORDER BY array_position(ARRAY['critical', 'high', 'normal'], n.priority),
         n.needed_by NULLS LAST, n.id
LIMIT $4
FOR SHARE OF n;

-- name: candidate_items
-- Offered items that can fill a need of type $1; the $4 soonest available are scored.
SELECT i.id, i.offer_id, i.resource_type, i.available_from, i.origin_lat, i.origin_lon, i.credentials,
       i.self_sufficient, i.quantity - i.allocated AS unallocated, o.offering_country
FROM type_fills f
JOIN offer_items i ON i.resource_type = f.offer_type
JOIN offers o ON o.id = i.offer_id
WHERE f.need_type = $1 AND i.emergency_id = $2
  AND i.status = 'open' AND i.allocated < i.quantity AND i.possible_duplicate_of IS NULL
  AND (o.request_id IS NULL OR o.request_id = $3)
  AND i.id <> ALL($5::text[])  -- items this need declined
ORDER BY i.available_from, i.id
LIMIT $4
FOR SHARE OF i;

-- name: need_for_matching
SELECT n.id, n.request_id, n.emergency_id, n.resource_type, n.priority, n.needed_by,
       n.delivery_lat, n.delivery_lon, n.quantity - n.allocated AS uncovered, n.status,
       r.requesting_country
FROM needs n JOIN requests r ON r.id = n.request_id
WHERE n.id = ANY($1::text[]) AND n.status = 'open' AND n.allocated < n.quantity;

-- name: item_for_matching
SELECT i.id, i.offer_id, i.emergency_id, i.resource_type, i.available_from, i.origin_lat,
       i.origin_lon, i.credentials, i.self_sufficient, i.quantity - i.allocated AS unallocated,
       o.offering_country, o.request_id
FROM offer_items i JOIN offers o ON o.id = i.offer_id
WHERE i.id = ANY($1::text[]) AND i.status = 'open' AND i.allocated < i.quantity
  AND i.possible_duplicate_of IS NULL;

-- name: upsert_proposal
INSERT INTO matches (id, emergency_id, need_id, offer_item_id, offer_id, request_id,
                     requesting_country, offering_country, resource_type, quantity, score,
                     score_parts, status, eta)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'proposed', $13)
ON CONFLICT (need_id, offer_item_id) WHERE status = 'proposed'
DO UPDATE SET quantity = EXCLUDED.quantity, score = EXCLUDED.score,
              score_parts = EXCLUDED.score_parts, eta = EXCLUDED.eta, updated_at = now()
WHERE (matches.quantity, matches.score) IS DISTINCT FROM (EXCLUDED.quantity, EXCLUDED.score)
RETURNING *;

-- name: settle
-- After allocations change: a proposal whose need or item has no room left (or
-- is no longer open) is superseded; the others shrink to the room that is left.
-- Rows are locked in id order first, so two settling transactions queue, not deadlock.
WITH locked AS (
    SELECT id FROM matches
    WHERE status = 'proposed' AND (need_id = ANY($1::text[]) OR offer_item_id = ANY($2::text[]))
    ORDER BY id
    FOR UPDATE
), room AS (
    SELECT m.id,
           CASE WHEN n.status = 'open' AND i.status = 'open'
                THEN least(n.quantity - n.allocated, i.quantity - i.allocated) ELSE 0 END AS left_
    FROM locked
    JOIN matches m ON m.id = locked.id
    JOIN needs n ON n.id = m.need_id
    JOIN offer_items i ON i.id = m.offer_item_id
)
UPDATE matches m
SET status = CASE WHEN room.left_ <= 0 THEN 'superseded' ELSE 'proposed' END,
    quantity = CASE WHEN room.left_ <= 0 THEN m.quantity ELSE room.left_ END,
    reason = CASE WHEN room.left_ <= 0 THEN $3 ELSE m.reason END,
    updated_at = now()
FROM room
WHERE m.id = room.id AND m.status = 'proposed'
  AND (room.left_ <= 0 OR m.quantity > room.left_)
RETURNING m.*;

-- name: get_match
SELECT * FROM matches WHERE id = $1;

-- name: lock_match
SELECT * FROM matches WHERE id = $1 FOR UPDATE;

-- name: lock_need
SELECT id, quantity, allocated, status FROM needs WHERE id = $1 FOR UPDATE;

-- name: lock_item
SELECT id, quantity, allocated, status FROM offer_items WHERE id = $1 FOR UPDATE;

-- name: allocate
-- The CHECK constraints on both counters are the last line of invariant 1.
WITH n AS (UPDATE needs SET allocated = allocated + $3 WHERE id = $1 RETURNING id),
     i AS (UPDATE offer_items SET allocated = allocated + $3 WHERE id = $2 RETURNING id)
SELECT (SELECT count(*) FROM n) + (SELECT count(*) FROM i);

-- name: set_match
UPDATE matches
SET status = $2, quantity = $3, dispatched = $4, delivered = $5, eta = $6, reason = $7,
    updated_at = now()
WHERE id = $1
RETURNING *;

-- name: emergency_matches
SELECT * FROM matches
WHERE emergency_id = $1 AND ($2::text IS NULL OR status = $2)
  -- $3: the caller's audience tags (policy.audience); a match's are its two nations
  AND ($3::text[] IS NULL OR offering_country = ANY($3) OR requesting_country = ANY($3))
ORDER BY need_id, score DESC, id;

-- name: matches_by_id
SELECT * FROM matches WHERE id = ANY($1::text[]) ORDER BY id;

-- name: release
-- The inverse of allocate: an accepted allocation given back.
WITH n AS (UPDATE needs SET allocated = allocated - $3 WHERE id = $1 RETURNING id),
     i AS (UPDATE offer_items SET allocated = allocated - $3 WHERE id = $2 RETURNING id)
SELECT (SELECT count(*) FROM n) + (SELECT count(*) FROM i);

-- name: need_live_allocations
-- Accepted matches of a need that nothing has moved yet.
SELECT * FROM matches
WHERE need_id = $1 AND status = 'accepted' AND dispatched = 0
ORDER BY offer_item_id, id;

-- name: lock_items_by_id
SELECT id FROM offer_items WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE;

-- name: declined_needs
-- The needs that declined an item (usually none), by the matches_declined index.
SELECT coalesce(array_agg(need_id), '{}') FROM matches
WHERE offer_item_id = $1 AND status = 'declined';

-- name: declined_items
SELECT coalesce(array_agg(offer_item_id), '{}') FROM matches
WHERE need_id = $1 AND status = 'declined';

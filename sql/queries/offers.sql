-- name: insert_offer
INSERT INTO offers (id, emergency_id, request_id, offering_country, channel, notes, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: insert_items
INSERT INTO offer_items (id, offer_id, emergency_id, resource_type, quantity, available_from,
                         origin_lat, origin_lon, self_sufficient, credentials, position)
SELECT id, $2, $3, t, q, a, lat, lon, s, string_to_array(c, ','), ord::int
FROM unnest($1::text[], $4::text[], $5::int[], $6::timestamptz[], $7::float8[], $8::float8[],
            $9::bool[], $10::text[]) WITH ORDINALITY AS u(id, t, q, a, lat, lon, s, c, ord);

-- name: flag_duplicates
-- The same help announced again through another channel (same nation, type and
-- quantity, still open): flagged, and left out of matching so it is not counted twice.
UPDATE offer_items new
SET possible_duplicate_of = (
    SELECT old.id FROM offer_items old JOIN offers o ON o.id = old.offer_id
    WHERE old.emergency_id = new.emergency_id AND old.offer_id <> new.offer_id
      AND o.offering_country = $2 AND o.channel <> $3 AND o.status = 'open'
      AND old.status = 'open' AND old.resource_type = new.resource_type
      AND old.quantity = new.quantity AND old.possible_duplicate_of IS NULL
    ORDER BY old.id LIMIT 1)
WHERE new.offer_id = $1
RETURNING id, possible_duplicate_of;

-- name: get_offer
SELECT * FROM offers WHERE id = $1;

-- name: lock_offer
SELECT * FROM offers WHERE id = $1 FOR UPDATE;

-- name: offer_items
SELECT * FROM offer_items WHERE offer_id = $1 ORDER BY position;

-- name: emergency_offers
SELECT * FROM offers
-- $2: the caller's audience tags (policy.audience); an offer's are its nation and
-- the affected nations $3
WHERE emergency_id = $1
  AND ($2::text[] IS NULL OR offering_country = ANY($2) OR $2 && $3::text[])
ORDER BY created_at, id;

-- name: live_allocations
-- Accepted matches of an offer that nothing has moved yet: released on withdrawal.
SELECT * FROM matches
WHERE offer_id = $1 AND status = 'accepted' AND dispatched = 0
ORDER BY need_id, offer_item_id, id;

-- name: withdraw_offer
UPDATE offers SET status = 'withdrawn', withdrawn_at = now(), withdraw_reason = $2
WHERE id = $1;

-- name: withdraw_items
UPDATE offer_items SET status = 'withdrawn' WHERE offer_id = $1 RETURNING id;

-- name: lock_needs
SELECT id FROM needs WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE;

-- name: lock_items
SELECT id FROM offer_items WHERE offer_id = $1 ORDER BY id FOR UPDATE;

-- name: create_offers
-- Offers and their items in one statement (one round trip, and one execution's
-- start-up for a whole batch): an item that is the same help announced again through
-- another channel (same nation, type and quantity, still open) is flagged as it is
-- stored, and so left out of matching. The statement's snapshot predates its own
-- inserts, so no item here can be flagged a duplicate of another here: offers.store
-- sends offers that could (the same help through two channels in one batch) one
-- execution each, in order, each seeing those before it.
-- Items come flattened, each with its offer's id, emergency, nation and channel
-- (kept on the item: 0020, 0021; they never change). :channels: every channel.
-- With :store false it only looks the flags up, and stores nothing: a batch then
-- stores its offers with its COMMIT, once planned (store_new_offers, 0026).
-- Answers only what the hub cannot know: the items flagged, with the item each
-- duplicates (offers.store builds the rest of the stored offers from what it sent).
-- Run with a generic plan (offers.service): every lookup here goes by a key.
WITH given AS MATERIALIZED (
    SELECT u.*,
           -- down offer_items_for_duplicates, once per other channel: the nation's own
           -- open, unflagged items of the type and quantity through it (not every
           -- nation's, nor its own through this channel), the first by id whose offer
           -- is still open; the lowest of those
           (SELECT min(first.id)
            FROM unnest(:channels::text[]) AS other(channel)
            CROSS JOIN LATERAL (
                SELECT old.id FROM offer_items old
                WHERE old.emergency_id = u.e AND old.resource_type = u.t
                  AND old.quantity = u.q AND old.offering_country = u.country
                  AND old.channel = other.channel
                  AND old.status = 'open' AND old.possible_duplicate_of IS NULL
                  -- the offer by its key: as a join, a plan made while the tables
                  -- were small read every offer of the nation for each candidate
                  AND (SELECT o.status = 'open' FROM offers o WHERE o.id = old.offer_id)
                ORDER BY old.id LIMIT 1) AS first
            WHERE other.channel <> u.channel) AS duplicate_of
    FROM unnest(:item_ids::text[], :item_offers::text[], :item_emergencies::text[],
                :item_countries::text[], :item_channels::text[], :types::text[],
                :quantities::int[], :available_from::timestamptz[], :lats::float8[],
                :lons::float8[], :self_sufficient::bool[], :credentials::text[],
                :positions::int[])
         AS u(id, offer_id, e, country, channel, t, q, a, lat, lon, s, c, pos)
), offer AS (
    INSERT INTO offers (id, emergency_id, request_id, offering_country, channel, notes,
                        created_by)
    SELECT * FROM unnest(:ids::text[], :emergency_ids::text[], :request_ids::text[],
                         :countries::text[], :channels_given::text[], :notes::text[],
                         :actors::text[])
    WHERE :store::bool
), items AS (
    INSERT INTO offer_items (id, offer_id, emergency_id, offering_country, channel,
                             resource_type, quantity, available_from, origin_lat,
                             origin_lon, self_sufficient, credentials, position,
                             possible_duplicate_of)
    SELECT g.id, g.offer_id, g.e, g.country, g.channel, g.t, g.q, g.a, g.lat, g.lon, g.s,
           string_to_array(g.c, ','), g.pos, g.duplicate_of
    FROM given g
    WHERE :store::bool
)
SELECT id, duplicate_of AS possible_duplicate_of FROM given WHERE duplicate_of IS NOT NULL;

-- name: offer_facts
-- What validating an offer needs to know, in one round trip: the emergency's status and
-- affected nations (null: no such emergency), is the nation known, its active
-- programmes, the units of the named types, the named credentials, and the emergency
-- of the named request; and, unlocked, the nation's circulation state in the
-- emergency (circulation.offered: a row already `offered` needs no lock); and the
-- transaction's timestamp (the time its proposals are written with).
SELECT (SELECT status FROM emergencies WHERE id = :emergency_id) AS emergency_status,
       (SELECT countries FROM emergencies WHERE id = :emergency_id) AS affected,
       EXISTS (SELECT 1 FROM partners WHERE code = :country) AS country_known,
       ARRAY(SELECT p->>'code' FROM partners, jsonb_array_elements(programmes) AS p
             WHERE partners.code = :country AND p->>'status' = 'active') AS programmes,
       coalesce((SELECT jsonb_object_agg(code, unit) FROM resource_types
                 WHERE code = ANY(:types::text[])), '{}') AS units,
       coalesce((SELECT jsonb_object_agg(code, jsonb_build_object(
                     'applies_to', applies_to, 'programme', programme))
                 FROM credentials WHERE code = ANY(:credentials::text[])), '{}') AS credentials,
       (SELECT emergency_id FROM requests WHERE id = :request_id) AS request_emergency,
       (SELECT state FROM responses
        WHERE emergency_id = :emergency_id AND country = :country) AS response_state,
       now() AS now;

-- name: get_offer
SELECT * FROM offers WHERE id = :id;

-- name: lock_offer
SELECT * FROM offers WHERE id = :id FOR UPDATE;

-- name: offer_items
SELECT * FROM offer_items WHERE offer_id = :offer_id ORDER BY position;

-- name: emergency_offers
SELECT * FROM offers
-- :audience: the caller's audience tags (policy.audience); an offer's are its nation
-- and the affected nations (:affected)
WHERE emergency_id = :emergency_id
  AND (:audience::text[] IS NULL OR offering_country = ANY(:audience)
       OR :audience && :affected::text[])
ORDER BY created_at, id;

-- name: live_allocations
-- Accepted matches of an offer that nothing has moved yet: released on withdrawal.
SELECT * FROM matches
WHERE offer_id = :offer_id AND status = 'accepted' AND dispatched = 0
ORDER BY need_id, offer_item_id, id;

-- name: withdraw_offer
UPDATE offers SET status = 'withdrawn', withdrawn_at = now(), withdraw_reason = :reason
WHERE id = :id;

-- name: withdraw_items
UPDATE offer_items SET status = 'withdrawn' WHERE offer_id = :offer_id;

-- name: clear_fills
DELETE FROM type_fills;

-- name: upsert_type
INSERT INTO resource_types (code, name, unit, parent, substitutes, description, source, position)
VALUES (:code, :name, :unit, :parent, :substitutes, :description, :source, :position)
ON CONFLICT (code) DO UPDATE SET
    name = EXCLUDED.name, unit = EXCLUDED.unit, parent = EXCLUDED.parent,
    substitutes = EXCLUDED.substitutes, description = EXCLUDED.description,
    source = EXCLUDED.source, position = EXCLUDED.position;

-- name: insert_fills
INSERT INTO type_fills (offer_type, need_type, how)
SELECT * FROM unnest(:offer_type::text[], :need_type::text[], :how::text[]);

-- name: upsert_credential
INSERT INTO credentials (code, name, applies_to, programme)
VALUES (:code, :name, :applies_to, :programme)
ON CONFLICT (code) DO UPDATE SET
    name = EXCLUDED.name, applies_to = EXCLUDED.applies_to, programme = EXCLUDED.programme;

-- name: list_types
SELECT code, name, unit, parent, substitutes, description FROM resource_types ORDER BY position;

-- name: type_units
SELECT code, unit FROM resource_types WHERE code = ANY(:codes::text[]);

-- name: list_credentials
SELECT code, name, applies_to, programme FROM credentials ORDER BY code;

-- name: candidate_needs
-- One type's shortlist, as lock_sides finds it per planned item (bench/matching_cost.py
-- explains this one). Open needs of :emergency_id (of :request_id, when not null) that
-- an item of type :resource_type can fill and that still lack something after standing
-- proposals: per fillable type, the :shortlist most urgent straight from
-- needs_lacking_by_rank (no sort of every open need), then the :shortlist most urgent of
-- those. Needs that declined item :item_id never come back.
SELECT c.*, f.how, r.requesting_country
FROM type_fills f
CROSS JOIN LATERAL (
    SELECT n.id, n.request_id, n.priority, n.needed_by, n.delivery_lat, n.delivery_lon,
           array_position(ARRAY['critical', 'high', 'normal']::text[], n.priority) AS rank
    FROM needs n
    WHERE n.emergency_id = :emergency_id AND n.resource_type = f.need_type
      AND n.status = 'open' AND NOT n.fully_proposed  -- needs_lacking_by_rank
      AND (:request_id::text IS NULL OR n.request_id = :request_id)
      AND n.id <> ALL(ARRAY(SELECT need_id FROM matches
                            WHERE offer_item_id = :item_id AND status = 'declined'))
    ORDER BY array_position(ARRAY['critical', 'high', 'normal']::text[], n.priority),
             n.needed_by, n.id
    LIMIT :shortlist
) c
JOIN requests r ON r.id = c.request_id
WHERE f.offer_type = :resource_type
ORDER BY c.rank, c.needed_by, c.id
LIMIT :shortlist;

-- name: standing_proposals
-- Locked after the needs and items (matching.allocation's order).
SELECT id, need_id, offer_item_id, quantity, score FROM matches
WHERE need_id = ANY(:need_ids::text[]) AND status = 'proposed'
ORDER BY id
FOR UPDATE;

-- name: give_way
-- Standing proposals :ids keep :keep units; one that keeps none is superseded (:reason).
UPDATE matches m
SET status = CASE WHEN u.keep <= 0 THEN 'superseded' ELSE 'proposed' END,
    quantity = CASE WHEN u.keep <= 0 THEN m.quantity ELSE u.keep END,
    reason = CASE WHEN u.keep <= 0 THEN :reason ELSE m.reason END,
    updated_at = now()
FROM unnest(:ids::text[], :keep::int[]) AS u(id, keep)
WHERE m.id = u.id AND m.status = 'proposed'
RETURNING m.*;

-- name: lock_sides
-- The lock order of every allocating, releasing or planning transaction is: needs,
-- then offer items, then matches, each in id order (matching.allocation.lock). Needs
-- and items are locked here in one round trip: the items' scan waits on the needs'
-- (an InitPlan over locked_needs), so all needs are locked before any item.
--
-- Planning (matching.engine.plan) finds its candidates in the same statement and
-- locks them: for each item of :plan_items that is open, countable and has something
-- free, the :shortlist most urgent needs it can fill that still lack something
-- (is_full = false) and, with :displacing, those with room by acceptance but nothing left
-- to propose (is_full = true: a clearly better item may displace a standing proposal);
-- for each need of :plan_needs that still lacks something, the :shortlist soonest
-- available items that can fill it. Each shortlist is taken per fillable type
-- straight from the partial indexes (no sort of every open need or item), then cut
-- to the best :shortlist; pairings declined once never come back.
--
-- Locked: :need_ids, :item_ids and (with :lock_found) both sides of every candidate;
-- with :other_sides, also the needs that standing proposals of those items point at,
-- and the items that standing proposals of those needs point at. :displaced_from are
-- needs locked as if full candidates (below): a transaction about to fill them
-- locks ahead what its plan will lock once they are (engine.lock_ahead). With a full
-- candidate (and :lock_found), also the needs of the items' standing proposals and
-- the items of the full candidates' standing proposals: a displaced proposal moves
-- its item's counter, and only a full need's proposals are displaced. Not the items
-- of a lacking candidate's proposals: a large need has one for every offer that
-- filled it so far. (The ids are gathered first so the primary key finds the rows:
-- an OR here scanned every need.)
-- One row shape for all (`side`: candidate, need or item; other columns are null).
WITH plan_items AS MATERIALIZED (
    -- By primary key alone. With the conditions on free items here, the planner may
    -- pick offer_items_free_by_type and read it whole to find a few ids; each new
    -- item leaves a dead entry there (its counter moves in the transaction that
    -- stored it), so after 6,000 offers that took 7 ms (bench/offer_profile.py
    -- --after 6000). Same for the needs, and offer_items' request with them.
    SELECT f.id, f.emergency_id, f.resource_type, f.status, f.quantity, f.allocated,
           f.proposed, f.possible_duplicate_of, o.request_id
    FROM offer_items f
    JOIN offers o ON o.id = f.offer_id
    WHERE f.id = ANY(:plan_items::text[])
), plan_needs AS MATERIALIZED (
    SELECT n.id, n.emergency_id, n.resource_type, n.request_id, n.status, n.quantity,
           n.allocated, n.proposed
    FROM needs n
    WHERE n.id = ANY(:plan_needs::text[])
), lacking_for_items AS (
    SELECT f.id AS item_id, c.id AS need_id, c.how, false AS is_full
    FROM plan_items f
    CROSS JOIN LATERAL (
        SELECT x.id, t.how
        FROM type_fills t
        CROSS JOIN LATERAL (
            SELECT n.id, n.needed_by,
                   array_position(ARRAY['critical', 'high', 'normal']::text[], n.priority)
                       AS rank
            FROM needs n
            WHERE n.emergency_id = f.emergency_id AND n.resource_type = t.need_type
              AND n.status = 'open' AND NOT n.fully_proposed  -- needs_lacking_by_rank
              AND (f.request_id IS NULL OR n.request_id = f.request_id)
              AND n.id <> ALL(ARRAY(SELECT need_id FROM matches
                                    WHERE offer_item_id = f.id AND status = 'declined'))
            ORDER BY array_position(ARRAY['critical', 'high', 'normal']::text[], n.priority),
                     n.needed_by, n.id
            LIMIT :shortlist
        ) x
        WHERE t.offer_type = f.resource_type
        ORDER BY x.rank, x.needed_by, x.id
        LIMIT :shortlist
    ) c
    WHERE f.status = 'open' AND f.allocated + f.proposed < f.quantity
      AND f.possible_duplicate_of IS NULL
), full_for_items AS (
    SELECT f.id AS item_id, c.id AS need_id, c.how, true AS is_full
    FROM plan_items f
    CROSS JOIN LATERAL (
        SELECT x.id, t.how
        FROM type_fills t
        CROSS JOIN LATERAL (
            SELECT n.id, n.needed_by,
                   array_position(ARRAY['critical', 'high', 'normal']::text[], n.priority)
                       AS rank
            FROM needs n
            WHERE n.emergency_id = f.emergency_id AND n.resource_type = t.need_type
              AND n.status = 'open' AND n.allocated < n.quantity
              AND n.fully_proposed  -- needs_full_by_rank
              AND (f.request_id IS NULL OR n.request_id = f.request_id)
              AND n.id <> ALL(ARRAY(SELECT need_id FROM matches
                                    WHERE offer_item_id = f.id AND status = 'declined'))
            ORDER BY array_position(ARRAY['critical', 'high', 'normal']::text[], n.priority),
                     n.needed_by, n.id
            LIMIT :shortlist
        ) x
        WHERE t.offer_type = f.resource_type
        ORDER BY x.rank, x.needed_by, x.id
        LIMIT :shortlist
    ) c
    WHERE :displacing AND f.status = 'open' AND f.allocated + f.proposed < f.quantity
      AND f.possible_duplicate_of IS NULL
), lacking_for_needs AS (
    SELECT c.id AS item_id, n.id AS need_id, c.how, false AS is_full
    FROM plan_needs n
    CROSS JOIN LATERAL (
        SELECT x.id, t.how
        FROM type_fills t
        CROSS JOIN LATERAL (
            SELECT i.id, i.available_from
            FROM offer_items i JOIN offers o ON o.id = i.offer_id
            WHERE i.emergency_id = n.emergency_id AND i.resource_type = t.offer_type
              AND i.status = 'open' AND i.allocated + i.proposed < i.quantity
              AND i.possible_duplicate_of IS NULL
              AND (o.request_id IS NULL OR o.request_id = n.request_id)
              AND i.id <> ALL(ARRAY(SELECT offer_item_id FROM matches
                                    WHERE need_id = n.id AND status = 'declined'))
            ORDER BY i.available_from, i.id
            LIMIT :shortlist
        ) x
        WHERE t.need_type = n.resource_type
        ORDER BY x.available_from, x.id
        LIMIT :shortlist
    ) c
    WHERE n.status = 'open' AND n.allocated + n.proposed < n.quantity
), candidates AS MATERIALIZED (
    SELECT * FROM lacking_for_items
    UNION ALL SELECT * FROM full_for_items
    UNION ALL SELECT * FROM lacking_for_needs
), sides AS MATERIALIZED (
    SELECT ARRAY(SELECT unnest(:need_ids::text[])
                 UNION SELECT unnest(:displaced_from::text[])
                 UNION SELECT need_id FROM candidates WHERE :lock_found) AS need_ids,
           ARRAY(SELECT unnest(:item_ids::text[])
                 UNION SELECT item_id FROM candidates WHERE :lock_found) AS item_ids,
           :other_sides OR cardinality(:displaced_from::text[]) > 0
               OR EXISTS (SELECT 1 FROM candidates WHERE is_full) AS other_sides,
           ARRAY(SELECT unnest(:need_ids::text[]) WHERE :other_sides
                 UNION SELECT unnest(:displaced_from::text[])
                 UNION SELECT need_id FROM candidates WHERE :lock_found AND is_full)
               AS proposals_of
), wanted_needs AS (
    -- The other sides one id at a time, down an index: as a join, the planner may
    -- read every standing proposal (a few needs, thousands of proposals each).
    SELECT unnest(need_ids) AS id FROM sides
    UNION
    SELECT unnest(ARRAY(SELECT m.need_id FROM matches m
                        WHERE m.offer_item_id = i.id AND m.status = 'proposed'))
    FROM sides s, unnest(s.item_ids) AS i(id)
    WHERE s.other_sides
), locked_needs AS MATERIALIZED (
    SELECT n.id, n.request_id, n.emergency_id, n.resource_type, n.priority, n.needed_by,
           n.delivery_lat, n.delivery_lon, n.quantity, n.allocated, n.proposed, n.status,
           r.requesting_country
    FROM needs n
    JOIN requests r ON r.id = n.request_id
    -- Down the primary key, id by id: as a join, a planner that guesses the ids many
    -- (110 for 28) and the table small hashes them against a read of all of it.
    WHERE n.id = ANY(ARRAY(SELECT id FROM wanted_needs))
    ORDER BY n.id
    FOR NO KEY UPDATE OF n
), wanted_items AS (
    SELECT unnest(item_ids) AS id FROM sides
    UNION
    SELECT unnest(ARRAY(SELECT m.offer_item_id FROM matches m
                        WHERE m.need_id = n.id AND m.status = 'proposed'))
    FROM sides s, unnest(s.proposals_of) AS n(id)
), locked_items AS MATERIALIZED (
    SELECT i.id, i.offer_id, i.emergency_id, i.resource_type, i.available_from, i.origin_lat,
           i.origin_lon, i.credentials, i.self_sufficient, i.quantity, i.allocated, i.proposed,
           i.status, i.possible_duplicate_of, o.offering_country, o.request_id
    FROM offer_items i
    JOIN offers o ON o.id = i.offer_id
    WHERE i.id = ANY(ARRAY(SELECT id FROM wanted_items))  -- as above
      AND (SELECT count(*) FROM locked_needs) >= 0  -- every need locked first
    ORDER BY i.id
    FOR NO KEY UPDATE OF i
)
SELECT 'candidate' AS side, need_id AS id, NULL::text AS emergency_id,
       NULL::text AS resource_type, NULL::text AS request_id, NULL::int AS quantity,
       NULL::int AS allocated, NULL::int AS proposed, NULL::text AS status,
       NULL::text AS priority, NULL::timestamptz AS needed_by, NULL::float8 AS delivery_lat,
       NULL::float8 AS delivery_lon, NULL::text AS requesting_country, NULL::text AS offer_id,
       NULL::timestamptz AS available_from, NULL::float8 AS origin_lat,
       NULL::float8 AS origin_lon, NULL::text[] AS credentials, NULL::bool AS self_sufficient,
       NULL::text AS possible_duplicate_of, NULL::text AS offering_country,
       item_id, how, is_full
FROM candidates
UNION ALL
SELECT 'need', id, emergency_id, resource_type, request_id, quantity, allocated, proposed,
       status, priority, needed_by, delivery_lat, delivery_lon, requesting_country,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM locked_needs
UNION ALL
SELECT 'item', id, emergency_id, resource_type, request_id, quantity, allocated, proposed,
       status, NULL, NULL, NULL, NULL, NULL, offer_id, available_from, origin_lat, origin_lon,
       credentials, self_sufficient, possible_duplicate_of, offering_country, NULL, NULL, NULL
FROM locked_items;

-- name: new_item_candidates
-- The plans of new offers, read without locks and written with their COMMIT, if they
-- still hold then (write_planned_proposals, migration 0015). One group for each
-- (:emergency_ids, :request_ids, :types) taken together: an emergency, the request
-- its offer is bound to (or null), and an offer type with something to propose. For
-- each group, the :shortlist most urgent needs it can fill that still lack something,
-- each with its row as it stands (and `version`, which the COMMIT checks). A new item
-- has declined nothing and its row is the caller's, so this is lock_sides' item
-- search alone, by type. `grp` numbers the groups from 1, in the order given; a group
-- with no candidates answers one row, with `grp`, `offer_type` and `any_full` only.
-- `any_full`: some need the group could fill has nothing left to propose, so a
-- displacement may move other proposals, which is planned under locks (lock_sides).
--
-- Run on a plan PostgreSQL keeps (offers.service), made for no value in particular
-- and perhaps while needs was small, so every need is read down an index for one
-- group at a time, and no need twice: each candidate's row is the one its search
-- read (joined to needs again, a plan made on a small table hashed every need
-- there is), and `any_full` looks for one full need per group (as one search, the
-- plan read every full need of the emergency, whatever its type). Whether a group
-- is bound to a request is a gate of its own on each search (decided once per
-- group), not a condition on each need: a kept plan cannot fold it away, took it to
-- pass almost no need, and read every need of the type to sort them, where one
-- search walks the index in order and stops at :shortlist.
WITH groups AS MATERIALIZED (
    SELECT g.grp::int AS grp, g.emergency_id, g.request_id, g.offer_type
    FROM unnest(:emergency_ids::text[], :request_ids::text[], :types::text[])
         WITH ORDINALITY AS g(emergency_id, request_id, offer_type, grp)
), candidates AS MATERIALIZED (
    SELECT g.grp, c.*
    FROM groups g
    CROSS JOIN LATERAL (
        SELECT x.*, t.how
        FROM type_fills t
        CROSS JOIN LATERAL (
            (SELECT n.*, array_position(ARRAY['critical', 'high', 'normal']::text[],
                                        n.priority) AS rank
             FROM needs n
             WHERE g.request_id IS NULL
               AND n.emergency_id = g.emergency_id AND n.resource_type = t.need_type
               AND n.status = 'open' AND NOT n.fully_proposed  -- needs_lacking_by_rank
             ORDER BY array_position(ARRAY['critical', 'high', 'normal']::text[], n.priority),
                      n.needed_by, n.id
             LIMIT :shortlist)
            UNION ALL
            (SELECT n.*, array_position(ARRAY['critical', 'high', 'normal']::text[],
                                        n.priority) AS rank
             FROM needs n
             WHERE g.request_id IS NOT NULL  -- a request-bound offer: its request's
               AND n.request_id = g.request_id AND n.emergency_id = g.emergency_id
               AND n.resource_type = t.need_type
               AND n.status = 'open' AND NOT n.fully_proposed
             ORDER BY array_position(ARRAY['critical', 'high', 'normal']::text[], n.priority),
                      n.needed_by, n.id
             LIMIT :shortlist)
        ) x
        WHERE t.offer_type = g.offer_type
        ORDER BY x.rank, x.needed_by, x.id
        LIMIT :shortlist
    ) c
), fulls AS MATERIALIZED (
    -- once per group (in the select list, it ran again for each candidate row)
    SELECT g.grp, EXISTS (
        SELECT 1
        FROM type_fills t
        CROSS JOIN LATERAL (
            (SELECT 1 FROM needs n
             WHERE g.request_id IS NULL
               AND n.emergency_id = g.emergency_id AND n.resource_type = t.need_type
               AND n.status = 'open' AND n.allocated < n.quantity
               AND n.fully_proposed  -- needs_full_by_rank, walked in its order
             ORDER BY array_position(ARRAY['critical', 'high', 'normal']::text[],
                                     n.priority), n.needed_by, n.id
             LIMIT 1)
            UNION ALL
            (SELECT 1 FROM needs n
             WHERE g.request_id IS NOT NULL AND n.request_id = g.request_id
               AND n.emergency_id = g.emergency_id AND n.resource_type = t.need_type
               AND n.status = 'open' AND n.allocated < n.quantity AND n.fully_proposed
             ORDER BY array_position(ARRAY['critical', 'high', 'normal']::text[],
                                     n.priority), n.needed_by, n.id
             LIMIT 1)
        ) f
        WHERE t.offer_type = g.offer_type
    ) AS any_full
    FROM groups g
)
SELECT g.grp, g.offer_type, f.any_full,
       c.how, c.id, c.request_id, c.emergency_id, c.resource_type, c.priority,
       c.needed_by, c.delivery_lat, c.delivery_lon, c.quantity, c.allocated, c.proposed,
       c.status, c.version,
       (SELECT r.requesting_country FROM requests r WHERE r.id = c.request_id)
           AS requesting_country
FROM groups g
JOIN fulls f ON f.grp = g.grp
LEFT JOIN candidates c ON c.grp = g.grp
ORDER BY g.grp;

-- name: lock_needs_skip
-- lock_sides' needs, for planning inside a decision, which already holds items: rows another
-- transaction holds are passed over, never waited for (waiting here, out of the lock
-- order, is what could deadlock). The request row is held too (the new proposal's
-- foreign key needs it), and passed over the same way.
WITH wanted AS (
    SELECT unnest(:need_ids::text[]) AS id
    UNION
    SELECT need_id FROM matches
    WHERE :other_sides AND offer_item_id = ANY(:item_ids::text[]) AND status = 'proposed'
)
SELECT n.id, n.request_id, n.emergency_id, n.resource_type, n.priority, n.needed_by,
       n.delivery_lat, n.delivery_lon, n.quantity, n.allocated, n.proposed, n.status,
       r.requesting_country
FROM wanted w
JOIN needs n ON n.id = w.id
JOIN requests r ON r.id = n.request_id
ORDER BY n.id
FOR NO KEY UPDATE OF n SKIP LOCKED
FOR KEY SHARE OF r SKIP LOCKED;

-- name: lock_items_skip
-- lock_sides' items, passing over held rows as lock_needs_skip does; an item whose offer is
-- held (a withdrawal under way) is passed over too.
WITH wanted AS (
    SELECT unnest(:item_ids::text[]) AS id
    UNION
    SELECT offer_item_id FROM matches
    WHERE :other_sides AND need_id = ANY(:need_ids::text[]) AND status = 'proposed'
)
SELECT i.id, i.offer_id, i.emergency_id, i.resource_type, i.available_from, i.origin_lat,
       i.origin_lon, i.credentials, i.self_sufficient, i.quantity, i.allocated, i.proposed,
       i.status, i.possible_duplicate_of, o.offering_country, o.request_id
FROM wanted w
JOIN offer_items i ON i.id = w.id
JOIN offers o ON o.id = i.offer_id
ORDER BY i.id
FOR NO KEY UPDATE OF i SKIP LOCKED
FOR KEY SHARE OF o SKIP LOCKED;

-- name: lock_matches
SELECT * FROM matches WHERE id = ANY(:match_ids::text[]) ORDER BY id FOR UPDATE;

-- name: write_proposals
-- New proposals; a pair that already has one standing gets its quantity raised.
-- The trigger count_proposed moves both counters, and their CHECKs refuse a plan
-- that would promise a unit twice.
INSERT INTO matches (id, emergency_id, need_id, offer_item_id, offer_id, request_id,
                     requesting_country, offering_country, resource_type, quantity, score,
                     score_parts, status, eta)
SELECT u.id, u.emergency_id, u.need_id, u.item_id, u.offer_id, u.request_id, u.rc, u.oc,
       u.rt, u.qty, u.score, u.parts::jsonb, 'proposed', u.eta
FROM unnest(:id::text[], :emergency_id::text[], :need_id::text[], :offer_item_id::text[],
            :offer_id::text[], :request_id::text[], :requesting_country::text[],
            :offering_country::text[], :resource_type::text[], :quantity::int[],
            :score::float8[], :score_parts::text[], :eta::timestamptz[])
     AS u(id, emergency_id, need_id, item_id, offer_id, request_id, rc, oc, rt, qty, score,
          parts, eta)
-- Read under the caller's locks: a pairing declined since the candidates were
-- chosen still never returns.
WHERE NOT EXISTS (SELECT 1 FROM matches d
                  WHERE d.need_id = u.need_id AND d.offer_item_id = u.item_id
                    AND d.status = 'declined')
ON CONFLICT (need_id, offer_item_id) WHERE status = 'proposed'
DO UPDATE SET quantity = matches.quantity + EXCLUDED.quantity, score = EXCLUDED.score,
              score_parts = EXCLUDED.score_parts, eta = EXCLUDED.eta, updated_at = now()
RETURNING *;

-- name: fit_needs
-- Standing proposals of needs :need_ids shrink to what each need still lacks less
-- :reserve (room an allocation is about to take), lowest scores first; one left with
-- nothing is superseded, with reason :reason. A need that is not open has no room.
WITH room AS (
    SELECT id, CASE WHEN status = 'open' THEN quantity - allocated - :reserve ELSE 0 END AS room
    FROM needs WHERE id = ANY(:need_ids::text[])
), ranked AS (
    SELECT m.id, room.room - (sum(m.quantity) OVER w - m.quantity) AS left_
    FROM matches m JOIN room ON room.id = m.need_id
    WHERE m.status = 'proposed'
    WINDOW w AS (PARTITION BY m.need_id ORDER BY m.score DESC, m.id)
)
UPDATE matches m
SET status = CASE WHEN r.left_ <= 0 THEN 'superseded' ELSE 'proposed' END,
    quantity = CASE WHEN r.left_ <= 0 THEN m.quantity ELSE r.left_ END,
    reason = CASE WHEN r.left_ <= 0 THEN :reason ELSE m.reason END,
    updated_at = now()
FROM ranked r
WHERE m.id = r.id AND r.left_ < m.quantity
RETURNING m.*;

-- name: fit_items
-- The same for offer items :item_ids: proposals shrink to what each has free less
-- :reserve.
WITH room AS (
    SELECT id,
           CASE WHEN status = 'open' AND possible_duplicate_of IS NULL
                THEN quantity - allocated - :reserve ELSE 0 END AS room
    FROM offer_items WHERE id = ANY(:item_ids::text[])
), ranked AS (
    SELECT m.id, room.room - (sum(m.quantity) OVER w - m.quantity) AS left_
    FROM matches m JOIN room ON room.id = m.offer_item_id
    WHERE m.status = 'proposed'
    WINDOW w AS (PARTITION BY m.offer_item_id ORDER BY m.score DESC, m.id)
)
UPDATE matches m
SET status = CASE WHEN r.left_ <= 0 THEN 'superseded' ELSE 'proposed' END,
    quantity = CASE WHEN r.left_ <= 0 THEN m.quantity ELSE r.left_ END,
    reason = CASE WHEN r.left_ <= 0 THEN :reason ELSE m.reason END,
    updated_at = now()
FROM ranked r
WHERE m.id = r.id AND r.left_ < m.quantity
RETURNING m.*;

-- name: get_match
SELECT * FROM matches WHERE id = :id;

-- name: allocate
-- The CHECK constraints on both counters are the last line of invariant 1.
WITH n AS (UPDATE needs SET allocated = allocated + :quantity WHERE id = :need_id RETURNING id),
     i AS (UPDATE offer_items SET allocated = allocated + :quantity WHERE id = :offer_item_id
           RETURNING id)
SELECT (SELECT count(*) FROM n) + (SELECT count(*) FROM i);

-- name: set_match
UPDATE matches
SET status = :status, quantity = :quantity, dispatched = :dispatched, delivered = :delivered,
    eta = :eta, reason = :reason, updated_at = now()
WHERE id = :id
RETURNING *;

-- name: emergency_matches
SELECT * FROM matches
WHERE emergency_id = :emergency_id AND (:status::text IS NULL OR status = :status)
  -- :audience: the caller's audience tags (policy.audience); a match's are its two nations
  AND (:audience::text[] IS NULL OR offering_country = ANY(:audience)
       OR requesting_country = ANY(:audience))
ORDER BY need_id, score DESC, id;

-- name: matches_by_id
SELECT * FROM matches WHERE id = ANY(:ids::text[]) ORDER BY id;

-- name: release
-- The inverse of allocate: an accepted allocation given back.
WITH n AS (UPDATE needs SET allocated = allocated - :quantity WHERE id = :need_id RETURNING id),
     i AS (UPDATE offer_items SET allocated = allocated - :quantity WHERE id = :offer_item_id
           RETURNING id)
SELECT (SELECT count(*) FROM n) + (SELECT count(*) FROM i);

-- name: need_live_allocations
-- Accepted matches of a need that nothing has moved yet.
SELECT * FROM matches
WHERE need_id = :need_id AND status = 'accepted' AND dispatched = 0
ORDER BY offer_item_id, id;

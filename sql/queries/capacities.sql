-- name: insert_capacity
INSERT INTO capacities (id, country, resource_type, quantity, readiness_hours, home_lat, home_lon,
                        home_place, credentials, self_sufficient, valid_until, name, notes,
                        source, citation, read_on, public_key, created_by)
VALUES (:id, :country, :resource_type, :quantity, :readiness_hours, :home_lat, :home_lon,
        :home_place, :credentials, :self_sufficient, :valid_until, :name, :notes,
        :source, :citation, :read_on, :public_key, :created_by)
RETURNING *, (valid_until IS NOT NULL AND valid_until <= now()) AS expired;

-- name: upsert_public
-- A record from a public list, keyed by that list's own key: seeding again updates it.
INSERT INTO capacities (id, country, resource_type, quantity, readiness_hours, home_lat, home_lon,
                        home_place, credentials, self_sufficient, valid_until, name, notes,
                        source, citation, read_on, public_key, created_by)
VALUES (:id, :country, :resource_type, :quantity, :readiness_hours, :home_lat, :home_lon,
        :home_place, :credentials, :self_sufficient, :valid_until, :name, :notes,
        'public', :citation, :read_on, :public_key, :created_by)
ON CONFLICT (public_key) DO UPDATE SET
    country = EXCLUDED.country, resource_type = EXCLUDED.resource_type,
    quantity = EXCLUDED.quantity, readiness_hours = EXCLUDED.readiness_hours,
    home_lat = EXCLUDED.home_lat, home_lon = EXCLUDED.home_lon, home_place = EXCLUDED.home_place,
    credentials = EXCLUDED.credentials, self_sufficient = EXCLUDED.self_sufficient,
    valid_until = EXCLUDED.valid_until, name = EXCLUDED.name, notes = EXCLUDED.notes,
    citation = EXCLUDED.citation, read_on = EXCLUDED.read_on,
    version = capacities.version + 1, updated_at = now()
WHERE (capacities.country, capacities.resource_type, capacities.quantity,
       capacities.readiness_hours, capacities.home_lat, capacities.home_lon,
       capacities.home_place, capacities.credentials, capacities.self_sufficient,
       capacities.valid_until, capacities.name, capacities.notes, capacities.citation,
       capacities.read_on)
      IS DISTINCT FROM
      (EXCLUDED.country, EXCLUDED.resource_type, EXCLUDED.quantity, EXCLUDED.readiness_hours,
       EXCLUDED.home_lat, EXCLUDED.home_lon, EXCLUDED.home_place, EXCLUDED.credentials,
       EXCLUDED.self_sufficient, EXCLUDED.valid_until, EXCLUDED.name, EXCLUDED.notes,
       EXCLUDED.citation, EXCLUDED.read_on)
RETURNING id;

-- name: get_capacity
SELECT *, (valid_until IS NOT NULL AND valid_until <= now()) AS expired
FROM capacities WHERE id = :id;

-- name: lock_capacity
SELECT *, (valid_until IS NOT NULL AND valid_until <= now()) AS expired
FROM capacities WHERE id = :id FOR UPDATE;

-- name: update_capacity
UPDATE capacities
SET quantity = :quantity, readiness_hours = :readiness_hours, home_lat = :home_lat,
    home_lon = :home_lon, home_place = :home_place, credentials = :credentials,
    self_sufficient = :self_sufficient, valid_until = :valid_until, name = :name,
    notes = :notes, resource_type = :resource_type, status = :status,
    version = version + 1, updated_at = now()
WHERE id = :id
RETURNING *, (valid_until IS NOT NULL AND valid_until <= now()) AS expired;

-- name: insert_history
INSERT INTO capacity_history (capacity_id, version, record, changed_by)
SELECT id, version, to_jsonb(capacities), :changed_by
FROM capacities WHERE id = ANY(:capacity_ids::text[]);

-- name: list_capacities
-- The register, filtered. :resource_type matches a type and everything below it
-- (usar → usar.heavy).
SELECT c.*, (c.valid_until IS NOT NULL AND c.valid_until <= now()) AS expired
FROM capacities c
LEFT JOIN partners p ON p.code = c.country
WHERE (:country::text IS NULL OR c.country = :country)
  AND (:resource_type::text IS NULL OR c.resource_type = :resource_type
       OR c.resource_type LIKE :resource_type || '.%')
  AND (:credential::text IS NULL OR :credential = ANY(c.credentials))
  AND (:ready_within::int IS NULL OR c.readiness_hours <= :ready_within)
  AND (:region::text IS NULL OR :region = ANY(p.frameworks))
  AND (:source::text IS NULL OR c.source = :source)
  AND c.status = :status
  AND (:include_expired::boolean OR c.valid_until IS NULL OR c.valid_until > now())
ORDER BY c.country, c.source, c.resource_type, c.id
LIMIT :limit;

-- name: likely_providers
-- Per need (:need_ids), the active, unexpired capacities whose type can fill it (by
-- the same type_fills relation matching uses) of nations other than the requester
-- with no open offer item for it in this emergency yet, in (source, readiness_hours,
-- id) order — declared before public, then readiest — up to that need's bound
-- (:upto_sources, :upto_hours) and at most :shortlist of them (NULL: all). A public
-- record of a nation that declared a capacity of the same type is left out: the
-- nation's own word replaces the list's.
-- Per fitting type the rows come in capacities_active_by_readiness order, so a need
-- reads its first :shortlist entries of each type, not every capacity of the type.
-- Python ranks them with travel added (providers.rank) and asks again, with a
-- bound, only for a need whose shortlist cannot prove its ranking (providers.cutoff).
SELECT w.need_id, c.id AS capacity_id, c.country, c.quantity, c.readiness_hours,
       c.home_lat, c.home_lon, c.credentials, c.source, c.resource_type,
       n.delivery_lat, n.delivery_lon
FROM unnest(:need_ids::text[], :upto_sources::text[], :upto_hours::int[])
     AS w (need_id, upto_source, upto_hours)
JOIN needs n ON n.id = w.need_id
JOIN requests r ON r.id = n.request_id
CROSS JOIN LATERAL (
    SELECT t.*
    FROM type_fills f
    CROSS JOIN LATERAL (
        SELECT c.*
        FROM capacities c
        WHERE c.resource_type = f.offer_type AND c.status = 'active'
          AND (c.source, c.readiness_hours) <= (w.upto_source, w.upto_hours)
          AND (c.valid_until IS NULL OR c.valid_until > now())
          AND c.country <> r.requesting_country
          AND NOT (c.source = 'public' AND EXISTS (
              SELECT 1 FROM capacities d
              WHERE d.country = c.country AND d.resource_type = c.resource_type
                AND d.source = 'declared' AND d.status = 'active' AND d.valid_until > now()))
          AND NOT EXISTS (
              SELECT 1
              FROM offers o
              JOIN offer_items i ON i.offer_id = o.id
              JOIN type_fills f2 ON f2.offer_type = i.resource_type
                                AND f2.need_type = n.resource_type
              WHERE o.emergency_id = n.emergency_id AND o.offering_country = c.country
                AND i.status = 'open')
        ORDER BY c.source, c.readiness_hours, c.id
        LIMIT :shortlist
    ) t
    WHERE f.need_type = n.resource_type
    ORDER BY t.source, t.readiness_hours, t.id
    LIMIT :shortlist
) c;

-- name: drop_unsent_reminders
-- An unsent reminder follows its capacity's valid_until (NULL: withdrawn, drop all);
-- a sent one stays as the record that it went out.
DELETE FROM capacity_reminders
WHERE capacity_id = :capacity_id AND sent_at IS NULL
  AND valid_until IS DISTINCT FROM :valid_until::timestamptz;

-- name: add_reminder
INSERT INTO capacity_reminders (capacity_id, valid_until, due_at)
VALUES (:capacity_id, :valid_until, greatest(:valid_until::timestamptz - :ahead::interval, now()))
ON CONFLICT (capacity_id, valid_until) DO NOTHING;

-- name: scheduler_lock
-- One instance sweeps at a time; the others skip this round.
SELECT pg_try_advisory_xact_lock(hashtext('eadrcc.capacity_reminders'));

-- name: take_due_reminders
-- Due, unsent reminders of capacities still declared with that same expiry.
UPDATE capacity_reminders r
SET sent_at = now()
FROM capacities c
WHERE c.id = r.capacity_id AND r.sent_at IS NULL AND r.due_at <= now()
  AND c.status = 'active' AND c.valid_until = r.valid_until
  AND r.capacity_id IN (SELECT capacity_id FROM capacity_reminders
                        WHERE sent_at IS NULL AND due_at <= now()
                        ORDER BY due_at LIMIT :limit FOR UPDATE SKIP LOCKED)
RETURNING r.capacity_id;

-- name: capacities_by_id
SELECT *, (valid_until IS NOT NULL AND valid_until <= now()) AS expired
FROM capacities WHERE id = ANY(:ids::text[]) ORDER BY id;

-- name: declared_for_needs
-- Per nation (:countries; NULL: every nation), the open needs of emergency
-- :emergency_id — of RFAs :request_ids only, NULL: all — that one of its active,
-- unexpired declared capacities can fill (type_fills, as matching decides), with the
-- readiest such capacity: what the nation said it holds for what it is asked. Never
-- the requesting nation's own.
-- Each fitting capacity is read once (the readiest per nation and type is kept),
-- then joined to the needs: the cost follows capacities + needs × nations marked,
-- not needs × capacities.
WITH asked AS (
    SELECT n.id, n.request_id, n.position, n.resource_type, r.requesting_country
    FROM needs n
    JOIN requests r ON r.id = n.request_id
    WHERE n.emergency_id = :emergency_id AND n.status = 'open'
      AND (:request_ids::text[] IS NULL OR n.request_id = ANY (:request_ids::text[]))
), held AS (
    SELECT DISTINCT ON (c.country, c.resource_type)
           c.country, c.resource_type, c.id, c.quantity, c.readiness_hours
    FROM capacities c
    WHERE c.resource_type IN (SELECT f.offer_type FROM type_fills f
                              WHERE f.need_type IN (SELECT resource_type FROM asked))
      AND c.status = 'active' AND c.source = 'declared' AND c.valid_until > now()
      AND (:countries::text[] IS NULL OR c.country = ANY (:countries::text[]))
    ORDER BY c.country, c.resource_type, c.readiness_hours, c.id
)
SELECT DISTINCT ON (h.country, a.id)
       h.country, a.request_id, a.position, a.id AS need_id, a.resource_type AS need_type,
       h.id AS capacity_id, h.resource_type, h.quantity
FROM asked a
JOIN type_fills f ON f.need_type = a.resource_type
JOIN held h ON h.resource_type = f.offer_type AND h.country <> a.requesting_country
ORDER BY h.country, a.id, h.readiness_hours, h.id;

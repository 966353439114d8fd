-- Proposals form a plan: every need and offer item counts what stands proposed
-- against it, and the database refuses a plan that promises a unit twice
-- (allocated + proposed never exceeds the quantity), whatever instance writes it.

ALTER TABLE needs ADD COLUMN proposed integer NOT NULL DEFAULT 0;
ALTER TABLE offer_items ADD COLUMN proposed integer NOT NULL DEFAULT 0;

-- Standing proposals of a database migrated from the wish-list era may overlap.
-- Keep a proposal only where, in score order, it still fits both its need and its
-- item counting every better proposal before it (so the kept ones fit for sure);
-- supersede the rest, with an event each so the log and the tables agree.
CREATE TEMPORARY TABLE plan_overlaps ON COMMIT DROP AS
WITH ranked AS (
    SELECT m.id,
           sum(m.quantity) OVER (PARTITION BY m.need_id ORDER BY m.score DESC, m.id) AS need_cum,
           sum(m.quantity) OVER (PARTITION BY m.offer_item_id ORDER BY m.score DESC, m.id)
               AS item_cum,
           CASE WHEN n.status = 'open' THEN n.quantity - n.allocated ELSE 0 END AS need_room,
           CASE WHEN i.status = 'open' THEN i.quantity - i.allocated ELSE 0 END AS item_room
    FROM matches m
    JOIN needs n ON n.id = m.need_id
    JOIN offer_items i ON i.id = m.offer_item_id
    WHERE m.status = 'proposed'
)
SELECT id FROM ranked WHERE need_cum > need_room OR item_cum > item_room;

WITH superseded AS (
    UPDATE matches m
    SET status = 'superseded', reason = 'replanned: proposals never promise a unit twice',
        updated_at = now()
    FROM plan_overlaps o
    WHERE m.id = o.id
    RETURNING m.*
)
SELECT append_event(
    'match.superseded', s.emergency_id,
    ARRAY(SELECT DISTINCT c FROM unnest(ARRAY[s.offering_country, s.requesting_country]) c
          ORDER BY c),
    'migration',
    to_jsonb(s))
FROM superseded s
ORDER BY s.id;

UPDATE needs n SET proposed = p.total
FROM (SELECT need_id, sum(quantity)::int AS total FROM matches WHERE status = 'proposed'
      GROUP BY need_id) p
WHERE n.id = p.need_id;

UPDATE offer_items i SET proposed = p.total
FROM (SELECT offer_item_id, sum(quantity)::int AS total FROM matches WHERE status = 'proposed'
      GROUP BY offer_item_id) p
WHERE i.id = p.offer_item_id;

ALTER TABLE needs ADD CONSTRAINT need_not_over_proposed
    CHECK (proposed >= 0 AND allocated + proposed <= quantity);
ALTER TABLE offer_items ADD CONSTRAINT offer_item_not_over_proposed
    CHECK (proposed >= 0 AND allocated + proposed <= quantity);

-- The counters follow the matches table by trigger, so no writing path can forget
-- them. Callers lock the need and the item first (matching.locks), so the trigger's
-- updates touch rows the transaction already holds.
CREATE FUNCTION count_proposed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    delta integer := 0;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'proposed' THEN
        delta := delta - OLD.quantity;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'proposed' THEN
        delta := delta + NEW.quantity;
    END IF;
    IF delta <> 0 THEN
        UPDATE needs SET proposed = proposed + delta
        WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.need_id ELSE NEW.need_id END;
        UPDATE offer_items SET proposed = proposed + delta
        WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.offer_item_id ELSE NEW.offer_item_id END;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER matches_count_proposed
AFTER INSERT OR UPDATE OF status, quantity OR DELETE ON matches
FOR EACH ROW EXECUTE FUNCTION count_proposed();

-- Candidates are needs that still lack something after standing proposals, in the
-- order they are served (priority, deadline); the index hands them over in that
-- order, so the cost of finding them does not grow with the open needs of a type.
CREATE INDEX needs_lacking_by_type ON needs (
    emergency_id, resource_type,
    (array_position(ARRAY['critical', 'high', 'normal']::text[], priority)),
    needed_by, id
) WHERE status = 'open' AND allocated + proposed < quantity;

-- Needs with room by acceptance but nothing left to propose: where a clearly better
-- item may displace a standing proposal.
CREATE INDEX needs_full_by_type ON needs (
    emergency_id, resource_type,
    (array_position(ARRAY['critical', 'high', 'normal']::text[], priority)),
    needed_by, id
) WHERE status = 'open' AND allocated < quantity AND allocated + proposed >= quantity;

CREATE INDEX offer_items_free_by_type ON offer_items (emergency_id, resource_type, available_from, id)
    WHERE status = 'open' AND allocated + proposed < quantity AND possible_duplicate_of IS NULL;

-- A need's picture lists the same help announced through a second channel.
CREATE INDEX offer_items_duplicates ON offer_items (possible_duplicate_of)
    WHERE possible_duplicate_of IS NOT NULL;

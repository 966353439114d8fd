-- A new offer's proposals, planned on needs read without a lock and written with the
-- COMMIT (matching.engine.plan, `unlocked`). Writing them used to hold each need's
-- row lock from the planner's read to the commit: four round trips during which
-- every other offer to that need waited, so a popular need served one offer at a
-- time at the speed of the hub's event loop. Here the lock is held only for this
-- statement and the commit.
--
-- The plan is written only if it is still the plan: each need is locked (in id
-- order, as every allocating transaction locks), and if one has changed since the
-- planner read it in a way that would change what it proposes, nothing is written
-- and the transaction fails with serialization_failure; the caller then plans
-- again under locks. A need's plan still holds when the need is open, unamended
-- (version), nothing was accepted or released on it (allocated), it still lacks
-- at least what is planned for it, and, when the plan took all it lacked, it lacks
-- exactly that (more room would have been proposed too). Other offers' proposals
-- made meanwhile only shrink what it lacks, so they mostly leave the plan holding.
--
-- p_rows: one object per proposal, with the columns of matches to write, plus
-- `lacking`, `version` and `allocated` as the planner read them.
CREATE FUNCTION write_planned_proposals(p_rows jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    stale text;
BEGIN
    WITH planned AS (
        SELECT need_id, sum(quantity) AS quantity, min(lacking) AS lacking,
               min(version) AS version, min(allocated) AS allocated
        FROM jsonb_to_recordset(p_rows)
             AS p(need_id text, quantity int, lacking int, version int, allocated int)
        GROUP BY need_id
    ), now_ AS (
        SELECT n.id, n.status, n.version, n.allocated,
               n.quantity - n.allocated - n.proposed AS lacking
        FROM needs n
        WHERE n.id IN (SELECT need_id FROM planned)
        ORDER BY n.id
        FOR NO KEY UPDATE
    )
    SELECT string_agg(p.need_id, ', ' ORDER BY p.need_id) INTO stale
    FROM planned p LEFT JOIN now_ n ON n.id = p.need_id
    WHERE n.id IS NULL OR n.status <> 'open' OR n.version <> p.version
       OR n.allocated <> p.allocated OR n.lacking < p.quantity
       OR (p.quantity = p.lacking AND n.lacking <> p.lacking);
    IF stale IS NOT NULL THEN
        RAISE EXCEPTION 'needs changed since the plan was made: %', stale
            USING ERRCODE = 'serialization_failure';
    END IF;
    -- The trigger count_proposed moves both counters; their CHECKs stay the last word.
    INSERT INTO matches (id, emergency_id, need_id, offer_item_id, offer_id, request_id,
                         requesting_country, offering_country, resource_type, quantity,
                         score, score_parts, status, eta)
    SELECT u.id, u.emergency_id, u.need_id, u.offer_item_id, u.offer_id, u.request_id,
           u.requesting_country, u.offering_country, u.resource_type, u.quantity, u.score,
           u.score_parts, 'proposed', u.eta
    FROM jsonb_to_recordset(p_rows) AS u(
        id text, emergency_id text, need_id text, offer_item_id text, offer_id text,
        request_id text, requesting_country text, offering_country text,
        resource_type text, quantity int, score float8, score_parts jsonb, eta timestamptz)
    ORDER BY u.need_id, u.offer_item_id;
END
$$;

-- write_planned_proposals (0015) reads each planned need down its primary key.
--
-- PL/pgSQL keeps the plans of a function's statements for the session, and an
-- offer's transaction asks for kept plans (offers.service): the plan of its check
-- may be made while needs is small. As `n.id IN (SELECT need_id FROM planned)`, such
-- a plan hashed the planned ids and read every need of every emergency at each
-- offer's COMMIT (on a small table a hash join costs less than a lookup per id).
-- Each need is now read, and locked, by its key, one after the other in id order
-- (the order every allocating transaction locks them in); the rest is 0015's.
CREATE OR REPLACE FUNCTION write_planned_proposals(p_rows jsonb) RETURNS void
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
    ), now_ AS MATERIALIZED (
        SELECT n.*
        FROM (SELECT need_id FROM planned ORDER BY need_id) p
        CROSS JOIN LATERAL (
            SELECT n.id, n.status, n.version, n.allocated,
                   n.quantity - n.allocated - n.proposed AS lacking
            FROM needs n
            WHERE n.id = p.need_id
            FOR NO KEY UPDATE
        ) n
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

-- A batch's new offers and items can be stored in its COMMIT's message, once they are
-- planned, each item's `proposed` counter already holding its new proposals.
--
-- Stored before they were planned, and counted by the proposals' trigger after
-- (0022), every new item was written twice: the counter's UPDATE cannot be HOT
-- (`proposed` is in offer_items_free_by_type's predicate), so it wrote the row and
-- its index entries again. Inserting 32 items with the counter set against inserting
-- them and then moving it: 41 against 70 µs of PostgreSQL an item (2026-12-01).
--
-- store_new_offers inserts the offers and their items (their duplicate flags looked
-- up already, by create_offers with :store false), each item's counter the sum of
-- p_rows' proposals of it, then writes p_rows (write_planned_proposals, which checks
-- them against their needs), telling the trigger for that one call that these items
-- are counted already. Every row of p_rows must be of one of these items. With no
-- rows it stores the offers as they were (a batch planning some offer under locks
-- stores them before that plan, which reads them).
CREATE FUNCTION store_new_offers(p_offers jsonb, p_items jsonb, p_rows jsonb)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO offers (id, emergency_id, request_id, offering_country, channel, notes,
                        created_by)
    SELECT o.id, o.emergency_id, o.request_id, o.offering_country, o.channel, o.notes,
           o.created_by
    FROM jsonb_to_recordset(p_offers) AS o(
        id text, emergency_id text, request_id text, offering_country text, channel text,
        notes text, created_by text);
    INSERT INTO offer_items (id, offer_id, emergency_id, offering_country, channel,
                             resource_type, quantity, available_from, origin_lat,
                             origin_lon, self_sufficient, credentials, position,
                             possible_duplicate_of, proposed)
    SELECT i.id, i.offer_id, i.emergency_id, i.offering_country, i.channel,
           i.resource_type, i.quantity, i.available_from, i.origin_lat, i.origin_lon,
           i.self_sufficient, string_to_array(i.credentials, ','), i.position,
           i.possible_duplicate_of, coalesce(p.quantity, 0)
    FROM jsonb_to_recordset(p_items) AS i(
        id text, offer_id text, emergency_id text, offering_country text, channel text,
        resource_type text, quantity int, available_from timestamptz, origin_lat float8,
        origin_lon float8, self_sufficient bool, credentials text, position int,
        possible_duplicate_of text)
    LEFT JOIN (SELECT r.offer_item_id, sum(r.quantity)::int AS quantity
               FROM jsonb_to_recordset(p_rows) AS r(offer_item_id text, quantity int)
               GROUP BY r.offer_item_id) p ON p.offer_item_id = i.id;
    IF EXISTS (SELECT 1 FROM jsonb_to_recordset(p_rows) AS r(offer_item_id text)
               WHERE r.offer_item_id NOT IN (
                   SELECT s.id FROM jsonb_to_recordset(p_items) AS s(id text))) THEN
        RAISE EXCEPTION 'store_new_offers: a proposal of an item it does not store';
    END IF;
    PERFORM set_config('eadrcc.new_items_counted', 'on', true);
    PERFORM write_planned_proposals(p_rows);
    PERFORM set_config('eadrcc.new_items_counted', 'off', true);
END
$$;

-- The trigger of 0022, but for items store_new_offers counted as it stored them.
CREATE OR REPLACE FUNCTION count_proposed_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE needs n SET proposed = n.proposed + d.quantity
    FROM (SELECT need_id, sum(quantity) AS quantity FROM inserted
          WHERE status = 'proposed' GROUP BY need_id) d
    WHERE n.id = d.need_id;
    IF current_setting('eadrcc.new_items_counted', true) IS DISTINCT FROM 'on' THEN
        UPDATE offer_items i SET proposed = i.proposed + d.quantity
        FROM (SELECT offer_item_id, sum(quantity) AS quantity FROM inserted
              WHERE status = 'proposed' GROUP BY offer_item_id) d
        WHERE i.id = d.offer_item_id;
    END IF;
    RETURN NULL;
END
$$;

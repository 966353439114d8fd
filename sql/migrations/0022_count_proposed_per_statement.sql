-- New proposals move their needs' and items' `proposed` counters once per statement,
-- not once per proposal. count_proposed (0007) ran for each inserted match: two
-- UPDATEs through PL/pgSQL per proposal, so a batch of 23 offers to three needs
-- updated each need seven or eight times over in one COMMIT. That trigger took 2.1
-- of the 3.3 ms the batch's write_planned_proposals cost PostgreSQL (2026-11-30, a
-- captured batch run again under ROLLBACK); summed per need and per item, 0.7.
-- Changes to standing proposals (status, quantity, deletion; and the quantity an
-- INSERT ... ON CONFLICT DO UPDATE raises) still go through count_proposed, row by
-- row: a statement's transition table of inserted rows holds only those it inserted.
-- Every path that inserts proposals holds its needs' and items' row locks already
-- (write_planned_proposals, lock_sides; a batch's items are its own), so the order
-- these UPDATEs take them in cannot deadlock.
CREATE FUNCTION count_proposed_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE needs n SET proposed = n.proposed + d.quantity
    FROM (SELECT need_id, sum(quantity) AS quantity FROM inserted
          WHERE status = 'proposed' GROUP BY need_id) d
    WHERE n.id = d.need_id;
    UPDATE offer_items i SET proposed = i.proposed + d.quantity
    FROM (SELECT offer_item_id, sum(quantity) AS quantity FROM inserted
          WHERE status = 'proposed' GROUP BY offer_item_id) d
    WHERE i.id = d.offer_item_id;
    RETURN NULL;
END
$$;

DROP TRIGGER matches_count_proposed ON matches;
CREATE TRIGGER matches_count_proposed
AFTER UPDATE OF status, quantity OR DELETE ON matches
FOR EACH ROW EXECUTE FUNCTION count_proposed();
CREATE TRIGGER matches_count_proposed_inserted
AFTER INSERT ON matches REFERENCING NEW TABLE AS inserted
FOR EACH STATEMENT EXECUTE FUNCTION count_proposed_inserted();

-- A new offer item is checked against the nation's open items of the same type and
-- quantity offered through another channel (create_offer's duplicate flag). No
-- index served that lookup: it walked every open offer of the nation in the
-- emergency and each one's items, 2.7 ms at 750 offers of one nation, growing with
-- every offer (EXPLAIN ANALYZE on bench/throughput.py's data). This one hands over
-- the open, unflagged items of one type and quantity; the nation is checked on
-- their offers.
CREATE INDEX offer_items_for_duplicates ON offer_items (emergency_id, resource_type, quantity)
    WHERE status = 'open' AND possible_duplicate_of IS NULL;

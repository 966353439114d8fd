-- create_offer's duplicate lookup (0020) took the nation's open items of a type and
-- quantity from the index and read each one's offer to find whose came through
-- another channel. A nation filing the same help again and again through one
-- channel (40 offers of one tent and quantity, 10 s into bench/throughput.py) had
-- every earlier one read, with its offer, at each new offer: ~0.3 ms of a 0.5 ms
-- insert, growing with every offer (EXPLAIN ANALYZE, 2026-11-30). An item now
-- carries its offer's channel too (copied at insert; an offer's channel never
-- changes), and the index hands over only the items of the other channels asked
-- for.
ALTER TABLE offer_items ADD COLUMN channel text;

UPDATE offer_items i SET channel = o.channel
FROM offers o WHERE o.id = i.offer_id;

ALTER TABLE offer_items ALTER COLUMN channel SET NOT NULL;

DROP INDEX offer_items_for_duplicates;
CREATE INDEX offer_items_for_duplicates
    ON offer_items (emergency_id, resource_type, quantity, offering_country, channel, id)
    WHERE status = 'open' AND possible_duplicate_of IS NULL;

-- A new offer item is checked against the nation's open items of the same type and
-- quantity offered through another channel (create_offer's duplicate flag). 0016's
-- index handed over the open, unflagged items of one type and quantity of every
-- nation, and the nation was checked on each one's offer: in an earthquake many
-- nations offer "100 family tents", and each new offer read all of them (3,574 rows,
-- 10 ms, in a review's data), growing with every offer. An item now carries its
-- offer's nation (copied at insert; an offer's nation never changes), and the index
-- hands over the nation's own items alone, in id order, so the lookup (which wants
-- the lowest id) stops at the first whose offer is still open through another
-- channel.
ALTER TABLE offer_items ADD COLUMN offering_country text;

UPDATE offer_items i SET offering_country = o.offering_country
FROM offers o WHERE o.id = i.offer_id;

ALTER TABLE offer_items ALTER COLUMN offering_country SET NOT NULL;

DROP INDEX offer_items_for_duplicates;
CREATE INDEX offer_items_for_duplicates
    ON offer_items (emergency_id, resource_type, quantity, offering_country, id)
    WHERE status = 'open' AND possible_duplicate_of IS NULL;

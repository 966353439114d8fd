-- Each copied column checked against what it copies, by fewer foreign keys.
--
-- An offer's item carries its offer's emergency, nation and channel (0020, 0021), and
-- a proposal its need's emergency and request and its item's offer, nation and type:
-- copies kept so that lookups need no join, written only by the hub. Until now
-- nothing in the database held them equal to the rows they copy, while a foreign
-- key of its own checked each referenced row: two per item, five per proposal. A
-- foreign key check is a lookup and a row lock at each insert; all of an offer's
-- together were about a fifth of what PostgreSQL spent on it (an ad-hoc probe under
-- bench/throughput.py's offer load, 2026-11-30).
--
-- Now one composite key per referenced row checks the reference and its copies
-- together: an item (offer, emergency, nation, channel) against its offer, a proposal
-- (need, emergency, request) against its need and (item, offer, nation, type) against
-- its item. The unique indexes they need replace the plain ones that led with the
-- same column (their lookups are unchanged), so no insert maintains one index more.
-- None of these columns is ever updated, so updates stay as they were (HOT included).

CREATE UNIQUE INDEX offers_by_emergency_key
    ON offers (emergency_id, offering_country, id, channel);
DROP INDEX offers_by_emergency;
ALTER INDEX offers_by_emergency_key RENAME TO offers_by_emergency;

CREATE UNIQUE INDEX offer_items_by_offer_key
    ON offer_items (offer_id, id, offering_country, resource_type);
DROP INDEX offer_items_by_offer;
ALTER INDEX offer_items_by_offer_key RENAME TO offer_items_by_offer;

CREATE UNIQUE INDEX needs_by_request_key ON needs (request_id, id, emergency_id);
DROP INDEX needs_by_request;
ALTER INDEX needs_by_request_key RENAME TO needs_by_request;

ALTER TABLE offer_items
    DROP CONSTRAINT offer_items_emergency_id_fkey,
    DROP CONSTRAINT offer_items_offer_id_fkey,
    ADD CONSTRAINT offer_items_of_offer
        FOREIGN KEY (offer_id, emergency_id, offering_country, channel)
        REFERENCES offers (id, emergency_id, offering_country, channel);

ALTER TABLE matches
    DROP CONSTRAINT matches_emergency_id_fkey,
    DROP CONSTRAINT matches_request_id_fkey,
    DROP CONSTRAINT matches_need_id_fkey,
    DROP CONSTRAINT matches_offer_id_fkey,
    DROP CONSTRAINT matches_offer_item_id_fkey,
    ADD CONSTRAINT matches_of_need
        FOREIGN KEY (need_id, emergency_id, request_id)
        REFERENCES needs (id, emergency_id, request_id),
    ADD CONSTRAINT matches_of_item
        FOREIGN KEY (offer_item_id, offer_id, offering_country, resource_type)
        REFERENCES offer_items (id, offer_id, offering_country, resource_type);

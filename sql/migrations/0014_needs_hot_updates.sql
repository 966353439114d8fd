-- Every proposal moves its need's `proposed` counter (count_proposed, 0007). The two
-- planning indexes of 0007 named `proposed` in their conditions, and PostgreSQL
-- cannot update a row in place (a HOT update) when a column an index's condition
-- reads changes: each offer to a popular need then wrote a new entry into every
-- index of needs, and the planner's next search walked all the dead versions
-- behind them. Under a steady stream of offers to one need this took more of
-- PostgreSQL's time than the offers themselves (bench/offer_profile.py; the offer
-- rate fell from 343 to 214 a second over 30 s).
--
-- One index over the needs still open to help, in the order they are served, takes
-- their place: the searches for needs that still lack something and for needs fully
-- proposed both read it in that order and check `proposed` on the row, so the cost
-- of a search grows with the unmet needs of one type in one emergency, not with
-- offers. `allocated` may stay in its condition: only acceptances move it, and a
-- need met by acceptances (which stays `open`) must leave the index, or a mature
-- emergency's thousands of met needs would be walked by every search.
CREATE INDEX needs_unmet_by_rank ON needs (
    emergency_id, resource_type,
    (array_position(ARRAY['critical', 'high', 'normal']::text[], priority)),
    needed_by, id
) WHERE status = 'open' AND allocated < quantity;

DROP INDEX needs_lacking_by_type;
DROP INDEX needs_full_by_type;

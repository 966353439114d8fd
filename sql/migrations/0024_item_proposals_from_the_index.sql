-- An item's proposals, by status, with their needs: from the index alone.
--
-- lock_sides finds the needs a planned item is proposed to one item at a time
-- (offer_item_id = $1 AND status = 'proposed'), and the candidate search the needs
-- it was declined by. With matches_by_item on (offer_item_id) alone, the planner,
-- on statistics that lag a burst of offers (autovacuum analyzes a minute later),
-- read matches_one_proposal_per_pair (need_id first) whole for each item instead:
-- an index-only scan it took for small. Under bench/throughput.py's "offers, a need
-- full" load that was 0.5 ms an item after 17,000 offers, and grew with every offer
-- (auto_explain, 2026-11-30). Led by the item and holding status and need, this
-- index answers both lookups down one path; it replaces the plain one, so no write
-- maintains one index more.

CREATE INDEX matches_by_item_key ON matches (offer_item_id, status, need_id);
DROP INDEX matches_by_item;
ALTER INDEX matches_by_item_key RENAME TO matches_by_item;

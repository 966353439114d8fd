-- 0014 took `proposed` out of the planning indexes, so that a proposal updates its
-- need in place (a HOT update), at a price: one index of unmet needs served both of
-- the planner's searches. Looking for needs that still lack something read past
-- every fully proposed one, and looking for fully proposed ones (where a clearly
-- better item may displace a proposal) read past every need that lacks something:
-- at 100,000 open needs, matching one new item took 3.4 times as long as at 1,000
-- (bench/matching_cost.py; 1.8 times before 0014).
--
-- The two indexes come back without costing the in-place update. A stored
-- generated column says whether a need has nothing left to propose, and each index
-- names it instead of the counters. PostgreSQL updates a row in place when no
-- indexed value changes, and this one changes only when a need becomes fully
-- proposed or stops being so, not at every proposal to it.
ALTER TABLE needs ADD COLUMN fully_proposed boolean
    GENERATED ALWAYS AS (allocated + proposed >= quantity) STORED;

-- Needs that still lack something after standing proposals, in serving order.
CREATE INDEX needs_lacking_by_rank ON needs (
    emergency_id, resource_type,
    (array_position(ARRAY['critical', 'high', 'normal']::text[], priority)),
    needed_by, id
) WHERE status = 'open' AND NOT fully_proposed;

-- Needs with room by acceptance but nothing left to propose.
CREATE INDEX needs_full_by_rank ON needs (
    emergency_id, resource_type,
    (array_position(ARRAY['critical', 'high', 'normal']::text[], priority)),
    needed_by, id
) WHERE status = 'open' AND allocated < quantity AND fully_proposed;

DROP INDEX needs_unmet_by_rank;

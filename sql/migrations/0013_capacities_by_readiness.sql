-- Likely providers read, per need and fitting type, the readiest active
-- capacities, declared before public: this index hands them over in that order,
-- so a need reads its first few entries instead of every capacity of the type.
-- Same partial condition as capacities_active_by_type (0012), which it replaces
-- for this read; expiry (valid_until vs now()) cannot be in an index predicate
-- and is checked on the rows read.
CREATE INDEX capacities_active_by_readiness
    ON capacities (resource_type, source, readiness_hours, id)
    WHERE status = 'active';

-- Its leading columns are the old index's: every read that used that one can use this.
DROP INDEX capacities_active_by_type;

-- Alert rules of issue 11: status isolation, stale alerts, early updates, quake origins,
-- and watches that follow a closed one.

-- A group holds messages of one CAP status only (Actual, Exercise, Test, System, Draft).
ALTER TABLE alert_groups ADD COLUMN status text NOT NULL DEFAULT 'Actual';
UPDATE alert_groups g SET status = first.status
FROM (SELECT DISTINCT ON (group_id) group_id, status FROM alerts
      ORDER BY group_id, received_at) AS first
WHERE first.group_id = g.id;
-- An earthquake's origin time, when a source gave one: distinct quakes stay apart.
ALTER TABLE alert_groups ADD COLUMN origin_at timestamptz;
-- Watches this group was attached to before they were closed, oldest first.
ALTER TABLE alert_groups ADD COLUMN previous_emergency_ids text[] NOT NULL DEFAULT '{}';
DROP INDEX alert_groups_recent;
CREATE INDEX alert_groups_recent ON alert_groups (hazard, status, last_sent);

-- Why an alert opened no watch although it might have: expired, not current, too old.
ALTER TABLE alerts ADD COLUMN stale text;
ALTER TABLE alerts ADD COLUMN expires timestamptz;
-- References to messages not received yet ("sender,identifier,unix seconds"): linked
-- when the original arrives.
ALTER TABLE alerts ADD COLUMN pending_references text[] NOT NULL DEFAULT '{}';
CREATE INDEX alerts_pending_references ON alerts USING gin (pending_references)
    WHERE pending_references <> '{}';

-- Known events: open emergencies of a hazard, found by place and time.
CREATE INDEX emergencies_open_by_hazard ON emergencies (hazard, exercise, created_at)
    WHERE status IN ('watch', 'active');

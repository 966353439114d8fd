-- name: board_counts
-- What each card of the console's board shows, for every emergency asked, in one
-- statement: needs summed from their matches once, then grouped per emergency.
-- Late: needed_by passed and not all delivered. At risk (and not late): something
-- accepted or moving whose ETA is after needed_by, or nothing accepted with
-- needed_by under 6 h away. :country: a POC's country (its own offers only), or NULL.
WITH asked AS (
    SELECT unnest(:emergency_ids::text[]) AS id
), picture AS (
    SELECT n.emergency_id, n.priority, n.status, n.quantity, n.needed_by,
           coalesce(sum(m.quantity) FILTER (WHERE m.status = 'proposed'), 0) AS proposed,
           coalesce(sum(m.quantity) FILTER (WHERE m.status IN ('accepted', 'in_transit', 'delivered')), 0) AS accepted,
           coalesce(sum(m.delivered) FILTER (WHERE m.status IN ('accepted', 'in_transit', 'delivered')), 0) AS delivered,
           coalesce(bool_or(m.status IN ('accepted', 'in_transit') AND m.eta > n.needed_by), false) AS eta_after
    FROM needs n
    LEFT JOIN matches m ON m.need_id = n.id
    WHERE n.emergency_id IN (SELECT id FROM asked)
    GROUP BY n.id
), flagged AS (
    SELECT *,
           status = 'open' AND quantity - accepted > 0 AS uncovered,  -- proposals are no cover
           status = 'open' AND needed_by < now() AND delivered < quantity AS late
    FROM picture
), by_need AS (
    SELECT emergency_id,
           count(*) AS needs,
           count(*) FILTER (WHERE uncovered) AS uncovered,
           count(*) FILTER (WHERE uncovered AND priority = 'critical') AS critical,
           count(*) FILTER (WHERE late) AS late,
           count(*) FILTER (WHERE status = 'open' AND NOT late AND (eta_after
               OR (accepted = 0 AND needed_by < now() + interval '6 hours'))) AS at_risk,
           count(*) FILTER (WHERE status = 'open' AND proposed + accepted > quantity) AS duplicated
    FROM flagged
    GROUP BY emergency_id
), by_request AS (
    SELECT emergency_id, count(*) AS requests
    FROM requests WHERE emergency_id IN (SELECT id FROM asked)
    GROUP BY emergency_id
), by_offer AS (
    SELECT emergency_id, count(*) AS offers, count(DISTINCT offering_country) AS nations
    FROM offers
    WHERE emergency_id IN (SELECT id FROM asked)
      AND (:country::text IS NULL OR offering_country = :country::text)
    GROUP BY emergency_id
)
SELECT a.id AS emergency_id,
       coalesce(r.requests, 0) AS requests,
       coalesce(n.needs, 0) AS needs,
       coalesce(n.uncovered, 0) AS uncovered,
       coalesce(n.critical, 0) AS critical,
       coalesce(n.late, 0) AS late,
       coalesce(n.at_risk, 0) AS at_risk,
       coalesce(n.duplicated, 0) AS duplicated,
       coalesce(o.offers, 0) AS offers,
       coalesce(o.nations, 0) AS nations,
       (SELECT ev.at FROM events ev WHERE ev.emergency_id = a.id
        ORDER BY ev.seq DESC LIMIT 1) AS last_activity_at
FROM asked a
LEFT JOIN by_need n ON n.emergency_id = a.id
LEFT JOIN by_request r ON r.emergency_id = a.id
LEFT JOIN by_offer o ON o.emergency_id = a.id
ORDER BY a.id;

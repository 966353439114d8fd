-- name: emergency_events
SELECT seq, at, kind, data
FROM events
WHERE emergency_id = :emergency_id AND (:as_of::timestamptz IS NULL OR at <= :as_of)
  -- :audience: the caller's audience tags (policy.audience): the report folds only
  -- what the caller may see, so it never shows an offer or match it may not read
  AND (:audience::text[] IS NULL OR visibility && :audience::text[])
ORDER BY seq;

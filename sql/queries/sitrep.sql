-- name: emergency_events
SELECT seq, at, kind, data
FROM events
WHERE emergency_id = $1 AND ($2::timestamptz IS NULL OR at <= $2)
  -- $3: the caller's audience tags (policy.audience): the report folds only what
  -- the caller may see, so it never shows an offer or match it may not read
  AND ($3::text[] IS NULL OR visibility && $3::text[])
ORDER BY seq;

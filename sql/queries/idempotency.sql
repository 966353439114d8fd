-- name: claim
-- Waits on a concurrent claim of the same key until that transaction ends.
INSERT INTO idempotency_keys (token_id, key, scope, request_hash)
VALUES (:token_id, :key, :scope, :request_hash)
ON CONFLICT (token_id, key) DO NOTHING
RETURNING true;

-- name: get
SELECT scope, request_hash, status, response
FROM idempotency_keys
WHERE token_id = :token_id AND key = :key;

-- name: claim_each
-- Several claims at once (a batch of offers), in key order; answers the keys claimed.
-- A key claimed before is left out; one a concurrent transaction holds is waited on.
INSERT INTO idempotency_keys (token_id, key, scope, request_hash)
SELECT c.token_id, c.key, c.scope, c.request_hash
FROM unnest(:token_ids::text[], :keys::text[], :scopes::text[], :request_hashes::bytea[])
     AS c(token_id, key, scope, request_hash)
ORDER BY c.token_id, c.key
ON CONFLICT (token_id, key) DO NOTHING
RETURNING token_id, key;

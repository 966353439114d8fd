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

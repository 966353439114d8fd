-- name: partner_exists
SELECT EXISTS (SELECT 1 FROM partners WHERE code = :code);

-- name: insert_token
INSERT INTO tokens (id, name, role, country, token_hash, secrets)
VALUES (:id, :name, :role, :country, :token_hash, :secrets);

-- name: find_token
SELECT id, name, role, country, secrets
FROM tokens
WHERE token_hash = :token_hash AND revoked_at IS NULL;

-- name: revoke_token
UPDATE tokens SET revoked_at = now()
WHERE id = :id AND revoked_at IS NULL
RETURNING id;

-- name: list_tokens
SELECT id, name, role, country, created_at, revoked_at,
       cardinality(secrets) AS secrets
FROM tokens
ORDER BY created_at, id;

-- name: rotate_secret
-- Keep the newest two: the new one first, then the one senders still use.
UPDATE tokens SET secrets = ARRAY[:secret::text] || secrets[1:1]
WHERE id = :id AND role = 'integration' AND revoked_at IS NULL
RETURNING id;

-- name: token_active
SELECT EXISTS (SELECT 1 FROM tokens WHERE id = :id AND revoked_at IS NULL);

-- name: list_partners
SELECT code, name, status, frameworks, programmes, contacts, version, updated_at, updated_by
FROM partners
ORDER BY code;

-- name: get_partner
SELECT code, name, status, frameworks, programmes, contacts, version, updated_at, updated_by
FROM partners
WHERE code = $1;

-- name: lock_partner
SELECT code, name, status, frameworks, programmes, contacts, version, updated_at, updated_by
FROM partners
WHERE code = $1
FOR UPDATE;

-- name: upsert_partner
INSERT INTO partners (code, name, status, frameworks, programmes, contacts,
                      version, updated_at, updated_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (code) DO UPDATE SET
    name = EXCLUDED.name, status = EXCLUDED.status, frameworks = EXCLUDED.frameworks,
    programmes = EXCLUDED.programmes, contacts = EXCLUDED.contacts,
    version = EXCLUDED.version, updated_at = EXCLUDED.updated_at,
    updated_by = EXCLUDED.updated_by
RETURNING code, name, status, frameworks, programmes, contacts, version, updated_at, updated_by;

-- name: insert_history
INSERT INTO partner_history (code, version, record, changed_at, changed_by)
VALUES ($1, $2, $3, $4, $5);

-- name: history
SELECT version, record, changed_at, changed_by
FROM partner_history
WHERE code = $1
ORDER BY version;

-- name: changes_since
-- Page and high-water mark from one snapshot (see events.read_since).
WITH page AS (
    SELECT code, name, status, frameworks, programmes, contacts, version, updated_at, updated_by
    FROM partners
    WHERE version > $1
    ORDER BY version
    LIMIT $2
)
SELECT (SELECT coalesce(max(version), 0) FROM partners) AS head,
       coalesce((SELECT jsonb_agg(to_jsonb(page) ORDER BY version) FROM page), '[]') AS changes;

-- name: list_etag
SELECT coalesce(max(version), 0) AS version, count(*) AS n FROM partners;

-- name: list_programmes
SELECT code, name, purpose FROM programmes ORDER BY position, code;

-- name: programme_codes
SELECT array_agg(code) FROM programmes;

-- name: upsert_programme
INSERT INTO programmes (code, name, purpose, position)
VALUES ($1, $2, $3, $4)
ON CONFLICT (code) DO UPDATE SET
    name = EXCLUDED.name, purpose = EXCLUDED.purpose, position = EXCLUDED.position;

-- name: known_codes
SELECT code FROM partners WHERE code = ANY($1::text[]);

-- name: active_programmes
SELECT p->>'code' AS code
FROM partners, jsonb_array_elements(programmes) AS p
WHERE partners.code = $1 AND p->>'status' = 'active';

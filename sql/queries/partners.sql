-- name: list_partners
SELECT code, name, status, frameworks, programmes, contacts, version, updated_at, updated_by
FROM partners
ORDER BY code;

-- name: get_partner
SELECT code, name, status, frameworks, programmes, contacts, version, updated_at, updated_by
FROM partners
WHERE code = :code;

-- name: lock_partner
SELECT code, name, status, frameworks, programmes, contacts, version, updated_at, updated_by
FROM partners
WHERE code = :code
FOR UPDATE;

-- name: upsert_partner
INSERT INTO partners (code, name, status, frameworks, programmes, contacts,
                      version, updated_at, updated_by)
VALUES (:code, :name, :status, :frameworks, :programmes, :contacts, :version, :updated_at,
        :updated_by)
ON CONFLICT (code) DO UPDATE SET
    name = EXCLUDED.name, status = EXCLUDED.status, frameworks = EXCLUDED.frameworks,
    programmes = EXCLUDED.programmes, contacts = EXCLUDED.contacts,
    version = EXCLUDED.version, updated_at = EXCLUDED.updated_at,
    updated_by = EXCLUDED.updated_by
RETURNING code, name, status, frameworks, programmes, contacts, version, updated_at, updated_by;

-- name: insert_history
INSERT INTO partner_history (code, version, record, changed_at, changed_by)
VALUES (:code, :version, :record, :changed_at, :changed_by);

-- name: history
SELECT version, record, changed_at, changed_by
FROM partner_history
WHERE code = :code
ORDER BY version;

-- name: changes_since
-- Page and high-water mark from one snapshot (see events.read_since).
WITH page AS (
    SELECT code, name, status, frameworks, programmes, contacts, version, updated_at, updated_by
    FROM partners
    WHERE version > :since
    ORDER BY version
    LIMIT :limit
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
VALUES (:code, :name, :purpose, :position)
ON CONFLICT (code) DO UPDATE SET
    name = EXCLUDED.name, purpose = EXCLUDED.purpose, position = EXCLUDED.position;

-- name: known_codes
SELECT code FROM partners WHERE code = ANY(:codes::text[]);

-- name: active_programmes
SELECT p->>'code' AS code
FROM partners, jsonb_array_elements(programmes) AS p
WHERE partners.code = :code AND p->>'status' = 'active';

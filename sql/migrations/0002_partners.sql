-- The partner registry. A record's version is the seq of the partner.updated
-- event that wrote it, so the change feed inherits the event log's ordering.

CREATE TABLE programmes (
    code      text PRIMARY KEY,
    name      text NOT NULL,
    purpose   text NOT NULL,
    position  integer NOT NULL
);

CREATE TABLE partners (
    code        text PRIMARY KEY CHECK (code ~ '^[A-Z]{3}$'),
    name        text NOT NULL,
    status      text NOT NULL CHECK (status IN ('ally', 'partner')),
    frameworks  text[] NOT NULL DEFAULT '{}',
    programmes  jsonb NOT NULL DEFAULT '[]',
    contacts    jsonb NOT NULL DEFAULT '[]',
    version     bigint NOT NULL UNIQUE,
    updated_at  timestamptz NOT NULL,
    updated_by  text NOT NULL
);
CREATE INDEX partners_programmes ON partners USING gin (programmes jsonb_path_ops);

-- Every version ever written, the current one included; never updated.
CREATE TABLE partner_history (
    code        text NOT NULL REFERENCES partners (code),
    version     bigint NOT NULL,
    record      jsonb NOT NULL,
    changed_at  timestamptz NOT NULL,
    changed_by  text NOT NULL,
    PRIMARY KEY (code, version)
);

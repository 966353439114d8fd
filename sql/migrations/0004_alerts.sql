-- Alerts from automated integrations, grouped by real-world event.

CREATE TABLE alert_groups (
    id            text PRIMARY KEY,
    hazard        text NOT NULL,
    lat           double precision,
    lon           double precision,
    first_sent    timestamptz NOT NULL,
    last_sent     timestamptz NOT NULL,
    external_ids  jsonb NOT NULL DEFAULT '{}',
    emergency_id  text REFERENCES emergencies (id),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_groups_recent ON alert_groups (hazard, last_sent);
CREATE INDEX alert_groups_ids ON alert_groups USING gin (external_ids jsonb_path_ops);

CREATE TABLE alerts (
    id               text PRIMARY KEY,
    source           text NOT NULL,
    cap_version      text,
    identifier       text NOT NULL,
    sender           text NOT NULL,
    sent             timestamptz NOT NULL,
    status           text NOT NULL,
    msg_type         text NOT NULL,
    scope            text NOT NULL,
    event            text NOT NULL,
    hazard           text NOT NULL,
    severity         text NOT NULL,
    certainty        text NOT NULL,
    urgency          text NOT NULL,
    headline         text,
    lat              double precision,
    lon              double precision,
    countries        text[] NOT NULL DEFAULT '{}',
    level            text,
    external_ids     jsonb NOT NULL DEFAULT '{}',
    "references"     text[] NOT NULL DEFAULT '{}',  -- ids of the alerts this one is about
    group_id         text NOT NULL REFERENCES alert_groups (id),
    emergency_id     text REFERENCES emergencies (id),
    body             jsonb NOT NULL,               -- the normalised alert
    raw              text NOT NULL,                -- as received (CAP XML or JSON)
    received_at      timestamptz NOT NULL DEFAULT now(),
    received_by      text NOT NULL,
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    -- Invariant 4: the same CAP message (sender, identifier, sent) is stored once.
    CONSTRAINT alerts_once UNIQUE (sender, identifier, sent)
);
CREATE INDEX alerts_newest ON alerts (received_at DESC, id);
CREATE INDEX alerts_by_group ON alerts (group_id);

-- Signatures already accepted, so a captured request cannot be replayed in its window.
CREATE TABLE seen_signatures (
    token_id   text NOT NULL,
    signature  text NOT NULL,
    seen_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (token_id, signature)
);
CREATE INDEX seen_signatures_age ON seen_signatures (seen_at);

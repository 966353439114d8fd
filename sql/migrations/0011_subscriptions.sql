-- Outbound delivery. The event log is the outbox: a subscription is a cursor
-- into it (the last seq its receiver acknowledged) plus a lease that makes one
-- instance its deliverer at a time. No second queue: a replay is a cursor
-- moved back.

CREATE TABLE subscriptions (
    id              text PRIMARY KEY,
    -- Whose view it receives: a country's POC view, the staff view, or what an
    -- integration sees. country is set exactly for the POC view.
    audience        text NOT NULL CHECK (audience IN ('poc', 'staff', 'integration')),
    country         text CHECK (country ~ '^[A-Z]{3}$'),
    kind            text NOT NULL CHECK (kind IN ('webhook', 'email')),
    url             text,
    address         text,
    events          text[] NOT NULL DEFAULT '{}',  -- kind prefixes; empty = every kind
    language        text NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'fr')),
    secret          text,                          -- a webhook's HMAC secret
    owner_token_id  text NOT NULL,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    cursor          bigint NOT NULL,               -- last seq the receiver acknowledged
    -- The lease: who delivers it now, and until when unless renewed.
    lease_holder    text,
    lease_until     timestamptz,
    -- Retry state of the event (or e-mail batch) at the head of its queue.
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    failing_since   timestamptz,
    last_error      text,
    -- An e-mail batch's last seq, fixed at its first attempt so that a retry
    -- sends the same message with the same Message-ID.
    pending_until   bigint,
    last_success_at timestamptz,
    suspended_at    timestamptz,
    CONSTRAINT audience_country CHECK ((audience = 'poc') = (country IS NOT NULL)),
    CONSTRAINT webhook_has_url CHECK ((kind = 'webhook') = (url IS NOT NULL AND secret IS NOT NULL)),
    CONSTRAINT email_has_address CHECK ((kind = 'email') = (address IS NOT NULL))
);
CREATE INDEX subscriptions_country ON subscriptions (country);
CREATE INDEX subscriptions_claimable ON subscriptions (lease_until) WHERE status = 'active';

-- The delivery log: one row per event (webhook) or batch (e-mail, `seq` = its
-- last event), kept 30 days.
CREATE TABLE deliveries (
    subscription_id  text NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    seq              bigint NOT NULL,
    first_seq        bigint NOT NULL,
    status           text NOT NULL CHECK (status IN ('delivered', 'failing', 'suspended')),
    attempts         integer NOT NULL,
    last_error       text,
    latency_ms       real,
    first_attempt_at timestamptz NOT NULL,
    last_attempt_at  timestamptz NOT NULL,
    next_attempt_at  timestamptz,
    PRIMARY KEY (subscription_id, seq)
);
CREATE INDEX deliveries_age ON deliveries (last_attempt_at);

-- The daily situation report, once per emergency and day, whichever instance
-- gets there first.
CREATE TABLE sitrep_sends (
    emergency_id  text NOT NULL,
    day           date NOT NULL,
    seq_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (emergency_id, day)
);

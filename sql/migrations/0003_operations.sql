-- Operations: the resource taxonomy, emergencies, requests for assistance and
-- their needs, offers and their items, and the matches between them.

CREATE TABLE resource_types (
    code         text PRIMARY KEY CHECK (code ~ '^[a-z0-9_]+(\.[a-z0-9_]+)*$'),
    name         text NOT NULL,
    unit         text NOT NULL,
    parent       text REFERENCES resource_types (code),
    substitutes  text[] NOT NULL DEFAULT '{}',
    description  text,
    source       text,
    position     integer NOT NULL
);

-- Which need types an offered type can fill: itself, its ancestors, and the
-- types that list it (or an ancestor of it) as a substitute; same unit only.
-- Precomputed so candidate selection is an index join, not a tree walk.
CREATE TABLE type_fills (
    offer_type  text NOT NULL REFERENCES resource_types (code),
    need_type   text NOT NULL REFERENCES resource_types (code),
    how         text NOT NULL CHECK (how IN ('exact', 'descendant', 'substitute')),
    PRIMARY KEY (offer_type, need_type)
);
CREATE INDEX type_fills_by_need ON type_fills (need_type, offer_type);

CREATE TABLE credentials (
    code        text PRIMARY KEY,
    name        text NOT NULL,
    applies_to  text[] NOT NULL,
    -- a credential that the partner registry must confirm (e.g. OCC evaluation)
    programme   text
);

CREATE TABLE emergencies (
    id          text PRIMARY KEY,
    title       text NOT NULL,
    hazard      text NOT NULL,
    countries   text[] NOT NULL CHECK (cardinality(countries) BETWEEN 1 AND 20),
    lat         double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon         double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    severity    text NOT NULL,
    status      text NOT NULL CHECK (status IN ('watch', 'active', 'closed')),
    exercise    boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX emergencies_listing ON emergencies (exercise, status, created_at DESC);

CREATE TABLE requests (
    id                  text PRIMARY KEY,
    emergency_id        text NOT NULL REFERENCES emergencies (id),
    requesting_country  text NOT NULL CHECK (requesting_country ~ '^[A-Z]{3}$'),
    reference           text,
    notes               text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    created_by          text NOT NULL
);
CREATE INDEX requests_by_emergency ON requests (emergency_id);

CREATE TABLE needs (
    id              text PRIMARY KEY,
    request_id      text NOT NULL REFERENCES requests (id),
    position        integer NOT NULL,  -- order within the RFA, as filed
    emergency_id    text NOT NULL REFERENCES emergencies (id),
    resource_type   text NOT NULL REFERENCES resource_types (code),
    quantity        integer NOT NULL CHECK (quantity > 0),
    priority        text NOT NULL CHECK (priority IN ('critical', 'high', 'normal')),
    needed_by       timestamptz,
    delivery_lat    double precision CHECK (delivery_lat BETWEEN -90 AND 90),
    delivery_lon    double precision CHECK (delivery_lon BETWEEN -180 AND 180),
    delivery_place  text,
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'cancelled')),
    -- What acceptances have taken: accepted + in transit + delivered.
    allocated       integer NOT NULL DEFAULT 0,
    version         integer NOT NULL DEFAULT 1,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- Invariant 1, held by the database whatever the code does.
    CONSTRAINT need_not_over_allocated CHECK (allocated >= 0 AND allocated <= quantity)
);
CREATE INDEX needs_by_request ON needs (request_id);
CREATE INDEX needs_open_by_type ON needs (emergency_id, resource_type)
    WHERE status = 'open' AND allocated < quantity;

-- Every version of every need, the current one included (amendments keep history).
CREATE TABLE need_history (
    need_id     text NOT NULL REFERENCES needs (id),
    version     integer NOT NULL,
    record      jsonb NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    changed_by  text NOT NULL,
    PRIMARY KEY (need_id, version)
);

CREATE TABLE offers (
    id                text PRIMARY KEY,
    emergency_id      text NOT NULL REFERENCES emergencies (id),
    request_id        text REFERENCES requests (id),
    offering_country  text NOT NULL CHECK (offering_country ~ '^[A-Z]{3}$'),
    channel           text NOT NULL
                      CHECK (channel IN ('direct', 'eu_ucpm', 'bilateral', 'un', 'other')),
    notes             text,
    status            text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'withdrawn')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    created_by        text NOT NULL,
    withdrawn_at      timestamptz,
    withdraw_reason   text
);
CREATE INDEX offers_by_emergency ON offers (emergency_id, offering_country);

CREATE TABLE offer_items (
    id                    text PRIMARY KEY,
    offer_id              text NOT NULL REFERENCES offers (id),
    position              integer NOT NULL,  -- order within the offer, as filed
    emergency_id          text NOT NULL REFERENCES emergencies (id),
    resource_type         text NOT NULL REFERENCES resource_types (code),
    quantity              integer NOT NULL CHECK (quantity > 0),
    available_from        timestamptz NOT NULL,
    origin_lat            double precision CHECK (origin_lat BETWEEN -90 AND 90),
    origin_lon            double precision CHECK (origin_lon BETWEEN -180 AND 180),
    self_sufficient       boolean NOT NULL DEFAULT false,
    credentials           text[] NOT NULL DEFAULT '{}',
    -- The same help announced through a second channel is flagged, not counted twice.
    possible_duplicate_of text REFERENCES offer_items (id),
    status                text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'withdrawn')),
    allocated             integer NOT NULL DEFAULT 0,
    CONSTRAINT offer_item_not_over_allocated CHECK (allocated >= 0 AND allocated <= quantity)
);
CREATE INDEX offer_items_by_offer ON offer_items (offer_id);
CREATE INDEX offer_items_open_by_type ON offer_items (emergency_id, resource_type)
    WHERE status = 'open' AND allocated < quantity AND possible_duplicate_of IS NULL;

CREATE TABLE matches (
    id                  text PRIMARY KEY,
    emergency_id        text NOT NULL REFERENCES emergencies (id),
    need_id             text NOT NULL REFERENCES needs (id),
    offer_item_id       text NOT NULL REFERENCES offer_items (id),
    offer_id            text NOT NULL REFERENCES offers (id),
    request_id          text NOT NULL REFERENCES requests (id),
    requesting_country  text NOT NULL,
    offering_country    text NOT NULL,
    resource_type       text NOT NULL,
    quantity            integer NOT NULL CHECK (quantity > 0),
    score               double precision NOT NULL,
    score_parts         jsonb NOT NULL DEFAULT '{}',
    status              text NOT NULL CHECK (status IN
                        ('proposed', 'accepted', 'declined', 'superseded', 'in_transit', 'delivered')),
    dispatched          integer NOT NULL DEFAULT 0,
    delivered           integer NOT NULL DEFAULT 0,
    eta                 timestamptz,
    reason              text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT match_movement_within_quantity
        CHECK (dispatched BETWEEN 0 AND quantity AND delivered BETWEEN 0 AND quantity)
);
CREATE UNIQUE INDEX matches_one_proposal_per_pair ON matches (need_id, offer_item_id)
    WHERE status = 'proposed';
CREATE INDEX matches_by_emergency ON matches (emergency_id, status);
CREATE INDEX matches_by_need ON matches (need_id);
CREATE INDEX matches_by_item ON matches (offer_item_id);

-- A retried POST with the same key gets the first answer; a different body gets 409.
CREATE TABLE idempotency_keys (
    token_id      text NOT NULL,
    key           text NOT NULL,
    scope         text NOT NULL,
    request_hash  bytea NOT NULL,
    status        integer,
    response      jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (token_id, key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);

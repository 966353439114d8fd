-- National capacities: standing help a nation declares before any emergency
-- ('declared'), and teams known from public classification lists ('public',
-- always with the citation and the date it was read). Withdrawn capacities are
-- kept (status), every version is in capacity_history.

CREATE TABLE capacities (
    id               text PRIMARY KEY,
    country          text NOT NULL CHECK (country ~ '^[A-Z]{3}$'),
    resource_type    text NOT NULL REFERENCES resource_types (code),
    quantity         integer NOT NULL CHECK (quantity > 0),
    readiness_hours  integer NOT NULL CHECK (readiness_hours BETWEEN 0 AND 8760),
    home_lat         double precision CHECK (home_lat BETWEEN -90 AND 90),
    home_lon         double precision CHECK (home_lon BETWEEN -180 AND 180),
    home_place       text,
    credentials      text[] NOT NULL DEFAULT '{}',
    self_sufficient  boolean NOT NULL DEFAULT false,
    -- NULL only for public records whose list gives no expiry.
    valid_until      timestamptz,
    name             text,
    notes            text,
    source           text NOT NULL CHECK (source IN ('declared', 'public')),
    citation         text,
    read_on          date,
    -- the public list's own key for the record, so re-seeding updates, never duplicates
    public_key       text UNIQUE,
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'withdrawn')),
    version          integer NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    created_by       text NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    -- Public and declared never mix: a public record names its source, a declared one never does.
    CONSTRAINT capacity_source_cited CHECK (
        (source = 'public' AND citation IS NOT NULL AND read_on IS NOT NULL AND public_key IS NOT NULL)
        OR (source = 'declared' AND citation IS NULL AND public_key IS NULL
            AND valid_until IS NOT NULL))
);
-- Likely providers: the capacities that can fill a need type, found through
-- type_fills by this index; no scan of every capacity per need.
CREATE INDEX capacities_active_by_type ON capacities (resource_type, source)
    WHERE status = 'active';
CREATE INDEX capacities_by_country ON capacities (country);

CREATE TABLE capacity_history (
    capacity_id  text NOT NULL REFERENCES capacities (id),
    version      integer NOT NULL,
    record       jsonb NOT NULL,
    changed_at   timestamptz NOT NULL DEFAULT now(),
    changed_by   text NOT NULL,
    PRIMARY KEY (capacity_id, version)
);

-- One reminder per (capacity, expiry date): a changed valid_until replaces the
-- unsent reminder; sent_at is set in the transaction that emits the event, so a
-- reminder is never sent twice.
CREATE TABLE capacity_reminders (
    capacity_id  text NOT NULL REFERENCES capacities (id),
    valid_until  timestamptz NOT NULL,
    due_at       timestamptz NOT NULL,
    sent_at      timestamptz,
    PRIMARY KEY (capacity_id, valid_until)
);
CREATE INDEX capacity_reminders_due ON capacity_reminders (due_at) WHERE sent_at IS NULL;

-- Circulation: who an emergency's RFAs go to, and how each nation has answered.

-- A duty officer's explicit list. No row: every Ally and partner but the
-- emergency's own countries (an exercise: nobody until a row is written).
CREATE TABLE distributions (
    emergency_id  text PRIMARY KEY REFERENCES emergencies (id),
    countries     text[] NOT NULL,
    set_at        timestamptz NOT NULL DEFAULT now(),
    set_by        text NOT NULL
);

-- The response matrix: one row per emergency and nation something was
-- circulated to. A reminder is due EADRCC_ACK_REMINDER_MINUTES after
-- notified_at while the row is unanswered and reminded_at is null (the overdue
-- report likewise): the due times are facts in this table, so whichever instance
-- runs the scheduler after a restart finds them, and sending one clears it.
CREATE TABLE responses (
    emergency_id     text NOT NULL REFERENCES emergencies (id),
    country          text NOT NULL CHECK (country ~ '^[A-Z]{3}$'),
    state            text NOT NULL CHECK (state IN ('notified', 'delivered', 'seen',
                                                    'acknowledged', 'offered', 'unable')),
    reason           text,
    on_distribution  boolean NOT NULL DEFAULT true,
    notified_at      timestamptz NOT NULL,  -- when the current ask went out (a new RFA resets it)
    delivered_at     timestamptz,
    seen_at          timestamptz,
    acknowledged_at  timestamptz,           -- when it answered (acknowledged, offered, unable)
    reminded_at      timestamptz,
    escalated_at     timestamptz,
    version          integer NOT NULL DEFAULT 1,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    updated_by       text NOT NULL,
    PRIMARY KEY (emergency_id, country),
    CONSTRAINT unable_has_reason CHECK (state <> 'unable' OR reason IS NOT NULL)
);
CREATE INDEX responses_remind_due ON responses (notified_at)
    WHERE state IN ('notified', 'delivered', 'seen') AND on_distribution AND reminded_at IS NULL;
CREATE INDEX responses_escalate_due ON responses (notified_at)
    WHERE state IN ('notified', 'delivered', 'seen') AND on_distribution AND escalated_at IS NULL;

-- Every version of every row, the current one included; never updated.
CREATE TABLE response_history (
    emergency_id  text NOT NULL,
    country       text NOT NULL,
    version       integer NOT NULL,
    record        jsonb NOT NULL,
    changed_at    timestamptz NOT NULL DEFAULT now(),
    changed_by    text NOT NULL,
    PRIMARY KEY (emergency_id, country, version),
    FOREIGN KEY (emergency_id, country) REFERENCES responses (emergency_id, country)
);

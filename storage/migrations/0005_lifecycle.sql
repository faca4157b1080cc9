-- Lifecycle extras: the planned deadline steps the sweep walks, department whistles (吹哨) and
-- their acknowledgements, and who rated which resolution.

-- One row per planned step of a ticket's current deadline (remind, office, street, department,
-- whistle_lapse, close_unrated). A step is done once: done_at is set in the same transaction as
-- its ticket_events row and its outbox message. A new deadline cancels the old pending steps.
CREATE TABLE ticket_steps (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES tickets (id),
    phase       TEXT    NOT NULL CHECK (phase IN ('accept', 'resolve', 'rating', 'whistle')),
    step        TEXT    NOT NULL,
    started_at  TEXT    NOT NULL,                      -- when this deadline started running
    deadline_at TEXT    NOT NULL,                      -- the deadline this step belongs to
    due_at      TEXT    NOT NULL,                      -- when the sweep must take it
    done_at     TEXT,
    outcome     TEXT,                                  -- done, skipped, cancelled, acked
    UNIQUE (ticket_id, phase, step, deadline_at)
);
CREATE INDEX ticket_steps_pending ON ticket_steps (ticket_id, due_at) WHERE done_at IS NULL;

-- 吹哨: a department called in on an overdue ticket must press 收到 within the ack time.
CREATE TABLE ticket_whistles (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES tickets (id),
    department  TEXT    NOT NULL,
    contact_id  INTEGER NOT NULL,
    whistled_at TEXT    NOT NULL,
    ack_due_at  TEXT    NOT NULL,
    acked_at    TEXT,
    acked_by    INTEGER,
    lapsed_at   TEXT,                                  -- the street office was told
    UNIQUE (ticket_id, whistled_at)
);
CREATE INDEX ticket_whistles_ticket ON ticket_whistles (ticket_id, acked_at);

-- Who rated each resolution (a ticket may be resolved again after 不满意).
CREATE TABLE ticket_ratings (
    ticket_id   INTEGER NOT NULL REFERENCES tickets (id),
    resolved_at TEXT    NOT NULL,                      -- which resolution was rated
    user_id     INTEGER,                               -- NULL when the window ran out
    role        TEXT    NOT NULL CHECK (role IN ('reporter', 'follower', 'system')),
    rating      TEXT    NOT NULL CHECK (rating IN ('satisfied', 'basic', 'unsatisfied', 'unrated')),
    at          TEXT    NOT NULL,
    PRIMARY KEY (ticket_id, resolved_at)
);
CREATE INDEX ticket_ratings_at ON ticket_ratings (at);

-- Tickets (接诉即办): one row per complaint, an append-only history, photos and followers.
-- Times are ISO-8601 UTC text ('2026-11-23T01:00:00+00:00').

CREATE TABLE ticket_numbers (
    community TEXT PRIMARY KEY,
    last      INTEGER NOT NULL
);

CREATE TABLE tickets (
    id               INTEGER PRIMARY KEY,
    community        TEXT    NOT NULL,
    number           INTEGER NOT NULL,                 -- the human #128, per community
    source_key       TEXT    NOT NULL UNIQUE,          -- idempotency: 'msg:<chat>:<message>' …
    text             TEXT    NOT NULL,
    category         TEXT    NOT NULL,
    confidence       REAL    NOT NULL,
    keywords         TEXT    NOT NULL DEFAULT '[]',    -- JSON list
    urgency          TEXT    NOT NULL CHECK (urgency IN ('urgent', 'normal')),
    priority         INTEGER NOT NULL DEFAULT 0,       -- raised by followers
    location         TEXT    NOT NULL DEFAULT '{}',    -- JSON from the classifier
    building         TEXT,
    grid             TEXT,
    reporter_id      INTEGER NOT NULL,
    reporter_name    TEXT    NOT NULL,
    is_private       INTEGER NOT NULL DEFAULT 0,       -- reported in a private chat
    chat_id          INTEGER,                          -- the group (or private chat) it came from
    message_id       INTEGER,
    reply_message_id INTEGER,                          -- the bot's reply in that chat
    status           TEXT    NOT NULL,
    assignee_key     TEXT,                             -- worker key from the community config
    assignee_id      INTEGER,                          -- their Telegram user id when linked
    card_chat_id     INTEGER,                          -- the worker's ticket card
    card_message_id  INTEGER,
    escalation_level INTEGER NOT NULL DEFAULT 0,       -- 0 grid, 1 office, 2 street, 3 department
    duplicate_of     INTEGER REFERENCES tickets (id),
    rating           TEXT CHECK (rating IN ('satisfied', 'basic', 'unsatisfied', 'unrated')),
    created_at       TEXT    NOT NULL,
    accepted_at      TEXT,
    resolved_at      TEXT,
    closed_at        TEXT,
    accept_due_at    TEXT,
    resolve_due_at   TEXT,
    next_check_at    TEXT,                             -- when the deadline sweep must look again
    UNIQUE (community, number)
);
CREATE INDEX tickets_next_check ON tickets (next_check_at) WHERE next_check_at IS NOT NULL;
CREATE INDEX tickets_assignee ON tickets (assignee_key, status);
CREATE INDEX tickets_open_like ON tickets (community, category, building, status, created_at);
CREATE INDEX tickets_reporter ON tickets (reporter_id, created_at);

CREATE TABLE ticket_events (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES tickets (id),
    at          TEXT    NOT NULL,
    actor_id    INTEGER,                               -- Telegram user id, NULL for the system
    actor_role  TEXT    NOT NULL,                      -- reporter / worker / admin / system / follower
    kind        TEXT    NOT NULL,                      -- opened, accepted, transferred, …
    from_status TEXT,
    to_status   TEXT,
    detail      TEXT    NOT NULL DEFAULT '{}'          -- JSON: reason, note, category change …
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id);

-- The history is append-only: nothing is silently rewritten.
CREATE TRIGGER ticket_events_no_update BEFORE UPDATE ON ticket_events
BEGIN
    SELECT RAISE(ABORT, 'ticket history is append-only');
END;
CREATE TRIGGER ticket_events_no_delete BEFORE DELETE ON ticket_events
BEGIN
    SELECT RAISE(ABORT, 'ticket history is append-only');
END;

CREATE TABLE ticket_photos (
    id             INTEGER PRIMARY KEY,
    ticket_id      INTEGER NOT NULL REFERENCES tickets (id),
    file_id        TEXT    NOT NULL,
    file_unique_id TEXT    NOT NULL,
    added_by       INTEGER NOT NULL,
    role           TEXT    NOT NULL CHECK (role IN ('reporter', 'worker', 'follower')),
    at             TEXT    NOT NULL,
    UNIQUE (ticket_id, file_unique_id)
);

CREATE TABLE ticket_followers (
    ticket_id INTEGER NOT NULL REFERENCES tickets (id),
    user_id   INTEGER NOT NULL,
    name      TEXT    NOT NULL,
    chat_id   INTEGER,
    at        TEXT    NOT NULL,
    PRIMARY KEY (ticket_id, user_id)
);

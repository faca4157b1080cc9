-- What the chat itself changes about the community: linked workers, bound groups, invitations,
-- people who opened the bot (so they can be messaged), and reports waiting for the reporter.

CREATE TABLE worker_links (
    worker_key  TEXT    PRIMARY KEY,                   -- key from the community config
    telegram_id INTEGER NOT NULL UNIQUE,
    linked_at   TEXT    NOT NULL
);

CREATE TABLE invites (
    code        TEXT PRIMARY KEY,
    worker_key  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT,
    used_by     INTEGER
);

CREATE TABLE group_bindings (
    chat_id    INTEGER PRIMARY KEY,
    grids      TEXT    NOT NULL,                       -- JSON list of grid codes
    title      TEXT    NOT NULL DEFAULT '',
    bound_by   INTEGER,                                -- NULL when from the config file
    bound_at   TEXT    NOT NULL,
    active     INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE chat_migrations (
    old_chat_id INTEGER PRIMARY KEY,
    new_chat_id INTEGER NOT NULL,
    at          TEXT    NOT NULL
);

CREATE TABLE users (
    user_id       INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL,
    started_at    TEXT,                                -- opened a private chat with the bot
    unreachable_at TEXT,                               -- a 403 since then
    updated_at    TEXT    NOT NULL
);

CREATE TABLE pending_reports (
    id           INTEGER PRIMARY KEY,
    kind         TEXT    NOT NULL CHECK (kind IN ('confirm_category', 'ask_building')),
    reporter_id  INTEGER NOT NULL,
    reporter_name TEXT   NOT NULL,
    chat_id      INTEGER NOT NULL,
    message_id   INTEGER NOT NULL,
    is_private   INTEGER NOT NULL DEFAULT 0,
    text         TEXT    NOT NULL,
    reading      TEXT    NOT NULL,                     -- JSON of the classifier's reading
    photos       TEXT    NOT NULL DEFAULT '[]',
    prompt_message_id INTEGER,
    created_at   TEXT    NOT NULL,
    expires_at   TEXT    NOT NULL,
    resolved     TEXT,                                  -- NULL while waiting; 'ticket', 'not_complaint', 'expired'
    UNIQUE (chat_id, message_id)
);

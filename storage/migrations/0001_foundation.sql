-- Foundation: the update inbox (no update is lost) and small key/value state.

CREATE TABLE inbox (
    update_id    INTEGER PRIMARY KEY,
    payload      TEXT    NOT NULL,          -- the update's JSON as Telegram sent it
    received_at  TEXT    NOT NULL,          -- ISO-8601 UTC
    status       TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    done_at      TEXT
);
CREATE INDEX inbox_pending ON inbox (status, update_id) WHERE status = 'pending';

CREATE TABLE kv (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- The outbox: messages services decide to send (reminders, escalations, scheduled posts) are
-- written here in the same transaction as the decision, then a job sends them. A crash between
-- deciding and sending loses nothing; dedup_key makes each decision queue its message once.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    dedup_key   TEXT    UNIQUE,
    chat_id     INTEGER NOT NULL,
    payload     TEXT    NOT NULL,       -- JSON, see storage/outbox.py OutgoingMessage
    created_at  TEXT    NOT NULL,
    not_before  TEXT    NOT NULL,       -- quiet hours push this later
    status      TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    sent_at     TEXT,
    message_id  INTEGER                 -- what Telegram returned, for later edits
);
CREATE INDEX outbox_due ON outbox (not_before, id) WHERE status = 'pending';

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

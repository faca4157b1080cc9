-- The grid worker's triage list (可能的问题): group messages that might be complaints. The group
-- hears nothing about them; the worker opens a ticket (立案) or dismisses one (不是问题), and an
-- item nobody handles by its deadline goes once into the staff's digest.

CREATE TABLE triage_items (
    id            INTEGER PRIMARY KEY,
    community     TEXT    NOT NULL,
    source_key    TEXT    NOT NULL UNIQUE,           -- msg:<chat>:<message>, once per message
    chat_id       INTEGER NOT NULL,
    message_id    INTEGER NOT NULL,
    reporter_id   INTEGER NOT NULL,
    reporter_name TEXT    NOT NULL,
    text          TEXT    NOT NULL,
    reading       TEXT    NOT NULL,                  -- JSON: the classifier's reading
    group_grids   TEXT,                              -- JSON list, the bound group's grids
    worker_key    TEXT,
    worker_id     INTEGER,
    status        TEXT    NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'opened', 'dismissed')),
    created_at    TEXT    NOT NULL,
    due_at        TEXT    NOT NULL,
    handled_by    INTEGER,
    handled_at    TEXT,
    digested_at   TEXT
);
CREATE INDEX triage_items_due ON triage_items (status, due_at);

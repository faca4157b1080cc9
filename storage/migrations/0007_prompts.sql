-- Questions the bot asked a worker and waits for in their private chat (a transfer reason,
-- a resolve note): kept in the database so a restart in between loses nothing.

CREATE TABLE prompts (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL,
    chat_id    INTEGER NOT NULL,
    action     TEXT    NOT NULL,                -- 'resolve' | 'transfer'
    ticket_id  INTEGER NOT NULL REFERENCES tickets (id),
    data       TEXT    NOT NULL DEFAULT '{}',   -- JSON: target worker or category
    created_at TEXT    NOT NULL,
    expires_at TEXT    NOT NULL,
    done_at    TEXT
);
CREATE INDEX prompts_open ON prompts (user_id, chat_id) WHERE done_at IS NULL;

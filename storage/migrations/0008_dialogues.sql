-- Short dialogues the bot holds with one person (the guided /task new, the proof photo after
-- /done, the reason after 退回 or 拒绝): kept here so a restart mid-dialogue loses nothing.
-- One row per person; a finished dialogue stays as 'closed' until it expires, so a redelivered
-- answer (updates arrive at least once) is recognised by its message id and not taken again.

CREATE TABLE dialogues (
    user_id         INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL CHECK (kind IN ('task', 'proof', 'reason', 'closed')),
    chat_id         INTEGER NOT NULL,               -- where the answer is expected
    state           TEXT    NOT NULL DEFAULT '{}',  -- JSON: the step and what was typed so far
    last_message_id INTEGER NOT NULL DEFAULT 0,     -- the newest message of chat_id it consumed
    updated_at      TEXT    NOT NULL,
    expires_at      TEXT    NOT NULL
);
CREATE INDEX dialogues_expiry ON dialogues (expires_at);

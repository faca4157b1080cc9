-- PostgreSQL mirror of storage/migrations/0008_dialogues.sql: the same tables, columns and
-- constraints (INTEGER as BIGINT, REAL as DOUBLE PRECISION, TEXT in the "C" collation so
-- text compares byte by byte as in SQLite, ids as identity columns).
-- Short dialogues the bot holds with one person (the guided /task new, the proof photo after
-- /done, the reason after 退回 or 拒绝): kept here so a restart mid-dialogue loses nothing.
-- One row per person; a finished dialogue stays as 'closed' until it expires, so a redelivered
-- answer (updates arrive at least once) is recognised by its message id and not taken again.

CREATE TABLE dialogues (
    user_id         BIGINT PRIMARY KEY,
    kind            TEXT COLLATE "C" NOT NULL CHECK (kind IN ('task', 'proof', 'reason', 'closed')),
    chat_id         BIGINT NOT NULL,               -- where the answer is expected
    state           TEXT COLLATE "C" NOT NULL DEFAULT '{}',  -- JSON: the step and what was typed so far
    last_message_id BIGINT NOT NULL DEFAULT 0,     -- the newest message of chat_id it consumed
    updated_at      TEXT COLLATE "C" NOT NULL,
    expires_at      TEXT COLLATE "C" NOT NULL
);
CREATE INDEX dialogues_expiry ON dialogues (expires_at);

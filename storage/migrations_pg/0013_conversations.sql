-- PostgreSQL mirror of storage/migrations/0013_conversations.sql: the same tables, columns and
-- constraints (INTEGER as BIGINT, TEXT in the "C" collation so text compares byte by byte as
-- in SQLite).
-- One store for every dialogue the bot holds with a person: the bot asked something in a chat
-- and the person's next message there answers it. One row per person and chat; a finished
-- dialogue stays at step 'done' until it expires, so a redelivered answer is taken once.
-- Replaces `dialogues` (0008) and the 'rate_reason:<user>' rows of `kv`, copied here.

CREATE TABLE conversations (
    user_id         BIGINT NOT NULL,
    chat_id         BIGINT NOT NULL,                         -- where the answer is expected
    flow            TEXT COLLATE "C" NOT NULL,               -- which dialogue ('task', 'proof', …)
    step            TEXT COLLATE "C" NOT NULL,               -- its state in that flow; 'done' when over
    data            TEXT COLLATE "C" NOT NULL DEFAULT '{}',  -- JSON: what the flow gathered so far
    last_message_id BIGINT NOT NULL DEFAULT 0,               -- the newest message of chat_id it consumed
    updated_at      TEXT COLLATE "C" NOT NULL,
    expires_at      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (user_id, chat_id)
);
CREATE INDEX conversations_expiry ON conversations (expires_at);

INSERT INTO conversations
    (user_id, chat_id, flow, step, data, last_message_id, updated_at, expires_at)
SELECT user_id, chat_id,
       CASE kind WHEN 'closed' THEN 'task' ELSE kind END,
       CASE kind
           WHEN 'closed' THEN 'done'
           WHEN 'task' THEN COALESCE(CAST(state AS jsonb) ->> 'step', 'title')
           WHEN 'proof' THEN 'photo'
           ELSE 'reason'
       END,
       CASE kind WHEN 'closed' THEN '{}' ELSE state END,
       last_message_id, updated_at, expires_at
FROM dialogues;

INSERT INTO conversations
    (user_id, chat_id, flow, step, data, last_message_id, updated_at, expires_at)
SELECT CAST(substr(key, 13) AS BIGINT),
       CAST(CAST(value AS jsonb) ->> 'chat_id' AS BIGINT),
       'unsatisfied',
       CASE WHEN COALESCE(CAST(CAST(value AS jsonb) ->> 'answered_by' AS BIGINT), 0) > 0
            THEN 'done' ELSE 'reason' END,
       json_build_object('ticket_id', CAST(value AS jsonb) -> 'ticket_id')::text,
       COALESCE(CAST(CAST(value AS jsonb) ->> 'answered_by' AS BIGINT), 0),
       updated_at,
       CAST(value AS jsonb) ->> 'expires_at'
FROM kv
WHERE key LIKE 'rate_reason:%'
ON CONFLICT (user_id, chat_id) DO NOTHING;

DELETE FROM kv WHERE key LIKE 'rate_reason:%';

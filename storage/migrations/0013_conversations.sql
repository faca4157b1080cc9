-- One store for every dialogue the bot holds with a person: the bot asked something in a chat
-- and the person's next message there answers it (the guided /task new, the proof photo after
-- /done, the reason after 退回 or 拒绝, the reason after 不满意). Each dialogue is a flow, a
-- table of states in bot/services; a row holds where a person is in one flow.
--
-- One row per person and chat: a new question in the same chat replaces the older one. A
-- finished dialogue stays at step 'done' until it expires, so a redelivered answer (updates
-- arrive at least once) is recognised by its message id and not taken again.
--
-- This replaces the table `dialogues` (0008), whose CHECK allowed only its first four kinds, and
-- the 'rate_reason:<user>' rows of `kv`: their open rows are copied here. `dialogues` is no
-- longer read; its rows expire with it.

CREATE TABLE conversations (
    user_id         INTEGER NOT NULL,
    chat_id         INTEGER NOT NULL,               -- where the answer is expected
    flow            TEXT    NOT NULL,               -- which dialogue ('task', 'proof', …)
    step            TEXT    NOT NULL,               -- its state in that flow; 'done' when over
    data            TEXT    NOT NULL DEFAULT '{}',  -- JSON: what the flow gathered so far
    last_message_id INTEGER NOT NULL DEFAULT 0,     -- the newest message of chat_id it consumed
    updated_at      TEXT    NOT NULL,
    expires_at      TEXT    NOT NULL,
    PRIMARY KEY (user_id, chat_id)
);
CREATE INDEX conversations_expiry ON conversations (expires_at);

INSERT INTO conversations
    (user_id, chat_id, flow, step, data, last_message_id, updated_at, expires_at)
SELECT user_id, chat_id,
       CASE kind WHEN 'closed' THEN 'task' ELSE kind END,
       CASE kind
           WHEN 'closed' THEN 'done'
           WHEN 'task' THEN COALESCE(json_extract(state, '$.step'), 'title')
           WHEN 'proof' THEN 'photo'
           ELSE 'reason'
       END,
       CASE kind WHEN 'closed' THEN '{}' ELSE state END,
       last_message_id, updated_at, expires_at
FROM dialogues;

INSERT INTO conversations
    (user_id, chat_id, flow, step, data, last_message_id, updated_at, expires_at)
SELECT CAST(substr(key, 13) AS INTEGER),
       CAST(json_extract(value, '$.chat_id') AS INTEGER),
       'unsatisfied',
       CASE WHEN COALESCE(json_extract(value, '$.answered_by'), 0) > 0 THEN 'done'
            ELSE 'reason' END,
       json_object('ticket_id', json_extract(value, '$.ticket_id')),
       COALESCE(json_extract(value, '$.answered_by'), 0),
       updated_at,
       json_extract(value, '$.expires_at')
FROM kv
WHERE key LIKE 'rate_reason:%'
ON CONFLICT (user_id, chat_id) DO NOTHING;

DELETE FROM kv WHERE key LIKE 'rate_reason:%';

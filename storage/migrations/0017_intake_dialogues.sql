-- The questions put to a reporter during intake (which kind of problem, which building) join the
-- one dialogue store: each `pending_reports` row becomes a conversation of the flow 'intake'
-- (step 'category', 'building', or 'done' once answered; see bot/services/flows.py).
--
-- A person may wait on several such questions in one chat (two complaints, each asked about),
-- so a conversation is keyed by person, chat and topic: topic 0 is the person's one dialogue
-- in that chat (the guided /task new, a reason, a staff question, …); an intake question's
-- topic is the id of the message it asks about. Its `id` is what the question's buttons carry:
-- a moved row keeps the pending report's id, so a button sent before the upgrade still works,
-- and AUTOINCREMENT never gives a purged row's id to another. `prompt_message_id` is the bot's
-- question message (a placeholder while unsent: see storage/outbox.py).
-- `pending_reports` is no longer read; its rows stay where they are.

CREATE TABLE conversations_new (
    id                INTEGER PRIMARY KEY AUTOINCREMENT, -- what a question's buttons carry
    user_id           INTEGER NOT NULL,
    chat_id           INTEGER NOT NULL,               -- where the answer is expected
    topic             INTEGER NOT NULL DEFAULT 0,     -- 0, or the message an intake question is about
    flow              TEXT    NOT NULL,               -- which dialogue ('task', 'intake', …)
    step              TEXT    NOT NULL,               -- its state in that flow; 'done' when over
    data              TEXT    NOT NULL DEFAULT '{}',  -- JSON: what the flow gathered so far
    last_message_id   INTEGER NOT NULL DEFAULT 0,     -- the newest message of chat_id it consumed
    prompt_message_id INTEGER,                        -- the bot's question (intake), once sent
    updated_at        TEXT    NOT NULL,
    expires_at        TEXT    NOT NULL,
    UNIQUE (user_id, chat_id, topic)
);

INSERT INTO conversations_new
    (id, user_id, chat_id, topic, flow, step, data, last_message_id, prompt_message_id,
     updated_at, expires_at)
SELECT id, reporter_id, chat_id, message_id, 'intake',
       CASE WHEN resolved IS NOT NULL THEN 'done'
            WHEN kind = 'confirm_category' THEN 'category'
            ELSE 'building' END,
       json_object('name', reporter_name, 'message_id', message_id,
                   'is_private', is_private, 'text', text, 'reading', json(reading),
                   'photos', json(photos)),
       0, prompt_message_id, created_at, expires_at
FROM pending_reports;

INSERT INTO conversations_new
    (user_id, chat_id, topic, flow, step, data, last_message_id, updated_at, expires_at)
SELECT user_id, chat_id, 0, flow, step, data, last_message_id, updated_at, expires_at
FROM conversations;

DROP TABLE conversations;
ALTER TABLE conversations_new RENAME TO conversations;
CREATE INDEX conversations_expiry ON conversations (expires_at);
-- A typed reply to the question ("5号楼" answering "哪栋楼？") finds it by the bot's message.
CREATE INDEX conversations_prompt ON conversations (chat_id, prompt_message_id)
    WHERE prompt_message_id IS NOT NULL;
CREATE INDEX conversations_prompt_placeholder ON conversations (prompt_message_id)
    WHERE prompt_message_id < 0;

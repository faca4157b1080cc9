-- PostgreSQL mirror of storage/migrations/0015_staff_questions.sql.
-- The questions put to staff from a ticket's card (the reason for 转派/改类别, the 办结 note, the
-- reason for 不予受理, the original's number for 重复) join the one dialogue store: each open
-- prompt becomes a conversation of its flow ('transfer', 'resolve', 'reject', 'duplicate'; see
-- bot/services/flows.py), unless the person has a newer dialogue in that chat, since one row per
-- person and chat holds the question asked last. `prompts` (0007) is no longer read.

INSERT INTO conversations
    (user_id, chat_id, flow, step, data, last_message_id, updated_at, expires_at)
SELECT p.user_id, p.chat_id, p.action,
       CASE p.action WHEN 'resolve' THEN 'note' WHEN 'duplicate' THEN 'number' ELSE 'reason' END,
       jsonb_build_object('ticket_id', p.ticket_id, 'data', CAST(p.data AS jsonb))::text,
       0, p.created_at, p.expires_at
FROM prompts AS p
WHERE p.done_at IS NULL
  AND p.id = (SELECT MAX(q.id) FROM prompts AS q
              WHERE q.user_id = p.user_id AND q.chat_id = p.chat_id AND q.done_at IS NULL)
ON CONFLICT (user_id, chat_id) DO UPDATE SET
    flow = excluded.flow,
    step = excluded.step,
    data = excluded.data,
    last_message_id = excluded.last_message_id,
    updated_at = excluded.updated_at,
    expires_at = excluded.expires_at
WHERE excluded.updated_at > conversations.updated_at;

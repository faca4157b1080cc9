-- PostgreSQL mirror of storage/migrations/0013_delivery.sql.
-- The per-chat sender: a row is marked in flight before Telegram is called, so a crash while it
-- was in flight is known at restart (the message may have arrived: sent again, marked resent);
-- delivery is retried per chat in order of id.
ALTER TABLE outbox ADD COLUMN in_flight_at TEXT COLLATE "C";
ALTER TABLE outbox ADD COLUMN resent BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN first_try_at TEXT COLLATE "C";
CREATE INDEX outbox_chat_pending ON outbox (chat_id, id) WHERE status = 'pending';
-- A placeholder (the negative id of an unsent message) is replaced once the message is sent:
-- small partial indexes find the few rows that hold one.
CREATE INDEX tickets_card_placeholder ON tickets (card_message_id) WHERE card_message_id < 0;
CREATE INDEX tickets_reply_placeholder ON tickets (reply_message_id) WHERE reply_message_id < 0;
CREATE INDEX pending_reports_prompt_placeholder ON pending_reports (prompt_message_id)
    WHERE prompt_message_id < 0;

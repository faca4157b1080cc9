-- Several instances sharing one PostgreSQL (webhook mode): which instance claimed a stored
-- update and when, and the lanes it waits for (bot/poller.py update_keys, joined by U+001F).
-- SQLite serves one instance and leaves these empty; the columns keep the stores' tables alike.
ALTER TABLE inbox ADD COLUMN claimed_by TEXT;
ALTER TABLE inbox ADD COLUMN claimed_at TEXT;
ALTER TABLE inbox ADD COLUMN lanes TEXT;

-- Several instances sharing one PostgreSQL (webhook mode): which instance claimed a stored
-- update and when (ISO UTC text of the server's clock, so instances' own clocks may differ;
-- a lease renewed while it works), and the lanes it waits for (bot/poller.py update_keys,
-- joined by U+001F): an update is claimed only when every earlier pending update sharing a
-- lane is the claiming instance's (storage/fleet.py).
ALTER TABLE inbox ADD COLUMN claimed_by TEXT COLLATE "C";
ALTER TABLE inbox ADD COLUMN claimed_at TEXT COLLATE "C";
ALTER TABLE inbox ADD COLUMN lanes TEXT COLLATE "C";

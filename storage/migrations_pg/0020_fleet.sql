-- Several instances sharing one PostgreSQL (webhook mode): which instance claimed a stored
-- update and when (ISO UTC text of the server's clock, so instances' own clocks may differ;
-- a lease renewed while it works), and the lanes it waits for (bot/poller.py update_keys,
-- joined by U+001F): an update is claimed only when no earlier pending update sharing a lane
-- is held by another instance. The index finds those earlier updates by lane.
ALTER TABLE inbox ADD COLUMN claimed_by TEXT COLLATE "C";
ALTER TABLE inbox ADD COLUMN claimed_at TEXT COLLATE "C";
ALTER TABLE inbox ADD COLUMN lanes TEXT COLLATE "C";
CREATE INDEX inbox_pending_lanes ON inbox USING GIN (string_to_array(lanes, chr(31)))
    WHERE status = 'pending';

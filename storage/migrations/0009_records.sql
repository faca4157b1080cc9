-- Honest records: a worker's 不予受理 waits for an admin's approval before anyone is told,
-- and escalations Telegram refused are found quickly to be reported to the admins.

CREATE TABLE reject_requests (
    id            INTEGER PRIMARY KEY,
    ticket_id     INTEGER NOT NULL REFERENCES tickets (id),
    reason        TEXT    NOT NULL,
    requested_by  INTEGER NOT NULL,              -- Telegram id of the worker asking
    requester_key TEXT,                          -- their key in the community file
    requested_at  TEXT    NOT NULL,
    chat_id       INTEGER NOT NULL,              -- where to tell the worker the outcome
    decided_at    TEXT,
    decided_by    INTEGER,
    outcome       TEXT CHECK (outcome IN ('approved', 'refused', 'dropped'))
);
-- At most one open request per ticket.
CREATE UNIQUE INDEX reject_requests_open ON reject_requests (ticket_id) WHERE decided_at IS NULL;

-- Failed sends are few; the sweep looks for failed escalations without scanning the outbox.
CREATE INDEX outbox_failed ON outbox (id) WHERE status = 'failed';

-- Privacy: followers' ratings kept apart from the reporter's, anonymous ids for people whose data
-- was erased (/forget) or outlived its retention, an append-only audit log of staff actions, and
-- the one narrow change the append-only tables allow: a person's id replaced by an anonymous id.

-- A follower's rating of a public ticket: counted on its own, never reopens the ticket and
-- never stands in for the reporter's (ticket_ratings holds the reporter's answer).
CREATE TABLE ticket_follower_ratings (
    ticket_id   INTEGER NOT NULL REFERENCES tickets (id),
    resolved_at TEXT    NOT NULL,                      -- which resolution was rated
    user_id     INTEGER NOT NULL,
    rating      TEXT    NOT NULL CHECK (rating IN ('satisfied', 'basic', 'unsatisfied')),
    at          TEXT    NOT NULL,
    PRIMARY KEY (ticket_id, resolved_at, user_id)
);

-- One row per erasure: its negative id (-anon_id) replaces the person's Telegram id wherever
-- history must keep a row (ledger, ticket history, balances). Nothing maps it back to them.
CREATE TABLE anonymous_ids (
    anon_id INTEGER PRIMARY KEY AUTOINCREMENT,
    reason  TEXT    NOT NULL CHECK (reason IN ('forget', 'retention')),
    at      TEXT    NOT NULL
);

-- Who an audit row is about, kept apart so that /forget can erase it: the audit rows stay and
-- then point at nobody.
CREATE TABLE audit_people (
    ref     INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL UNIQUE
);

-- Staff actions (bind, unbind, award, deduct, transfer, reject, approve, settings, and the
-- erasures themselves): append-only, like the ledger.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          TEXT    NOT NULL,
    actor_id    INTEGER,                               -- the staff member; NULL for the system
    actor_name  TEXT    NOT NULL DEFAULT '',
    action      TEXT    NOT NULL,
    subject_ref INTEGER,                               -- audit_people.ref of the person acted on
    target      TEXT    NOT NULL DEFAULT '',           -- what was acted on: '#12', a group id …
    detail      TEXT    NOT NULL DEFAULT '{}'          -- JSON: amounts, codes (never a message)
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;

-- The ledger stays append-only: amounts, reasons and times never change. The one update allowed
-- replaces a resident's id by an anonymous id that exists, so balances still prove out.
DROP TRIGGER points_ledger_no_update;
CREATE TRIGGER points_ledger_no_update BEFORE UPDATE ON points_ledger
WHEN NOT (
    OLD.user_id > 0 AND NEW.user_id < 0
    AND EXISTS (SELECT 1 FROM anonymous_ids WHERE anon_id = -NEW.user_id)
    AND NEW.id IS OLD.id AND NEW.delta IS OLD.delta AND NEW.hours IS OLD.hours
    AND NEW.kind IS OLD.kind AND NEW.rule IS OLD.rule AND NEW.reason IS OLD.reason
    AND NEW.actor_id IS OLD.actor_id AND NEW.actor_name IS OLD.actor_name
    AND NEW.task_id IS OLD.task_id AND NEW.claim_id IS OLD.claim_id
    AND NEW.ticket_id IS OLD.ticket_id AND NEW.redemption_id IS OLD.redemption_id
    AND NEW.at IS OLD.at
)
BEGIN
    SELECT RAISE(ABORT, 'points ledger is append-only');
END;

-- The same for a ticket's history: only a resident's id may become an anonymous id.
DROP TRIGGER ticket_events_no_update;
CREATE TRIGGER ticket_events_no_update BEFORE UPDATE ON ticket_events
WHEN NOT (
    OLD.actor_id > 0 AND NEW.actor_id < 0
    AND OLD.actor_role IN ('reporter', 'follower')
    AND EXISTS (SELECT 1 FROM anonymous_ids WHERE anon_id = -NEW.actor_id)
    AND NEW.id IS OLD.id AND NEW.ticket_id IS OLD.ticket_id AND NEW.at IS OLD.at
    AND NEW.actor_role IS OLD.actor_role AND NEW.kind IS OLD.kind
    AND NEW.from_status IS OLD.from_status AND NEW.to_status IS OLD.to_status
    AND NEW.detail IS OLD.detail
)
BEGIN
    SELECT RAISE(ABORT, 'ticket history is append-only');
END;

-- Closed tickets whose text, photos and reporter were anonymised (retention or /forget).
ALTER TABLE tickets ADD COLUMN anonymised_at TEXT;
CREATE INDEX tickets_retention ON tickets (closed_at) WHERE anonymised_at IS NULL;

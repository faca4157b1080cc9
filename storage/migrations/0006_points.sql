-- Residents and households, the task list (任务清单), the points ledger (积分), redemption of
-- points for goods, and each bound group's posting schedule. Times are ISO-8601 UTC text.

CREATE TABLE residents (
    user_id       INTEGER PRIMARY KEY,                 -- Telegram user id
    name          TEXT    NOT NULL,
    building      TEXT    NOT NULL,                    -- normalised like tickets.building ('3')
    unit          TEXT    NOT NULL,
    room          TEXT    NOT NULL,
    household_key TEXT    NOT NULL,                    -- '3-2-301'
    registered_at TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);
CREATE INDEX residents_household ON residents (household_key);
CREATE INDEX residents_building ON residents (building);

CREATE TABLE tasks (
    id             INTEGER PRIMARY KEY,
    title          TEXT    NOT NULL,
    description    TEXT    NOT NULL DEFAULT '',
    location       TEXT    NOT NULL DEFAULT '',
    grid           TEXT,                               -- shown only in that grid's groups; NULL = all
    points         INTEGER NOT NULL CHECK (points >= 0),
    hours          REAL    NOT NULL DEFAULT 0 CHECK (hours >= 0),  -- 时间银行 hours per person
    difficulty     TEXT,
    capacity       INTEGER NOT NULL CHECK (capacity >= 1),
    deadline       TEXT,
    audience       TEXT    NOT NULL CHECK (audience IN ('public', 'targeted')),
    targets        TEXT    NOT NULL DEFAULT '[]',      -- JSON list of organisations / units
    status         TEXT    NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'closed')),
    publisher_id   INTEGER NOT NULL,
    publisher_name TEXT    NOT NULL,
    ticket_id      INTEGER REFERENCES tickets (id),
    created_at     TEXT    NOT NULL,
    closed_at      TEXT
);
CREATE INDEX tasks_open ON tasks (status, deadline);
CREATE UNIQUE INDEX tasks_ticket ON tasks (ticket_id) WHERE ticket_id IS NOT NULL;

CREATE TABLE task_claims (
    id           INTEGER PRIMARY KEY,
    task_id      INTEGER NOT NULL REFERENCES tasks (id),
    user_id      INTEGER NOT NULL,
    name         TEXT    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('claimed', 'submitted', 'approved', 'returned')),
    proof        TEXT    NOT NULL DEFAULT '[]',        -- JSON list of Telegram file ids
    note         TEXT    NOT NULL DEFAULT '',
    reason       TEXT    NOT NULL DEFAULT '',          -- why it was returned
    claimed_at   TEXT    NOT NULL,
    submitted_at TEXT,
    verified_at  TEXT,
    verified_by  INTEGER,
    UNIQUE (task_id, user_id)
);
CREATE INDEX task_claims_user ON task_claims (user_id, status);

-- The ledger is the truth; every award, deduction, redemption and refund is one row.
CREATE TABLE points_ledger (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL,
    delta         INTEGER NOT NULL,
    hours         REAL    NOT NULL DEFAULT 0,          -- volunteer hours, kept beside points
    kind          TEXT    NOT NULL
                  CHECK (kind IN ('task', 'ticket', 'behaviour', 'correction', 'redemption', 'refund')),
    rule          TEXT    NOT NULL,                    -- rule code from the config, or the kind
    reason        TEXT    NOT NULL,                    -- what the resident reads
    actor_id      INTEGER,                             -- who gave it; NULL for the system
    actor_name    TEXT    NOT NULL DEFAULT '',
    task_id       INTEGER REFERENCES tasks (id),
    claim_id      INTEGER REFERENCES task_claims (id),
    ticket_id     INTEGER REFERENCES tickets (id),
    redemption_id INTEGER REFERENCES redemptions (id),
    at            TEXT    NOT NULL,
    CHECK (delta <> 0 OR hours <> 0)
);
CREATE INDEX points_ledger_user ON points_ledger (user_id, id);
CREATE INDEX points_ledger_at ON points_ledger (at);
CREATE UNIQUE INDEX points_ledger_claim ON points_ledger (claim_id) WHERE kind = 'task';
CREATE UNIQUE INDEX points_ledger_ticket ON points_ledger (ticket_id) WHERE kind = 'ticket';

CREATE TRIGGER points_ledger_no_update BEFORE UPDATE ON points_ledger
BEGIN
    SELECT RAISE(ABORT, 'points ledger is append-only');
END;
CREATE TRIGGER points_ledger_no_delete BEFORE DELETE ON points_ledger
BEGIN
    SELECT RAISE(ABORT, 'points ledger is append-only');
END;

-- A cache of the ledger per resident, written in the same transaction as each ledger row.
-- earned leaves out redemptions and refunds: rankings count what people did, not what they spent.
CREATE TABLE point_balances (
    user_id    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    balance    INTEGER NOT NULL CHECK (balance >= 0),
    earned     INTEGER NOT NULL,
    hours      REAL    NOT NULL DEFAULT 0,
    updated_at TEXT    NOT NULL
);

CREATE TABLE catalogue_stock (
    code         TEXT    PRIMARY KEY,
    name         TEXT    NOT NULL,
    points       INTEGER NOT NULL CHECK (points > 0),
    stock        INTEGER NOT NULL CHECK (stock >= 0),
    config_stock INTEGER NOT NULL,                     -- last stock read from the config file
    active       INTEGER NOT NULL DEFAULT 1,
    updated_at   TEXT    NOT NULL
);

CREATE TABLE redemptions (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL,
    name         TEXT    NOT NULL,
    item_code    TEXT    NOT NULL REFERENCES catalogue_stock (code),
    item_name    TEXT    NOT NULL,
    quantity     INTEGER NOT NULL CHECK (quantity >= 1),
    points       INTEGER NOT NULL CHECK (points > 0),  -- total reserved
    status       TEXT    NOT NULL
                 CHECK (status IN ('requested', 'approved', 'handed_over', 'rejected')),
    reason       TEXT    NOT NULL DEFAULT '',
    requested_at TEXT    NOT NULL,
    decided_at   TEXT,
    decided_by   INTEGER,
    handed_at    TEXT,
    handed_by    INTEGER
);
CREATE INDEX redemptions_status ON redemptions (status, id);
CREATE INDEX redemptions_user ON redemptions (user_id, id);

-- An admin's changes to a group's schedule, on top of the config's [schedule] defaults.
CREATE TABLE group_schedules (
    chat_id    INTEGER PRIMARY KEY,
    overrides  TEXT    NOT NULL DEFAULT '{}',          -- JSON of the changed fields only
    updated_by INTEGER,
    updated_at TEXT    NOT NULL
);

-- One row per scheduled occurrence decided for a group: queued, empty (nothing to say) or missed.
CREATE TABLE schedule_runs (
    chat_id    INTEGER NOT NULL,
    kind       TEXT    NOT NULL,                       -- digest, weekly, monthly, event:<code>
    period     TEXT    NOT NULL,                       -- local date, ISO week, month, event date
    outcome    TEXT    NOT NULL CHECK (outcome IN ('queued', 'empty', 'missed')),
    outbox_id  INTEGER,
    decided_at TEXT    NOT NULL,
    PRIMARY KEY (chat_id, kind, period)
);

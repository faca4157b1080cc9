-- gridbot: foreign-keys-off
-- Many communities in one deployment (a street office): every row a community owns says which.
-- The community is its [community] name, as tickets, classifier corrections and triage items
-- already record it. Rows written before this version have community '' until the process
-- starts with their community's file and adopts them (bot/services/street.py): once, the only
-- change the points ledger ever allows.
--
-- Keys from a community file (worker keys, catalogue codes) and a resident's registration are
-- per community, so their tables are rebuilt with the community in the key (SQLite's procedure
-- for a new key: create, copy, drop, rename; foreign keys off around it and checked after).

ALTER TABLE group_bindings ADD COLUMN community TEXT NOT NULL DEFAULT '';
ALTER TABLE invites ADD COLUMN community TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN community TEXT NOT NULL DEFAULT '';
CREATE INDEX tasks_community_open ON tasks (community, status, deadline);
-- Who the dialogue belongs to, and which community sent a message: a person in several
-- communities answers a question or presses a button of the community that asked.
ALTER TABLE conversations ADD COLUMN community TEXT;
ALTER TABLE outbox ADD COLUMN community TEXT;
CREATE INDEX outbox_delivered ON outbox (chat_id, message_id) WHERE message_id IS NOT NULL;

CREATE TABLE worker_links_new (
    community   TEXT    NOT NULL DEFAULT '',
    worker_key  TEXT    NOT NULL,                      -- key from the community's file
    telegram_id INTEGER NOT NULL,
    linked_at   TEXT    NOT NULL,
    PRIMARY KEY (community, worker_key),
    UNIQUE (community, telegram_id)
);
INSERT INTO worker_links_new (community, worker_key, telegram_id, linked_at)
SELECT '', worker_key, telegram_id, linked_at FROM worker_links;
DROP TABLE worker_links;
ALTER TABLE worker_links_new RENAME TO worker_links;

CREATE TABLE residents_new (
    community     TEXT    NOT NULL DEFAULT '',
    user_id       INTEGER NOT NULL,
    name          TEXT    NOT NULL,
    building      TEXT    NOT NULL,
    unit          TEXT    NOT NULL,
    room          TEXT    NOT NULL,
    household_key TEXT    NOT NULL,
    registered_at TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL,
    PRIMARY KEY (community, user_id)
);
INSERT INTO residents_new
    (community, user_id, name, building, unit, room, household_key, registered_at, updated_at)
SELECT '', user_id, name, building, unit, room, household_key, registered_at, updated_at
FROM residents;
DROP TABLE residents;
ALTER TABLE residents_new RENAME TO residents;
CREATE INDEX residents_household ON residents (community, household_key);
CREATE INDEX residents_building ON residents (community, building);
CREATE INDEX residents_user ON residents (user_id);

CREATE TABLE point_balances_new (
    community  TEXT    NOT NULL DEFAULT '',
    user_id    INTEGER NOT NULL,
    name       TEXT    NOT NULL,
    balance    INTEGER NOT NULL CHECK (balance >= 0),
    earned     INTEGER NOT NULL,
    hours      REAL    NOT NULL DEFAULT 0,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (community, user_id)
);
INSERT INTO point_balances_new (community, user_id, name, balance, earned, hours, updated_at)
SELECT '', user_id, name, balance, earned, hours, updated_at FROM point_balances;
DROP TABLE point_balances;
ALTER TABLE point_balances_new RENAME TO point_balances;

CREATE TABLE catalogue_stock_new (
    community    TEXT    NOT NULL DEFAULT '',
    code         TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    points       INTEGER NOT NULL CHECK (points > 0),
    stock        INTEGER NOT NULL CHECK (stock >= 0),
    config_stock INTEGER NOT NULL,
    active       INTEGER NOT NULL DEFAULT 1,
    updated_at   TEXT    NOT NULL,
    PRIMARY KEY (community, code)
);
INSERT INTO catalogue_stock_new
    (community, code, name, points, stock, config_stock, active, updated_at)
SELECT '', code, name, points, stock, config_stock, active, updated_at FROM catalogue_stock;
DROP TABLE catalogue_stock;
ALTER TABLE catalogue_stock_new RENAME TO catalogue_stock;

CREATE TABLE redemptions_new (
    id           INTEGER PRIMARY KEY,
    community    TEXT    NOT NULL DEFAULT '',
    user_id      INTEGER NOT NULL,
    name         TEXT    NOT NULL,
    item_code    TEXT    NOT NULL,
    item_name    TEXT    NOT NULL,
    quantity     INTEGER NOT NULL CHECK (quantity >= 1),
    points       INTEGER NOT NULL CHECK (points > 0),
    status       TEXT    NOT NULL
                 CHECK (status IN ('requested', 'approved', 'handed_over', 'rejected')),
    reason       TEXT    NOT NULL DEFAULT '',
    requested_at TEXT    NOT NULL,
    decided_at   TEXT,
    decided_by   INTEGER,
    handed_at    TEXT,
    handed_by    INTEGER,
    FOREIGN KEY (community, item_code) REFERENCES catalogue_stock (community, code)
        ON UPDATE CASCADE
);
INSERT INTO redemptions_new
    (id, community, user_id, name, item_code, item_name, quantity, points, status, reason,
     requested_at, decided_at, decided_by, handed_at, handed_by)
SELECT id, '', user_id, name, item_code, item_name, quantity, points, status, reason,
       requested_at, decided_at, decided_by, handed_at, handed_by
FROM redemptions;
DROP TABLE redemptions;
ALTER TABLE redemptions_new RENAME TO redemptions;
CREATE INDEX redemptions_status ON redemptions (community, status, id);
CREATE INDEX redemptions_user ON redemptions (user_id, id);

-- The ledger stays append-only. Besides 0011's one update (a resident's id replaced by an
-- anonymous id that exists), an old row's empty community may be filled in once; every other
-- column stays as it was.
ALTER TABLE points_ledger ADD COLUMN community TEXT NOT NULL DEFAULT '';
CREATE INDEX points_ledger_community ON points_ledger (community, user_id, id);
DROP TRIGGER points_ledger_no_update;
CREATE TRIGGER points_ledger_no_update BEFORE UPDATE ON points_ledger
WHEN NOT (
    (
        (
            OLD.user_id > 0 AND NEW.user_id < 0
            AND EXISTS (SELECT 1 FROM anonymous_ids WHERE anon_id = -NEW.user_id)
            AND NEW.community IS OLD.community
        )
        OR (OLD.community = '' AND NEW.community <> '' AND NEW.user_id IS OLD.user_id)
    )
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

-- Each community's deadline sweep reads its own range of due tickets.
CREATE INDEX tickets_community_next_check ON tickets (community, next_check_at)
    WHERE next_check_at IS NOT NULL;

-- Whose staff action an audit entry records (the log stays append-only: older entries keep
-- '' and are read as the community that adopted the rows written before this version).
ALTER TABLE audit_log ADD COLUMN community TEXT NOT NULL DEFAULT '';

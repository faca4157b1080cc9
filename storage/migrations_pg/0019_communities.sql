-- Many communities in one deployment (a street office): every row a community owns says which.
-- The community is its [community] name, as tickets, classifier corrections and triage items
-- already record it. Rows written before this version have community '' until the process
-- starts with their community's file and adopts them (bot/services/street.py): once, the only
-- change the points ledger ever allows besides 0011's anonymisation.
-- Keys from a community file (worker keys, catalogue codes) and a resident's registration are
-- per community: their keys gain the community (SQLite rebuilds those tables; here the
-- constraints are replaced in place).

ALTER TABLE group_bindings ADD COLUMN community TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE invites ADD COLUMN community TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN community TEXT COLLATE "C" NOT NULL DEFAULT '';
CREATE INDEX tasks_community_open ON tasks (community, status, deadline);
ALTER TABLE conversations ADD COLUMN community TEXT COLLATE "C";
ALTER TABLE outbox ADD COLUMN community TEXT COLLATE "C";
CREATE INDEX outbox_delivered ON outbox (chat_id, message_id) WHERE message_id IS NOT NULL;

ALTER TABLE worker_links ADD COLUMN community TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE worker_links DROP CONSTRAINT worker_links_pkey;
ALTER TABLE worker_links DROP CONSTRAINT worker_links_telegram_id_key;
ALTER TABLE worker_links ADD PRIMARY KEY (community, worker_key);
ALTER TABLE worker_links ADD UNIQUE (community, telegram_id);

ALTER TABLE residents ADD COLUMN community TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE residents DROP CONSTRAINT residents_pkey;
ALTER TABLE residents ADD PRIMARY KEY (community, user_id);
DROP INDEX residents_household;
DROP INDEX residents_building;
CREATE INDEX residents_household ON residents (community, household_key);
CREATE INDEX residents_building ON residents (community, building);
CREATE INDEX residents_user ON residents (user_id);

ALTER TABLE point_balances ADD COLUMN community TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE point_balances DROP CONSTRAINT point_balances_pkey;
ALTER TABLE point_balances ADD PRIMARY KEY (community, user_id);

ALTER TABLE redemptions DROP CONSTRAINT redemptions_item_code_fkey;
ALTER TABLE catalogue_stock ADD COLUMN community TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE catalogue_stock DROP CONSTRAINT catalogue_stock_pkey;
ALTER TABLE catalogue_stock ADD PRIMARY KEY (community, code);
ALTER TABLE redemptions ADD COLUMN community TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE redemptions ADD FOREIGN KEY (community, item_code)
    REFERENCES catalogue_stock (community, code) ON UPDATE CASCADE;
DROP INDEX redemptions_status;
CREATE INDEX redemptions_status ON redemptions (community, status, id);

ALTER TABLE points_ledger ADD COLUMN community TEXT COLLATE "C" NOT NULL DEFAULT '';
CREATE INDEX points_ledger_community ON points_ledger (community, user_id, id);
CREATE OR REPLACE FUNCTION points_ledger_no_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT (
        (
            (
                OLD.user_id > 0 AND NEW.user_id < 0
                AND EXISTS (SELECT 1 FROM anonymous_ids WHERE anon_id = -NEW.user_id)
                AND NEW.community IS NOT DISTINCT FROM OLD.community
            )
            OR (
                OLD.community = '' AND NEW.community <> ''
                AND NEW.user_id IS NOT DISTINCT FROM OLD.user_id
            )
        )
        AND NEW.id IS NOT DISTINCT FROM OLD.id AND NEW.delta IS NOT DISTINCT FROM OLD.delta
        AND NEW.hours IS NOT DISTINCT FROM OLD.hours AND NEW.kind IS NOT DISTINCT FROM OLD.kind
        AND NEW.rule IS NOT DISTINCT FROM OLD.rule AND NEW.reason IS NOT DISTINCT FROM OLD.reason
        AND NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id
        AND NEW.actor_name IS NOT DISTINCT FROM OLD.actor_name
        AND NEW.task_id IS NOT DISTINCT FROM OLD.task_id
        AND NEW.claim_id IS NOT DISTINCT FROM OLD.claim_id
        AND NEW.ticket_id IS NOT DISTINCT FROM OLD.ticket_id
        AND NEW.redemption_id IS NOT DISTINCT FROM OLD.redemption_id
        AND NEW.at IS NOT DISTINCT FROM OLD.at
    ) THEN
        RAISE EXCEPTION 'points ledger is append-only';
    END IF;
    RETURN NEW;
END;
$$;

-- Each community's deadline sweep reads its own range of due tickets.
CREATE INDEX tickets_community_next_check ON tickets (community, next_check_at)
    WHERE next_check_at IS NOT NULL;

-- Whose staff action an audit entry records (the log stays append-only: older entries keep
-- '' and are read as the community that adopted the rows written before this version).
ALTER TABLE audit_log ADD COLUMN community TEXT COLLATE "C" NOT NULL DEFAULT '';

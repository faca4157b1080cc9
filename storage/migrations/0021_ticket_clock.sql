-- The deadline sweep's clock off the wide ticket row. The sweep raises a ticket's escalation
-- level and moves its next check for every step it takes; on the tickets row (a full page of
-- text, location and card columns) each of those writes copied the whole row, and on
-- PostgreSQL it was never a HOT update because next_check_at is indexed: 10,000 steps spent
-- about 315 ms there against 53 ms for the same two columns in a narrow table of their own.
-- ticket_clock holds them, one row per ticket, with the sweep's due index; tickets loses both
-- columns and their two indexes.
CREATE TABLE ticket_clock (
    ticket_id        INTEGER PRIMARY KEY REFERENCES tickets (id),
    community        TEXT    NOT NULL,                 -- the ticket's (a sweep is per community)
    escalation_level INTEGER NOT NULL DEFAULT 0,       -- 0 grid, 1 office, 2 street, 3 department
    next_check_at    TEXT                              -- when the deadline sweep must look again
);
INSERT INTO ticket_clock (ticket_id, community, escalation_level, next_check_at)
SELECT id, community, escalation_level, next_check_at FROM tickets;
CREATE INDEX ticket_clock_due ON ticket_clock (community, next_check_at)
    WHERE next_check_at IS NOT NULL;

DROP INDEX tickets_community_next_check;
DROP INDEX tickets_next_check;
ALTER TABLE tickets DROP COLUMN next_check_at;
ALTER TABLE tickets DROP COLUMN escalation_level;

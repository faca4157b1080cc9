-- PostgreSQL mirror of storage/migrations/0012_rates_index.sql.
-- The rates (/stats, gridbot stats) read the tickets created in a period: a month of a street
-- office's year is a range of this index instead of a scan of every ticket.
CREATE INDEX tickets_created ON tickets (created_at);

-- Events, timers and ledger entries without a foreign key to their ticket. Only the writer
-- inserts them, in the statement (a batch) or the transaction (a lone write) that writes
-- their ticket's new version after reading it locked, and tickets are never deleted; the
-- checks cost a lookup and a row lock per row, about 1.6 events and a timer per transition:
-- a tenth of the throughput under `linli bench engine`. The conformance suite checks after
-- every test that no such row lacks its ticket. SQLite keeps them (its checks are cheap).
ALTER TABLE events DROP CONSTRAINT events_ticket_id_fkey;
ALTER TABLE timers DROP CONSTRAINT timers_ticket_id_fkey;
ALTER TABLE ledger DROP CONSTRAINT ledger_ticket_id_fkey;

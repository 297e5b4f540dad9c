-- 志愿时长 · 志愿积分: the ledger. Every credit is a row with its ticket and the event that
-- made it; a correction is another row (with who made it and why), never an update.
CREATE TABLE ledger (
    id BLOB PRIMARY KEY,
    community_id BLOB NOT NULL,
    branch_id BLOB NOT NULL,
    person_id BLOB NOT NULL,
    ticket_id BLOB NOT NULL REFERENCES tickets (id),
    -- The crediting event; NULL for a correction.
    event_seq BIGINT,
    category TEXT NOT NULL,
    minutes INTEGER NOT NULL,
    points INTEGER NOT NULL,
    reason TEXT,
    actor_id BLOB,
    at_us BIGINT NOT NULL
);
CREATE INDEX ledger_person ON ledger (person_id, at_us);
CREATE INDEX ledger_branch ON ledger (branch_id, at_us);
CREATE INDEX ledger_community ON ledger (community_id, at_us);
CREATE UNIQUE INDEX ledger_credit ON ledger (ticket_id, event_seq) WHERE event_seq IS NOT NULL;

-- Dispatch ranking (recent declines, expiries, ratings) reads a community's recent events.
CREATE INDEX events_community_at ON events (community_id, at_us);

-- A partner unit's (共建单位) contact person: claims micro-wishes for the unit, is never
-- dispatched requests.
ALTER TABLE people ADD COLUMN partner_unit_id BLOB REFERENCES partner_units (id);

-- 时间银行: hours given are deposited and later withdrawn as help, never cashed out. A
-- double-entry ledger: every movement is two entries (its minutes out of one account, into
-- another) written in the transaction of the event that causes it; balances are kept beside
-- the entries so that an overdraft is refused in the same statement that would make it.

-- The communities that run one, and their caps (the directory file's [[time_banks]]).
CREATE TABLE time_banks (
    community_id UUID PRIMARY KEY,
    daily_cap_minutes BIGINT,
    account_cap_minutes BIGINT,
    -- Hours deposited longer ago than this and still unspent expire (none: never).
    expire_after_days BIGINT,
    created_at_us BIGINT NOT NULL
);

-- Every account's balance: a person's, a community's pool and issue account, a request's hold.
CREATE TABLE time_accounts (
    kind TEXT NOT NULL,
    owner_id UUID NOT NULL,
    community_id UUID NOT NULL,
    minutes BIGINT NOT NULL,
    PRIMARY KEY (kind, owner_id)
);

-- The entries, append-only: two per movement, summing to zero.
CREATE TABLE time_entries (
    id UUID PRIMARY KEY,
    movement_id UUID NOT NULL,
    kind TEXT NOT NULL,
    community_id UUID NOT NULL,
    account_kind TEXT NOT NULL,
    account_owner UUID NOT NULL,
    minutes BIGINT NOT NULL,
    ticket_id UUID,
    actor_id UUID,
    reason TEXT,
    at_us BIGINT NOT NULL
);
CREATE INDEX time_entries_account ON time_entries (account_kind, account_owner, at_us);
CREATE INDEX time_entries_movement ON time_entries (movement_id);

-- Relatives a person may transfer hours to, as the community office confirmed them.
CREATE TABLE time_relations (
    person_id UUID NOT NULL REFERENCES people (id),
    relative_id UUID NOT NULL REFERENCES people (id),
    community_id UUID NOT NULL,
    confirmed_by UUID NOT NULL,
    confirmed_at_us BIGINT NOT NULL,
    PRIMARY KEY (person_id, relative_id)
);

-- What a community's documents name of it (the directory file's [[communities]]): who is in
-- charge and the office's number, on certificates of service (民政部令第67号 asks for both).
CREATE TABLE community_details (
    community_id UUID PRIMARY KEY,
    person_in_charge TEXT,
    phone TEXT
);
-- A certificate names them as they were when it was issued, and who handled it.
ALTER TABLE certificates ADD COLUMN person_in_charge TEXT;
ALTER TABLE certificates ADD COLUMN contact TEXT;
ALTER TABLE certificates ADD COLUMN handler_name TEXT;
-- The volunteer's number on a volunteer platform (志愿者编号), where they gave it.
ALTER TABLE certificates ADD COLUMN volunteer_number TEXT;

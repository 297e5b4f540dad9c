-- Linli schema (PostgreSQL). Instants are Unix microseconds (UTC) in BIGINT columns named *_us,
-- the same in both backends so SQL is shared; ids are UUIDv7. Every community-owned row
-- carries community_id.

CREATE TABLE org_units (
    id UUID PRIMARY KEY,
    parent_id UUID REFERENCES org_units (id),
    kind TEXT NOT NULL CHECK (kind IN ('street', 'community', 'grid', 'compound', 'building')),
    name TEXT NOT NULL,
    community_id UUID,
    created_at_us BIGINT NOT NULL
);
CREATE INDEX org_units_parent ON org_units (parent_id);

CREATE TABLE branches (
    id UUID PRIMARY KEY,
    community_id UUID NOT NULL REFERENCES org_units (id),
    name TEXT NOT NULL,
    created_at_us BIGINT NOT NULL
);

-- The compounds or buildings a branch covers.
CREATE TABLE branch_areas (
    branch_id UUID NOT NULL REFERENCES branches (id),
    org_unit_id UUID NOT NULL REFERENCES org_units (id),
    community_id UUID NOT NULL,
    PRIMARY KEY (branch_id, org_unit_id)
);
CREATE INDEX branch_areas_unit ON branch_areas (org_unit_id);

-- community_id: the community a person belongs to; street_id: set for street office staff.
CREATE TABLE people (
    id UUID PRIMARY KEY,
    community_id UUID,
    street_id UUID REFERENCES org_units (id),
    branch_id UUID REFERENCES branches (id),
    name TEXT NOT NULL,
    phone TEXT,
    roles TEXT NOT NULL,
    home_building_id UUID REFERENCES org_units (id),
    skills JSONB NOT NULL DEFAULT '[]',
    available BOOLEAN NOT NULL DEFAULT TRUE,
    away_until_us BIGINT,
    max_open INTEGER NOT NULL DEFAULT 5,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at_us BIGINT NOT NULL
);
CREATE INDEX people_community ON people (community_id);

CREATE TABLE teams (
    id UUID PRIMARY KEY,
    community_id UUID NOT NULL,
    parent_id UUID REFERENCES teams (id),
    name TEXT NOT NULL,
    leader_id UUID REFERENCES people (id),
    created_at_us BIGINT NOT NULL
);

CREATE TABLE team_members (
    team_id UUID NOT NULL REFERENCES teams (id),
    person_id UUID NOT NULL REFERENCES people (id),
    community_id UUID NOT NULL,
    PRIMARY KEY (team_id, person_id)
);
CREATE INDEX team_members_person ON team_members (person_id);

CREATE TABLE partner_units (
    id UUID PRIMARY KEY,
    community_id UUID NOT NULL,
    name TEXT NOT NULL,
    created_at_us BIGINT NOT NULL
);

-- API tokens, stored only as SHA-256 hashes.
CREATE TABLE tokens (
    hash BYTEA PRIMARY KEY,
    person_id UUID NOT NULL REFERENCES people (id),
    created_at_us BIGINT NOT NULL,
    revoked_at_us BIGINT
);
CREATE INDEX tokens_person ON tokens (person_id);

CREATE TABLE workflow_versions (
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    source TEXT NOT NULL,
    registered_at_us BIGINT NOT NULL,
    PRIMARY KEY (id, version)
);

-- The projection of each ticket's events: indexed columns for queries, the whole ticket as JSON.
CREATE TABLE tickets (
    id UUID PRIMARY KEY,
    community_id UUID NOT NULL,
    branch_id UUID NOT NULL,
    building_id UUID,
    workflow_id TEXT NOT NULL,
    workflow_version INTEGER NOT NULL,
    category TEXT NOT NULL,
    urgency TEXT NOT NULL,
    state TEXT NOT NULL,
    requester_id UUID NOT NULL,
    assignee_person UUID,
    -- The team pool it was dispatched to (kept after a member claims it).
    assignee_team UUID,
    version BIGINT NOT NULL,
    terminal BOOLEAN NOT NULL,
    breached BOOLEAN NOT NULL,
    -- In a `wall` state (the micro-wish wall): every member of the community sees it.
    on_wall BOOLEAN NOT NULL DEFAULT FALSE,
    created_at_us BIGINT NOT NULL,
    updated_at_us BIGINT NOT NULL,
    body JSONB NOT NULL
);
CREATE INDEX tickets_branch ON tickets (branch_id, id);
CREATE INDEX tickets_community ON tickets (community_id, id);
CREATE INDEX tickets_requester ON tickets (requester_id, id);
CREATE INDEX tickets_assignee_person ON tickets (assignee_person, id);
CREATE INDEX tickets_assignee_team ON tickets (assignee_team, id);
CREATE INDEX tickets_wall ON tickets (community_id, id) WHERE on_wall;

CREATE TABLE events (
    ticket_id UUID NOT NULL REFERENCES tickets (id),
    seq BIGINT NOT NULL,
    community_id UUID NOT NULL,
    at_us BIGINT NOT NULL,
    actor_id UUID,
    actor_role TEXT NOT NULL,
    kind TEXT NOT NULL,
    body JSONB NOT NULL,
    PRIMARY KEY (ticket_id, seq)
);

CREATE TABLE timers (
    ticket_id UUID NOT NULL REFERENCES tickets (id),
    key TEXT NOT NULL,
    community_id UUID NOT NULL,
    due_at_us BIGINT NOT NULL,
    epoch BIGINT NOT NULL,
    claimed_by UUID,
    lease_until_us BIGINT,
    PRIMARY KEY (ticket_id, key)
);
CREATE INDEX timers_due ON timers (due_at_us) WHERE claimed_by IS NULL;
CREATE INDEX timers_lease ON timers (lease_until_us) WHERE claimed_by IS NOT NULL;

CREATE TABLE outbox (
    id UUID PRIMARY KEY,
    community_id UUID NOT NULL,
    ticket_id UUID NOT NULL,
    event_seq BIGINT NOT NULL,
    event TEXT NOT NULL,
    recipient JSONB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_us BIGINT NOT NULL,
    claimed_by UUID,
    lease_until_us BIGINT,
    delivered_at_us BIGINT,
    parked BOOLEAN NOT NULL DEFAULT FALSE,
    last_error TEXT,
    created_at_us BIGINT NOT NULL
);
CREATE INDEX outbox_pending ON outbox (next_attempt_us) WHERE delivered_at_us IS NULL AND NOT parked;

CREATE TABLE idempotency (
    caller_id UUID NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    ticket_id UUID NOT NULL,
    response JSONB NOT NULL,
    created_at_us BIGINT NOT NULL,
    PRIMARY KEY (caller_id, key)
);

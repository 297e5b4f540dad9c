-- Readiness asks whether writes go through when none went through lately (GET /readyz,
-- `SqlStore::writable`): it updates this one row. A table of the deployment, not of a
-- community: the only one without `community_id` (a reference table under Citus).
CREATE TABLE write_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at_us BIGINT NOT NULL
);

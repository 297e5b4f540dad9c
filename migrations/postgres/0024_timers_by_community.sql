-- A community's due timers, earliest first: a node that fires one community's timers (the
-- district simulation's worlds, a node of a sharded deployment) claims them from here, and the
-- query touches one community's part of the table.
CREATE INDEX timers_due_by_community ON timers (community_id, due_at_us) WHERE claimed_by IS NULL;

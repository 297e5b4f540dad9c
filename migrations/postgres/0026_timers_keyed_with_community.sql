-- The timers' key carries the community, the column a database sharded by community
-- distributes on (docs/SCALE.md): a table partitioned by community can only hold a key that
-- includes it, and the writer's upsert names this key. A ticket is in one community, so the
-- key is as unique as before, and it still leads with the ticket, so reads by ticket and key
-- use it as they did.
ALTER TABLE timers DROP CONSTRAINT timers_pkey, ADD PRIMARY KEY (ticket_id, key, community_id);

-- Lists that filter on a rare yes/no stay index-served however many finished requests a
-- branch or community holds (the scale benchmark: 1,000,000 tickets). Only what is open, or
-- breached, is in these indexes; the list query writes those filters as literals, which
-- match them in every plan (PostgreSQL's generic plans too).
CREATE INDEX tickets_branch_open ON tickets (branch_id, id) WHERE NOT terminal;
CREATE INDEX tickets_community_open ON tickets (community_id, id) WHERE NOT terminal;
CREATE INDEX tickets_community_breached ON tickets (community_id, id) WHERE breached;

-- Room on each tickets page for the next versions of its rows. Most transitions change no
-- indexed column (triage, accept, start, complete change the state and the body), so
-- PostgreSQL can write the new version beside the old one without touching its twelve
-- indexes (a HOT update), but only if the page has room: packed full, 8% of the updates were
-- HOT under `linli bench engine`; with a page 60% full at insertion, 62% (of a possible
-- two thirds), and the table under that churn is smaller, not larger, as pruning reclaims
-- the old versions in place. Rows inserted from now on; existing pages fill as they were.
ALTER TABLE tickets SET (fillfactor = 60);

-- Who holds a ticket is indexed only where someone holds it. A ticket has no holder until it
-- is dispatched, and most are never in a team's pool, yet every insertion and every update
-- that changes an indexed column added a NULL entry to both indexes: two of the eight index
-- entries of a submission, one of the eight of a dispatch or a close. The lists that read
-- them name a holder (`assignee_person = $1`, `assignee_team IN (…)`), which implies the
-- column is not NULL, so the partial indexes serve them as before. Rebuilt once: upgrade a
-- large database in a quiet hour.
DROP INDEX tickets_assignee_person;
CREATE INDEX tickets_assignee_person ON tickets (assignee_person, id) WHERE assignee_person IS NOT NULL;
DROP INDEX tickets_assignee_team;
CREATE INDEX tickets_assignee_team ON tickets (assignee_team, id) WHERE assignee_team IS NOT NULL;

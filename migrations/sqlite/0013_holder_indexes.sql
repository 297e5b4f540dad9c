-- Who holds a ticket is indexed only where someone holds it (as on PostgreSQL, whose
-- migration 0013 says why): no NULL entries for every ticket not yet dispatched or not in a
-- team's pool. The lists name a holder, which a partial index on IS NOT NULL serves.
DROP INDEX tickets_assignee_person;
CREATE INDEX tickets_assignee_person ON tickets (assignee_person, id) WHERE assignee_person IS NOT NULL;
DROP INDEX tickets_assignee_team;
CREATE INDEX tickets_assignee_team ON tickets (assignee_team, id) WHERE assignee_team IS NOT NULL;

-- Each volunteer's open load, counted for every member whenever a request is ranked for
-- dispatch: from the open tickets a person holds alone, not from every ticket they ever
-- held (a volunteer of years holds thousands, closed).
CREATE INDEX tickets_open_by_assignee ON tickets (assignee_person) WHERE NOT terminal AND assignee_person IS NOT NULL;

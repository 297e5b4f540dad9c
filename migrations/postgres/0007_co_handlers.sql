-- 主办/协办: who co-handles a request, so that they see it (a volunteer's scope reads it).
-- Written when a co-handler is added; kept after the co-handling closes.
CREATE TABLE co_handlers (
    ticket_id UUID NOT NULL REFERENCES tickets (id),
    person_id UUID NOT NULL,
    PRIMARY KEY (ticket_id, person_id)
);
CREATE INDEX co_handlers_person ON co_handlers (person_id);

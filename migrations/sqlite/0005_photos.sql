-- Photos attached to a request: the resident's when asking, the volunteer's before and after
-- the work. Kept in the database beside the ticket, so one backup holds both.
CREATE TABLE photos (
    id BLOB PRIMARY KEY,
    ticket_id BLOB NOT NULL REFERENCES tickets (id),
    community_id BLOB NOT NULL,
    -- request (the resident's, on asking), before, after (the handler's)
    stage TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    uploaded_by BLOB NOT NULL REFERENCES people (id),
    created_at_us BIGINT NOT NULL
);
CREATE INDEX photos_ticket ON photos (ticket_id, created_at_us);

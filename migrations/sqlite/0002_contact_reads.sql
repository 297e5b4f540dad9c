-- Every read of a person's unmasked contact by someone else: who, whose, on which ticket, when.
CREATE TABLE contact_reads (
    id BLOB PRIMARY KEY,
    community_id BLOB NOT NULL,
    person_id BLOB NOT NULL,
    reader_id BLOB NOT NULL,
    ticket_id BLOB NOT NULL,
    at_us BIGINT NOT NULL
);
CREATE INDEX contact_reads_person ON contact_reads (person_id, at_us);

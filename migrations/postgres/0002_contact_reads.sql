-- Every read of a person's unmasked contact by someone else: who, whose, on which ticket, when.
CREATE TABLE contact_reads (
    id UUID PRIMARY KEY,
    community_id UUID NOT NULL,
    person_id UUID NOT NULL,
    reader_id UUID NOT NULL,
    ticket_id UUID NOT NULL,
    at_us BIGINT NOT NULL
);
CREATE INDEX contact_reads_person ON contact_reads (person_id, at_us);

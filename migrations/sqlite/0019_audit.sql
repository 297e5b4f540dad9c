-- Access records (PIPL art. 56): sign-ins and failed sign-ins, exports, erasures, refused
-- reads of an object. Append-only: no statement of Linli updates or deletes a row. Full reads
-- of a contact stay in contact_reads; the audit listing reads both.
CREATE TABLE audit (
    id BLOB PRIMARY KEY,
    at_us BIGINT NOT NULL,
    kind TEXT NOT NULL,
    -- Who did it (none: not signed in).
    actor_id BLOB,
    -- Whose data or which object it was about.
    subject_id BLOB,
    community_id BLOB,
    detail TEXT NOT NULL,
    request_id TEXT,
    address TEXT
);
CREATE INDEX audit_at ON audit (at_us);
CREATE INDEX audit_actor ON audit (actor_id, at_us);
CREATE INDEX audit_subject ON audit (subject_id, at_us);

-- Retention: when a closed request's words were anonymised (once).
ALTER TABLE tickets ADD COLUMN anonymised_at_us BIGINT;

-- 志愿服务证明: certificates of service, as issued (民政部令第67号). The totals are frozen at
-- issue; of the identity document only its kind and last four characters are kept.
CREATE TABLE certificates (
    number TEXT PRIMARY KEY,
    check_code TEXT NOT NULL,
    person_id BLOB NOT NULL REFERENCES people (id),
    community_id BLOB NOT NULL,
    -- The volunteer's name as issued (anonymised with them on erasure).
    name TEXT NOT NULL,
    id_kind TEXT NOT NULL,
    id_last4 TEXT NOT NULL,
    from_day TEXT NOT NULL,
    to_day TEXT NOT NULL,
    minutes BIGINT NOT NULL,
    services BIGINT NOT NULL,
    -- The issuing community, and who handled it.
    issuer TEXT NOT NULL,
    handler_id BLOB NOT NULL,
    issued_at_us BIGINT NOT NULL
);
CREATE INDEX certificates_person ON certificates (person_id, issued_at_us);

-- A correction names the record it corrects (a ledger entry of the same person and request),
-- where the office says which.
ALTER TABLE ledger ADD COLUMN corrects_id BLOB;

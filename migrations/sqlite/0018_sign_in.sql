-- Signing in without a token to copy: one-time codes staff issue, and sessions that end
-- (workflow_core::session). A token is a machine's (lives until revoked) or a session's.
ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'machine';
-- What a machine token is for ("12345 热线对接"); the admin lists tokens by it.
ALTER TABLE tokens ADD COLUMN name TEXT;
-- A session's tokens (a rotation adds one) share its id; sign-out ends them all.
ALTER TABLE tokens ADD COLUMN session_id BLOB;
ALTER TABLE tokens ADD COLUMN ends_at_us BIGINT;
ALTER TABLE tokens ADD COLUMN last_used_at_us BIGINT;
ALTER TABLE tokens ADD COLUMN replaced_at_us BIGINT;
CREATE INDEX tokens_session ON tokens (session_id);

-- Codes are kept as hashes, like tokens; a code is used once, and a newer code for the
-- same person retires the older ones.
CREATE TABLE sign_in_codes (
    hash BLOB PRIMARY KEY,
    person_id BLOB NOT NULL REFERENCES people (id),
    community_id BLOB,
    issued_by BLOB NOT NULL REFERENCES people (id),
    created_at_us BIGINT NOT NULL,
    expires_at_us BIGINT NOT NULL,
    used_at_us BIGINT
);
CREATE INDEX sign_in_codes_person ON sign_in_codes (person_id);

-- A person who lost their code asks for a new one at the console (by phone number); their
-- office sees the request and, approving it, issues a code (which marks it handled).
CREATE TABLE sign_in_requests (
    id BLOB PRIMARY KEY,
    person_id BLOB NOT NULL REFERENCES people (id),
    community_id BLOB NOT NULL,
    created_at_us BIGINT NOT NULL,
    handled_at_us BIGINT
);
CREATE INDEX sign_in_requests_pending ON sign_in_requests (community_id, created_at_us);

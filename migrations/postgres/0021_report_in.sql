-- 双报到: the posts (岗位) a community offers, party members employed elsewhere reporting in
-- to the community where they live (a request its office decides), the code a community
-- publishes for reporting in, and the feedback sheets (反馈单) sent to their work units.

-- A community's posts, named in the directory file.
CREATE TABLE posts (
    id UUID PRIMARY KEY,
    community_id UUID NOT NULL,
    name TEXT NOT NULL,
    created_at_us BIGINT NOT NULL,
    UNIQUE (community_id, name)
);

-- A report-in as asked and decided. A newcomer (the public form) has no person until the
-- office approves it; the latest approved one of a person is their profile there.
CREATE TABLE report_ins (
    id UUID PRIMARY KEY,
    community_id UUID NOT NULL,
    person_id UUID REFERENCES people (id),
    -- Who asked (a newcomer's own words; a signed-in member's name as the directory had it).
    name TEXT NOT NULL,
    phone TEXT,
    work_unit TEXT NOT NULL,
    party_org TEXT NOT NULL,
    post TEXT NOT NULL,
    skills TEXT NOT NULL,
    -- pending, approved or declined.
    status TEXT NOT NULL,
    asked_at_us BIGINT NOT NULL,
    decided_by UUID,
    decided_at_us BIGINT,
    reason TEXT
);
CREATE INDEX report_ins_community ON report_ins (community_id, status, asked_at_us);
CREATE INDEX report_ins_person ON report_ins (person_id, decided_at_us);

-- The code a community publishes (a poster's QR code) for reporting in; a new one replaces it.
CREATE TABLE report_in_codes (
    community_id UUID PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    issued_at_us BIGINT NOT NULL
);

-- A feedback sheet as the office signed it off: frozen. Its work unit's contact reads it with
-- its number and check code.
CREATE TABLE feedback_sheets (
    number TEXT PRIMARY KEY,
    check_code TEXT NOT NULL,
    community_id UUID NOT NULL,
    work_unit TEXT NOT NULL,
    from_day TEXT NOT NULL,
    to_day TEXT NOT NULL,
    remark TEXT NOT NULL,
    minutes BIGINT NOT NULL,
    services BIGINT NOT NULL,
    issuer TEXT NOT NULL,
    signed_by UUID NOT NULL,
    signed_at_us BIGINT NOT NULL,
    UNIQUE (community_id, work_unit, from_day, to_day)
);

-- A sheet's lines: one per member, and one per service of theirs (day set).
CREATE TABLE feedback_lines (
    sheet_number TEXT NOT NULL REFERENCES feedback_sheets (number),
    line BIGINT NOT NULL,
    person_id UUID NOT NULL,
    -- The member's name as signed off (anonymised with them on erasure).
    name TEXT NOT NULL,
    post TEXT NOT NULL,
    day TEXT,
    content TEXT,
    minutes BIGINT NOT NULL,
    rating BIGINT,
    correction BOOLEAN NOT NULL,
    PRIMARY KEY (sheet_number, line)
);
CREATE INDEX feedback_lines_person ON feedback_lines (person_id);

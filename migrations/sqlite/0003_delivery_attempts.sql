-- Every webhook delivery attempt of an outbox message, kept for the admins' outbox view.
CREATE TABLE delivery_attempts (
    outbox_id BLOB NOT NULL,
    attempt INTEGER NOT NULL,
    at_us BIGINT NOT NULL,
    -- The receiver's HTTP status; NULL when no answer came (refused, timed out).
    status INTEGER,
    error TEXT,
    PRIMARY KEY (outbox_id, attempt)
);

-- The admins' view of parked messages.
CREATE INDEX outbox_parked ON outbox (id) WHERE parked;

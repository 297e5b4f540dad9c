-- The follow-up call (回访) due on a closed request: the branch's task list reads it.
ALTER TABLE tickets ADD COLUMN follow_up_due BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX tickets_follow_up ON tickets (branch_id) WHERE follow_up_due;

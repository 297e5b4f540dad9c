-- Only the events that go on a volunteer's record (a holder released, a rating) are indexed
-- for dispatch ranking, as on PostgreSQL (whose migration 0014 says why).
ALTER TABLE events ADD COLUMN on_record BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE events SET on_record = TRUE
WHERE json_extract(body, '$.released') IS NOT NULL OR json_extract(body, '$.rating') IS NOT NULL;
CREATE INDEX events_on_record ON events (community_id, at_us) WHERE on_record;
DROP INDEX events_community_at;

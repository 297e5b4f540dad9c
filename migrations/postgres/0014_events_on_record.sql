-- Dispatch ranking reads a community's recent events that go on a volunteer's record (a
-- holder released, a rating: `Event::is_on_record`), through an index on (community, time)
-- that every event entered: eleven entries a lifecycle, one of which it ever reads. The
-- events now say whether they go on record, and only those are indexed. The backfill
-- rewrites those rows only (a small part of the log).
ALTER TABLE events ADD COLUMN on_record BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE events SET on_record = TRUE
WHERE body->'released' IS NOT NULL OR body->'rating' IS NOT NULL;
CREATE INDEX events_on_record ON events (community_id, at_us) WHERE on_record;
DROP INDEX events_community_at;

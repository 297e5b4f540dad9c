-- The bodies of tickets and events as `text`, no longer `json`. Linli writes them from its
-- own types through serde, so the server's check of each on the way in found nothing wrong
-- ever, and cost 5–11% of its CPU per lifecycle under load (paired rounds of `linli bench
-- engine`, docs/PERFORMANCE.md, session 15). What reads a field inside a body (reports)
-- casts it: `body::json ->> 'rating'`.
ALTER TABLE tickets ALTER COLUMN body TYPE text;
ALTER TABLE events ALTER COLUMN body TYPE text;

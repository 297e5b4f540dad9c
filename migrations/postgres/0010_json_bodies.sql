-- The bodies of tickets and events as `json` (the text, checked on the way in) instead of
-- `jsonb`. Both are written on every transition and read whole; nothing on a request's path
-- searches inside them, and parsing each into jsonb's binary tree was an eighth of the
-- server's work under load. Reports and the dispatch ranking, which read a field or two of
-- an event, use `->` and `->>`, which `json` has too.
ALTER TABLE tickets ALTER COLUMN body TYPE json USING body::json;
ALTER TABLE events ALTER COLUMN body TYPE json USING body::json;

-- 代办: who entered a request for a resident (a volunteer, a building head, the branch). A
-- volunteer follows what they entered as they follow their own; the column lets their list
-- and every read say so in the query. Set once, at submission; tickets entered before this
-- migration take it from their body.
ALTER TABLE tickets ADD COLUMN proxy_id UUID;
UPDATE tickets SET proxy_id = (body->>'proxy')::uuid WHERE body ? 'proxy';
CREATE INDEX tickets_proxy ON tickets (proxy_id, id) WHERE proxy_id IS NOT NULL;

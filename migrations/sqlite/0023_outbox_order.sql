-- The undelivered messages of a ticket, by event: a callback to the 12345 platform waits for
-- the earlier ones of its order (they arrive in the order they happened).
CREATE INDEX outbox_undelivered_by_ticket ON outbox (ticket_id, event_seq) WHERE delivered_at_us IS NULL;

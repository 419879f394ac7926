-- The claims walk pending rows in the order they take them (inbox: arrival; webhook deliveries:
-- due time, then arrival) and stop at their batch size, instead of sorting every due row on each
-- pass: with tens of thousands pending, the sort dominated PostgreSQL's claims.
DROP INDEX inbox_deliveries_due;
CREATE INDEX inbox_deliveries_due ON inbox_deliveries (id) WHERE status = 'pending';
DROP INDEX webhook_deliveries_due;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at_ms, id) WHERE status = 'pending';

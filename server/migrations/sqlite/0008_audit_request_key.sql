-- A console write that can be retried (a manual adjustment) is audited once: its audit row
-- carries the write's idempotency key, and a retry's insert does nothing.
ALTER TABLE audit_log ADD COLUMN request_key TEXT;
CREATE UNIQUE INDEX audit_log_request_key ON audit_log (request_key);

-- The customer's current tier (NULL: below the first threshold) and every change of it.
ALTER TABLE customers ADD COLUMN tier_id TEXT;
ALTER TABLE orders ADD COLUMN created_at_ms BIGINT NOT NULL DEFAULT 0;

CREATE TABLE tier_changes (
    program_id    TEXT NOT NULL,
    customer_id   TEXT NOT NULL,
    changed_at_ms BIGINT NOT NULL,
    from_tier     TEXT,
    to_tier       TEXT,
    qualifying    BIGINT NOT NULL
);
CREATE INDEX tier_changes_customer ON tier_changes (program_id, customer_id, changed_at_ms);

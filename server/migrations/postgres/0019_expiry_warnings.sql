-- The points.expiring_soon events decided so far: one per customer and moment of expiry (a
-- batch of points that expire together), so the upkeep warns once per batch however often it
-- runs, on however many replicas. Rows whose moment has passed are pruned by retention.
CREATE TABLE expiry_warnings (
    program_id    TEXT NOT NULL,
    customer_id   TEXT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    points        BIGINT NOT NULL,
    warned_at_ms  BIGINT NOT NULL,
    PRIMARY KEY (program_id, customer_id, expires_at_ms)
);

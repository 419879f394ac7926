-- The tier.at_risk events decided so far: at most one open episode per customer (the tier the
-- rolling window was about to take). The upkeep inserts the row with the event, keeps it while
-- the tier stays at risk (no second warning) and deletes it once the customer is safe again, so
-- the next time the tier is at risk warns again. A new tier at risk replaces the row.
CREATE TABLE tier_risk_warnings (
    program_id   TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    tier_id      TEXT NOT NULL,
    drops_at_ms  BIGINT NOT NULL,
    warned_at_ms BIGINT NOT NULL,
    PRIMARY KEY (program_id, customer_id)
);

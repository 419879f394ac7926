-- The rewards catalog. The definition is JSON (see RewardDefinition); stock is a column so a
-- redemption can take one atomically.
CREATE TABLE rewards (
    program_id    TEXT NOT NULL REFERENCES programs (id) ON DELETE CASCADE,
    id            TEXT NOT NULL,
    definition    TEXT NOT NULL,
    stock         BIGINT,
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (program_id, id)
);

-- Coupons issued by redemptions. Status moves issued -> consumed or issued -> cancelled, once.
CREATE TABLE coupons (
    program_id    TEXT NOT NULL,
    code          TEXT NOT NULL,
    customer_id   TEXT NOT NULL,
    reward_id     TEXT NOT NULL,
    points        BIGINT NOT NULL,
    value         TEXT NOT NULL,
    status        TEXT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    order_id      TEXT,
    PRIMARY KEY (program_id, code)
);
CREATE INDEX coupons_customer ON coupons (program_id, customer_id, reward_id);

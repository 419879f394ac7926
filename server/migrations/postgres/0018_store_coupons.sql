-- Checkout-native coupons: with a store's API credentials, Tally creates each coupon it issues
-- in the store too (WooCommerce REST API, Shopify Admin GraphQL), so it works at the store's
-- own checkout. The secret (WooCommerce consumer secret, Shopify access token) is sealed.
ALTER TABLE store_connections ADD COLUMN api_url TEXT;
ALTER TABLE store_connections ADD COLUMN api_key TEXT;
ALTER TABLE store_connections ADD COLUMN api_secret TEXT;

-- One row per coupon and connection, queued when the redemption's event is relayed (the event
-- commits with the redemption); the worker creates it in the store with retries.
CREATE TABLE store_coupons (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connection_id      TEXT NOT NULL REFERENCES store_connections (id) ON DELETE CASCADE,
    program_id         TEXT NOT NULL,
    coupon_code        TEXT NOT NULL,
    event_id           TEXT NOT NULL,
    status             TEXT NOT NULL,
    attempts           BIGINT NOT NULL,
    next_attempt_at_ms BIGINT NOT NULL,
    last_error         TEXT,
    store_ref          TEXT,
    created_at_ms      BIGINT NOT NULL,
    updated_at_ms      BIGINT NOT NULL,
    UNIQUE (connection_id, coupon_code)
);
CREATE INDEX store_coupons_due ON store_coupons (next_attempt_at_ms) WHERE status = 'pending';
CREATE INDEX store_coupons_code ON store_coupons (program_id, coupon_code);

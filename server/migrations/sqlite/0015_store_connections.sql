-- Stores that report to a program by their own webhooks (WooCommerce, Shopify). The secret
-- verifies their deliveries, so it must be read back.
CREATE TABLE store_connections (
    id            TEXT PRIMARY KEY,
    program_id    TEXT NOT NULL REFERENCES programs (id) ON DELETE CASCADE,
    platform      TEXT NOT NULL,
    secret        TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX store_connections_program ON store_connections (program_id);

-- Every delivery, stored before it is answered: a crash after the 200 loses nothing. The same
-- delivery twice is stored once (delivery_key); one subject's (an order's) apply in order.
CREATE TABLE inbox_deliveries (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    connection_id      TEXT NOT NULL REFERENCES store_connections (id) ON DELETE CASCADE,
    delivery_key       TEXT NOT NULL,
    topic              TEXT NOT NULL,
    subject            TEXT NOT NULL,
    body               TEXT NOT NULL,
    status             TEXT NOT NULL,
    attempts           BIGINT NOT NULL,
    next_attempt_at_ms BIGINT NOT NULL,
    outcome            TEXT,
    received_at_ms     BIGINT NOT NULL,
    processed_at_ms    BIGINT,
    UNIQUE (connection_id, delivery_key)
);
CREATE INDEX inbox_deliveries_due ON inbox_deliveries (next_attempt_at_ms) WHERE status = 'pending';
CREATE INDEX inbox_deliveries_subject ON inbox_deliveries (connection_id, subject, id) WHERE status = 'pending';
CREATE INDEX inbox_deliveries_topic ON inbox_deliveries (connection_id, topic, id);

-- The newest platform time of each order applied: an update older than it is stale (deliveries
-- can arrive out of order).
CREATE TABLE platform_orders (
    connection_id  TEXT NOT NULL REFERENCES store_connections (id) ON DELETE CASCADE,
    order_id       TEXT NOT NULL,
    modified_at_ms BIGINT NOT NULL,
    PRIMARY KEY (connection_id, order_id)
);

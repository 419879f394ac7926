-- The transactional outbox: each event is written in the transaction of the change that caused
-- it, then relayed to the channels that want it (webhook deliveries; emails later).
CREATE TABLE outbox_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id      TEXT NOT NULL UNIQUE,
    program_id    TEXT NOT NULL,
    customer_id   TEXT,
    event_type    TEXT NOT NULL,
    payload       TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    -- For a test event: the one endpoint it is for.
    endpoint_id   TEXT,
    relayed_at_ms BIGINT
);
CREATE INDEX outbox_events_waiting ON outbox_events (id) WHERE relayed_at_ms IS NULL;

-- Where a program's events go. The secret signs deliveries (Standard Webhooks), so it must be
-- read back; the previous one keeps signing for a day after a rotation.
CREATE TABLE webhook_endpoints (
    id                TEXT PRIMARY KEY,
    program_id        TEXT NOT NULL REFERENCES programs (id) ON DELETE CASCADE,
    url               TEXT NOT NULL,
    description       TEXT NOT NULL,
    event_types       TEXT NOT NULL,
    secret            TEXT NOT NULL,
    previous_secret   TEXT,
    previous_until_ms BIGINT,
    created_at_ms     BIGINT NOT NULL,
    disabled          BOOLEAN NOT NULL,
    failing_since_ms  BIGINT
);
CREATE INDEX webhook_endpoints_program ON webhook_endpoints (program_id);

-- One event for one endpoint. A pending delivery is due at next_attempt_at_ms; a worker that
-- claims it moves that to the end of its lease, so no other replica claims it meanwhile.
CREATE TABLE webhook_deliveries (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id        TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id           TEXT NOT NULL,
    customer_id        TEXT,
    status             TEXT NOT NULL,
    attempts           BIGINT NOT NULL,
    next_attempt_at_ms BIGINT NOT NULL,
    last_attempt_at_ms BIGINT,
    response_status    BIGINT,
    last_error         TEXT,
    latency_ms         BIGINT,
    delivered_at_ms    BIGINT,
    created_at_ms      BIGINT NOT NULL,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at_ms) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_in_order ON webhook_deliveries (endpoint_id, customer_id, id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);

-- Program secrets and settings. The widget secret signs customer JWTs (HS256), so the server
-- must read it back: it cannot be stored hashed. Settings are JSON (see ProgramSettings).
ALTER TABLE programs ADD COLUMN widget_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE programs ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';

-- Secret API keys (sk_...), stored as SHA-256 hashes: a key is 32 random bytes, so a plain hash
-- is enough and lets the key be looked up directly.
CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    program_id      TEXT NOT NULL REFERENCES programs (id) ON DELETE CASCADE,
    key_hash        TEXT NOT NULL UNIQUE,
    key_prefix      TEXT NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    revoked_at_ms   BIGINT,
    last_used_at_ms BIGINT
);
CREATE INDEX api_keys_program ON api_keys (program_id);

-- Customers, keyed by the merchant's own id, with the ledger state the ledger core needs.
CREATE TABLE customers (
    program_id          TEXT NOT NULL REFERENCES programs (id) ON DELETE CASCADE,
    customer_id         TEXT NOT NULL,
    email               TEXT,
    name                TEXT,
    birthday            TEXT,
    tags                TEXT NOT NULL DEFAULT '[]',
    created_at_ms       BIGINT NOT NULL,
    updated_at_ms       BIGINT NOT NULL,
    last_seq            BIGINT NOT NULL DEFAULT 0,
    debt                BIGINT NOT NULL DEFAULT 0,
    last_activity_at_ms BIGINT,
    PRIMARY KEY (program_id, customer_id)
);

-- The ledger: append-only. Rows are never updated or deleted.
CREATE TABLE ledger_entries (
    program_id      TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    points          BIGINT NOT NULL,
    source          TEXT NOT NULL,
    reference       TEXT,
    order_id        TEXT,
    available_at_ms BIGINT NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    balance_after   BIGINT NOT NULL,
    shortfall       BIGINT NOT NULL DEFAULT 0,
    rule_snapshot   TEXT,
    client_id       TEXT NOT NULL,
    PRIMARY KEY (program_id, customer_id, seq),
    FOREIGN KEY (program_id, customer_id) REFERENCES customers (program_id, customer_id)
);
CREATE INDEX ledger_entries_program_created ON ledger_entries (program_id, created_at_ms);
CREATE INDEX ledger_entries_order ON ledger_entries (program_id, order_id);

-- Which lots each negative entry took points from (audit trail of FIFO consumption).
CREATE TABLE ledger_consumptions (
    program_id  TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    entry_seq   BIGINT NOT NULL,
    lot_seq     BIGINT NOT NULL,
    points      BIGINT NOT NULL,
    PRIMARY KEY (program_id, customer_id, entry_seq, lot_seq)
);

-- Open lots: a projection of the entries, kept in the same transaction as them.
CREATE TABLE lots (
    program_id      TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    order_id        TEXT,
    earned_at_ms    BIGINT NOT NULL,
    available_at_ms BIGINT NOT NULL,
    remaining       BIGINT NOT NULL,
    PRIMARY KEY (program_id, customer_id, seq)
);

-- What each order earned and what was taken back from it (I4).
CREATE TABLE orders (
    program_id  TEXT NOT NULL,
    order_id    TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    earned      BIGINT NOT NULL DEFAULT 0,
    taken_back  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (program_id, order_id)
);

-- Client ids of writes (I3): a replay returns the stored response; another body is refused.
CREATE TABLE idempotency_keys (
    program_id    TEXT NOT NULL,
    kind          TEXT NOT NULL,
    client_id     TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    response      TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (program_id, kind, client_id)
);

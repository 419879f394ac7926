-- Console users (argon2id password hashes), the programs granted to them, their sessions (only
-- the SHA-256 of the cookie token is stored) and the audit log of their writes.
CREATE TABLE admin_users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
-- One row once the first owner exists: its primary key stops two concurrent set-ups.
CREATE TABLE console_setup (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    created_at_ms BIGINT NOT NULL
);
CREATE TABLE admin_grants (
    user_id    TEXT NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
    program_id TEXT NOT NULL REFERENCES programs (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, program_id)
);
CREATE TABLE admin_sessions (
    token_hash    TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
    csrf_token    TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
CREATE INDEX admin_sessions_user ON admin_sessions (user_id);
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms       BIGINT NOT NULL,
    user_id     TEXT NOT NULL,
    user_email  TEXT NOT NULL,
    program_id  TEXT,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    before_json TEXT,
    after_json  TEXT
);
-- The dashboard: sums by kind over a time range, and the newest entries first.
CREATE INDEX ledger_entries_program_kind_created ON ledger_entries (program_id, kind, created_at_ms);
CREATE INDEX lots_program_available ON lots (program_id, available_at_ms);

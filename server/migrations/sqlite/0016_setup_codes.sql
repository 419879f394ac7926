-- One-time codes that first-run set-up asks for (SHA-256 of the code; the code itself is only
-- printed in the server's log). Each server start before set-up adds one; set-up deletes them.
CREATE TABLE console_setup_codes (
    code_hash     TEXT PRIMARY KEY,
    created_at_ms BIGINT NOT NULL
);

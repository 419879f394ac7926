-- Programs (stores) hosted by this server. Every other table hangs off one program.
CREATE TABLE programs (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    currency        TEXT NOT NULL,
    points_name     TEXT NOT NULL DEFAULT 'points',
    publishable_key TEXT NOT NULL UNIQUE,
    created_at_ms   BIGINT NOT NULL
);

-- Storefront origins allowed to call the widget API of a program (CORS allowlist).
CREATE TABLE program_allowed_origins (
    program_id TEXT NOT NULL REFERENCES programs (id) ON DELETE CASCADE,
    origin     TEXT NOT NULL,
    PRIMARY KEY (program_id, origin)
);

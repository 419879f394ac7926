-- Imports of balances kept elsewhere (issue 15).
-- What an imported customer brings toward tiers (points or minor units by the ladder's basis),
-- counted from the moment of the import like an earning then: a rolling window lets it go a
-- year later, a calendar year at the year's end, a lifetime never.
ALTER TABLE customers ADD COLUMN imported_qualifying BIGINT;
ALTER TABLE customers ADD COLUMN imported_qualifying_at_ms BIGINT;
-- Imports that name customers by email find them by it, in any case.
CREATE INDEX customers_email ON customers (program_id, LOWER(email));

-- One row per uploaded file: the file itself (so the run survives the browser and a restart),
-- its mapping and mode, the dry run's counts, and the run's progress. A worker leases a
-- running import (lease_until_ms) so one replica runs it; each row's ledger write is
-- idempotent under the file's hash, so a resumed batch changes nothing twice.
CREATE TABLE import_runs (
    import_id      TEXT PRIMARY KEY,
    program_id     TEXT NOT NULL,
    file_name      TEXT NOT NULL,
    content_hash   TEXT NOT NULL,
    content        TEXT NOT NULL,
    mode           TEXT NOT NULL,
    mapping        TEXT NOT NULL,
    status         TEXT NOT NULL,
    total_rows     BIGINT NOT NULL,
    rejected_rows  BIGINT NOT NULL,
    new_customers  BIGINT NOT NULL,
    done_rows      BIGINT NOT NULL,
    written        BIGINT NOT NULL,
    unchanged      BIGINT NOT NULL,
    failed         BIGINT NOT NULL,
    errors         TEXT NOT NULL,
    created_by     TEXT,
    created_at_ms  BIGINT NOT NULL,
    started_at_ms  BIGINT,
    finished_at_ms BIGINT,
    lease_until_ms BIGINT
);
CREATE INDEX import_runs_program ON import_runs (program_id, created_at_ms);

-- The mapping a merchant chose for a file layout (its headers), offered again for the next
-- file with the same headers.
CREATE TABLE import_layouts (
    program_id    TEXT NOT NULL,
    layout_key    TEXT NOT NULL,
    mapping       TEXT NOT NULL,
    mode          TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (program_id, layout_key)
);

-- Customers erased on request: a keyed hash of the id they had (never the id itself) and the
-- pseudonym their ledger carries since, so that asking again answers the same.
CREATE TABLE customer_erasures (
    program_id   TEXT NOT NULL,
    subject_hash TEXT NOT NULL,
    pseudonym    TEXT NOT NULL,
    erased_at_ms BIGINT NOT NULL,
    PRIMARY KEY (program_id, subject_hash, pseudonym)
);
-- Counts erasures per program: a server's in-memory copy of its earnings per day (which holds
-- customer ids) is rebuilt when this moves.
ALTER TABLE programs ADD COLUMN report_epoch BIGINT NOT NULL DEFAULT 0;

-- The program-wide history pages newest first by (created_at, customer, seq): with all three in
-- the index a page is read in order and stops after its rows, instead of sorting the range.
DROP INDEX ledger_entries_program_created;
CREATE INDEX ledger_entries_program_created ON ledger_entries (program_id, created_at_ms, customer_id, seq);

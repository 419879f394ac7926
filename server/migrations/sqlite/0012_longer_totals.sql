-- Longer spans for the running totals (server/src/ledger/totals.rs): a year's flows read
-- days instead of 35,000 quarter hours (T1), and a year's top earners read one row per
-- customer instead of every earning (T3). And the points each customer holds, to sort by, and
-- the text a customer search looks in.

-- T1 in three spans: quarter hours, hours and UTC days, filled from the quarter hours. The
-- writes' changes not folded yet stay in ledger_slot_changes; the fold now adds each to
-- all three spans.
CREATE TABLE ledger_totals (
    program_id TEXT NOT NULL,
    span_ms    BIGINT NOT NULL,
    slot_ms    BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    source     TEXT NOT NULL,
    gained     BIGINT NOT NULL,
    lost       BIGINT NOT NULL,
    PRIMARY KEY (program_id, span_ms, slot_ms, kind, source)
) WITHOUT ROWID;
INSERT INTO ledger_totals (program_id, span_ms, slot_ms, kind, source, gained, lost)
SELECT program_id, 900000, slot_ms, kind, source, gained, lost FROM ledger_slot_totals;
INSERT INTO ledger_totals (program_id, span_ms, slot_ms, kind, source, gained, lost)
SELECT program_id, span_ms, (slot_ms / span_ms) * span_ms, kind, source, SUM(gained), SUM(lost)
FROM ledger_slot_totals, (SELECT 3600000 AS span_ms UNION ALL SELECT 86400000) spans
GROUP BY program_id, span_ms, (slot_ms / span_ms) * span_ms, kind, source;
DROP TABLE ledger_slot_totals;

-- T3: what each customer earned per UTC month, quarter and year; the second index gives a
-- period's leaders in order.
CREATE TABLE customer_earnings (
    program_id  TEXT NOT NULL,
    period      TEXT NOT NULL,
    period_ms   BIGINT NOT NULL,
    customer_id TEXT NOT NULL,
    earned      BIGINT NOT NULL,
    PRIMARY KEY (program_id, period, period_ms, customer_id)
) WITHOUT ROWID;
CREATE INDEX customer_earnings_leaders ON customer_earnings (program_id, period, period_ms, earned DESC, customer_id);
INSERT INTO customer_earnings (program_id, period, period_ms, customer_id, earned)
SELECT program_id, period, period_ms, customer_id, SUM(points) FROM (
    SELECT program_id, customer_id, points, period,
           CAST(strftime('%s', created_at_ms / 1000, 'unixepoch', 'start of month', '-' || CASE period
               WHEN 'month' THEN 0
               WHEN 'quarter' THEN (CAST(strftime('%m', created_at_ms / 1000, 'unixepoch') AS INTEGER) - 1) % 3
               ELSE CAST(strftime('%m', created_at_ms / 1000, 'unixepoch') AS INTEGER) - 1 END || ' months')
           AS BIGINT) * 1000 AS period_ms
    FROM ledger_entries, (SELECT 'month' AS period UNION ALL SELECT 'quarter' UNION ALL SELECT 'year') periods
    WHERE kind = 'earn'
) e GROUP BY program_id, period, period_ms, customer_id;
-- Writes append what they earned here, folded into customer_earnings with the other changes
-- (upserting a customer's three rows in every write cost SQLite's writes a third).
CREATE TABLE earning_changes (
    id            INTEGER PRIMARY KEY,
    program_id    TEXT NOT NULL,
    customer_id   TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    earned        BIGINT NOT NULL
);
CREATE INDEX earning_changes_program ON earning_changes (program_id, created_at_ms);

-- Points held (open lots less debt) on the customer's row, for the customer list's "most
-- points" order; the ledger write that changes the lots sets it. Not indexed: an index would
-- make every write's customer update a non-HOT one on PostgreSQL, for a rare sort.
ALTER TABLE customers ADD COLUMN held BIGINT NOT NULL DEFAULT 0;
UPDATE customers SET held = COALESCE((SELECT SUM(l.remaining) FROM lots l
    WHERE l.program_id = customers.program_id AND l.customer_id = customers.customer_id), 0) - debt;

-- The lower-cased email and name a customer search looks in (see CustomerProfile::search_text):
-- computed by the server, which fills it for the rows here at its next start.
ALTER TABLE customers ADD COLUMN search_text TEXT;

-- Each customer's earnings per UTC day, with the fold that last changed them (T4): what a
-- server's in-memory copy of the earnings (top earners of any custom range) catches up from.
-- The one-row counter orders the folds (each takes the next number under its row lock).
CREATE TABLE customer_day_earnings (
    program_id  TEXT NOT NULL,
    day_ms      BIGINT NOT NULL,
    customer_id TEXT NOT NULL,
    earned      BIGINT NOT NULL,
    fold_seq    BIGINT NOT NULL,
    PRIMARY KEY (program_id, day_ms, customer_id)
) WITHOUT ROWID;
CREATE INDEX customer_day_earnings_fold ON customer_day_earnings (program_id, fold_seq);
CREATE TABLE earning_folds (
    id  INTEGER PRIMARY KEY,
    seq BIGINT NOT NULL
);
INSERT INTO earning_folds (id, seq) VALUES (1, 0);
INSERT INTO customer_day_earnings (program_id, day_ms, customer_id, earned, fold_seq)
SELECT program_id, (created_at_ms / 86400000) * 86400000, customer_id, SUM(points), 0
FROM ledger_entries WHERE kind = 'earn'
GROUP BY program_id, (created_at_ms / 86400000) * 86400000, customer_id;

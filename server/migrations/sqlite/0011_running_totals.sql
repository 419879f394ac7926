-- Running totals for the dashboard (see server/src/ledger/totals.rs), kept in each ledger
-- write's transaction and filled here from the ledger as it stands.

-- T1: points gained and lost per quarter hour, kind and source.
CREATE TABLE ledger_slot_totals (
    program_id TEXT NOT NULL,
    slot_ms    BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    source     TEXT NOT NULL,
    gained     BIGINT NOT NULL,
    lost       BIGINT NOT NULL,
    PRIMARY KEY (program_id, slot_ms, kind, source)
) WITHOUT ROWID;
INSERT INTO ledger_slot_totals (program_id, slot_ms, kind, source, gained, lost)
SELECT program_id, (created_at_ms / 900000) * 900000, kind, source,
       SUM(CASE WHEN points > 0 THEN points ELSE 0 END), SUM(CASE WHEN points < 0 THEN points ELSE 0 END)
FROM ledger_entries GROUP BY program_id, (created_at_ms / 900000) * 900000, kind, source;

-- T2: the points left in open lots per quarter hour, filed by the lot's earning and by its
-- customer's last activity.
CREATE TABLE open_point_totals (
    program_id TEXT NOT NULL,
    basis      TEXT NOT NULL,
    slot_ms    BIGINT NOT NULL,
    points     BIGINT NOT NULL,
    PRIMARY KEY (program_id, basis, slot_ms)
) WITHOUT ROWID;
INSERT INTO open_point_totals (program_id, basis, slot_ms, points)
SELECT program_id, 'earned', (earned_at_ms / 900000) * 900000, SUM(remaining)
FROM lots GROUP BY program_id, (earned_at_ms / 900000) * 900000;
INSERT INTO open_point_totals (program_id, basis, slot_ms, points)
SELECT l.program_id, 'activity', (COALESCE(c.last_activity_at_ms, l.earned_at_ms) / 900000) * 900000, SUM(l.remaining)
FROM lots l JOIN customers c ON c.program_id = l.program_id AND c.customer_id = l.customer_id
GROUP BY l.program_id, (COALESCE(c.last_activity_at_ms, l.earned_at_ms) / 900000) * 900000;

-- The exact edges the totals leave: pending lots (the condition keeps this index away from a
-- customer's open-lots query, whose ORDER BY it would otherwise match) and customers last
-- active around an inactivity cutoff.
CREATE INDEX lots_pending ON lots (program_id, available_at_ms) WHERE remaining > 0 AND available_at_ms > earned_at_ms;
CREATE INDEX customers_last_activity ON customers (program_id, last_activity_at_ms);

-- Top earners read only this index: kind, time, customer and points.
DROP INDEX ledger_entries_program_kind_created;
CREATE INDEX ledger_entries_program_kind_created ON ledger_entries (program_id, kind, created_at_ms, customer_id, points);

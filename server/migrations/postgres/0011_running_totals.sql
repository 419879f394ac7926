-- Running totals for the dashboard (see server/src/ledger/totals.rs), changed in each ledger
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
);
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
);
INSERT INTO open_point_totals (program_id, basis, slot_ms, points)
SELECT program_id, 'earned', (earned_at_ms / 900000) * 900000, SUM(remaining)
FROM lots GROUP BY program_id, (earned_at_ms / 900000) * 900000;
INSERT INTO open_point_totals (program_id, basis, slot_ms, points)
SELECT l.program_id, 'activity', (COALESCE(c.last_activity_at_ms, l.earned_at_ms) / 900000) * 900000, SUM(l.remaining)
FROM lots l JOIN customers c ON c.program_id = l.program_id AND c.customer_id = l.customer_id
GROUP BY l.program_id, (COALESCE(c.last_activity_at_ms, l.earned_at_ms) / 900000) * 900000;

-- What writes added since the last fold, one row per write: writers only append here, so no
-- two of them wait for one shared row; the fold (server/src/jobs.rs) moves these into the
-- totals above. Readers add both.
CREATE TABLE ledger_slot_changes (
    id         BIGSERIAL PRIMARY KEY,
    program_id TEXT NOT NULL,
    slot_ms    BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    source     TEXT NOT NULL,
    gained     BIGINT NOT NULL,
    lost       BIGINT NOT NULL
);
CREATE INDEX ledger_slot_changes_program ON ledger_slot_changes (program_id, slot_ms);
CREATE TABLE open_point_changes (
    id         BIGSERIAL PRIMARY KEY,
    program_id TEXT NOT NULL,
    basis      TEXT NOT NULL,
    slot_ms    BIGINT NOT NULL,
    points     BIGINT NOT NULL
);
CREATE INDEX open_point_changes_program ON open_point_changes (program_id, basis, slot_ms);

-- Lots that were pending when earned, for the pending points now. The condition keeps this index
-- away from a customer's open-lots query (whose ORDER BY it would otherwise match), and it names
-- no column a write changes, so PostgreSQL still updates lots in place.
CREATE INDEX lots_pending ON lots (program_id, available_at_ms) WHERE available_at_ms > earned_at_ms;

-- The sums by kind now come from the totals. Top earners read this index alone (it holds the
-- earnings only, so no per-customer query can mistake it for theirs).
DROP INDEX ledger_entries_program_kind_created;
CREATE INDEX ledger_entries_earned ON ledger_entries (program_id, created_at_ms, customer_id, points, kind) WHERE kind = 'earn';

-- A customer's entries over time (tier qualification, action caps): without it SQLite read
-- these through the program-wide time index, every entry of the program since the window's
-- start, on every write.
CREATE INDEX ledger_entries_customer_created ON ledger_entries (program_id, customer_id, created_at_ms);

//! Settled histories written in bulk (the scale demo's seeding): many rows per statement, one
//! transaction per batch of customers.

use async_trait::async_trait;

use super::{on_pool, seq_to_db, Dialect, Pool, SqlStorage};
use crate::storage::{ImportStore, ImportedCustomer, StorageError};

/// The running totals recomputed from the ledger (as migrations 0011 and 0012 first filled
/// them).
const REBUILD_TOTALS: [&str; 12] = [
    "DELETE FROM ledger_slot_changes WHERE program_id = $1",
    "DELETE FROM open_point_changes WHERE program_id = $1",
    "DELETE FROM ledger_totals WHERE program_id = $1",
    "INSERT INTO ledger_totals (program_id, span_ms, slot_ms, kind, source, gained, lost)
     SELECT program_id, span_ms, (created_at_ms / span_ms) * span_ms, kind, source,
            SUM(CASE WHEN points > 0 THEN points ELSE 0 END), SUM(CASE WHEN points < 0 THEN points ELSE 0 END)
     FROM ledger_entries, (SELECT 900000 AS span_ms UNION ALL SELECT 3600000 UNION ALL SELECT 86400000) spans
     WHERE program_id = $1
     GROUP BY program_id, span_ms, (created_at_ms / span_ms) * span_ms, kind, source",
    "DELETE FROM open_point_totals WHERE program_id = $1",
    "INSERT INTO open_point_totals (program_id, basis, slot_ms, points)
     SELECT program_id, 'earned', (earned_at_ms / 900000) * 900000, SUM(remaining)
     FROM lots WHERE program_id = $1 GROUP BY program_id, (earned_at_ms / 900000) * 900000",
    "INSERT INTO open_point_totals (program_id, basis, slot_ms, points)
     SELECT l.program_id, 'activity', (COALESCE(c.last_activity_at_ms, l.earned_at_ms) / 900000) * 900000,
            SUM(l.remaining)
     FROM lots l JOIN customers c ON c.program_id = l.program_id AND c.customer_id = l.customer_id
     WHERE l.program_id = $1
     GROUP BY l.program_id, (COALESCE(c.last_activity_at_ms, l.earned_at_ms) / 900000) * 900000",
    "DELETE FROM earning_changes WHERE program_id = $1",
    "DELETE FROM customer_earnings WHERE program_id = $1",
    // T4 under a new fold number, so that every server's copy takes the rebuilt rows.
    "DELETE FROM customer_day_earnings WHERE program_id = $1",
    // (`$1 = $1`: every statement here takes the program.)
    "UPDATE earning_folds SET seq = seq + 1 WHERE id = 1 AND $1 = $1",
    "INSERT INTO customer_day_earnings (program_id, day_ms, customer_id, earned, fold_seq)
     SELECT program_id, (created_at_ms / 86400000) * 86400000, customer_id, SUM(points),
            (SELECT seq FROM earning_folds WHERE id = 1)
     FROM ledger_entries WHERE program_id = $1 AND kind = 'earn'
     GROUP BY program_id, (created_at_ms / 86400000) * 86400000, customer_id",
];

/// T3 recomputed: each earning added to its UTC month, quarter and year (the `period`).
const REBUILD_EARNINGS_SQLITE: &str =
    "INSERT INTO customer_earnings (program_id, period, period_ms, customer_id, earned)
     SELECT program_id, period, period_ms, customer_id, SUM(points) FROM (
         SELECT program_id, customer_id, points, period,
                CAST(strftime('%s', created_at_ms / 1000, 'unixepoch', 'start of month', '-' || CASE period
                    WHEN 'month' THEN 0
                    WHEN 'quarter' THEN (CAST(strftime('%m', created_at_ms / 1000, 'unixepoch') AS INTEGER) - 1) % 3
                    ELSE CAST(strftime('%m', created_at_ms / 1000, 'unixepoch') AS INTEGER) - 1 END || ' months')
                AS BIGINT) * 1000 AS period_ms
         FROM ledger_entries, (SELECT 'month' AS period UNION ALL SELECT 'quarter' UNION ALL SELECT 'year') periods
         WHERE program_id = $1 AND kind = 'earn'
     ) e GROUP BY program_id, period, period_ms, customer_id";
const REBUILD_EARNINGS_POSTGRES: &str =
    "INSERT INTO customer_earnings (program_id, period, period_ms, customer_id, earned)
     SELECT program_id, period, period_ms, customer_id, SUM(points) FROM (
         SELECT program_id, customer_id, points, period,
                CAST(EXTRACT(EPOCH FROM date_trunc(period, to_timestamp(created_at_ms / 1000.0) AT TIME ZONE 'UTC'))
                    AS BIGINT) * 1000 AS period_ms
         FROM ledger_entries, (SELECT 'month' AS period UNION ALL SELECT 'quarter' UNION ALL SELECT 'year') periods
         WHERE program_id = $1 AND kind = 'earn'
     ) e GROUP BY program_id, period, period_ms, customer_id";

/// Rows per INSERT: within both databases' limits on bound parameters (14 columns).
const ROWS_PER_STATEMENT: usize = 1_000;

#[async_trait]
impl ImportStore for SqlStorage {
    async fn import_history(&self, program_id: &str, customers: &[ImportedCustomer]) -> Result<(), StorageError> {
        let _writer = self.sqlite_writer.lock().await;
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            for chunk in customers.chunks(ROWS_PER_STATEMENT) {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO customers (program_id, customer_id, email, name, tags, created_at_ms, updated_at_ms,
                         last_seq, debt, last_activity_at_ms, tier_id, held, search_text) ",
                );
                insert.push_values(chunk, |mut row, customer| {
                    row.push_bind(program_id)
                        .push_bind(&customer.customer_id)
                        .push_bind(&customer.profile.email)
                        .push_bind(&customer.profile.name)
                        .push_bind("[]")
                        .push_bind(customer.created_at.0)
                        .push_bind(customer.created_at.0)
                        .push_bind(seq_to_db(customer.account.last_seq))
                        .push_bind(customer.account.debt)
                        .push_bind(customer.account.last_activity_at.map(|at| at.0))
                        .push_bind(&customer.tier_id)
                        .push_bind(customer.account.held())
                        .push_bind(customer.profile.search_text());
                });
                insert.build().execute(&mut *tx).await?;
            }
            let entries: Vec<_> = customers
                .iter()
                .flat_map(|customer| customer.entries.iter().map(move |entry| (customer, entry)))
                .collect();
            for chunk in entries.chunks(ROWS_PER_STATEMENT) {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO ledger_entries (program_id, customer_id, seq, kind, points, source, reference,
                         order_id, available_at_ms, created_at_ms, balance_after, shortfall, rule_snapshot, client_id) ",
                );
                insert.push_values(chunk, |mut row, (customer, imported)| {
                    let entry = &imported.entry;
                    row.push_bind(program_id)
                        .push_bind(&customer.customer_id)
                        .push_bind(seq_to_db(entry.seq))
                        .push_bind(entry.kind.as_str())
                        .push_bind(entry.points)
                        .push_bind(&imported.source)
                        .push_bind(None::<String>)
                        .push_bind(&entry.order_id)
                        .push_bind(entry.available_at.0)
                        .push_bind(imported.created_at.0)
                        .push_bind(entry.balance_after)
                        .push_bind(entry.shortfall)
                        .push_bind(None::<String>)
                        .push_bind("import");
                });
                insert.build().execute(&mut *tx).await?;
            }
            let consumptions: Vec<_> = entries
                .iter()
                .flat_map(|(customer, imported)| {
                    imported
                        .entry
                        .consumed
                        .iter()
                        .map(move |(lot, points)| (*customer, imported.entry.seq, *lot, *points))
                })
                .collect();
            for chunk in consumptions.chunks(ROWS_PER_STATEMENT) {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO ledger_consumptions (program_id, customer_id, entry_seq, lot_seq, points) ",
                );
                insert.push_values(chunk, |mut row, (customer, entry_seq, lot_seq, points)| {
                    row.push_bind(program_id)
                        .push_bind(&customer.customer_id)
                        .push_bind(seq_to_db(*entry_seq))
                        .push_bind(seq_to_db(*lot_seq))
                        .push_bind(*points);
                });
                insert.build().execute(&mut *tx).await?;
            }
            let lots: Vec<_> = customers
                .iter()
                .flat_map(|customer| customer.account.lots.iter().map(move |lot| (customer, lot)))
                .collect();
            for chunk in lots.chunks(ROWS_PER_STATEMENT) {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO lots (program_id, customer_id, seq, order_id, earned_at_ms, available_at_ms, remaining) ",
                );
                insert.push_values(chunk, |mut row, (customer, lot)| {
                    row.push_bind(program_id)
                        .push_bind(&customer.customer_id)
                        .push_bind(seq_to_db(lot.seq))
                        .push_bind(&lot.order_id)
                        .push_bind(lot.earned_at.0)
                        .push_bind(lot.available_at.0)
                        .push_bind(lot.remaining);
                });
                insert.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    async fn rebuild_totals(&self, program_id: &str) -> Result<(), StorageError> {
        let _writer = self.sqlite_writer.lock().await;
        on_pool!(self, |pool, dialect| {
            let mut tx = pool.begin().await?;
            for statement in REBUILD_TOTALS {
                sqlx::query(statement).bind(program_id).execute(&mut *tx).await?;
            }
            let earnings = dialect.pick(REBUILD_EARNINGS_SQLITE, REBUILD_EARNINGS_POSTGRES);
            sqlx::query(earnings).bind(program_id).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    async fn refresh_statistics(&self) -> Result<(), StorageError> {
        // PostgreSQL also marks the new pages all-visible, as autovacuum would a while later:
        // until then an index-only scan (top earners) visits the table for every row.
        on_pool!(self, |pool, dialect| sqlx::query(dialect.pick("ANALYZE", "VACUUM (ANALYZE)"))
            .execute(pool)
            .await
            .map(drop)?);
        Ok(())
    }
}

//! Settled histories written in bulk (the scale demo's seeding): many rows per statement, one
//! transaction per batch of customers.

use async_trait::async_trait;

use std::collections::{HashMap, HashSet};

use super::{json_from_db, on_pool, seq_to_db, Dialect, Pool, SqlStorage};
use crate::{
    imports::{Mapping, Mode},
    ledger::Timestamp,
    storage::{
        ImportProgress, ImportRun, ImportStatus, ImportStore, ImportedCustomer, StorageError, StoredRowError,
        MAX_STORED_ERRORS,
    },
};

const RUN: &str = "SELECT import_id, program_id, file_name, content_hash, mode, mapping, status, total_rows,
         rejected_rows, new_customers, done_rows, written, unchanged, failed, errors, created_by, created_at_ms,
         started_at_ms, finished_at_ms
     FROM import_runs WHERE program_id = $1 AND import_id = $2";
const CLAIMED_RUN: &str = "SELECT import_id, program_id, file_name, content_hash, mode, mapping, status, total_rows,
         rejected_rows, new_customers, done_rows, written, unchanged, failed, errors, created_by, created_at_ms,
         started_at_ms, finished_at_ms
     FROM import_runs WHERE import_id = $1";
const RUNS: &str = "SELECT import_id, program_id, file_name, content_hash, mode, mapping, status, total_rows,
         rejected_rows, new_customers, done_rows, written, unchanged, failed, errors, created_by, created_at_ms,
         started_at_ms, finished_at_ms
     FROM import_runs WHERE program_id = $1 ORDER BY created_at_ms DESC, import_id LIMIT $2";
const INSERT_RUN: &str =
    "INSERT INTO import_runs (import_id, program_id, file_name, content_hash, content, mode, mapping,
         status, total_rows, rejected_rows, new_customers, done_rows, written, unchanged, failed, errors, created_by,
         created_at_ms)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'checked', $8, $9, $10, 0, 0, 0, 0, $11, $12, $13)";
const RECHECK_RUN: &str = "UPDATE import_runs SET mode = $1, mapping = $2, total_rows = $3, rejected_rows = $4,
         new_customers = $5, errors = $6
     WHERE import_id = $7 AND status = 'checked'";
const START_RUN: &str = "UPDATE import_runs SET status = 'running', started_at_ms = COALESCE(started_at_ms, $1),
         finished_at_ms = NULL, lease_until_ms = NULL
     WHERE program_id = $2 AND import_id = $3 AND status IN ('checked', 'failed')";
const CLAIM_RUN_SQLITE: &str = "UPDATE import_runs SET lease_until_ms = $1
     WHERE import_id = (SELECT import_id FROM import_runs
         WHERE status = 'running' AND (lease_until_ms IS NULL OR lease_until_ms < $2)
         ORDER BY started_at_ms LIMIT 1)
     RETURNING import_id";
const CLAIM_RUN_POSTGRES: &str = "UPDATE import_runs SET lease_until_ms = $1
     WHERE import_id = (SELECT import_id FROM import_runs
         WHERE status = 'running' AND (lease_until_ms IS NULL OR lease_until_ms < $2)
         ORDER BY started_at_ms LIMIT 1 FOR UPDATE SKIP LOCKED)
     RETURNING import_id";
const RECORD_PROGRESS: &str = "UPDATE import_runs SET done_rows = $1, written = written + $2,
         unchanged = unchanged + $3, failed = failed + $4, errors = $5, lease_until_ms = $6
     WHERE import_id = $7";
const FINISH_RUN: &str =
    "UPDATE import_runs SET status = $1, finished_at_ms = $2, lease_until_ms = NULL WHERE import_id = $3";
const SAVE_LAYOUT: &str = "INSERT INTO import_layouts (program_id, layout_key, mapping, mode, updated_at_ms)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (program_id, layout_key) DO UPDATE SET mapping = excluded.mapping, mode = excluded.mode,
         updated_at_ms = excluded.updated_at_ms";
const LAYOUT: &str = "SELECT mapping, mode FROM import_layouts WHERE program_id = $1 AND layout_key = $2";
/// Lists are bound as one JSON array (SQLite) or one array (PostgreSQL): no SQL is built.
const KNOWN_SQLITE: &str = "SELECT customer_id FROM customers
     WHERE program_id = $1 AND customer_id IN (SELECT value FROM json_each($2))";
const KNOWN_POSTGRES: &str = "SELECT customer_id FROM customers WHERE program_id = $1 AND customer_id = ANY($2)";
const BY_EMAIL_SQLITE: &str = "SELECT LOWER(email), customer_id FROM customers
     WHERE program_id = $1 AND LOWER(email) IN (SELECT value FROM json_each($2)) ORDER BY created_at_ms DESC";
const BY_EMAIL_POSTGRES: &str = "SELECT LOWER(email), customer_id FROM customers
     WHERE program_id = $1 AND LOWER(email) = ANY($2) ORDER BY created_at_ms DESC";

#[derive(sqlx::FromRow)]
struct RunRow {
    import_id: String,
    program_id: String,
    file_name: String,
    content_hash: String,
    mode: String,
    mapping: String,
    status: String,
    total_rows: i64,
    rejected_rows: i64,
    new_customers: i64,
    done_rows: i64,
    written: i64,
    unchanged: i64,
    failed: i64,
    errors: String,
    created_by: Option<String>,
    created_at_ms: i64,
    started_at_ms: Option<i64>,
    finished_at_ms: Option<i64>,
}

impl RunRow {
    fn into_run(self) -> Result<ImportRun, StorageError> {
        let count = |value: i64| u64::try_from(value).unwrap_or(0);
        Ok(ImportRun {
            mode: Mode::parse(&self.mode).ok_or_else(|| StorageError::Corrupt(format!("import mode {}", self.mode)))?,
            mapping: json_from_db("import mapping", &self.mapping)?,
            status: ImportStatus::parse(&self.status)
                .ok_or_else(|| StorageError::Corrupt(format!("import status {}", self.status)))?,
            errors: json_from_db("import errors", &self.errors)?,
            import_id: self.import_id,
            program_id: self.program_id,
            file_name: self.file_name,
            content_hash: self.content_hash,
            total_rows: count(self.total_rows),
            rejected_rows: count(self.rejected_rows),
            new_customers: count(self.new_customers),
            done_rows: count(self.done_rows),
            written: count(self.written),
            unchanged: count(self.unchanged),
            failed: count(self.failed),
            created_by: self.created_by,
            created_at: Timestamp(self.created_at_ms),
            started_at: self.started_at_ms.map(Timestamp),
            finished_at: self.finished_at_ms.map(Timestamp),
        })
    }
}

fn to_db(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn errors_json(errors: &[StoredRowError]) -> String {
    serde_json::to_string(&errors[..errors.len().min(MAX_STORED_ERRORS)]).expect("errors serialise")
}

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

    async fn create_import(&self, run: &ImportRun, content: &str) -> Result<(), StorageError> {
        let mapping = serde_json::to_string(&run.mapping).expect("mappings serialise");
        on_pool!(self, |pool| sqlx::query(INSERT_RUN)
            .bind(&run.import_id)
            .bind(&run.program_id)
            .bind(&run.file_name)
            .bind(&run.content_hash)
            .bind(content)
            .bind(run.mode.as_str())
            .bind(&mapping)
            .bind(to_db(run.total_rows))
            .bind(to_db(run.rejected_rows))
            .bind(to_db(run.new_customers))
            .bind(errors_json(&run.errors))
            .bind(&run.created_by)
            .bind(run.created_at.0)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    async fn recheck_import(&self, run: &ImportRun) -> Result<bool, StorageError> {
        let mapping = serde_json::to_string(&run.mapping).expect("mappings serialise");
        let done = on_pool!(self, |pool| sqlx::query(RECHECK_RUN)
            .bind(run.mode.as_str())
            .bind(&mapping)
            .bind(to_db(run.total_rows))
            .bind(to_db(run.rejected_rows))
            .bind(to_db(run.new_customers))
            .bind(errors_json(&run.errors))
            .bind(&run.import_id)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    async fn import_run(&self, program_id: &str, import_id: &str) -> Result<Option<ImportRun>, StorageError> {
        let row: Option<RunRow> =
            on_pool!(self, |pool| sqlx::query_as(RUN).bind(program_id).bind(import_id).fetch_optional(pool).await?);
        row.map(RunRow::into_run).transpose()
    }

    async fn import_content(&self, import_id: &str) -> Result<Option<String>, StorageError> {
        const SQL: &str = "SELECT content FROM import_runs WHERE import_id = $1";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(SQL).bind(import_id).fetch_optional(pool).await?))
    }

    async fn import_runs(&self, program_id: &str, limit: u32) -> Result<Vec<ImportRun>, StorageError> {
        let rows: Vec<RunRow> =
            on_pool!(self, |pool| sqlx::query_as(RUNS).bind(program_id).bind(i64::from(limit)).fetch_all(pool).await?);
        rows.into_iter().map(RunRow::into_run).collect()
    }

    async fn start_import(&self, program_id: &str, import_id: &str, now: Timestamp) -> Result<bool, StorageError> {
        let done = on_pool!(self, |pool| sqlx::query(START_RUN)
            .bind(now.0)
            .bind(program_id)
            .bind(import_id)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    async fn claim_import(&self, now: Timestamp, until: Timestamp) -> Result<Option<ImportRun>, StorageError> {
        let claimed: Option<String> =
            on_pool!(self, |pool, dialect| sqlx::query_scalar(dialect.pick(CLAIM_RUN_SQLITE, CLAIM_RUN_POSTGRES))
                .bind(until.0)
                .bind(now.0)
                .fetch_optional(pool)
                .await?);
        let Some(import_id) = claimed else { return Ok(None) };
        let row: Option<RunRow> =
            on_pool!(self, |pool| sqlx::query_as(CLAIMED_RUN).bind(&import_id).fetch_optional(pool).await?);
        row.map(RunRow::into_run).transpose()
    }

    async fn record_import_progress(
        &self,
        import_id: &str,
        progress: &ImportProgress,
        until: Timestamp,
    ) -> Result<(), StorageError> {
        // The errors so far and the batch's, kept to the first MAX_STORED_ERRORS.
        const ERRORS: &str = "SELECT errors FROM import_runs WHERE import_id = $1";
        let stored: String = on_pool!(self, |pool| sqlx::query_scalar(ERRORS).bind(import_id).fetch_one(pool).await?);
        let mut errors: Vec<StoredRowError> = json_from_db("import errors", &stored)?;
        errors.extend(progress.errors.iter().take(MAX_STORED_ERRORS.saturating_sub(errors.len())).cloned());
        on_pool!(self, |pool| sqlx::query(RECORD_PROGRESS)
            .bind(to_db(progress.done_rows))
            .bind(to_db(progress.written))
            .bind(to_db(progress.unchanged))
            .bind(to_db(progress.failed))
            .bind(errors_json(&errors))
            .bind(until.0)
            .bind(import_id)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    async fn finish_import_run(
        &self,
        import_id: &str,
        status: ImportStatus,
        now: Timestamp,
    ) -> Result<(), StorageError> {
        on_pool!(self, |pool| sqlx::query(FINISH_RUN)
            .bind(status.as_str())
            .bind(now.0)
            .bind(import_id)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    async fn remember_layout(
        &self,
        program_id: &str,
        layout_key: &str,
        mapping: &Mapping,
        mode: Mode,
        now: Timestamp,
    ) -> Result<(), StorageError> {
        let mapping = serde_json::to_string(mapping).expect("mappings serialise");
        on_pool!(self, |pool| sqlx::query(SAVE_LAYOUT)
            .bind(program_id)
            .bind(layout_key)
            .bind(&mapping)
            .bind(mode.as_str())
            .bind(now.0)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    async fn layout(&self, program_id: &str, layout_key: &str) -> Result<Option<(Mapping, Mode)>, StorageError> {
        let row: Option<(String, String)> = on_pool!(self, |pool| sqlx::query_as(LAYOUT)
            .bind(program_id)
            .bind(layout_key)
            .fetch_optional(pool)
            .await?);
        let Some((mapping, mode)) = row else { return Ok(None) };
        Ok(Some((json_from_db("import layout", &mapping)?, Mode::parse(&mode).unwrap_or_default())))
    }

    async fn known_customers(&self, program_id: &str, ids: &[String]) -> Result<HashSet<String>, StorageError> {
        let rows: Vec<String> = match &self.pool {
            Pool::Sqlite(pool) => {
                let ids = serde_json::to_string(ids).expect("ids serialise");
                sqlx::query_scalar(KNOWN_SQLITE).bind(program_id).bind(ids).fetch_all(pool).await?
            }
            Pool::Postgres(pool) => {
                sqlx::query_scalar(KNOWN_POSTGRES).bind(program_id).bind(ids).fetch_all(pool).await?
            }
        };
        Ok(rows.into_iter().collect())
    }

    async fn customers_by_email(
        &self,
        program_id: &str,
        emails: &[String],
    ) -> Result<HashMap<String, String>, StorageError> {
        let rows: Vec<(String, String)> = match &self.pool {
            Pool::Sqlite(pool) => {
                let emails = serde_json::to_string(emails).expect("emails serialise");
                sqlx::query_as(BY_EMAIL_SQLITE).bind(program_id).bind(emails).fetch_all(pool).await?
            }
            Pool::Postgres(pool) => {
                sqlx::query_as(BY_EMAIL_POSTGRES).bind(program_id).bind(emails).fetch_all(pool).await?
            }
        };
        // Newest first: the oldest customer with an email wins, inserted last.
        Ok(rows.into_iter().collect())
    }
}

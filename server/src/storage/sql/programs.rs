//! Programs and their API keys.

use async_trait::async_trait;

use super::{
    console_users::{commit_audited, commit_if_changed},
    json_from_db, on_pool,
    sealing::Sealed,
    Dialect, Pool, SqlStorage,
};
use crate::{
    console_users::AuditEntry,
    ledger::Timestamp,
    programs::{ApiKeyRecord, Program},
    storage::{ApiKeyInfo, ProgramStore, StorageError},
};

/// A recorded key use is refreshed at most this often, so reads do not all become writes.
const LAST_USED_GRANULARITY_MS: i64 = 60_000;

#[derive(sqlx::FromRow)]
struct ProgramRow {
    id: String,
    name: String,
    currency: String,
    points_name: String,
    publishable_key: String,
    widget_secret: String,
    settings: String,
}

impl SqlStorage {
    async fn origins_of(&self, program_id: &str) -> Result<Vec<String>, StorageError> {
        Ok(on_pool!(self, |pool| sqlx::query_scalar(ORIGINS).bind(program_id).fetch_all(pool).await?))
    }

    async fn to_program(&self, row: ProgramRow) -> Result<Program, StorageError> {
        let allowed_origins = self.origins_of(&row.id).await?;
        let widget_secret = self.open(Sealed::Widget, &row.id, &row.widget_secret)?;
        Ok(Program {
            settings: json_from_db("program settings", &row.settings)?,
            id: row.id,
            name: row.name,
            currency: row.currency,
            points_name: row.points_name,
            publishable_key: row.publishable_key,
            allowed_origins,
            widget_secret,
        })
    }

    async fn program_where(&self, sql: &'static str, value: &str) -> Result<Option<Program>, StorageError> {
        let row: Option<ProgramRow> =
            on_pool!(self, |pool| sqlx::query_as(sql).bind(value).fetch_optional(pool).await?);
        match row {
            Some(row) => Ok(Some(self.to_program(row).await?)),
            None => Ok(None),
        }
    }
}

/// Inserts a program, or updates its names and settings (its keys are written only by the
/// operations that change them, its currency never), and replaces its allowed origins, inside
/// `$tx`. `$sealed_secret` is its widget secret sealed.
macro_rules! save_program {
    ($tx:expr, $program:expr, $now:expr, $sealed_secret:expr) => {{
        const UPSERT: &str = "INSERT INTO programs
                 (id, name, currency, points_name, publishable_key, widget_secret, settings, created_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, points_name = excluded.points_name,
                 settings = excluded.settings";
        let program: &Program = $program;
        let settings = serde_json::to_string(&program.settings).expect("settings serialise");
        sqlx::query(UPSERT)
            .bind(&program.id)
            .bind(&program.name)
            .bind(&program.currency)
            .bind(&program.points_name)
            .bind(&program.publishable_key)
            .bind($sealed_secret)
            .bind(settings)
            .bind($now.0)
            .execute(&mut *$tx)
            .await?;
        replace_origins!($tx, program);
    }};
}

/// Replaces a program's allowed origins, inside `$tx`.
macro_rules! replace_origins {
    ($tx:expr, $program:expr) => {{
        const CLEAR_ORIGINS: &str = "DELETE FROM program_allowed_origins WHERE program_id = $1";
        const ADD_ORIGIN: &str = "INSERT INTO program_allowed_origins (program_id, origin) VALUES ($1, $2)";
        sqlx::query(CLEAR_ORIGINS).bind(&$program.id).execute(&mut *$tx).await?;
        for origin in &$program.allowed_origins {
            sqlx::query(ADD_ORIGIN).bind(&$program.id).bind(origin).execute(&mut *$tx).await?;
        }
    }};
}

const ORIGINS: &str = "SELECT origin FROM program_allowed_origins WHERE program_id = $1 ORDER BY origin";
/// The program's row, locked for a change (SQLite's `BEGIN IMMEDIATE` locks the database).
const LOCK_PROGRAM_SQLITE: &str = "SELECT name, points_name, settings FROM programs WHERE id = $1";
const LOCK_PROGRAM_POSTGRES: &str = "SELECT name, points_name, settings FROM programs WHERE id = $1 FOR UPDATE";
const UPDATE_PROGRAM: &str = "UPDATE programs SET name = $1, points_name = $2, settings = $3 WHERE id = $4";

const INSERT_KEY: &str =
    "INSERT INTO api_keys (id, program_id, key_hash, key_prefix, created_at_ms) VALUES ($1, $2, $3, $4, $5)";

#[async_trait]
impl ProgramStore for SqlStorage {
    fn secret_keys(&self) -> &crate::secrets::SecretKeys {
        &self.keys
    }

    async fn ping(&self) -> Result<(), StorageError> {
        on_pool!(self, |pool| sqlx::query("SELECT 1").execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn list_programs(&self) -> Result<Vec<Program>, StorageError> {
        const SQL: &str = "SELECT id, name, currency, points_name, publishable_key, widget_secret, settings
             FROM programs ORDER BY created_at_ms, id";
        let rows: Vec<ProgramRow> = on_pool!(self, |pool| sqlx::query_as(SQL).fetch_all(pool).await?);
        let mut programs = Vec::with_capacity(rows.len());
        for row in rows {
            programs.push(self.to_program(row).await?);
        }
        Ok(programs)
    }

    async fn program_by_id(&self, id: &str) -> Result<Option<Program>, StorageError> {
        const SQL: &str = "SELECT id, name, currency, points_name, publishable_key, widget_secret, settings
             FROM programs WHERE id = $1";
        self.program_where(SQL, id).await
    }

    async fn program_by_publishable_key(&self, key: &str) -> Result<Option<Program>, StorageError> {
        const SQL: &str = "SELECT id, name, currency, points_name, publishable_key, widget_secret, settings
             FROM programs WHERE publishable_key = $1";
        self.program_where(SQL, key).await
    }

    async fn upsert_program(&self, program: &Program) -> Result<(), StorageError> {
        let now = crate::ledger::Clock::now(&crate::ledger::SystemClock);
        let sealed_secret = self.seal(Sealed::Widget, &program.id, &program.widget_secret);
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            save_program!(tx, program, now, &sealed_secret);
            tx.commit().await?;
        });
        Ok(())
    }

    async fn update_program(
        &self,
        before: &Program,
        after: &Program,
        audit: Option<&AuditEntry>,
    ) -> Result<bool, StorageError> {
        let _one_writer = self.sqlite_turn().await;
        let mut expected_origins = before.allowed_origins.clone();
        expected_origins.sort();
        let settings = serde_json::to_string(&after.settings).expect("settings serialise");
        on_pool!(self, |pool, dialect| {
            let mut tx = pool.begin_with(dialect.pick("BEGIN IMMEDIATE", "BEGIN")).await?;
            let row: Option<(String, String, String)> =
                sqlx::query_as(dialect.pick(LOCK_PROGRAM_SQLITE, LOCK_PROGRAM_POSTGRES))
                    .bind(&before.id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let origins: Vec<String> = sqlx::query_scalar(ORIGINS).bind(&before.id).fetch_all(&mut *tx).await?;
            let unchanged = match &row {
                Some((name, points_name, stored)) => {
                    *name == before.name
                        && *points_name == before.points_name
                        && json_from_db::<crate::programs::ProgramSettings>("program settings", stored)?
                            == before.settings
                        && origins == expected_origins
                }
                None => false,
            };
            if !unchanged {
                tx.rollback().await?;
                return Ok(false);
            }
            sqlx::query(UPDATE_PROGRAM)
                .bind(&after.name)
                .bind(&after.points_name)
                .bind(&settings)
                .bind(&before.id)
                .execute(&mut *tx)
                .await?;
            replace_origins!(tx, after);
            commit_audited!(tx, audit);
        });
        Ok(true)
    }

    async fn create_program(&self, program: &Program, key: &ApiKeyRecord, now: Timestamp) -> Result<(), StorageError> {
        let sealed_secret = self.seal(Sealed::Widget, &program.id, &program.widget_secret);
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            save_program!(tx, program, now, &sealed_secret);
            sqlx::query(INSERT_KEY)
                .bind(&key.id)
                .bind(&program.id)
                .bind(&key.key_hash)
                .bind(&key.key_prefix)
                .bind(now.0)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    async fn rotate_keys(
        &self,
        program_id: &str,
        key: &ApiKeyRecord,
        widget_secret: &str,
        now: Timestamp,
    ) -> Result<bool, StorageError> {
        const SET_SECRET: &str = "UPDATE programs SET widget_secret = $1 WHERE id = $2";
        const REVOKE: &str = "UPDATE api_keys SET revoked_at_ms = $1 WHERE program_id = $2 AND revoked_at_ms IS NULL";
        let sealed_secret = self.seal(Sealed::Widget, program_id, widget_secret);
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(SET_SECRET).bind(&sealed_secret).bind(program_id).execute(&mut *tx).await?;
            if updated.rows_affected() == 0 {
                return Ok(false);
            }
            sqlx::query(REVOKE).bind(now.0).bind(program_id).execute(&mut *tx).await?;
            sqlx::query(INSERT_KEY)
                .bind(&key.id)
                .bind(program_id)
                .bind(&key.key_hash)
                .bind(&key.key_prefix)
                .bind(now.0)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(true)
    }

    async fn add_api_key(
        &self,
        program_id: &str,
        key: &ApiKeyRecord,
        now: Timestamp,
        audit: Option<&AuditEntry>,
    ) -> Result<(), StorageError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(INSERT_KEY)
                .bind(&key.id)
                .bind(program_id)
                .bind(&key.key_hash)
                .bind(&key.key_prefix)
                .bind(now.0)
                .execute(&mut *tx)
                .await?;
            commit_audited!(tx, audit);
        });
        Ok(())
    }

    async fn api_keys(&self, program_id: &str) -> Result<Vec<ApiKeyInfo>, StorageError> {
        const SQL: &str = "SELECT id, key_prefix, created_at_ms, last_used_at_ms, revoked_at_ms FROM api_keys
             WHERE program_id = $1 ORDER BY created_at_ms DESC, id";
        let rows: Vec<(String, String, i64, Option<i64>, Option<i64>)> =
            on_pool!(self, |pool| sqlx::query_as(SQL).bind(program_id).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(id, prefix, created_at, last_used_at, revoked_at)| ApiKeyInfo {
                id,
                prefix,
                created_at: Timestamp(created_at),
                last_used_at: last_used_at.map(Timestamp),
                revoked_at: revoked_at.map(Timestamp),
            })
            .collect())
    }

    async fn revoke_api_key(
        &self,
        program_id: &str,
        key_id: &str,
        now: Timestamp,
        audit: Option<&AuditEntry>,
    ) -> Result<bool, StorageError> {
        const SQL: &str = "UPDATE api_keys SET revoked_at_ms = $1
             WHERE program_id = $2 AND id = $3 AND revoked_at_ms IS NULL";
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let revoked =
                sqlx::query(SQL).bind(now.0).bind(program_id).bind(key_id).execute(&mut *tx).await?.rows_affected();
            commit_if_changed!(tx, revoked, audit);
        });
        Ok(true)
    }

    async fn program_for_api_key(&self, key_hash: &str, now: Timestamp) -> Result<Option<Program>, StorageError> {
        const FIND: &str =
            "SELECT id, program_id, last_used_at_ms FROM api_keys WHERE key_hash = $1 AND revoked_at_ms IS NULL";
        const TOUCH: &str = "UPDATE api_keys SET last_used_at_ms = $1 WHERE id = $2";
        let key: Option<(String, String, Option<i64>)> =
            on_pool!(self, |pool| sqlx::query_as(FIND).bind(key_hash).fetch_optional(pool).await?);
        let Some((key_id, program_id, last_used)) = key else { return Ok(None) };
        if last_used.is_none_or(|at| now.0 - at >= LAST_USED_GRANULARITY_MS) {
            on_pool!(self, |pool| sqlx::query(TOUCH).bind(now.0).bind(&key_id).execute(pool).await.map(drop)?);
        }
        self.program_by_id(&program_id).await
    }
}

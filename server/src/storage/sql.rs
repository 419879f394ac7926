//! The SQL implementation of [`Storage`] for both databases.

use std::{str::FromStr, time::Duration};

use async_trait::async_trait;
use sqlx::{
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    PgPool, SqlitePool,
};

use super::{Storage, StorageError};
use crate::programs::Program;

enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Expands `$body` once per database, with `$pool` bound to that database's concrete pool,
/// so each query is written once yet type-checked against both drivers.
macro_rules! on_pool {
    ($storage:expr, |$pool:ident| $body:expr) => {
        match &$storage.pool {
            Pool::Sqlite($pool) => $body,
            Pool::Postgres($pool) => $body,
        }
    };
}

pub struct SqlStorage {
    pool: Pool,
}

impl SqlStorage {
    pub async fn connect(url: &str) -> Result<Self, StorageError> {
        let pool = if url.starts_with("sqlite:") {
            Pool::Sqlite(connect_sqlite(url).await?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Pool::Postgres(connect_postgres(url).await?)
        } else {
            return Err(StorageError::UnsupportedUrl(url.to_owned()));
        };
        Ok(Self { pool })
    }

    async fn origins_of(&self, program_id: &str) -> Result<Vec<String>, StorageError> {
        const SQL: &str = "SELECT origin FROM program_allowed_origins WHERE program_id = $1 ORDER BY origin";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(SQL).bind(program_id).fetch_all(pool).await?))
    }

    async fn with_origins(&self, row: ProgramRow) -> Result<Program, StorageError> {
        let origins = self.origins_of(&row.id).await?;
        Ok(row.into_program(origins))
    }
}

async fn connect_sqlite(url: &str) -> Result<SqlitePool, StorageError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(StorageError::Connect)?
        .create_if_missing(true)
        // WAL lets reads proceed during a write; FULL sync makes a commit survive power loss.
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    let pool =
        SqlitePoolOptions::new().max_connections(8).connect_with(options).await.map_err(StorageError::Connect)?;
    sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
    Ok(pool)
}

async fn connect_postgres(url: &str) -> Result<PgPool, StorageError> {
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await
        .map_err(StorageError::Connect)?;
    // Replicas starting together take turns: sqlx holds an advisory lock while migrating.
    sqlx::migrate!("./migrations/postgres").run(&pool).await?;
    Ok(pool)
}

fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

/// Columns of `programs`.
#[derive(sqlx::FromRow)]
struct ProgramRow {
    id: String,
    name: String,
    currency: String,
    points_name: String,
    publishable_key: String,
}

impl ProgramRow {
    fn into_program(self, allowed_origins: Vec<String>) -> Program {
        Program {
            id: self.id,
            name: self.name,
            currency: self.currency,
            points_name: self.points_name,
            publishable_key: self.publishable_key,
            allowed_origins,
        }
    }
}

#[async_trait]
impl Storage for SqlStorage {
    async fn ping(&self) -> Result<(), StorageError> {
        on_pool!(self, |pool| sqlx::query("SELECT 1").execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn list_programs(&self) -> Result<Vec<Program>, StorageError> {
        const SQL: &str =
            "SELECT id, name, currency, points_name, publishable_key FROM programs ORDER BY created_at_ms, id";
        let rows: Vec<ProgramRow> = on_pool!(self, |pool| sqlx::query_as(SQL).fetch_all(pool).await?);
        let mut programs = Vec::with_capacity(rows.len());
        for row in rows {
            programs.push(self.with_origins(row).await?);
        }
        Ok(programs)
    }

    async fn program_by_publishable_key(&self, key: &str) -> Result<Option<Program>, StorageError> {
        const SQL: &str =
            "SELECT id, name, currency, points_name, publishable_key FROM programs WHERE publishable_key = $1";
        let row: Option<ProgramRow> = on_pool!(self, |pool| sqlx::query_as(SQL).bind(key).fetch_optional(pool).await?);
        match row {
            Some(row) => Ok(Some(self.with_origins(row).await?)),
            None => Ok(None),
        }
    }

    async fn upsert_program(&self, program: &Program) -> Result<(), StorageError> {
        const UPSERT: &str = "INSERT INTO programs (id, name, currency, points_name, publishable_key, created_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, currency = excluded.currency,
                 points_name = excluded.points_name, publishable_key = excluded.publishable_key";
        const CLEAR_ORIGINS: &str = "DELETE FROM program_allowed_origins WHERE program_id = $1";
        const ADD_ORIGIN: &str = "INSERT INTO program_allowed_origins (program_id, origin) VALUES ($1, $2)";
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(UPSERT)
                .bind(&program.id)
                .bind(&program.name)
                .bind(&program.currency)
                .bind(&program.points_name)
                .bind(&program.publishable_key)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
            sqlx::query(CLEAR_ORIGINS).bind(&program.id).execute(&mut *tx).await?;
            for origin in &program.allowed_origins {
                sqlx::query(ADD_ORIGIN).bind(&program.id).bind(origin).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}

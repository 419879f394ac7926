//! The SQL implementation of [`Storage`] for both databases.

mod admin;
mod customers;
mod import;
mod ledger;
mod programs;
mod referrals;
mod reports;
mod rewards;

use std::{str::FromStr, time::Duration};

use sqlx::{
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    PgPool, SqlitePool,
};

use super::StorageError;

enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Where the two databases' SQL differs (locking), each statement is written out for both.
#[derive(Clone, Copy)]
enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    fn pick(self, sqlite: &'static str, postgres: &'static str) -> &'static str {
        match self {
            Self::Sqlite => sqlite,
            Self::Postgres => postgres,
        }
    }
}

/// Expands `$body` once per database, with `$pool` bound to that database's concrete pool (and
/// `$dialect` to its [`Dialect`]), so each query is written once yet type-checked against both
/// drivers.
macro_rules! on_pool {
    ($storage:expr, |$pool:ident| $body:expr) => {
        on_pool!($storage, |$pool, _dialect| $body)
    };
    ($storage:expr, |$pool:ident, $dialect:ident| $body:expr) => {
        match &$storage.pool {
            Pool::Sqlite($pool) => {
                let $dialect = Dialect::Sqlite;
                $body
            }
            Pool::Postgres($pool) => {
                let $dialect = Dialect::Postgres;
                $body
            }
        }
    };
}
use on_pool;

pub struct SqlStorage {
    pool: Pool,
    /// SQLite runs one write transaction at a time anyway; queueing ledger writes here instead
    /// of in SQLite's busy handler (which sleeps and retries) keeps latency low under load.
    sqlite_writer: tokio::sync::Mutex<()>,
    /// Each program's earnings per day as of a fold (T4), caught up when a custom range's top
    /// earners are asked for.
    day_earnings: tokio::sync::Mutex<std::collections::HashMap<String, crate::ledger::totals::DayEarnings>>,
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
        let storage = Self { pool, sqlite_writer: tokio::sync::Mutex::new(()), day_earnings: Default::default() };
        storage.fill_search_texts().await?;
        Ok(storage)
    }

    /// On SQLite, this server's turn to write (held until dropped); PostgreSQL needs none.
    async fn sqlite_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.pool {
            Pool::Sqlite(_) => Some(self.sqlite_writer.lock().await),
            Pool::Postgres(_) => None,
        }
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

/// Stored sequence numbers are BIGINT; the ledger counts in u64.
fn seq_to_db(seq: u64) -> i64 {
    i64::try_from(seq).expect("fewer than 2^63 entries per customer")
}

fn seq_from_db(seq: i64) -> Result<u64, StorageError> {
    u64::try_from(seq).map_err(|_| StorageError::Corrupt(format!("negative seq {seq}")))
}

fn json_from_db<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, StorageError> {
    serde_json::from_str(text).map_err(|error| StorageError::Corrupt(format!("{what}: {error}")))
}

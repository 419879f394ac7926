//! The SQL implementation of [`Storage`] for both databases.

mod checkout;
mod console_users;
mod customers;
mod day_earnings;
mod emails;
mod import;
mod inbox;
mod ledger;
mod outbox;
mod privacy;
mod programs;
mod referrals;
mod reports;
mod rewards;
mod sealing;

use std::{str::FromStr, time::Duration};

use sqlx::{
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    PgPool, SqlitePool,
};

use super::StorageError;
use crate::secrets::SecretKeys;

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
    day_earnings: day_earnings::DayEarningsCache,
    /// Seals and opens the secrets that must be read back (see [`sealing`]).
    keys: SecretKeys,
}

impl SqlStorage {
    /// With the secret keys of the environment or the SQLite file's key file
    /// ([`SecretKeys::for_database`]).
    pub async fn connect(url: &str) -> Result<Self, StorageError> {
        if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(StorageError::UnsupportedUrl(url.to_owned()));
        }
        let keys = SecretKeys::for_database(url).map_err(StorageError::SecretKey)?;
        Self::connect_with_keys(url, keys).await
    }

    pub async fn connect_with_keys(url: &str, keys: SecretKeys) -> Result<Self, StorageError> {
        let pool = if url.starts_with("sqlite:") {
            Pool::Sqlite(connect_sqlite(url).await?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Pool::Postgres(connect_postgres(url).await?)
        } else {
            return Err(StorageError::UnsupportedUrl(url.to_owned()));
        };
        let storage = Self { pool, sqlite_writer: tokio::sync::Mutex::new(()), day_earnings: Default::default(), keys };
        storage.fill_search_texts().await?;
        storage.reseal_secrets().await?;
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Where SQLite's and PostgreSQL's DDL must differ, as `(SQLite, PostgreSQL)`: a line of
    /// one migration may differ from its twin only by one of these.
    const DIALECT_TOKENS: &[(&str, &str)] = &[
        ("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"),
        ("INTEGER PRIMARY KEY,", "BIGSERIAL PRIMARY KEY,"),
        ("INTEGER NOT NULL", "BIGINT NOT NULL"),
        (") WITHOUT ROWID;", ");"),
    ];

    /// The one expression written per dialect (a UTC month's, quarter's or year's start, in
    /// migration 0012), as each spells it: replaced by a placeholder before lines are compared.
    const DIALECT_EXPRESSIONS: &[(&str, &str)] = &[(
        "CAST(strftime('%s', created_at_ms / 1000, 'unixepoch', 'start of month', '-' || CASE period
               WHEN 'month' THEN 0
               WHEN 'quarter' THEN (CAST(strftime('%m', created_at_ms / 1000, 'unixepoch') AS INTEGER) - 1) % 3
               ELSE CAST(strftime('%m', created_at_ms / 1000, 'unixepoch') AS INTEGER) - 1 END || ' months')
           AS BIGINT)",
        "CAST(EXTRACT(EPOCH FROM date_trunc(period, to_timestamp(created_at_ms / 1000.0) AT TIME ZONE 'UTC'))
               AS BIGINT)",
    )];

    /// A migration's statements, line by line, without comments and blank lines.
    fn statement_lines(text: &str) -> Vec<String> {
        text.lines()
            .map(|line| line.split("--").next().unwrap_or_default().trim_end().to_owned())
            .filter(|line| !line.trim().is_empty())
            .collect()
    }

    #[test]
    fn the_sqlite_and_postgres_migrations_differ_only_in_known_dialect_tokens() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let names = |dialect: &str| {
            let mut names: Vec<String> = std::fs::read_dir(root.join(dialect))
                .unwrap()
                .map(|entry| entry.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            names
        };
        let files = names("sqlite");
        assert_eq!(files, names("postgres"), "the same migrations for both databases");
        assert!(files.len() >= 12);
        for name in files {
            let mut sqlite = std::fs::read_to_string(root.join("sqlite").join(&name)).unwrap();
            let mut postgres = std::fs::read_to_string(root.join("postgres").join(&name)).unwrap();
            for (sqlite_form, postgres_form) in DIALECT_EXPRESSIONS {
                sqlite = sqlite.replace(sqlite_form, "<dialect expression>");
                postgres = postgres.replace(postgres_form, "<dialect expression>");
            }
            let (sqlite, postgres) = (statement_lines(&sqlite), statement_lines(&postgres));
            assert_eq!(sqlite.len(), postgres.len(), "{name}: as many lines in both");
            for (number, (lite, pg)) in sqlite.iter().zip(&postgres).enumerate() {
                let same = lite == pg
                    || DIALECT_TOKENS.iter().any(|(lite_token, pg_token)| lite.replace(lite_token, pg_token) == *pg);
                assert!(same, "{name}, statement line {}: {lite:?} / {pg:?}", number + 1);
            }
        }
    }
}

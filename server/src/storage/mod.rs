//! Storage behind one trait. `SqlStorage` implements it for SQLite (embedded, one file) and
//! PostgreSQL (production, several replicas). Every query binds its parameters; none is built
//! from strings. Queries are written once with `$N` placeholders, which both databases accept.

mod sql;

use std::sync::Arc;

use async_trait::async_trait;

use crate::programs::Program;
pub use sql::SqlStorage;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("unsupported database URL {0:?}: use sqlite://FILE or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    #[error("cannot open the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
}

#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// Succeeds when the database answers a query.
    async fn ping(&self) -> Result<(), StorageError>;
    async fn list_programs(&self) -> Result<Vec<Program>, StorageError>;
    async fn program_by_publishable_key(&self, key: &str) -> Result<Option<Program>, StorageError>;
    /// Creates the program or updates its fields and allowed origins, in one transaction.
    async fn upsert_program(&self, program: &Program) -> Result<(), StorageError>;
}

/// Opens the database named by `url`, creating a SQLite file if needed, and runs migrations.
pub async fn connect(url: &str) -> Result<Arc<dyn Storage>, StorageError> {
    Ok(Arc::new(SqlStorage::connect(url).await?))
}

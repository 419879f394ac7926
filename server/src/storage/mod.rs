//! Storage behind one trait. `SqlStorage` implements it for SQLite (embedded, one file) and
//! PostgreSQL (production, several replicas). Every query binds its parameters; none is built
//! from user input. Queries are written once with `$N` placeholders, which both databases accept.

mod checkout;
mod console_users;
mod customers;
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
mod sql;

use std::sync::Arc;

pub use checkout::{CheckoutState, CheckoutStore, StoreApi, StoreCouponAttempt, StoreCouponRecord, StoreCouponTask};
pub use console_users::{ConsoleUserStore, FirstOwner, UserChange};
pub use customers::{
    CustomerListing, CustomerRecord, CustomerSearch, CustomerSort, CustomerStore, EntryRecord, TierChange,
};
pub use emails::{DueEmail, EmailOutcome, EmailRecord, EmailStatus, EmailStore};
pub use import::{
    ImportProgress, ImportRun, ImportStatus, ImportStore, ImportedCustomer, ImportedEntry, StoredRowError,
    MAX_STORED_ERRORS,
};
pub use inbox::{Arrival, InboxItem, InboxStatus, InboxStore, StoreConnection, TopicStatus};
pub use ledger::{
    CapCheck, ClientId, Effect, FollowUp, LedgerStore, LedgerWrite, ProfilePatch, Refusal, WriteOutcome, WriteResult,
};
pub use outbox::{Attempt, DeliveryRecord, DeliveryStatus, DueDelivery, OutboxStore};
pub use privacy::{Erasure, PrivacyStore, Pruned};
pub use programs::{ApiKeyInfo, ProgramStore};
pub use referrals::{NewReferral, Referral, ReferralOutcome, ReferralStore};
pub use reports::{Flow, HistoryCursor, HistoryFilter, ReportStore, TopEarner};
pub use rewards::{ConsumeOutcome, RewardStore};
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
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("secret key: {0}")]
    SecretKey(String),
    /// Changed by others so often that a change did not get its turn; try again.
    #[error("too many changes at once to {0}")]
    Contended(String),
}

/// Everything Tally stores, as one object: `Arc<dyn Storage>`. Each concern is its own trait,
/// implemented in its own module; bring the one you call into scope.
pub trait Storage:
    ProgramStore
    + CustomerStore
    + LedgerStore
    + ImportStore
    + RewardStore
    + ReferralStore
    + ReportStore
    + ConsoleUserStore
    + OutboxStore
    + InboxStore
    + CheckoutStore
    + PrivacyStore
    + EmailStore
    + 'static
{
}

impl<T> Storage for T where
    T: ProgramStore
        + CustomerStore
        + LedgerStore
        + ImportStore
        + RewardStore
        + ReferralStore
        + ReportStore
        + ConsoleUserStore
        + OutboxStore
        + InboxStore
        + CheckoutStore
        + PrivacyStore
        + EmailStore
        + 'static
{
}

/// Opens the database named by `url`, creating a SQLite file if needed, and runs migrations.
pub async fn connect(url: &str) -> Result<Arc<dyn Storage>, StorageError> {
    Ok(Arc::new(SqlStorage::connect(url).await?))
}

/// As [`connect`], sealing with the given keys (tests, tools that already hold them).
pub async fn connect_with_keys(url: &str, keys: crate::secrets::SecretKeys) -> Result<Arc<dyn Storage>, StorageError> {
    Ok(Arc::new(SqlStorage::connect_with_keys(url, keys).await?))
}

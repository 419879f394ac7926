//! Bulk writes of histories the ledger core computed (seeding a large demo program).

use async_trait::async_trait;

use super::StorageError;
use crate::{
    customers::CustomerProfile,
    ledger::{Account, Timestamp},
};

/// A customer's settled history, computed by the ledger core, to write in bulk.
#[derive(Clone, Debug)]
pub struct ImportedCustomer {
    pub customer_id: String,
    pub profile: CustomerProfile,
    pub created_at: Timestamp,
    pub tier_id: Option<String>,
    /// Oldest first, as the ledger produced them.
    pub entries: Vec<ImportedEntry>,
    /// The account after the last entry: its lots are written as the lots projection.
    pub account: Account,
}

#[derive(Clone, Debug)]
pub struct ImportedEntry {
    pub entry: crate::ledger::NewEntry,
    pub source: String,
    pub created_at: Timestamp,
}

/// Bulk writes of histories that the ledger core computed (seeding a large demo program).
#[async_trait]
pub trait ImportStore: Send + Sync {
    /// Writes new customers with their entries, consumptions and lots in one transaction.
    /// The customers must not exist yet.
    async fn import_history(&self, program_id: &str, customers: &[ImportedCustomer]) -> Result<(), StorageError>;
    /// Recomputes the program's running totals from its ledger, after an import (which leaves
    /// them alone). Writes to the program must not run meanwhile.
    async fn rebuild_totals(&self, program_id: &str) -> Result<(), StorageError>;
    /// Refreshes the query planner's statistics (and, on PostgreSQL, the visibility map) after
    /// a bulk import changed the tables' sizes (autovacuum would, a while later; SQLite keeps
    /// no statistics until asked).
    async fn refresh_statistics(&self) -> Result<(), StorageError>;
}

//! Bulk writes of histories the ledger core computed (seeding a large demo program), and the
//! merchant's CSV imports: their files, mappings, dry-run counts and progress.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StorageError;
use crate::{
    customers::CustomerProfile,
    imports::{Mapping, Mode},
    ledger::{Account, Timestamp},
};

/// Where an import stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    /// Uploaded and checked (the dry run): nothing written yet.
    Checked,
    Running,
    Done,
    /// Stopped by an error of the server's (logged): running it again resumes.
    Failed,
}

impl ImportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Checked => "checked",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Checked, Self::Running, Self::Done, Self::Failed].into_iter().find(|status| status.as_str() == text)
    }
}

/// A row's error as kept with its import: the message's English template and values, so each
/// reader sees it in their language.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRowError {
    pub line: u64,
    pub column: Option<String>,
    pub template: String,
    pub values: Vec<String>,
}

/// One uploaded file and what became of it (the file itself is read apart: it may be large).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportRun {
    pub import_id: String,
    pub program_id: String,
    pub file_name: String,
    /// SHA-256 of the file: each row's idempotency key starts with it.
    pub content_hash: String,
    pub mode: Mode,
    pub mapping: Mapping,
    pub status: ImportStatus,
    /// Rows the dry run found valid (the run writes these) and rejected.
    pub total_rows: u64,
    pub rejected_rows: u64,
    /// Valid rows about customers Tally does not know yet.
    pub new_customers: u64,
    pub done_rows: u64,
    pub written: u64,
    /// Rows that were already imported (the same file again) or changed nothing.
    pub unchanged: u64,
    /// Rows refused when written (e.g. a balance that cannot go that low).
    pub failed: u64,
    /// The dry run's errors and the run's, at most [`MAX_STORED_ERRORS`].
    pub errors: Vec<StoredRowError>,
    pub created_by: Option<String>,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

/// An import keeps this many errors to show (it counts them all).
pub const MAX_STORED_ERRORS: usize = 1_000;

/// What one batch of an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportProgress {
    pub done_rows: u64,
    pub written: u64,
    pub unchanged: u64,
    pub failed: u64,
    pub errors: Vec<StoredRowError>,
}

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

    /// Keeps an uploaded, checked file with its dry run.
    async fn create_import(&self, run: &ImportRun, content: &str) -> Result<(), StorageError>;
    /// Replaces a checked import's mapping, mode and dry run (the merchant changed the mapping).
    async fn recheck_import(&self, run: &ImportRun) -> Result<bool, StorageError>;
    async fn import_run(&self, program_id: &str, import_id: &str) -> Result<Option<ImportRun>, StorageError>;
    async fn import_content(&self, import_id: &str) -> Result<Option<String>, StorageError>;
    /// The program's imports, newest first.
    async fn import_runs(&self, program_id: &str, limit: u32) -> Result<Vec<ImportRun>, StorageError>;
    /// Checked (or failed) → running; false when it was neither.
    async fn start_import(&self, program_id: &str, import_id: &str, now: Timestamp) -> Result<bool, StorageError>;
    /// A running import nobody holds (or whose holder's lease ran out), leased until `until`.
    async fn claim_import(&self, now: Timestamp, until: Timestamp) -> Result<Option<ImportRun>, StorageError>;
    /// Adds a batch's counts and errors, and extends the lease.
    async fn record_import_progress(
        &self,
        import_id: &str,
        progress: &ImportProgress,
        until: Timestamp,
    ) -> Result<(), StorageError>;
    async fn finish_import_run(
        &self,
        import_id: &str,
        status: ImportStatus,
        now: Timestamp,
    ) -> Result<(), StorageError>;
    /// The mapping last chosen for a file layout.
    async fn remember_layout(
        &self,
        program_id: &str,
        layout_key: &str,
        mapping: &Mapping,
        mode: Mode,
        now: Timestamp,
    ) -> Result<(), StorageError>;
    async fn layout(&self, program_id: &str, layout_key: &str) -> Result<Option<(Mapping, Mode)>, StorageError>;
    /// Which of `ids` the program has.
    async fn known_customers(&self, program_id: &str, ids: &[String]) -> Result<HashSet<String>, StorageError>;
    /// The customers with these (lower-case) emails: email → customer id (the first when two
    /// share one).
    async fn customers_by_email(
        &self,
        program_id: &str,
        emails: &[String],
    ) -> Result<HashMap<String, String>, StorageError>;
}

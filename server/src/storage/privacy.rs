//! Erasing a customer's personal data while the ledger's amounts stay, and keeping the records
//! that only serve a while (idempotency answers, sessions, finished deliveries) no longer.

use async_trait::async_trait;

use super::StorageError;
use crate::{console_users::AuditEntry, customers::CustomerId, ledger::Timestamp};

/// A customer erased: the pseudonym their ledger carries now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Erasure {
    pub pseudonym: String,
    pub erased_at: Timestamp,
    /// Erased before (this request changed nothing).
    pub replayed: bool,
}

/// What a retention pass removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub idempotency_keys: u64,
    pub sessions: u64,
    pub store_deliveries: u64,
    pub webhook_deliveries: u64,
    pub events: u64,
    /// Expiry warnings whose moment of expiry has passed.
    pub expiry_warnings: u64,
    /// Emails sent, failed or suppressed before the cutoff (the delivery log's old rows).
    pub emails: u64,
}

#[async_trait]
pub trait PrivacyStore: Send + Sync {
    /// Removes idempotency records, finished store deliveries (their bodies hold shoppers'
    /// orders), finished webhook deliveries and their relayed events from before `cutoff`, and
    /// sessions expired by `now`.
    async fn prune(&self, cutoff: Timestamp, now: Timestamp) -> Result<Pruned, StorageError>;

    /// In one transaction: moves everything stored under `customer` to `pseudonym` (a fresh id)
    /// with the profile's personal fields emptied, rewrites the id where stored payloads,
    /// idempotency answers and audit entries quote it, keeps `subject_hash` (a keyed hash of the
    /// id) to answer a repeat, and commits `audit`. Without such a customer: the erasure of
    /// `subject_hash` recorded before, if any (`replayed`), else `None`.
    async fn erase_customer(
        &self,
        program_id: &str,
        customer: &CustomerId,
        pseudonym: &str,
        subject_hash: &str,
        now: Timestamp,
        audit: Option<&AuditEntry>,
    ) -> Result<Option<Erasure>, StorageError>;
}

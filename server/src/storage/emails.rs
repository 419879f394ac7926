//! Emails to customers as stored: planned by the outbox relay (see `OutboxStore::relay_events`),
//! claimed and recorded by the email worker, listed as the program's delivery log.

use async_trait::async_trait;
use serde::Serialize;

use super::StorageError;
use crate::{ledger::Timestamp, notifications::MessageKind};

/// Where a message stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmailStatus {
    /// Waiting to be due, or for its next attempt.
    Pending,
    Sent,
    /// The SMTP server could not be reached or refused for a while; retries ran out.
    Failed,
    /// The SMTP server refused the address for good (a 5xx answer).
    Bounced,
    /// Not sent, on purpose: unsubscribed, no consent, no address, mail switched off.
    Suppressed,
}

impl EmailStatus {
    pub const ALL: [Self; 5] = [Self::Pending, Self::Sent, Self::Failed, Self::Bounced, Self::Suppressed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Bounced => "bounced",
            Self::Suppressed => "suppressed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

/// A message as the delivery log shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EmailRecord {
    pub id: i64,
    /// The `Message-ID` it was (or will be) sent with.
    pub message_id: String,
    pub customer_id: String,
    pub kind: MessageKind,
    pub status: EmailStatus,
    pub attempts: u32,
    pub created_at: Timestamp,
    /// When it is due (pending), or was last tried.
    pub send_after: Timestamp,
    pub sent_at: Option<Timestamp>,
    pub to_address: Option<String>,
    pub language: Option<String>,
    pub subject: Option<String>,
    /// Why it failed, bounced or was suppressed.
    pub last_error: Option<String>,
    /// The points it tells of (earned in a digest, expiring, the balance that unlocked a reward).
    pub points: i64,
}

/// A due message the worker has leased: until `lease_until` no other worker sends it.
#[derive(Clone, Debug)]
pub struct DueEmail {
    pub id: i64,
    pub message_id: String,
    pub program_id: String,
    pub customer_id: String,
    pub kind: MessageKind,
    pub data: serde_json::Value,
    pub points: i64,
    /// Attempts before this one.
    pub attempts: u32,
    /// When it became due.
    pub due_at: Timestamp,
}

/// What became of one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailOutcome {
    pub status: EmailStatus,
    pub at: Timestamp,
    /// For a pending outcome: the next attempt.
    pub retry_at: Option<Timestamp>,
    pub to_address: Option<String>,
    pub language: Option<String>,
    pub subject: Option<String>,
    pub error: Option<String>,
}

#[async_trait]
pub trait EmailStore: Send + Sync {
    /// Leases up to `limit` due messages (oldest first) until `lease_until`; replicas never
    /// claim the same one while its lease runs.
    async fn claim_emails(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<DueEmail>, StorageError>;
    /// Records a pass's outcomes (and ends their leases) in one transaction.
    async fn record_emails(&self, outcomes: &[(i64, EmailOutcome)]) -> Result<(), StorageError>;
    /// The program's messages, newest first, of one customer when given, before the id
    /// `before` when given.
    async fn emails(
        &self,
        program_id: &str,
        customer_id: Option<&str>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<EmailRecord>, StorageError>;
    /// Records that the customer unsubscribed (the first time counts); `false` if there is no
    /// such customer.
    async fn unsubscribe(&self, program_id: &str, customer_id: &str, now: Timestamp) -> Result<bool, StorageError>;
    /// How many of the program's messages stand at each status (the bench's drain, the
    /// console's summary).
    async fn email_counts(&self, program_id: &str) -> Result<Vec<(EmailStatus, u64)>, StorageError>;
    /// When the customer unsubscribed, if they did.
    async fn unsubscribed_at(&self, program_id: &str, customer_id: &str) -> Result<Option<Timestamp>, StorageError>;
}

//! Store connections and their inbox: each platform delivery is stored durably when it
//! arrives (answered 200 right after), then applied by the inbox worker, once, in order per
//! subject (an order, a customer).

use async_trait::async_trait;

use super::StorageError;
use crate::{console_users::AuditEntry, ledger::Timestamp};

/// A store that reports to a program by its own webhooks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreConnection {
    /// `con_...`: part of the webhook URL the store posts to.
    pub id: String,
    pub program_id: String,
    /// `woocommerce` or `shopify`.
    pub platform: String,
    /// Signs the store's deliveries (HMAC-SHA256): pasted into the store's webhook settings.
    pub secret: String,
    pub created_at: Timestamp,
    /// The store's own API, when the merchant gave it: coupons are then created there too.
    pub api: Option<super::StoreApi>,
}

/// A delivery as it arrived.
#[derive(Clone, Debug)]
pub struct Arrival {
    pub connection_id: String,
    /// Deduplicates: the platform's delivery id, or a hash of topic and body.
    pub delivery_key: String,
    pub topic: String,
    /// What the delivery is about (`order:727`): one subject's deliveries apply in order.
    pub subject: String,
    pub body: String,
    /// `ignored` (a topic Tally does not act on, kept for the counts) or `pending`.
    pub ignored: bool,
    pub received_at: Timestamp,
}

/// A delivery the inbox worker has claimed (leased until it reports back).
#[derive(Clone, Debug)]
pub struct InboxItem {
    pub id: i64,
    pub connection: StoreConnection,
    pub topic: String,
    pub body: String,
    pub attempts: u32,
}

/// What applying a delivery came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InboxStatus {
    Pending,
    /// Applied (or nothing to apply: a stale update, a guest order); the outcome says which.
    Done,
    Ignored,
    /// Could not be applied after its retries, or cannot ever be (a malformed payload).
    Failed,
}

impl InboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Done => "done",
            Self::Ignored => "ignored",
            Self::Failed => "failed",
        }
    }
}

/// One topic's deliveries to a connection, for the "last delivery" column.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TopicStatus {
    pub topic: String,
    pub deliveries: u64,
    pub ignored: u64,
    pub failed: u64,
    pub last_received_at: Timestamp,
    /// The newest delivery's state and what it did.
    pub last_status: String,
    pub last_outcome: Option<String>,
}

#[async_trait]
pub trait InboxStore: Send + Sync {
    async fn create_connection(
        &self,
        connection: &StoreConnection,
        audit: Option<&AuditEntry>,
    ) -> Result<(), StorageError>;
    async fn connections(&self, program_id: &str) -> Result<Vec<StoreConnection>, StorageError>;
    /// By id alone: how an arriving delivery finds its program.
    async fn connection(&self, connection_id: &str) -> Result<Option<StoreConnection>, StorageError>;
    /// Replaces the secret that verifies the store's deliveries (Shopify shows its own signing
    /// key); `false` if the program has no such connection.
    async fn set_connection_secret(
        &self,
        program_id: &str,
        connection_id: &str,
        secret: &str,
        audit: Option<&AuditEntry>,
    ) -> Result<bool, StorageError>;
    /// Removes the connection with its inbox; `false` if there was none in the program.
    async fn delete_connection(
        &self,
        program_id: &str,
        connection_id: &str,
        audit: Option<&AuditEntry>,
    ) -> Result<bool, StorageError>;
    /// Stores a delivery; `false` when the same one was stored before (nothing changes).
    async fn receive(&self, arrival: &Arrival) -> Result<bool, StorageError>;
    /// Claims up to `limit` due pending deliveries, each the oldest pending one of its subject.
    async fn claim_inbox(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<InboxItem>, StorageError>;
    /// Records what applying a claimed delivery came to; `retry_at` for a pending one.
    async fn finish_inbox(
        &self,
        id: i64,
        status: InboxStatus,
        outcome: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<(), StorageError>;
    /// The newest platform time of an order applied so far: older updates are stale.
    async fn platform_order_seen(&self, connection_id: &str, order_id: &str)
        -> Result<Option<Timestamp>, StorageError>;
    /// Keeps the newer of the stored time and `modified_at`.
    async fn remember_platform_order(
        &self,
        connection_id: &str,
        order_id: &str,
        modified_at: Timestamp,
    ) -> Result<(), StorageError>;
    async fn topic_statuses(&self, connection_id: &str) -> Result<Vec<TopicStatus>, StorageError>;
    /// Deliveries of every store still waiting to be applied (for health checks and the bench).
    async fn pending_inbox(&self) -> Result<u64, StorageError>;
}

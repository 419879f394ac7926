//! The transactional outbox and the webhook endpoints it feeds. Events are appended by the
//! writes that cause them (in their transaction); the relay turns each into one delivery per
//! endpoint that wants it; the delivery worker claims due deliveries and records each attempt.

use async_trait::async_trait;

use super::StorageError;
use crate::{
    connections::{events::OutboxEvent, webhooks::WebhookEndpoint},
    console_users::AuditEntry,
    ledger::Timestamp,
};

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (or being attempted now).
    Pending,
    Delivered,
    /// Gave up after its last retry; an admin can send it again.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed].into_iter().find(|status| status.as_str() == text)
    }
}

/// One event for one endpoint, as the console and the API list it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct DeliveryRecord {
    pub id: i64,
    pub event_id: String,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub created_at: Timestamp,
    pub next_attempt_at: Option<Timestamp>,
    pub last_attempt_at: Option<Timestamp>,
    /// The receiver's HTTP status of the last attempt, if it answered.
    pub response_status: Option<u16>,
    /// Why the last attempt failed (a timeout, a refused connection, a status).
    pub last_error: Option<String>,
    pub latency_ms: Option<i64>,
    pub delivered_at: Option<Timestamp>,
}

/// A delivery the worker has claimed: leased until `lease_until`, then anyone may claim it
/// again (a worker that died mid-send loses nothing).
#[derive(Clone, Debug)]
pub struct DueDelivery {
    pub id: i64,
    /// Attempts before this one.
    pub attempts: u32,
    pub endpoint: WebhookEndpoint,
    pub event_id: String,
    pub created_at: Timestamp,
    pub payload: String,
}

/// What one attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub at: Timestamp,
    pub response_status: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: i64,
    /// `None` when the attempt succeeded or the delivery gives up.
    pub retry_at: Option<Timestamp>,
    pub delivered: bool,
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Appends a test event, relayed to `endpoint_id` only (events of writes are appended in
    /// the writes' transactions).
    async fn append_test_event(&self, event: &OutboxEvent, endpoint_id: &str) -> Result<(), StorageError>;
    /// Queues up to `limit` events not relayed yet as deliveries to the endpoints that want
    /// them (a test event to the endpoint it names), and marks them relayed; how many were.
    async fn relay_events(&self, now: Timestamp, limit: u32) -> Result<usize, StorageError>;
    /// Events not relayed yet plus deliveries still pending: the outbox's backlog (for the
    /// bench, which measures webhook latency on an idle outbox).
    async fn outbox_backlog(&self) -> Result<u64, StorageError>;
    /// Claims up to `limit` due deliveries (the oldest first, and of each customer's pending
    /// deliveries to one endpoint only the oldest, so they arrive in order), leased until
    /// `lease_until`. Replicas never claim the same one while its lease runs.
    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, StorageError>;
    /// Records a pass's attempts in one transaction; a delivery that gave up marks its endpoint
    /// failing, a success clears the mark.
    async fn record_attempts(&self, attempts: &[(i64, Attempt)]) -> Result<(), StorageError>;
    async fn create_endpoint(&self, endpoint: &WebhookEndpoint, audit: Option<&AuditEntry>)
        -> Result<(), StorageError>;
    async fn endpoints(&self, program_id: &str) -> Result<Vec<WebhookEndpoint>, StorageError>;
    /// The program's endpoints whose deliveries gave up after their last retry (URL, since
    /// when), oldest first: what every console page warns about. Secrets are not opened.
    async fn failing_endpoints(&self, program_id: &str) -> Result<Vec<(String, Timestamp)>, StorageError>;
    async fn endpoint(&self, program_id: &str, endpoint_id: &str) -> Result<Option<WebhookEndpoint>, StorageError>;
    /// Saves URL, description, types, secrets and the disabled flag; `false` if there is no such endpoint.
    async fn update_endpoint(
        &self,
        endpoint: &WebhookEndpoint,
        audit: Option<&AuditEntry>,
    ) -> Result<bool, StorageError>;
    /// Removes the endpoint with its deliveries; `false` if there was none.
    async fn delete_endpoint(
        &self,
        program_id: &str,
        endpoint_id: &str,
        audit: Option<&AuditEntry>,
    ) -> Result<bool, StorageError>;
    /// Newest first, at most `limit`, before the delivery id `before` when given.
    async fn deliveries(
        &self,
        program_id: &str,
        endpoint_id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StorageError>;
    /// Sends failed deliveries again from now: the one named, or all of the endpoint's
    /// failed ones. How many were queued.
    async fn resend_deliveries(
        &self,
        program_id: &str,
        endpoint_id: &str,
        delivery_id: Option<i64>,
        now: Timestamp,
    ) -> Result<u64, StorageError>;
}

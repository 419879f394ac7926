//! The outbox, its relay to webhook deliveries, and the endpoints.

use std::collections::HashMap;

use async_trait::async_trait;

use super::{
    console_users::{commit_audited, commit_if_changed},
    emails::plan_emails,
    json_from_db, on_pool,
    sealing::Sealed,
    Dialect, Pool, SqlStorage,
};
use crate::{
    connections::{
        events::{EventType, OutboxEvent},
        webhooks::WebhookEndpoint,
    },
    console_users::AuditEntry,
    ledger::Timestamp,
    storage::{Attempt, DeliveryRecord, DeliveryStatus, DueDelivery, OutboxStore, StorageError},
};

/// Appends `$events` (a slice of [`OutboxEvent`]) through `$conn`, in one statement: the
/// transaction of the write that caused them.
macro_rules! insert_events {
    ($db:ty, $conn:expr, $events:expr) => {{
        let events: &[crate::connections::events::OutboxEvent] = $events;
        if !events.is_empty() {
            let mut insert = sqlx::QueryBuilder::<$db>::new(
                "INSERT INTO outbox_events (event_id, program_id, customer_id, event_type, payload, created_at_ms) ",
            );
            insert.push_values(events, |mut row, event| {
                row.push_bind(&event.event_id)
                    .push_bind(&event.program_id)
                    .push_bind(&event.customer_id)
                    .push_bind(event.event_type.as_str())
                    .push_bind(event.payload())
                    .push_bind(event.created_at.0);
            });
            insert.build().execute($conn).await?;
        }
    }};
}
pub(super) use insert_events;

const INSERT_TEST_EVENT: &str = "INSERT INTO outbox_events
         (event_id, program_id, customer_id, event_type, payload, created_at_ms, endpoint_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
/// The payload comes along: coupon creation and email planning read it.
const WAITING_SQLITE: &str =
    "SELECT id, event_id, program_id, customer_id, event_type, created_at_ms, endpoint_id, payload
     FROM outbox_events WHERE relayed_at_ms IS NULL ORDER BY id LIMIT $1";
/// Replicas relaying at once take different events.
const WAITING_POSTGRES: &str =
    "SELECT id, event_id, program_id, customer_id, event_type, created_at_ms, endpoint_id, payload
     FROM outbox_events WHERE relayed_at_ms IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED";
const ENDPOINTS_OF: &str = "SELECT id, program_id, url, description, event_types, secret, previous_secret,
         previous_until_ms, created_at_ms, disabled, failing_since_ms
     FROM webhook_endpoints WHERE program_id = $1 ORDER BY created_at_ms, id";
const ENDPOINT: &str = "SELECT id, program_id, url, description, event_types, secret, previous_secret,
         previous_until_ms, created_at_ms, disabled, failing_since_ms
     FROM webhook_endpoints WHERE program_id = $1 AND id = $2";
const ENDPOINT_BY_ID: &str = "SELECT id, program_id, url, description, event_types, secret, previous_secret,
         previous_until_ms, created_at_ms, disabled, failing_since_ms
     FROM webhook_endpoints WHERE id = $1";

/// The code of the coupon a `reward.redeemed` event carries.
fn redeemed_coupon_code(payload: &str) -> Result<String, StorageError> {
    let event: serde_json::Value = json_from_db("outbox event", payload)?;
    event["data"]["coupon"]["code"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| StorageError::Corrupt("a reward.redeemed event without its coupon code".into()))
}

const QUEUE_DELIVERY: &str = "INSERT INTO webhook_deliveries
         (endpoint_id, event_id, customer_id, status, attempts, next_attempt_at_ms, created_at_ms)
     VALUES ($1, $2, $3, 'pending', 0, $4, $5) ON CONFLICT (endpoint_id, event_id) DO NOTHING";
/// The oldest due deliveries, each the oldest pending one of its customer for its endpoint.
const CLAIM_SQLITE: &str = "UPDATE webhook_deliveries SET next_attempt_at_ms = $1
     WHERE id IN (SELECT d.id FROM webhook_deliveries d
         WHERE d.status = 'pending' AND d.next_attempt_at_ms <= $2
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.endpoint_id = d.endpoint_id
               AND e.customer_id = d.customer_id AND e.status = 'pending' AND e.id < d.id)
         ORDER BY d.next_attempt_at_ms, d.id LIMIT $3)
     RETURNING id, attempts, endpoint_id, event_id, created_at_ms";
const CLAIM_POSTGRES: &str = "UPDATE webhook_deliveries SET next_attempt_at_ms = $1
     WHERE id IN (SELECT d.id FROM webhook_deliveries d
         WHERE d.status = 'pending' AND d.next_attempt_at_ms <= $2
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.endpoint_id = d.endpoint_id
               AND e.customer_id = d.customer_id AND e.status = 'pending' AND e.id < d.id)
         ORDER BY d.next_attempt_at_ms, d.id LIMIT $3 FOR UPDATE SKIP LOCKED)
     RETURNING id, attempts, endpoint_id, event_id, created_at_ms";
const RECORD_ATTEMPT: &str = "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1,
         next_attempt_at_ms = $2, last_attempt_at_ms = $3, response_status = $4, last_error = $5, latency_ms = $6,
         delivered_at_ms = $7
     WHERE id = $8";
const FAILING_ENDPOINTS: &str = "SELECT url, failing_since_ms FROM webhook_endpoints
     WHERE program_id = $1 AND failing_since_ms IS NOT NULL AND NOT disabled ORDER BY failing_since_ms, id";
const ENDPOINT_RECOVERED: &str = "UPDATE webhook_endpoints SET failing_since_ms = NULL
     WHERE id = (SELECT endpoint_id FROM webhook_deliveries WHERE id = $1)";
const ENDPOINT_FAILING: &str = "UPDATE webhook_endpoints SET failing_since_ms = COALESCE(failing_since_ms, $1)
     WHERE id = (SELECT endpoint_id FROM webhook_deliveries WHERE id = $2)";
const INSERT_ENDPOINT: &str = "INSERT INTO webhook_endpoints
         (id, program_id, url, description, event_types, secret, previous_secret, previous_until_ms, created_at_ms,
          disabled, failing_since_ms)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
const UPDATE_ENDPOINT: &str = "UPDATE webhook_endpoints SET url = $1, description = $2, event_types = $3,
         secret = $4, previous_secret = $5, previous_until_ms = $6, disabled = $7
     WHERE program_id = $8 AND id = $9";
const DELETE_DELIVERIES: &str = "DELETE FROM webhook_deliveries
     WHERE endpoint_id = (SELECT id FROM webhook_endpoints WHERE program_id = $1 AND id = $2)";
const DELETE_ENDPOINT: &str = "DELETE FROM webhook_endpoints WHERE program_id = $1 AND id = $2";
const DELIVERIES: &str = "SELECT d.id, d.event_id, o.event_type, d.status, d.attempts, d.created_at_ms,
         d.next_attempt_at_ms, d.last_attempt_at_ms, d.response_status, d.last_error, d.latency_ms, d.delivered_at_ms
     FROM webhook_deliveries d
     JOIN webhook_endpoints w ON w.id = d.endpoint_id
     JOIN outbox_events o ON o.event_id = d.event_id
     WHERE w.program_id = $1 AND d.endpoint_id = $2 AND d.id < $3
     ORDER BY d.id DESC LIMIT $4";
const RESEND: &str = "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at_ms = $1
     WHERE status = 'failed' AND ($2 IS NULL OR id = $2)
       AND endpoint_id = (SELECT id FROM webhook_endpoints WHERE program_id = $3 AND id = $4)";

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: String,
    program_id: String,
    url: String,
    description: String,
    event_types: String,
    secret: String,
    previous_secret: Option<String>,
    previous_until_ms: Option<i64>,
    created_at_ms: i64,
    disabled: bool,
    failing_since_ms: Option<i64>,
}

impl EndpointRow {
    fn into_endpoint(self, storage: &SqlStorage) -> Result<WebhookEndpoint, StorageError> {
        let secret = storage.open(Sealed::Webhook, &self.id, &self.secret)?;
        let previous_secret = self
            .previous_secret
            .map(|previous| storage.open(Sealed::WebhookPrevious, &self.id, &previous))
            .transpose()?;
        let names: Vec<String> = json_from_db("endpoint event types", &self.event_types)?;
        let event_types = names
            .iter()
            .map(|name| EventType::parse(name).ok_or_else(|| StorageError::Corrupt(format!("event type {name:?}"))))
            .collect::<Result<_, _>>()?;
        Ok(WebhookEndpoint {
            id: self.id,
            program_id: self.program_id,
            url: self.url,
            description: self.description,
            event_types,
            secret,
            previous_secret: previous_secret.zip(self.previous_until_ms.map(Timestamp)),
            created_at: Timestamp(self.created_at_ms),
            disabled: self.disabled,
            failing_since: self.failing_since_ms.map(Timestamp),
        })
    }
}

impl SqlStorage {
    /// An endpoint's secret and previous secret sealed, and until when the previous one signs.
    fn sealed_secrets(&self, endpoint: &WebhookEndpoint) -> (String, Option<String>, Option<Timestamp>) {
        let (previous, until) = endpoint.previous_secret.clone().unzip();
        let previous = previous.map(|previous| self.seal(Sealed::WebhookPrevious, &endpoint.id, &previous));
        (self.seal(Sealed::Webhook, &endpoint.id, &endpoint.secret), previous, until)
    }
}

fn event_types_json(endpoint: &WebhookEndpoint) -> String {
    serde_json::to_string(&endpoint.event_types).expect("event types serialise")
}

type WaitingRow = (i64, String, String, Option<String>, String, i64, Option<String>, String);
type DeliveryRow =
    (i64, String, String, String, i64, i64, i64, Option<i64>, Option<i64>, Option<String>, Option<i64>, Option<i64>);

fn delivery_record(row: DeliveryRow) -> Result<DeliveryRecord, StorageError> {
    let (id, event_id, event_type, status, attempts, created, next, last, response, error, latency, delivered) = row;
    let status = DeliveryStatus::parse(&status).ok_or_else(|| StorageError::Corrupt(format!("delivery {status:?}")))?;
    Ok(DeliveryRecord {
        id,
        event_id,
        event_type,
        status,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        created_at: Timestamp(created),
        next_attempt_at: (status == DeliveryStatus::Pending).then_some(Timestamp(next)),
        last_attempt_at: last.map(Timestamp),
        response_status: response.and_then(|status| u16::try_from(status).ok()),
        last_error: error,
        latency_ms: latency,
        delivered_at: delivered.map(Timestamp),
    })
}

#[async_trait]
impl OutboxStore for SqlStorage {
    async fn append_test_event(&self, event: &OutboxEvent, endpoint_id: &str) -> Result<(), StorageError> {
        let _one_writer = self.sqlite_turn().await;
        on_pool!(self, |pool| sqlx::query(INSERT_TEST_EVENT)
            .bind(&event.event_id)
            .bind(&event.program_id)
            .bind(&event.customer_id)
            .bind(event.event_type.as_str())
            .bind(event.payload())
            .bind(event.created_at.0)
            .bind(endpoint_id)
            .execute(pool)
            .await
            .map(drop)?);
        Ok(())
    }

    async fn relay_events(&self, now: Timestamp, limit: u32) -> Result<usize, StorageError> {
        let _one_writer = self.sqlite_turn().await;
        on_pool!(self, |pool, dialect| {
            let mut tx = pool.begin_with(dialect.pick("BEGIN IMMEDIATE", "BEGIN")).await?;
            let waiting: Vec<WaitingRow> = sqlx::query_as(dialect.pick(WAITING_SQLITE, WAITING_POSTGRES))
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
            let mut endpoints: HashMap<String, Vec<WebhookEndpoint>> = HashMap::new();
            // Whether the program has a store to create its coupons in (checkout-native coupons).
            let mut store_apis: HashMap<String, bool> = HashMap::new();
            // What each program's emails are planned from (`None`: it sends none).
            let mut email_programs = HashMap::new();
            for (_, event_id, program_id, customer_id, event_type, created_at, test_endpoint, payload) in &waiting {
                if !endpoints.contains_key(program_id) {
                    let rows: Vec<EndpointRow> =
                        sqlx::query_as(ENDPOINTS_OF).bind(program_id).fetch_all(&mut *tx).await?;
                    let found = rows.into_iter().map(|row| row.into_endpoint(self)).collect::<Result<_, _>>()?;
                    endpoints.insert(program_id.clone(), found);
                }
                let event_type = EventType::parse(event_type);
                if test_endpoint.is_none() && event_type == Some(EventType::RewardRedeemed) {
                    if !store_apis.contains_key(program_id) {
                        let count: i64 = sqlx::query_scalar(super::checkout::STORE_APIS_OF)
                            .bind(program_id)
                            .fetch_one(&mut *tx)
                            .await?;
                        store_apis.insert(program_id.clone(), count > 0);
                    }
                    if store_apis[program_id] {
                        let code = redeemed_coupon_code(payload)?;
                        sqlx::query(super::checkout::QUEUE_STORE_COUPONS)
                            .bind(program_id)
                            .bind(&code)
                            .bind(event_id)
                            .bind(now.0.max(*created_at))
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                if let (None, Some(kind), Some(customer_id)) = (test_endpoint, event_type, customer_id) {
                    plan_emails!(
                        tx,
                        email_programs,
                        now,
                        event_id,
                        program_id,
                        customer_id,
                        kind,
                        *created_at,
                        payload
                    );
                }
                for endpoint in &endpoints[program_id] {
                    let wanted = match test_endpoint {
                        Some(target) => *target == endpoint.id,
                        None => event_type.is_some_and(|kind| endpoint.wants(kind)),
                    };
                    if wanted {
                        sqlx::query(QUEUE_DELIVERY)
                            .bind(&endpoint.id)
                            .bind(event_id)
                            .bind(customer_id)
                            .bind(now.0.max(*created_at))
                            .bind(*created_at)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
            }
            if !waiting.is_empty() {
                // One statement for the batch: the ids this relay holds (others' are locked).
                let mut mark = sqlx::QueryBuilder::new("UPDATE outbox_events SET relayed_at_ms = ");
                mark.push_bind(now.0).push(" WHERE id IN (");
                let mut ids = mark.separated(", ");
                for (id, ..) in &waiting {
                    ids.push_bind(*id);
                }
                mark.push(")");
                mark.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(waiting.len())
        })
    }

    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, StorageError> {
        let claimed: Vec<(i64, i64, String, String, i64)> = {
            let _one_writer = self.sqlite_turn().await;
            on_pool!(self, |pool, dialect| sqlx::query_as(dialect.pick(CLAIM_SQLITE, CLAIM_POSTGRES))
                .bind(lease_until.0)
                .bind(now.0)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?)
        };
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        // The claimed events' bodies in one query.
        let mut payloads: HashMap<String, String> = on_pool!(self, |pool| {
            let mut select = sqlx::QueryBuilder::new("SELECT event_id, payload FROM outbox_events WHERE event_id IN (");
            let mut ids = select.separated(", ");
            for (_, _, _, event_id, _) in &claimed {
                ids.push_bind(event_id);
            }
            select.push(")");
            let rows: Vec<(String, String)> = select.build_query_as().fetch_all(pool).await?;
            rows.into_iter().collect()
        });
        let mut endpoints: HashMap<String, WebhookEndpoint> = HashMap::new();
        let mut due = Vec::with_capacity(claimed.len());
        for (id, attempts, endpoint_id, event_id, created_at) in claimed {
            if !endpoints.contains_key(&endpoint_id) {
                let row: Option<EndpointRow> = on_pool!(self, |pool| sqlx::query_as(ENDPOINT_BY_ID)
                    .bind(&endpoint_id)
                    .fetch_optional(pool)
                    .await?);
                // Deleted meanwhile: its deliveries went with it.
                let Some(row) = row else { continue };
                endpoints.insert(endpoint_id.clone(), row.into_endpoint(self)?);
            }
            let payload = payloads
                .remove(&event_id)
                .ok_or_else(|| StorageError::Corrupt(format!("no outbox event {event_id}")))?;
            due.push(DueDelivery {
                id,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                endpoint: endpoints[&endpoint_id].clone(),
                event_id,
                created_at: Timestamp(created_at),
                payload,
            });
        }
        Ok(due)
    }

    async fn record_attempts(&self, attempts: &[(i64, Attempt)]) -> Result<(), StorageError> {
        if attempts.is_empty() {
            return Ok(());
        }
        let _one_writer = self.sqlite_turn().await;
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            for (delivery_id, attempt) in attempts {
                let delivery_id = *delivery_id;
                let status = match (attempt.delivered, attempt.retry_at) {
                    (true, _) => DeliveryStatus::Delivered,
                    (false, Some(_)) => DeliveryStatus::Pending,
                    (false, None) => DeliveryStatus::Failed,
                };
                sqlx::query(RECORD_ATTEMPT)
                    .bind(status.as_str())
                    .bind(attempt.retry_at.unwrap_or(attempt.at).0)
                    .bind(attempt.at.0)
                    .bind(attempt.response_status.map(i64::from))
                    .bind(&attempt.error)
                    .bind(attempt.latency_ms)
                    .bind(attempt.delivered.then_some(attempt.at.0))
                    .bind(delivery_id)
                    .execute(&mut *tx)
                    .await?;
                match status {
                    DeliveryStatus::Delivered => {
                        sqlx::query(ENDPOINT_RECOVERED).bind(delivery_id).execute(&mut *tx).await?;
                    }
                    DeliveryStatus::Failed => {
                        sqlx::query(ENDPOINT_FAILING).bind(attempt.at.0).bind(delivery_id).execute(&mut *tx).await?;
                    }
                    DeliveryStatus::Pending => {}
                }
            }
            tx.commit().await?;
        });
        Ok(())
    }

    async fn create_endpoint(
        &self,
        endpoint: &WebhookEndpoint,
        audit: Option<&AuditEntry>,
    ) -> Result<(), StorageError> {
        let (secret, previous, until) = self.sealed_secrets(endpoint);
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(INSERT_ENDPOINT)
                .bind(&endpoint.id)
                .bind(&endpoint.program_id)
                .bind(&endpoint.url)
                .bind(&endpoint.description)
                .bind(event_types_json(endpoint))
                .bind(&secret)
                .bind(&previous)
                .bind(until.map(|at| at.0))
                .bind(endpoint.created_at.0)
                .bind(endpoint.disabled)
                .bind(endpoint.failing_since.map(|at| at.0))
                .execute(&mut *tx)
                .await?;
            commit_audited!(tx, audit);
        });
        Ok(())
    }

    async fn endpoints(&self, program_id: &str) -> Result<Vec<WebhookEndpoint>, StorageError> {
        let rows: Vec<EndpointRow> =
            on_pool!(self, |pool| sqlx::query_as(ENDPOINTS_OF).bind(program_id).fetch_all(pool).await?);
        rows.into_iter().map(|row| row.into_endpoint(self)).collect()
    }

    async fn outbox_backlog(&self) -> Result<u64, StorageError> {
        const SQL: &str = "SELECT (SELECT COUNT(*) FROM outbox_events WHERE relayed_at_ms IS NULL)
             + (SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending')";
        let backlog: i64 = on_pool!(self, |pool| sqlx::query_scalar(SQL).fetch_one(pool).await?);
        Ok(u64::try_from(backlog).unwrap_or(0))
    }

    async fn failing_endpoints(&self, program_id: &str) -> Result<Vec<(String, Timestamp)>, StorageError> {
        let rows: Vec<(String, i64)> =
            on_pool!(self, |pool| sqlx::query_as(FAILING_ENDPOINTS).bind(program_id).fetch_all(pool).await?);
        Ok(rows.into_iter().map(|(url, since)| (url, Timestamp(since))).collect())
    }

    async fn endpoint(&self, program_id: &str, endpoint_id: &str) -> Result<Option<WebhookEndpoint>, StorageError> {
        let row: Option<EndpointRow> = on_pool!(self, |pool| sqlx::query_as(ENDPOINT)
            .bind(program_id)
            .bind(endpoint_id)
            .fetch_optional(pool)
            .await?);
        row.map(|row| row.into_endpoint(self)).transpose()
    }

    async fn update_endpoint(
        &self,
        endpoint: &WebhookEndpoint,
        audit: Option<&AuditEntry>,
    ) -> Result<bool, StorageError> {
        let (secret, previous, until) = self.sealed_secrets(endpoint);
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(UPDATE_ENDPOINT)
                .bind(&endpoint.url)
                .bind(&endpoint.description)
                .bind(event_types_json(endpoint))
                .bind(&secret)
                .bind(&previous)
                .bind(until.map(|at| at.0))
                .bind(endpoint.disabled)
                .bind(&endpoint.program_id)
                .bind(&endpoint.id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            commit_if_changed!(tx, updated, audit);
        });
        Ok(true)
    }

    async fn delete_endpoint(
        &self,
        program_id: &str,
        endpoint_id: &str,
        audit: Option<&AuditEntry>,
    ) -> Result<bool, StorageError> {
        let _one_writer = self.sqlite_turn().await;
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(DELETE_DELIVERIES).bind(program_id).bind(endpoint_id).execute(&mut *tx).await?;
            let deleted = sqlx::query(DELETE_ENDPOINT)
                .bind(program_id)
                .bind(endpoint_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            commit_if_changed!(tx, deleted, audit);
        });
        Ok(true)
    }

    async fn deliveries(
        &self,
        program_id: &str,
        endpoint_id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StorageError> {
        let rows: Vec<DeliveryRow> = on_pool!(self, |pool| sqlx::query_as(DELIVERIES)
            .bind(program_id)
            .bind(endpoint_id)
            .bind(before.unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?);
        rows.into_iter().map(delivery_record).collect()
    }

    async fn resend_deliveries(
        &self,
        program_id: &str,
        endpoint_id: &str,
        delivery_id: Option<i64>,
        now: Timestamp,
    ) -> Result<u64, StorageError> {
        let _one_writer = self.sqlite_turn().await;
        Ok(on_pool!(self, |pool| sqlx::query(RESEND)
            .bind(now.0)
            .bind(delivery_id)
            .bind(program_id)
            .bind(endpoint_id)
            .execute(pool)
            .await?
            .rows_affected()))
    }
}

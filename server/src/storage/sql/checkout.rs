//! Checkout-native coupons: the store API of a connection and the coupons queued for it.

use std::collections::HashMap;

use async_trait::async_trait;

use super::{console_users::commit_if_changed, on_pool, sealing::Sealed, Dialect, Pool, SqlStorage};
use crate::{
    console_users::AuditEntry,
    ledger::Timestamp,
    storage::{
        CheckoutState, CheckoutStore, InboxStore, StorageError, StoreApi, StoreCouponAttempt, StoreCouponRecord,
        StoreCouponTask,
    },
};

/// How many of a program's connections have a store API.
pub(super) const STORE_APIS_OF: &str =
    "SELECT COUNT(*) FROM store_connections WHERE program_id = $1 AND api_url IS NOT NULL";
const SET_API: &str = "UPDATE store_connections SET api_url = $1, api_key = $2, api_secret = $3
     WHERE program_id = $4 AND id = $5";
const CLAIM_SQLITE: &str = "UPDATE store_coupons SET next_attempt_at_ms = $1, attempts = attempts + 1
     WHERE id IN (SELECT id FROM store_coupons WHERE status = 'pending' AND next_attempt_at_ms <= $2
         ORDER BY id LIMIT $3)
     RETURNING id, connection_id, event_id, attempts";
const CLAIM_POSTGRES: &str = "UPDATE store_coupons SET next_attempt_at_ms = $1, attempts = attempts + 1
     WHERE id IN (SELECT id FROM store_coupons WHERE status = 'pending' AND next_attempt_at_ms <= $2
         ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
     RETURNING id, connection_id, event_id, attempts";
/// The event's payload, the customer's email and the program's currency of a claimed coupon.
const TASK_DETAILS: &str = "SELECT e.payload, c.email, p.currency FROM outbox_events e
     JOIN programs p ON p.id = e.program_id
     LEFT JOIN customers c ON c.program_id = e.program_id AND c.customer_id = e.customer_id
     WHERE e.event_id = $1";
const RECORD: &str = "UPDATE store_coupons SET status = $1, next_attempt_at_ms = $2, last_error = $3,
         store_ref = COALESCE($4, store_ref), updated_at_ms = $5
     WHERE id = $6";
const LIST: &str = "SELECT coupon_code, status, attempts, last_error, store_ref, created_at_ms, updated_at_ms
     FROM store_coupons WHERE program_id = $1 AND connection_id = $2 ORDER BY id DESC LIMIT $3";
const RETRY: &str = "UPDATE store_coupons SET status = 'pending', attempts = 0, next_attempt_at_ms = $1,
         updated_at_ms = $1
     WHERE program_id = $2 AND connection_id = $3 AND status = 'failed'";
/// Queued by the relay for each connection with a store API (`$1` program, `$2` code, `$3`
/// event, `$4` now); the same coupon relayed twice is queued once.
pub(super) const QUEUE_STORE_COUPONS: &str = "INSERT INTO store_coupons
         (connection_id, program_id, coupon_code, event_id, status, attempts, next_attempt_at_ms, created_at_ms,
          updated_at_ms)
     SELECT id, program_id, $2, $3, 'pending', 0, $4, $4, $4 FROM store_connections
     WHERE program_id = $1 AND api_url IS NOT NULL
     ON CONFLICT (connection_id, coupon_code) DO NOTHING";

type RecordRow = (String, String, i64, Option<String>, Option<String>, i64, i64);

#[async_trait]
impl CheckoutStore for SqlStorage {
    async fn set_store_api(
        &self,
        program_id: &str,
        connection_id: &str,
        api: Option<&StoreApi>,
        audit: Option<&AuditEntry>,
    ) -> Result<bool, StorageError> {
        let sealed = api.map(|api| self.seal(Sealed::StoreApi, connection_id, &api.secret));
        let _one_writer = self.sqlite_turn().await;
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(SET_API)
                .bind(api.map(|api| api.url.as_str()))
                .bind(api.and_then(|api| api.key.as_deref()))
                .bind(sealed.as_deref())
                .bind(program_id)
                .bind(connection_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            commit_if_changed!(tx, updated, audit);
        });
        Ok(true)
    }

    async fn claim_store_coupons(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<StoreCouponTask>, StorageError> {
        let claimed: Vec<(i64, String, String, i64)> = {
            let _one_writer = self.sqlite_turn().await;
            on_pool!(self, |pool, dialect| sqlx::query_as(dialect.pick(CLAIM_SQLITE, CLAIM_POSTGRES))
                .bind(lease_until.0)
                .bind(now.0)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?)
        };
        let mut connections = HashMap::new();
        let mut tasks = Vec::with_capacity(claimed.len());
        for (id, connection_id, event_id, attempts) in claimed {
            if !connections.contains_key(&connection_id) {
                // Deleted meanwhile: its coupons went with it.
                let Some(connection) = self.connection(&connection_id).await? else { continue };
                connections.insert(connection_id.clone(), connection);
            }
            let details: Option<(String, Option<String>, String)> =
                on_pool!(self, |pool| sqlx::query_as(TASK_DETAILS).bind(&event_id).fetch_optional(pool).await?);
            // The event is pruned only long after its coupon was created; an empty payload
            // makes the attempt fail with a reason the console shows.
            let (payload, email, currency) = details.unwrap_or_default();
            tasks.push(StoreCouponTask {
                id,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                connection: connections[&connection_id].clone(),
                payload,
                email,
                currency,
            });
        }
        Ok(tasks)
    }

    async fn record_store_coupons(&self, attempts: &[(i64, StoreCouponAttempt)]) -> Result<(), StorageError> {
        if attempts.is_empty() {
            return Ok(());
        }
        let _one_writer = self.sqlite_turn().await;
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            for (id, attempt) in attempts {
                let state = match (&attempt.error, attempt.retry_at) {
                    (None, _) => CheckoutState::Created,
                    (Some(_), Some(_)) => CheckoutState::Pending,
                    (Some(_), None) => CheckoutState::Failed,
                };
                sqlx::query(RECORD)
                    .bind(state.as_str())
                    .bind(attempt.retry_at.unwrap_or(attempt.at).0)
                    .bind(attempt.error.as_deref())
                    .bind(attempt.store_ref.as_deref())
                    .bind(attempt.at.0)
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    async fn checkout_states(
        &self,
        program_id: &str,
        codes: &[String],
    ) -> Result<Option<HashMap<String, CheckoutState>>, StorageError> {
        let with_api: i64 =
            on_pool!(self, |pool| sqlx::query_scalar(STORE_APIS_OF).bind(program_id).fetch_one(pool).await?);
        if with_api == 0 {
            return Ok(None);
        }
        if codes.is_empty() {
            return Ok(Some(HashMap::new()));
        }
        let rows: Vec<(String, String)> = on_pool!(self, |pool| {
            let mut select = sqlx::QueryBuilder::new(
                "SELECT c.coupon_code, c.status FROM store_coupons c
                 JOIN store_connections s ON s.id = c.connection_id AND s.api_url IS NOT NULL
                 WHERE c.program_id = ",
            );
            select.push_bind(program_id).push(" AND c.coupon_code IN (");
            let mut listed = select.separated(", ");
            for code in codes {
                listed.push_bind(code);
            }
            select.push(")");
            select.build_query_as().fetch_all(pool).await?
        });
        let mut states: HashMap<String, CheckoutState> = HashMap::new();
        for (code, status) in rows {
            let state = CheckoutState::parse(&status)
                .ok_or_else(|| StorageError::Corrupt(format!("store coupon state {status:?}")))?;
            let rank = |state: CheckoutState| match state {
                CheckoutState::Created => 0,
                CheckoutState::Pending => 1,
                CheckoutState::Failed => 2,
            };
            let entry = states.entry(code).or_insert(state);
            if rank(state) > rank(*entry) {
                *entry = state;
            }
        }
        Ok(Some(states))
    }

    async fn store_coupons(
        &self,
        program_id: &str,
        connection_id: &str,
        limit: u32,
    ) -> Result<Vec<StoreCouponRecord>, StorageError> {
        let rows: Vec<RecordRow> = on_pool!(self, |pool| sqlx::query_as(LIST)
            .bind(program_id)
            .bind(connection_id)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?);
        rows.into_iter()
            .map(|(coupon_code, status, attempts, last_error, store_ref, created_at, updated_at)| {
                Ok(StoreCouponRecord {
                    state: CheckoutState::parse(&status)
                        .ok_or_else(|| StorageError::Corrupt(format!("store coupon state {status:?}")))?,
                    coupon_code,
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                    last_error,
                    store_ref,
                    created_at: Timestamp(created_at),
                    updated_at: Timestamp(updated_at),
                })
            })
            .collect()
    }

    async fn retry_store_coupons(
        &self,
        program_id: &str,
        connection_id: &str,
        now: Timestamp,
    ) -> Result<u64, StorageError> {
        let _one_writer = self.sqlite_turn().await;
        Ok(on_pool!(self, |pool| sqlx::query(RETRY)
            .bind(now.0)
            .bind(program_id)
            .bind(connection_id)
            .execute(pool)
            .await?
            .rows_affected()))
    }
}

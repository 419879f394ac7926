//! Store connections, the inbox of their deliveries, and the platform orders' times.

use async_trait::async_trait;

use super::{
    console_users::{commit_audited, commit_if_changed},
    on_pool,
    sealing::Sealed,
    Dialect, Pool, SqlStorage,
};
use crate::{
    console_users::AuditEntry,
    ledger::Timestamp,
    storage::{Arrival, InboxItem, InboxStatus, InboxStore, StorageError, StoreApi, StoreConnection, TopicStatus},
};

const CONNECTION_COLUMNS_BY_ID: &str = "SELECT id, program_id, platform, secret, created_at_ms, api_url, api_key,
         api_secret FROM store_connections WHERE id = $1";
const CONNECTIONS_OF: &str = "SELECT id, program_id, platform, secret, created_at_ms, api_url, api_key, api_secret
     FROM store_connections WHERE program_id = $1 ORDER BY created_at_ms, id";
const INSERT_CONNECTION: &str =
    "INSERT INTO store_connections (id, program_id, platform, secret, created_at_ms) VALUES ($1, $2, $3, $4, $5)";
const DELETE_CONNECTION_PARTS: [&str; 3] = [
    "DELETE FROM store_coupons WHERE connection_id = (SELECT id FROM store_connections WHERE program_id = $1 AND id = $2)",
    "DELETE FROM inbox_deliveries WHERE connection_id = (SELECT id FROM store_connections WHERE program_id = $1 AND id = $2)",
    "DELETE FROM platform_orders WHERE connection_id = (SELECT id FROM store_connections WHERE program_id = $1 AND id = $2)",
];
const DELETE_CONNECTION: &str = "DELETE FROM store_connections WHERE program_id = $1 AND id = $2";
const RECEIVE: &str = "INSERT INTO inbox_deliveries
         (connection_id, delivery_key, topic, subject, body, status, attempts, next_attempt_at_ms, received_at_ms)
     VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7) ON CONFLICT (connection_id, delivery_key) DO NOTHING";
const CLAIM_SQLITE: &str = "UPDATE inbox_deliveries SET next_attempt_at_ms = $1, attempts = attempts + 1
     WHERE id IN (SELECT d.id FROM inbox_deliveries d
         WHERE d.status = 'pending' AND d.next_attempt_at_ms <= $2
           AND NOT EXISTS (SELECT 1 FROM inbox_deliveries e WHERE e.connection_id = d.connection_id
               AND e.subject = d.subject AND e.status = 'pending' AND e.id < d.id)
         ORDER BY d.id LIMIT $3)
     RETURNING id, connection_id, topic, body, attempts";
const CLAIM_POSTGRES: &str = "UPDATE inbox_deliveries SET next_attempt_at_ms = $1, attempts = attempts + 1
     WHERE id IN (SELECT d.id FROM inbox_deliveries d
         WHERE d.status = 'pending' AND d.next_attempt_at_ms <= $2
           AND NOT EXISTS (SELECT 1 FROM inbox_deliveries e WHERE e.connection_id = d.connection_id
               AND e.subject = d.subject AND e.status = 'pending' AND e.id < d.id)
         ORDER BY d.id LIMIT $3 FOR UPDATE SKIP LOCKED)
     RETURNING id, connection_id, topic, body, attempts";
const FINISH: &str = "UPDATE inbox_deliveries SET status = $1, outcome = $2, next_attempt_at_ms = $3,
         processed_at_ms = $4
     WHERE id = $5";
const ORDER_SEEN: &str = "SELECT modified_at_ms FROM platform_orders WHERE connection_id = $1 AND order_id = $2";
const REMEMBER_ORDER: &str = "INSERT INTO platform_orders (connection_id, order_id, modified_at_ms) VALUES ($1, $2, $3)
     ON CONFLICT (connection_id, order_id) DO UPDATE SET modified_at_ms = excluded.modified_at_ms
     WHERE platform_orders.modified_at_ms < excluded.modified_at_ms";
const TOPICS: &str = "SELECT topic, COUNT(*), SUM(CASE WHEN status = 'ignored' THEN 1 ELSE 0 END),
         SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), MAX(id)
     FROM inbox_deliveries WHERE connection_id = $1 GROUP BY topic ORDER BY topic";
const NEWEST: &str = "SELECT received_at_ms, status, outcome FROM inbox_deliveries WHERE id = $1";

pub(super) type ConnectionRow = (String, String, String, String, i64, Option<String>, Option<String>, Option<String>);

impl SqlStorage {
    pub(super) fn connection_of(
        &self,
        (id, program_id, platform, secret, created_at_ms, api_url, api_key, api_secret): ConnectionRow,
    ) -> Result<StoreConnection, StorageError> {
        let secret = self.open(Sealed::Store, &id, &secret)?;
        let api = match (api_url, api_secret) {
            (Some(url), Some(sealed)) => {
                Some(StoreApi { url, key: api_key, secret: self.open(Sealed::StoreApi, &id, &sealed)? })
            }
            _ => None,
        };
        Ok(StoreConnection { id, program_id, platform, secret, created_at: Timestamp(created_at_ms), api })
    }
}

#[async_trait]
impl InboxStore for SqlStorage {
    async fn create_connection(
        &self,
        connection: &StoreConnection,
        audit: Option<&AuditEntry>,
    ) -> Result<(), StorageError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(INSERT_CONNECTION)
                .bind(&connection.id)
                .bind(&connection.program_id)
                .bind(&connection.platform)
                .bind(self.seal(Sealed::Store, &connection.id, &connection.secret))
                .bind(connection.created_at.0)
                .execute(&mut *tx)
                .await?;
            commit_audited!(tx, audit);
        });
        Ok(())
    }

    async fn connections(&self, program_id: &str) -> Result<Vec<StoreConnection>, StorageError> {
        let rows: Vec<ConnectionRow> =
            on_pool!(self, |pool| sqlx::query_as(CONNECTIONS_OF).bind(program_id).fetch_all(pool).await?);
        rows.into_iter().map(|row| self.connection_of(row)).collect()
    }

    async fn connection(&self, connection_id: &str) -> Result<Option<StoreConnection>, StorageError> {
        let row: Option<ConnectionRow> = on_pool!(self, |pool| sqlx::query_as(CONNECTION_COLUMNS_BY_ID)
            .bind(connection_id)
            .fetch_optional(pool)
            .await?);
        row.map(|row| self.connection_of(row)).transpose()
    }

    async fn set_connection_secret(
        &self,
        program_id: &str,
        connection_id: &str,
        secret: &str,
        audit: Option<&AuditEntry>,
    ) -> Result<bool, StorageError> {
        const SQL: &str = "UPDATE store_connections SET secret = $1 WHERE program_id = $2 AND id = $3";
        let sealed = self.seal(Sealed::Store, connection_id, secret);
        let _one_writer = self.sqlite_turn().await;
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(SQL)
                .bind(&sealed)
                .bind(program_id)
                .bind(connection_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            commit_if_changed!(tx, updated, audit);
        });
        Ok(true)
    }

    async fn delete_connection(
        &self,
        program_id: &str,
        connection_id: &str,
        audit: Option<&AuditEntry>,
    ) -> Result<bool, StorageError> {
        let _one_writer = self.sqlite_turn().await;
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            for statement in DELETE_CONNECTION_PARTS {
                sqlx::query(statement).bind(program_id).bind(connection_id).execute(&mut *tx).await?;
            }
            let deleted = sqlx::query(DELETE_CONNECTION)
                .bind(program_id)
                .bind(connection_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            commit_if_changed!(tx, deleted, audit);
        });
        Ok(true)
    }

    async fn receive(&self, arrival: &Arrival) -> Result<bool, StorageError> {
        let status = if arrival.ignored { InboxStatus::Ignored } else { InboxStatus::Pending };
        let _one_writer = self.sqlite_turn().await;
        let inserted = on_pool!(self, |pool| sqlx::query(RECEIVE)
            .bind(&arrival.connection_id)
            .bind(&arrival.delivery_key)
            .bind(&arrival.topic)
            .bind(&arrival.subject)
            .bind(&arrival.body)
            .bind(status.as_str())
            .bind(arrival.received_at.0)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(inserted == 1)
    }

    async fn claim_inbox(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<InboxItem>, StorageError> {
        let claimed: Vec<(i64, String, String, String, i64)> = {
            let _one_writer = self.sqlite_turn().await;
            on_pool!(self, |pool, dialect| sqlx::query_as(dialect.pick(CLAIM_SQLITE, CLAIM_POSTGRES))
                .bind(lease_until.0)
                .bind(now.0)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?)
        };
        let mut items = Vec::with_capacity(claimed.len());
        for (id, connection_id, topic, body, attempts) in claimed {
            // Deleted meanwhile: its inbox went with it.
            let Some(connection) = self.connection(&connection_id).await? else { continue };
            items.push(InboxItem {
                id,
                connection,
                topic,
                body,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            });
        }
        items.sort_by_key(|item| item.id);
        Ok(items)
    }

    async fn finish_inbox(
        &self,
        id: i64,
        status: InboxStatus,
        outcome: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<(), StorageError> {
        let _one_writer = self.sqlite_turn().await;
        on_pool!(self, |pool| sqlx::query(FINISH)
            .bind(status.as_str())
            .bind(outcome)
            .bind(retry_at.unwrap_or(now).0)
            .bind(now.0)
            .bind(id)
            .execute(pool)
            .await
            .map(drop)?);
        Ok(())
    }

    async fn platform_order_seen(
        &self,
        connection_id: &str,
        order_id: &str,
    ) -> Result<Option<Timestamp>, StorageError> {
        let seen: Option<i64> = on_pool!(self, |pool| sqlx::query_scalar(ORDER_SEEN)
            .bind(connection_id)
            .bind(order_id)
            .fetch_optional(pool)
            .await?);
        Ok(seen.map(Timestamp))
    }

    async fn remember_platform_order(
        &self,
        connection_id: &str,
        order_id: &str,
        modified_at: Timestamp,
    ) -> Result<(), StorageError> {
        let _one_writer = self.sqlite_turn().await;
        on_pool!(self, |pool| sqlx::query(REMEMBER_ORDER)
            .bind(connection_id)
            .bind(order_id)
            .bind(modified_at.0)
            .execute(pool)
            .await
            .map(drop)?);
        Ok(())
    }

    async fn pending_inbox(&self) -> Result<u64, StorageError> {
        const SQL: &str = "SELECT COUNT(*) FROM inbox_deliveries WHERE status = 'pending'";
        let pending: i64 = on_pool!(self, |pool| sqlx::query_scalar(SQL).fetch_one(pool).await?);
        Ok(u64::try_from(pending).unwrap_or(0))
    }

    async fn topic_statuses(&self, connection_id: &str) -> Result<Vec<TopicStatus>, StorageError> {
        let rows: Vec<(String, i64, i64, i64, i64)> =
            on_pool!(self, |pool| sqlx::query_as(TOPICS).bind(connection_id).fetch_all(pool).await?);
        let mut statuses = Vec::with_capacity(rows.len());
        for (topic, deliveries, ignored, failed, newest) in rows {
            let (received, status, outcome): (i64, String, Option<String>) =
                on_pool!(self, |pool| sqlx::query_as(NEWEST).bind(newest).fetch_one(pool).await?);
            let count = |value: i64| u64::try_from(value).unwrap_or(0);
            statuses.push(TopicStatus {
                topic,
                deliveries: count(deliveries),
                ignored: count(ignored),
                failed: count(failed),
                last_received_at: Timestamp(received),
                last_status: status,
                last_outcome: outcome,
            });
        }
        Ok(statuses)
    }
}

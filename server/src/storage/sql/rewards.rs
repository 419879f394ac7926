//! The rewards catalog and coupons.

use super::{
    console_users::{commit_audited, commit_if_changed},
    json_from_db, on_pool,
    outbox::insert_events,
    Dialect, Pool, SqlStorage,
};
use crate::{
    connections::events,
    console_users::AuditEntry,
    customers::CustomerId,
    ledger::Timestamp,
    rewards::{Coupon, CouponStatus, Reward, RewardDefinition},
    storage::{ConsumeOutcome, RewardStore, StorageError},
};
use async_trait::async_trait;

/// A program's rewards, oldest first.
pub(super) const REWARDS_OF: &str =
    "SELECT id, definition, stock, active FROM rewards WHERE program_id = $1 ORDER BY created_at_ms, id";

#[derive(sqlx::FromRow)]
pub(super) struct RewardRow {
    id: String,
    definition: String,
    stock: Option<i64>,
    active: bool,
}

impl RewardRow {
    /// The columns are authoritative for what changes (stock, active); the JSON for the rest.
    pub(super) fn into_reward(self) -> Result<Reward, StorageError> {
        let mut definition: RewardDefinition = json_from_db("reward definition", &self.definition)?;
        definition.stock = self.stock;
        definition.active = self.active;
        Ok(Reward { id: self.id, definition })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct CouponRow {
    code: String,
    customer_id: String,
    reward_id: String,
    points: i64,
    value: String,
    status: String,
    expires_at_ms: i64,
    created_at_ms: i64,
    order_id: Option<String>,
}

impl CouponRow {
    fn into_coupon(self) -> Result<Coupon, StorageError> {
        Ok(Coupon {
            code: self.code,
            customer_id: self.customer_id,
            reward_id: self.reward_id,
            points: self.points,
            value: json_from_db("coupon value", &self.value)?,
            status: CouponStatus::parse(&self.status)
                .ok_or_else(|| StorageError::Corrupt(format!("coupon status {:?}", self.status)))?,
            expires_at: Timestamp(self.expires_at_ms),
            created_at: Timestamp(self.created_at_ms),
            order_id: self.order_id,
        })
    }
}

pub(super) const INSERT_COUPON: &str = "INSERT INTO coupons
         (program_id, code, customer_id, reward_id, points, value, status, expires_at_ms, created_at_ms, order_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
pub(super) const COUNT_LIVE_COUPONS: &str = "SELECT COUNT(*) FROM coupons
     WHERE program_id = $1 AND customer_id = $2 AND reward_id = $3 AND status <> 'cancelled'";
pub(super) const TAKE_STOCK: &str =
    "UPDATE rewards SET stock = stock - 1 WHERE program_id = $1 AND id = $2 AND stock IS NOT NULL AND stock > 0";
pub(super) const RELEASE_USED_COUPON: &str =
    "UPDATE coupons SET status = 'cancelled' WHERE program_id = $1 AND code = $2 AND status = 'consumed'";
pub(super) const CANCEL_COUPON: &str =
    "UPDATE coupons SET status = 'cancelled' WHERE program_id = $1 AND code = $2 AND status = 'issued'";
const COUPON: &str =
    "SELECT code, customer_id, reward_id, points, value, status, expires_at_ms, created_at_ms, order_id
     FROM coupons WHERE program_id = $1 AND code = $2";

#[async_trait]
impl RewardStore for SqlStorage {
    async fn create_reward(
        &self,
        program_id: &str,
        reward: &Reward,
        now: Timestamp,
        audit: Option<&AuditEntry>,
    ) -> Result<(), StorageError> {
        const SQL: &str =
            "INSERT INTO rewards (program_id, id, definition, stock, active, created_at_ms, updated_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $6)";
        let definition = serde_json::to_string(&reward.definition).expect("definitions serialise");
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(SQL)
                .bind(program_id)
                .bind(&reward.id)
                .bind(&definition)
                .bind(reward.definition.stock)
                .bind(reward.definition.active)
                .bind(now.0)
                .execute(&mut *tx)
                .await?;
            commit_audited!(tx, audit);
        });
        Ok(())
    }

    async fn update_reward(
        &self,
        program_id: &str,
        reward: &Reward,
        now: Timestamp,
        audit: Option<&AuditEntry>,
    ) -> Result<bool, StorageError> {
        const SQL: &str = "UPDATE rewards SET definition = $1, stock = $2, active = $3, updated_at_ms = $4
             WHERE program_id = $5 AND id = $6";
        let definition = serde_json::to_string(&reward.definition).expect("definitions serialise");
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(SQL)
                .bind(&definition)
                .bind(reward.definition.stock)
                .bind(reward.definition.active)
                .bind(now.0)
                .bind(program_id)
                .bind(&reward.id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            commit_if_changed!(tx, updated, audit);
        });
        Ok(true)
    }

    async fn reward(&self, program_id: &str, reward_id: &str) -> Result<Option<Reward>, StorageError> {
        const SQL: &str = "SELECT id, definition, stock, active FROM rewards WHERE program_id = $1 AND id = $2";
        let row: Option<RewardRow> =
            on_pool!(self, |pool| sqlx::query_as(SQL).bind(program_id).bind(reward_id).fetch_optional(pool).await?);
        row.map(RewardRow::into_reward).transpose()
    }

    async fn rewards(&self, program_id: &str) -> Result<Vec<Reward>, StorageError> {
        let rows: Vec<RewardRow> =
            on_pool!(self, |pool| sqlx::query_as(REWARDS_OF).bind(program_id).fetch_all(pool).await?);
        rows.into_iter().map(RewardRow::into_reward).collect()
    }

    async fn coupon(&self, program_id: &str, code: &str) -> Result<Option<Coupon>, StorageError> {
        let row: Option<CouponRow> =
            on_pool!(self, |pool| sqlx::query_as(COUPON).bind(program_id).bind(code).fetch_optional(pool).await?);
        row.map(CouponRow::into_coupon).transpose()
    }

    async fn coupons_used_by(&self, program_id: &str, order_id: &str) -> Result<Vec<Coupon>, StorageError> {
        const SQL: &str = "SELECT code, customer_id, reward_id, points, value, status, expires_at_ms, created_at_ms,
                 order_id
             FROM coupons WHERE program_id = $1 AND order_id = $2 AND status IN ('consumed', 'cancelled')
             ORDER BY code";
        let rows: Vec<CouponRow> =
            on_pool!(self, |pool| sqlx::query_as(SQL).bind(program_id).bind(order_id).fetch_all(pool).await?);
        rows.into_iter().map(CouponRow::into_coupon).collect()
    }

    async fn customer_coupons(
        &self,
        program_id: &str,
        customer_id: &CustomerId,
        limit: u32,
    ) -> Result<Vec<Coupon>, StorageError> {
        const SQL: &str = "SELECT code, customer_id, reward_id, points, value, status, expires_at_ms, created_at_ms,
                 order_id
             FROM coupons WHERE program_id = $1 AND customer_id = $2 ORDER BY created_at_ms DESC, code LIMIT $3";
        let rows: Vec<CouponRow> = on_pool!(self, |pool| sqlx::query_as(SQL)
            .bind(program_id)
            .bind(customer_id.as_str())
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?);
        rows.into_iter().map(CouponRow::into_coupon).collect()
    }

    async fn consume_coupon(
        &self,
        program_id: &str,
        code: &str,
        order_id: &str,
        now: Timestamp,
    ) -> Result<ConsumeOutcome, StorageError> {
        // One conditional update: of two concurrent consumes, exactly one changes the row, and
        // only that one tells the outbox, in its transaction.
        const SQL: &str = "UPDATE coupons SET status = 'consumed', order_id = $1
             WHERE program_id = $2 AND code = $3 AND status = 'issued' AND expires_at_ms > $4
             RETURNING code, customer_id, reward_id, points, value, status, expires_at_ms, created_at_ms, order_id";
        let _one_writer = self.sqlite_turn().await;
        let consumed = on_pool!(self, |pool, dialect| {
            let mut tx = pool.begin_with(dialect.pick("BEGIN IMMEDIATE", "BEGIN")).await?;
            let row: Option<CouponRow> = sqlx::query_as(SQL)
                .bind(order_id)
                .bind(program_id)
                .bind(code)
                .bind(now.0)
                .fetch_optional(&mut *tx)
                .await?;
            let consumed = row.map(CouponRow::into_coupon).transpose()?;
            if let Some(coupon) = &consumed {
                let event = events::coupon_used(program_id, coupon, now);
                insert_events!(_, &mut *tx, std::slice::from_ref(&event));
            }
            tx.commit().await?;
            consumed
        });
        Ok(match consumed {
            Some(coupon) => ConsumeOutcome::Consumed(coupon),
            None => match self.coupon(program_id, code).await? {
                None => ConsumeOutcome::NotFound,
                Some(coupon) => ConsumeOutcome::Unusable(coupon),
            },
        })
    }
}

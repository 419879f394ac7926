//! Customers, their ledger state and their entries.

use super::{json_from_db, on_pool, seq_from_db, seq_to_db, Dialect, Pool, SqlStorage};
use crate::{
    customers::{CustomerId, CustomerProfile},
    ledger::{Account, EntryKind, ExpiryPolicy, Lot, Timestamp},
    storage::{CustomerRecord, CustomerStore, EntryRecord, StorageError, TierChange},
    tiers::TierBasis,
};
use async_trait::async_trait;

#[derive(sqlx::FromRow)]
struct CustomerRow {
    email: Option<String>,
    name: Option<String>,
    birthday: Option<String>,
    tags: String,
    created_at_ms: i64,
    last_seq: i64,
    debt: i64,
    last_activity_at_ms: Option<i64>,
    tier_id: Option<String>,
}

#[derive(sqlx::FromRow)]
pub(super) struct LotRow {
    seq: i64,
    order_id: Option<String>,
    earned_at_ms: i64,
    available_at_ms: i64,
    remaining: i64,
}

impl LotRow {
    pub(super) fn into_lot(self) -> Result<Lot, StorageError> {
        Ok(Lot {
            seq: seq_from_db(self.seq)?,
            order_id: self.order_id,
            earned_at: Timestamp(self.earned_at_ms),
            available_at: Timestamp(self.available_at_ms),
            remaining: self.remaining,
        })
    }
}

/// Open lots, oldest first, as the ledger core expects them.
pub(super) const OPEN_LOTS: &str = "SELECT seq, order_id, earned_at_ms, available_at_ms, remaining FROM lots
     WHERE program_id = $1 AND customer_id = $2 AND remaining > 0 ORDER BY available_at_ms, seq";

#[derive(sqlx::FromRow)]
struct EntryRow {
    seq: i64,
    kind: String,
    points: i64,
    source: String,
    reference: Option<String>,
    order_id: Option<String>,
    available_at_ms: i64,
    created_at_ms: i64,
    balance_after: i64,
    shortfall: i64,
    rule_snapshot: Option<String>,
    client_id: String,
}

impl EntryRow {
    fn into_record(self) -> Result<EntryRecord, StorageError> {
        Ok(EntryRecord {
            seq: seq_from_db(self.seq)?,
            kind: EntryKind::parse(&self.kind)
                .ok_or_else(|| StorageError::Corrupt(format!("entry kind {:?}", self.kind)))?,
            points: self.points,
            source: self.source,
            reference: self.reference,
            order_id: self.order_id,
            available_at: Timestamp(self.available_at_ms),
            created_at: Timestamp(self.created_at_ms),
            balance_after: self.balance_after,
            shortfall: self.shortfall,
            rule_snapshot: self.rule_snapshot.as_deref().map(|text| json_from_db("rule snapshot", text)).transpose()?,
            client_id: self.client_id,
        })
    }
}

/// The query of a tier qualifying total: `$1` program, `$2` customer, `$3` window start (ms).
pub(super) fn qualifying_sql(basis: TierBasis) -> &'static str {
    match basis {
        TierBasis::PointsEarned => {
            "SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) FROM ledger_entries
             WHERE program_id = $1 AND customer_id = $2 AND created_at_ms >= $3
               AND (kind = 'earn' OR (kind IN ('reverse', 'void') AND order_id IS NOT NULL))"
        }
        TierBasis::AmountSpent => {
            "SELECT CAST(COALESCE(SUM(amount - refunded), 0) AS BIGINT) FROM orders
             WHERE program_id = $1 AND customer_id = $2 AND created_at_ms >= $3"
        }
    }
}

#[async_trait]
impl CustomerStore for SqlStorage {
    async fn order_customer(&self, program_id: &str, order_id: &str) -> Result<Option<String>, StorageError> {
        const SQL: &str = "SELECT customer_id FROM orders WHERE program_id = $1 AND order_id = $2";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(SQL).bind(program_id).bind(order_id).fetch_optional(pool).await?))
    }

    async fn order_count(&self, program_id: &str, customer_id: &CustomerId) -> Result<u64, StorageError> {
        const SQL: &str = "SELECT COUNT(*) FROM orders WHERE program_id = $1 AND customer_id = $2";
        let count: i64 = on_pool!(self, |pool| sqlx::query_scalar(SQL)
            .bind(program_id)
            .bind(customer_id.as_str())
            .fetch_one(pool)
            .await?);
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn upsert_customer(
        &self,
        program_id: &str,
        customer_id: &CustomerId,
        profile: &CustomerProfile,
        now: Timestamp,
    ) -> Result<(), StorageError> {
        const UPSERT: &str = "INSERT INTO customers
                 (program_id, customer_id, email, name, birthday, tags, created_at_ms, updated_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
             ON CONFLICT (program_id, customer_id) DO UPDATE SET email = excluded.email, name = excluded.name,
                 birthday = excluded.birthday, tags = excluded.tags, updated_at_ms = excluded.updated_at_ms";
        let tags = serde_json::to_string(&profile.tags).expect("tags serialise");
        on_pool!(self, |pool| sqlx::query(UPSERT)
            .bind(program_id)
            .bind(customer_id.as_str())
            .bind(&profile.email)
            .bind(&profile.name)
            .bind(&profile.birthday)
            .bind(&tags)
            .bind(now.0)
            .execute(pool)
            .await
            .map(drop)?);
        Ok(())
    }

    async fn customer(
        &self,
        program_id: &str,
        customer_id: &CustomerId,
        expiry: ExpiryPolicy,
    ) -> Result<Option<CustomerRecord>, StorageError> {
        const CUSTOMER: &str = "SELECT email, name, birthday, tags, created_at_ms, last_seq, debt,
                 last_activity_at_ms, tier_id
             FROM customers WHERE program_id = $1 AND customer_id = $2";
        const LIFETIME: &str = "SELECT
                 CAST(COALESCE(SUM(CASE WHEN kind = 'earn' THEN points ELSE 0 END), 0) AS BIGINT),
                 CAST(COALESCE(SUM(CASE WHEN kind = 'redeem' THEN -points ELSE 0 END), 0) AS BIGINT)
             FROM ledger_entries WHERE program_id = $1 AND customer_id = $2";
        let id = customer_id.as_str();
        let (row, lots, lifetime): (Option<CustomerRow>, Vec<LotRow>, (i64, i64)) = on_pool!(self, |pool| {
            let row = sqlx::query_as(CUSTOMER).bind(program_id).bind(id).fetch_optional(pool).await?;
            let lots = sqlx::query_as(OPEN_LOTS).bind(program_id).bind(id).fetch_all(pool).await?;
            let lifetime = sqlx::query_as(LIFETIME).bind(program_id).bind(id).fetch_one(pool).await?;
            (row, lots, lifetime)
        });
        let Some(row) = row else { return Ok(None) };
        let account = Account {
            last_seq: seq_from_db(row.last_seq)?,
            lots: lots.into_iter().map(LotRow::into_lot).collect::<Result<_, _>>()?,
            debt: row.debt,
            last_activity_at: row.last_activity_at_ms.map(Timestamp),
            expiry,
        };
        Ok(Some(CustomerRecord {
            customer_id: id.to_owned(),
            profile: CustomerProfile {
                email: row.email,
                name: row.name,
                birthday: row.birthday,
                tags: json_from_db("customer tags", &row.tags)?,
            },
            created_at: Timestamp(row.created_at_ms),
            account,
            lifetime_earned: lifetime.0,
            lifetime_redeemed: lifetime.1,
            tier_id: row.tier_id,
        }))
    }

    async fn entries(
        &self,
        program_id: &str,
        customer_id: &CustomerId,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<EntryRecord>, StorageError> {
        const SQL: &str = "SELECT seq, kind, points, source, reference, order_id, available_at_ms, created_at_ms,
                 balance_after, shortfall, rule_snapshot, client_id
             FROM ledger_entries WHERE program_id = $1 AND customer_id = $2 AND seq < $3
             ORDER BY seq DESC LIMIT $4";
        let before = before.map_or(i64::MAX, seq_to_db);
        let rows: Vec<EntryRow> = on_pool!(self, |pool| sqlx::query_as(SQL)
            .bind(program_id)
            .bind(customer_id.as_str())
            .bind(before)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?);
        rows.into_iter().map(EntryRow::into_record).collect()
    }

    async fn tier_qualifying(
        &self,
        program_id: &str,
        customer_id: &CustomerId,
        basis: TierBasis,
        since: Timestamp,
    ) -> Result<i64, StorageError> {
        let sql = qualifying_sql(basis);
        Ok(on_pool!(self, |pool| sqlx::query_scalar(sql)
            .bind(program_id)
            .bind(customer_id.as_str())
            .bind(since.0)
            .fetch_one(pool)
            .await?))
    }

    async fn tier_changes(&self, program_id: &str, customer_id: &CustomerId) -> Result<Vec<TierChange>, StorageError> {
        const SQL: &str = "SELECT changed_at_ms, from_tier, to_tier, qualifying FROM tier_changes
             WHERE program_id = $1 AND customer_id = $2 ORDER BY changed_at_ms DESC";
        let rows: Vec<(i64, Option<String>, Option<String>, i64)> = on_pool!(self, |pool| sqlx::query_as(SQL)
            .bind(program_id)
            .bind(customer_id.as_str())
            .fetch_all(pool)
            .await?);
        Ok(rows
            .into_iter()
            .map(|(at, from_tier, to_tier, qualifying)| TierChange {
                changed_at: Timestamp(at),
                from_tier,
                to_tier,
                qualifying,
            })
            .collect())
    }

    async fn customer_ids(
        &self,
        program_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StorageError> {
        const SQL: &str = "SELECT customer_id FROM customers WHERE program_id = $1 AND customer_id > $2
             ORDER BY customer_id LIMIT $3";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(SQL)
            .bind(program_id)
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?))
    }
}

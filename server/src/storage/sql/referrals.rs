//! Referrals: who brought whom.

use super::{on_pool, Dialect, Pool, SqlStorage};
use crate::{
    customers::CustomerId,
    ledger::Timestamp,
    storage::{Referral, ReferralOutcome, ReferralStore, StorageError},
};
use async_trait::async_trait;

type ReferralRow = (String, String, i64, Option<i64>);

fn to_referral((referrer_id, referred_id, created_at_ms, rewarded_at_ms): ReferralRow) -> Referral {
    Referral {
        referrer_id,
        referred_id,
        created_at: Timestamp(created_at_ms),
        rewarded_at: rewarded_at_ms.map(Timestamp),
    }
}

#[async_trait]
impl ReferralStore for SqlStorage {
    async fn record_referral(
        &self,
        program_id: &str,
        referred: &CustomerId,
        referrer: &CustomerId,
        now: Timestamp,
    ) -> Result<ReferralOutcome, StorageError> {
        // The primary key decides between concurrent referrals of the same customer.
        const INSERT: &str = "INSERT INTO referrals (program_id, referred_id, referrer_id, created_at_ms)
             VALUES ($1, $2, $3, $4) ON CONFLICT (program_id, referred_id) DO NOTHING";
        let inserted = on_pool!(self, |pool| sqlx::query(INSERT)
            .bind(program_id)
            .bind(referred.as_str())
            .bind(referrer.as_str())
            .bind(now.0)
            .execute(pool)
            .await?
            .rows_affected());
        let stored = self
            .referral(program_id, referred)
            .await?
            .ok_or_else(|| StorageError::Corrupt("a referral vanished after its insert".into()))?;
        Ok(match (inserted, stored.referrer_id == referrer.as_str()) {
            (1, _) => ReferralOutcome::Recorded(stored),
            (_, true) => ReferralOutcome::AlreadyRecorded(stored),
            (_, false) => ReferralOutcome::Conflict(stored),
        })
    }

    async fn referral(&self, program_id: &str, referred: &CustomerId) -> Result<Option<Referral>, StorageError> {
        const SQL: &str = "SELECT referrer_id, referred_id, created_at_ms, rewarded_at_ms FROM referrals
             WHERE program_id = $1 AND referred_id = $2";
        let row: Option<ReferralRow> = on_pool!(self, |pool| sqlx::query_as(SQL)
            .bind(program_id)
            .bind(referred.as_str())
            .fetch_optional(pool)
            .await?);
        Ok(row.map(to_referral))
    }

    async fn referrals_by(&self, program_id: &str, referrer: &CustomerId) -> Result<Vec<Referral>, StorageError> {
        const SQL: &str = "SELECT referrer_id, referred_id, created_at_ms, rewarded_at_ms FROM referrals
             WHERE program_id = $1 AND referrer_id = $2 ORDER BY created_at_ms, referred_id";
        let rows: Vec<ReferralRow> =
            on_pool!(self, |pool| sqlx::query_as(SQL).bind(program_id).bind(referrer.as_str()).fetch_all(pool).await?);
        Ok(rows.into_iter().map(to_referral).collect())
    }
}

/// Marks a referral as rewarded (a follow-up of the referred customer's first order).
pub(super) const MARK_REFERRAL_REWARDED: &str = "UPDATE referrals SET rewarded_at_ms = $1
     WHERE program_id = $2 AND referred_id = $3 AND rewarded_at_ms IS NULL";

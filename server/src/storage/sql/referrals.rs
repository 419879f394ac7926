//! Referrals: who brought whom, and each customer's referral code.

use super::{json_from_db, on_pool, Dialect, Pool, SqlStorage};
use crate::{
    console_users::AuditEntry,
    customers::CustomerId,
    ledger::Timestamp,
    referrals::ReferralStatus,
    storage::{FollowUp, NewReferral, Referral, ReferralOutcome, ReferralStore, StorageError},
};
use async_trait::async_trait;

/// A query of whole referrals (a literal, so no SQL is assembled at run time).
macro_rules! select_referrals {
    ($rest:literal) => {
        concat!(
            "SELECT referrer_id, referred_id, created_at_ms, rewarded_at_ms, status, hold_reasons, channel, code,
             reviewed_at_ms, reviewed_by FROM referrals ",
            $rest
        )
    };
}

type ReferralRow = (String, String, i64, Option<i64>, String, String, String, Option<String>, Option<i64>, Option<String>);

fn to_referral(row: ReferralRow) -> Result<Referral, StorageError> {
    let (referrer_id, referred_id, created_at_ms, rewarded_at_ms, status, reasons, channel, code, reviewed_at, by) = row;
    Ok(Referral {
        status: ReferralStatus::parse(&status)
            .ok_or_else(|| StorageError::Corrupt(format!("referral status {status:?}")))?,
        hold_reasons: json_from_db("referral hold reasons", &reasons)?,
        referrer_id,
        referred_id,
        created_at: Timestamp(created_at_ms),
        rewarded_at: rewarded_at_ms.map(Timestamp),
        channel,
        code,
        reviewed_at: reviewed_at.map(Timestamp),
        reviewed_by: by,
    })
}

fn to_referrals(rows: Vec<ReferralRow>) -> Result<Vec<Referral>, StorageError> {
    rows.into_iter().map(to_referral).collect()
}

#[async_trait]
impl ReferralStore for SqlStorage {
    async fn record_referral(
        &self,
        program_id: &str,
        referred: &CustomerId,
        new: &NewReferral,
        now: Timestamp,
    ) -> Result<ReferralOutcome, StorageError> {
        // The primary key decides between concurrent referrals of the same customer.
        const INSERT: &str = "INSERT INTO referrals (program_id, referred_id, referrer_id, created_at_ms, status,
             hold_reasons, channel, code, address_hash, device_hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (program_id, referred_id) DO NOTHING";
        let reasons = serde_json::to_string(&new.hold_reasons).expect("reasons serialise");
        let inserted = on_pool!(self, |pool| sqlx::query(INSERT)
            .bind(program_id)
            .bind(referred.as_str())
            .bind(new.referrer.as_str())
            .bind(now.0)
            .bind(new.status.as_str())
            .bind(&reasons)
            .bind(new.channel)
            .bind(&new.code)
            .bind(&new.address_hash)
            .bind(&new.device_hash)
            .execute(pool)
            .await?
            .rows_affected());
        let stored = self
            .referral(program_id, referred)
            .await?
            .ok_or_else(|| StorageError::Corrupt("a referral vanished after its insert".into()))?;
        Ok(match (inserted, stored.referrer_id == new.referrer.as_str()) {
            (1, _) => ReferralOutcome::Recorded(stored),
            (_, true) => ReferralOutcome::AlreadyRecorded(stored),
            (_, false) => ReferralOutcome::Conflict(stored),
        })
    }

    async fn referral(&self, program_id: &str, referred: &CustomerId) -> Result<Option<Referral>, StorageError> {
        const SQL: &str = select_referrals!("WHERE program_id = $1 AND referred_id = $2");
        let row: Option<ReferralRow> = on_pool!(self, |pool| sqlx::query_as(SQL)
            .bind(program_id)
            .bind(referred.as_str())
            .fetch_optional(pool)
            .await?);
        row.map(to_referral).transpose()
    }

    async fn referrals_by(&self, program_id: &str, referrer: &CustomerId) -> Result<Vec<Referral>, StorageError> {
        const SQL: &str = select_referrals!("WHERE program_id = $1 AND referrer_id = $2 ORDER BY created_at_ms, referred_id");
        let rows: Vec<ReferralRow> =
            on_pool!(self, |pool| sqlx::query_as(SQL).bind(program_id).bind(referrer.as_str()).fetch_all(pool).await?);
        to_referrals(rows)
    }

    async fn referrals_in(
        &self,
        program_id: &str,
        status: Option<ReferralStatus>,
        limit: u32,
    ) -> Result<Vec<Referral>, StorageError> {
        const SQL: &str = select_referrals!(
            "WHERE program_id = $1 AND ($2 IS NULL OR status = $2) ORDER BY created_at_ms DESC, referred_id LIMIT $3"
        );
        let rows: Vec<ReferralRow> = on_pool!(self, |pool| sqlx::query_as(SQL)
            .bind(program_id)
            .bind(status.map(ReferralStatus::as_str))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?);
        to_referrals(rows)
    }

    async fn claims_since(
        &self,
        program_id: &str,
        address_hash: Option<&str>,
        device_hash: Option<&str>,
        since: Timestamp,
    ) -> Result<(u64, u64), StorageError> {
        const COUNT_ADDRESS: &str = "SELECT COUNT(*) FROM referrals
             WHERE program_id = $1 AND address_hash = $2 AND created_at_ms >= $3";
        const COUNT_DEVICE: &str = "SELECT COUNT(*) FROM referrals
             WHERE program_id = $1 AND device_hash = $2 AND created_at_ms >= $3";
        let mut counts = [0_u64; 2];
        for (count, (sql, hash)) in counts.iter_mut().zip([(COUNT_ADDRESS, address_hash), (COUNT_DEVICE, device_hash)]) {
            let Some(hash) = hash else { continue };
            let found: i64 = on_pool!(self, |pool| sqlx::query_scalar(sql)
                .bind(program_id)
                .bind(hash)
                .bind(since.0)
                .fetch_one(pool)
                .await?);
            *count = u64::try_from(found).unwrap_or(0);
        }
        Ok((counts[0], counts[1]))
    }

    async fn decide_referral(
        &self,
        program_id: &str,
        referred: &CustomerId,
        status: ReferralStatus,
        now: Timestamp,
        audit: &AuditEntry,
        awards: &[FollowUp],
    ) -> Result<bool, StorageError> {
        SqlStorage::decide_referral(self, program_id, referred, status, now, audit, awards).await
    }

    async fn referral_code(&self, program_id: &str, customer: &CustomerId) -> Result<Option<String>, StorageError> {
        const SQL: &str = "SELECT code FROM referral_codes WHERE program_id = $1 AND customer_id = $2";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(SQL)
            .bind(program_id)
            .bind(customer.as_str())
            .fetch_optional(pool)
            .await?))
    }

    async fn save_referral_code(
        &self,
        program_id: &str,
        customer: &CustomerId,
        code: &str,
        now: Timestamp,
    ) -> Result<Option<String>, StorageError> {
        // Either unique key (the customer's code, the code's owner) makes this a no-op.
        const INSERT: &str = "INSERT INTO referral_codes (program_id, customer_id, code, created_at_ms)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";
        on_pool!(self, |pool| sqlx::query(INSERT)
            .bind(program_id)
            .bind(customer.as_str())
            .bind(code)
            .bind(now.0)
            .execute(pool)
            .await?
            .rows_affected());
        self.referral_code(program_id, customer).await
    }

    async fn referrer_by_code(&self, program_id: &str, code: &str) -> Result<Option<String>, StorageError> {
        const SQL: &str = "SELECT customer_id FROM referral_codes WHERE program_id = $1 AND code = $2";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(SQL).bind(program_id).bind(code).fetch_optional(pool).await?))
    }
}

/// Marks a referral as rewarded (a follow-up of the referred customer's first order).
pub(super) const MARK_REFERRAL_REWARDED: &str = "UPDATE referrals SET rewarded_at_ms = $1
     WHERE program_id = $2 AND referred_id = $3 AND rewarded_at_ms IS NULL";

//! Who referred whom, and each customer's referral code.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{FollowUp, StorageError};
use crate::{
    console_users::AuditEntry,
    customers::CustomerId,
    ledger::Timestamp,
    referrals::{HoldReason, ReferralStatus},
};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Referral {
    pub referrer_id: String,
    pub referred_id: String,
    pub created_at: Timestamp,
    pub rewarded_at: Option<Timestamp>,
    /// Approved referrals pay on the referred customer's first order; held ones wait for review.
    pub status: ReferralStatus,
    /// Why a claimed referral was held (empty when none of the checks found anything).
    pub hold_reasons: Vec<HoldReason>,
    /// Where it came from: `api`, `widget`, `shopify` or `woocommerce`.
    pub channel: String,
    /// The referral code it was claimed with (none through the API).
    pub code: Option<String>,
    pub reviewed_at: Option<Timestamp>,
    /// The console user who approved or rejected it.
    pub reviewed_by: Option<String>,
}

/// A referral to record.
#[derive(Clone, Debug)]
pub struct NewReferral {
    pub referrer: CustomerId,
    pub status: ReferralStatus,
    pub hold_reasons: Vec<HoldReason>,
    pub channel: &'static str,
    pub code: Option<String>,
    /// Keyed fingerprints of the claim's network address and browser.
    pub address_hash: Option<String>,
    pub device_hash: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReferralOutcome {
    Recorded(Referral),
    AlreadyRecorded(Referral),
    /// The customer was already referred by someone else.
    Conflict(Referral),
}

/// Who referred whom.
#[async_trait]
pub trait ReferralStore: Send + Sync {
    /// Records that `new.referrer` referred `referred`. A repeat with the same referrer is
    /// `AlreadyRecorded` (the first record stands); another referrer is `Conflict`.
    async fn record_referral(
        &self,
        program_id: &str,
        referred: &CustomerId,
        new: &NewReferral,
        now: Timestamp,
    ) -> Result<ReferralOutcome, StorageError>;
    async fn referral(&self, program_id: &str, referred: &CustomerId) -> Result<Option<Referral>, StorageError>;
    /// The customers `referrer` referred, oldest first.
    async fn referrals_by(&self, program_id: &str, referrer: &CustomerId) -> Result<Vec<Referral>, StorageError>;
    /// The program's referrals (of one status, or all), newest first.
    async fn referrals_in(
        &self,
        program_id: &str,
        status: Option<ReferralStatus>,
        limit: u32,
    ) -> Result<Vec<Referral>, StorageError>;
    /// Referrals claimed since `since` from the address and from the device, counted apart.
    async fn claims_since(
        &self,
        program_id: &str,
        address_hash: Option<&str>,
        device_hash: Option<&str>,
        since: Timestamp,
    ) -> Result<(u64, u64), StorageError>;
    /// Approves or rejects a held referral with its audit entry and (approved, the customer
    /// having ordered already) its awards, in one transaction; `false`: it was not held.
    async fn decide_referral(
        &self,
        program_id: &str,
        referred: &CustomerId,
        status: ReferralStatus,
        now: Timestamp,
        audit: &AuditEntry,
        awards: &[FollowUp],
    ) -> Result<bool, StorageError>;

    /// The customer's referral code, if they have one.
    async fn referral_code(&self, program_id: &str, customer: &CustomerId) -> Result<Option<String>, StorageError>;
    /// Gives the customer `code` unless they have one: the customer's code after the call, or
    /// `None` when `code` is another customer's (try another).
    async fn save_referral_code(
        &self,
        program_id: &str,
        customer: &CustomerId,
        code: &str,
        now: Timestamp,
    ) -> Result<Option<String>, StorageError>;
    /// Whose code `code` is.
    async fn referrer_by_code(&self, program_id: &str, code: &str) -> Result<Option<String>, StorageError>;
}

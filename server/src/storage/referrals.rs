//! Who referred whom.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StorageError;
use crate::{customers::CustomerId, ledger::Timestamp};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Referral {
    pub referrer_id: String,
    pub referred_id: String,
    pub created_at: Timestamp,
    pub rewarded_at: Option<Timestamp>,
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
    /// Records that `referrer` referred `referred`. A repeat with the same referrer is
    /// `AlreadyRecorded`; another referrer is `Conflict`.
    async fn record_referral(
        &self,
        program_id: &str,
        referred: &CustomerId,
        referrer: &CustomerId,
        now: Timestamp,
    ) -> Result<ReferralOutcome, StorageError>;
    async fn referral(&self, program_id: &str, referred: &CustomerId) -> Result<Option<Referral>, StorageError>;
    /// The customers `referrer` referred, oldest first.
    async fn referrals_by(&self, program_id: &str, referrer: &CustomerId) -> Result<Vec<Referral>, StorageError>;
}

//! The write model: one [`LedgerWrite`] (the operation and everything it causes), what it
//! came to ([`WriteOutcome`]), and the store that applies it in one transaction.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StorageError;
use crate::{
    console_users::AuditEntry,
    customers::CustomerId,
    ledger::{ClawbackPolicy, ExpiryPolicy, LedgerError, Operation, Points, Timestamp},
    message::{message, Message},
    programs::Program,
    rewards::Coupon,
    tiers::TierLadder,
};

use super::customers::EntryRecord;

/// A write's client id (I3): `kind` is its namespace (`event`, `refund`, `redemption`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientId {
    pub kind: &'static str,
    pub id: String,
    /// Fingerprint of the request body: a replay must carry the same one.
    pub request_hash: String,
}

/// One ledger write: the operation and everything storage records with its entries.
#[derive(Clone, Debug)]
pub struct LedgerWrite {
    pub program_id: String,
    pub customer_id: CustomerId,
    /// `None` only for Tally's own upkeep writes (expiry, tiers), which are naturally idempotent.
    pub client_id: Option<ClientId>,
    pub operation: Operation,
    pub source: String,
    pub reference: Option<String>,
    pub rule_snapshot: Option<serde_json::Value>,
    pub expiry: ExpiryPolicy,
    pub clawback: ClawbackPolicy,
    /// Recomputed after the write; a change is recorded in the customer's tier history.
    pub tiers: TierLadder,
    /// What else the write does, in the same transaction.
    pub effect: Effect,
    /// Refuse the write when the customer already has `max` entries from this write's source
    /// since `since` (action caps), counted under the customer's lock.
    pub cap: Option<CapCheck>,
    /// What the write causes elsewhere, committed in the same transaction once it applies
    /// (a referral's awards, the coupons a cancelled order had used).
    pub follow_ups: Vec<FollowUp>,
    /// The console's record of the change, committed with it; an object `after` gains the
    /// `available` balance the write left.
    pub audit: Option<AuditEntry>,
    pub now: Timestamp,
}

/// A consequence of a write, applied in its transaction after it. A follow-up write that is
/// refused (a cap reached, a coupon already released) or was applied before (its client id)
/// is skipped alone; the write and the other follow-ups still commit.
#[derive(Clone, Debug)]
pub enum FollowUp {
    Write(Box<LedgerWrite>),
    /// The referral of this customer has been rewarded: later orders award nothing.
    MarkReferralRewarded {
        referred: CustomerId,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapCheck {
    pub since: Timestamp,
    pub max: u32,
}

impl LedgerWrite {
    /// A write under `program`'s policies (expiry, clawback, tiers), with no reference,
    /// snapshot, effect or cap; set those fields as needed.
    pub fn new(
        program: &Program,
        customer_id: CustomerId,
        client_id: Option<ClientId>,
        operation: Operation,
        source: &str,
        now: Timestamp,
    ) -> Self {
        Self {
            program_id: program.id.clone(),
            customer_id,
            client_id,
            operation,
            source: source.to_owned(),
            reference: None,
            rule_snapshot: None,
            expiry: program.settings.expiry,
            clawback: program.settings.clawback,
            tiers: program.settings.tiers.clone(),
            effect: Effect::None,
            cap: None,
            follow_ups: Vec::new(),
            audit: None,
            now,
        }
    }
}

/// A write's work besides the ledger, committed with it or not at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    None,
    /// A redemption: checks the reward's per-customer limit, takes one from its stock and
    /// issues `coupon`.
    IssueCoupon {
        coupon: Coupon,
        per_customer_limit: Option<u32>,
        uses_stock: bool,
    },
    /// Cancels an issued (unused) coupon; the operation restores its points.
    CancelCoupon {
        code: String,
    },
    /// Cancels a coupon consumed by an order that was then cancelled; the operation restores
    /// its points.
    ReleaseUsedCoupon {
        code: String,
    },
    /// The upkeep's settle: each batch of points expiring within `expiry_within_days` that was
    /// not announced yet gets one `points.expiring_soon` event (once per batch, recorded), and
    /// within `last_chance_days` one more, marked `last_chance`. A tier that the rolling window
    /// takes within `tier_at_risk_days` gets one `tier.at_risk` event per episode (recorded
    /// until the customer is safe again).
    Upkeep {
        expiry_within_days: u32,
        last_chance_days: Option<u32>,
        tier_at_risk_days: u32,
    },
    /// An imported row: the profile fields the file has (the others are kept) and what the
    /// customer brings toward tiers, counted from the import's moment like an earning.
    Import {
        profile: ProfilePatch,
        qualifying: Option<i64>,
    },
}

/// Profile fields to set, each only when present.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfilePatch {
    pub email: Option<String>,
    pub name: Option<String>,
    pub birthday: Option<String>,
    pub marketing_consent: Option<bool>,
}

/// What a write committed, stored with its client id and returned again on a replay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WriteResult {
    pub customer_id: String,
    pub entries: Vec<EntryRecord>,
    pub available: Points,
    pub pending: Points,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coupon: Option<Coupon>,
    /// Coupons that follow-up writes released, their points back with their customers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub released_coupons: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    Applied(WriteResult),
    /// The same client id and body again: the original result, nothing applied.
    Replayed(WriteResult),
    /// The same client id with a different body.
    Conflict,
    /// Refused (nothing was written).
    Refused(Refusal),
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub enum Refusal {
    Ledger(#[from] LedgerError),
    RewardLimitReached,
    OutOfStock,
    CouponNotIssued,
    CapReached,
    /// An order id belongs to the customer of its first event.
    OrderOfAnotherCustomer,
}

impl Refusal {
    pub fn message(&self) -> Message {
        match self {
            Self::Ledger(error) => error.message(),
            Self::RewardLimitReached => message!("this customer has redeemed this reward as many times as allowed"),
            Self::OutOfStock => message!("this reward is out of stock"),
            Self::CouponNotIssued => message!("this coupon was already used or cancelled"),
            Self::CapReached => message!("the customer already earned the most this action gives in its period"),
            Self::OrderOfAnotherCustomer => message!("this order was reported for another customer"),
        }
    }
}

/// The one way points move.
#[async_trait]
pub trait LedgerStore: Send + Sync {
    /// Applies one ledger write atomically: locks the customer (creating them if new), checks
    /// the client id (I3), applies the operation to the loaded account, appends the entries,
    /// updates lots, order totals and the customer, stores the result under the client id, and
    /// commits. Acknowledged only once committed.
    async fn write_ledger(&self, write: &LedgerWrite) -> Result<WriteOutcome, StorageError>;
    /// Several writes in one transaction, each in a savepoint of its own (one refused or
    /// replayed is undone alone), committed once: one disk flush for all (imports). An error
    /// undoes the whole batch; the caller may write them one by one instead.
    async fn write_ledger_batch(&self, writes: &[LedgerWrite]) -> Result<Vec<WriteOutcome>, StorageError>;
}

//! The points service: every business operation on a program's points, the one code path for
//! the REST API, the widget API, the console, the CLI, the demo and the upkeep job.
//!
//! It takes the caller's request as domain values (raw ids are validated here, once), decides
//! with the pure rules (`rules`, `tiers`, `rewards`, `ledger`), and hands one [`LedgerWrite`] to
//! storage, which applies it with everything it causes in one transaction. It knows nothing of
//! HTTP: errors are [`PointsError`]s, which each surface turns into its own answer.
//!
//! Idempotency (I3): every write carries the caller's client id and a hash of the whole request
//! *including its target* (the customer, the order), so the same id sent for another customer
//! or order is a conflict, never the first request's result.

mod accounts;
mod orders;
mod programs;
mod redemptions;

use std::sync::Arc;

use serde::Serialize;

pub use accounts::{AccountView, AdjustmentRequest, EXPIRING_SOON_DAYS};
pub use orders::{ActionEvent, OrderEvent, ReferralEvent, Refund};
pub use redemptions::Redemption;

use crate::{
    customers::{AdjustmentError, CustomerId},
    ledger::{LedgerError, Timestamp},
    rewards::{CouponStatus, RewardError},
    rules::OrderError,
    secrets,
    storage::{ClientId, LedgerWrite, Refusal, Storage, StorageError, WriteOutcome, WriteResult},
    time::Clock,
};

/// Owns the business operations; cheap to clone (shared storage and clock).
#[derive(Clone)]
pub struct PointsService {
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
}

/// A write that went through: applied now, or the original result of an earlier one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    pub result: WriteResult,
    /// The same client id and request again: nothing was applied.
    pub replayed: bool,
}

/// Why an operation did not happen. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum PointsError {
    /// A request field is missing, malformed or out of range.
    #[error("{message}")]
    Invalid { field: String, message: String },
    #[error("no customer has the id {0:?} in this program")]
    NoCustomer(String),
    #[error("no order {0:?} was reported in this program")]
    NoOrder(String),
    #[error("no coupon {0:?} in this program")]
    NoCoupon(String),
    /// The client id was used before for another request (another body, customer or order).
    #[error("{field} {id:?} was already used for a different request; use a new {field}")]
    IdempotencyConflict { field: &'static str, id: String },
    /// The ledger or an effect refused the write under the customer's lock.
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("referrals count for new customers: this one has already ordered")]
    AlreadyOrdered,
    #[error("this customer was referred by {referrer:?}")]
    AlreadyReferred { referrer: String },
    #[error("this reward is not available now")]
    RewardUnavailable,
    #[error("this reward needs the {tier:?} tier or above")]
    TierRequired { tier: String },
    #[error("this coupon cannot be used: it is {}", status_words(*.0))]
    CouponUnusable(CouponStatus),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

fn status_words(status: CouponStatus) -> &'static str {
    match status {
        CouponStatus::Consumed => "already used",
        CouponStatus::Cancelled => "cancelled",
        CouponStatus::Issued => "expired",
    }
}

impl PointsError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid { field: field.into(), message: message.into() }
    }
}

impl From<OrderError> for PointsError {
    fn from(error: OrderError) -> Self {
        Self::invalid(error.field(), error.to_string())
    }
}

impl From<AdjustmentError> for PointsError {
    fn from(error: AdjustmentError) -> Self {
        Self::invalid(error.field(), error.to_string())
    }
}

impl From<RewardError> for PointsError {
    fn from(error: RewardError) -> Self {
        match error {
            RewardError::Invalid { field, message } => Self::invalid(field, message),
            RewardError::NotAvailable => Self::RewardUnavailable,
            other => Self::invalid("points", other.to_string()),
        }
    }
}

impl From<LedgerError> for PointsError {
    fn from(error: LedgerError) -> Self {
        Self::Refused(Refusal::Ledger(error))
    }
}

/// A customer id from a request field.
pub fn customer_id(field: &str, raw: &str) -> Result<CustomerId, PointsError> {
    CustomerId::parse(raw).map_err(|error| PointsError::invalid(field, error.to_string()))
}

/// An id chosen by the caller (client ids, order ids): 1 to 128 characters, none of them a
/// control character (NUL included).
pub fn caller_id(field: &str, value: &str) -> Result<(), PointsError> {
    if crate::customers::is_caller_id(value) {
        Ok(())
    } else {
        Err(PointsError::invalid(field, format!("{field} must be 1 to 128 characters without control characters")))
    }
}

/// The client id of a write: `kind` namespaces it, `request` is everything the caller asked
/// for (target included), hashed to tell a replay from another request.
fn client_id(kind: &'static str, field: &str, id: &str, request: &impl Serialize) -> Result<ClientId, PointsError> {
    caller_id(field, id)?;
    let request = serde_json::to_vec(request).expect("requests serialise");
    Ok(ClientId { kind, id: id.to_owned(), request_hash: secrets::fingerprint(&request) })
}

impl PointsService {
    pub fn new(storage: Arc<dyn Storage>, clock: Arc<dyn Clock>) -> Self {
        Self { storage, clock }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn storage(&self) -> &dyn Storage {
        self.storage.as_ref()
    }

    /// Hands the write to storage and names the client id field in a conflict.
    async fn write(&self, write: LedgerWrite, field: &'static str) -> Result<Written, PointsError> {
        match self.storage.write_ledger(&write).await? {
            WriteOutcome::Applied(result) => Ok(Written { result, replayed: false }),
            WriteOutcome::Replayed(result) => Ok(Written { result, replayed: true }),
            WriteOutcome::Conflict => Err(PointsError::IdempotencyConflict {
                field,
                id: write.client_id.map(|client| client.id).unwrap_or_default(),
            }),
            WriteOutcome::Refused(refusal) => Err(PointsError::Refused(refusal)),
        }
    }
}

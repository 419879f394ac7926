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
mod imports;
mod orders;
mod privacy;
mod programs;
mod redemptions;
mod referrals;

use std::sync::Arc;

use serde::Serialize;

pub use accounts::{AccountView, AdjustmentRequest, EXPIRING_SOON_DAYS};
pub use imports::{ImportUpload, UploadedImport, IMPORT_BATCH, MAX_IMPORT_BYTES};
pub use orders::{ActionEvent, OrderEvent, Refund};
pub use privacy::CustomerExport;
pub use redemptions::Redemption;
pub use referrals::{ReferralClaim, ReferralEvent};

use crate::{
    customers::{AdjustmentError, CustomerId},
    ledger::{LedgerError, Timestamp},
    message::{message, Message},
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
    /// Told after every write: the delivery worker sends the write's events at once.
    outbox: Arc<tokio::sync::Notify>,
    /// Told when an import starts: this process's import worker takes it at once.
    imports: Arc<tokio::sync::Notify>,
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
    Invalid { field: String, message: Message },
    #[error("{}", self.message())]
    NoCustomer(String),
    #[error("{}", self.message())]
    NoOrder(String),
    #[error("{}", self.message())]
    NoCoupon(String),
    #[error("{}", self.message())]
    NoImport(String),
    /// The import is running or done: its mapping and mode stay as they ran.
    #[error("{}", self.message())]
    ImportStarted,
    /// The client id was used before for another request (another body, customer or order).
    #[error("{}", self.message())]
    IdempotencyConflict { field: &'static str, id: String },
    /// The ledger or an effect refused the write under the customer's lock.
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("{}", self.message())]
    AlreadyOrdered,
    #[error("{}", self.message())]
    AlreadyReferred { referrer: String },
    #[error("{}", self.message())]
    NoReferral(String),
    /// Only a held referral can be approved or rejected.
    #[error("{}", self.message())]
    ReferralDecided(crate::referrals::ReferralStatus),
    #[error("{}", self.message())]
    RewardUnavailable,
    #[error("{}", self.message())]
    TierRequired { tier: String },
    #[error("{}", self.message())]
    CouponUnusable(CouponStatus),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl PointsError {
    pub fn invalid(field: impl Into<String>, message: Message) -> Self {
        Self::Invalid { field: field.into(), message }
    }

    /// What went wrong, for a person (the console translates it).
    pub fn message(&self) -> Message {
        let quoted = |id: &str| format!("{id:?}");
        match self {
            Self::Invalid { message, .. } => message.clone(),
            Self::NoCustomer(id) => message!("no customer has the id {0} in this program", quoted(id)),
            Self::NoOrder(id) => message!("no order {0} was reported in this program", quoted(id)),
            Self::NoCoupon(code) => message!("no coupon {0} in this program", quoted(code)),
            Self::NoImport(id) => message!("no import {0} in this program", quoted(id)),
            Self::ImportStarted => message!("this import has started: upload the file again to change it"),
            Self::IdempotencyConflict { field, id } => {
                message!("{0} {1} was already used for a different request; use a new {0}", field, quoted(id))
            }
            Self::Refused(refusal) => refusal.message(),
            Self::AlreadyOrdered => message!("referrals count for new customers: this one has already ordered"),
            Self::AlreadyReferred { referrer } => message!("this customer was referred by {0}", quoted(referrer)),
            Self::NoReferral(id) => message!("no referral of customer {0} in this program", quoted(id)),
            Self::ReferralDecided(crate::referrals::ReferralStatus::Approved) => {
                message!("this referral is already approved")
            }
            Self::ReferralDecided(_) => message!("this referral is already decided"),
            Self::RewardUnavailable => message!("this reward is not available now"),
            Self::TierRequired { tier } => message!("this reward needs the {0} tier or above", quoted(tier)),
            Self::CouponUnusable(CouponStatus::Consumed) => message!("this coupon cannot be used: it is already used"),
            Self::CouponUnusable(CouponStatus::Cancelled) => message!("this coupon cannot be used: it is cancelled"),
            Self::CouponUnusable(CouponStatus::Issued) => message!("this coupon cannot be used: it is expired"),
            Self::Storage(_) => message!("The database did not answer. Try again in a moment."),
        }
    }
}

impl From<OrderError> for PointsError {
    fn from(error: OrderError) -> Self {
        Self::invalid(error.field(), error.message())
    }
}

impl From<AdjustmentError> for PointsError {
    fn from(error: AdjustmentError) -> Self {
        Self::invalid(error.field(), error.message())
    }
}

impl From<RewardError> for PointsError {
    fn from(error: RewardError) -> Self {
        match error {
            RewardError::Invalid { field, message } => Self::invalid(field, message),
            RewardError::NotAvailable => Self::RewardUnavailable,
            other => Self::invalid("points", other.message()),
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
    CustomerId::parse(raw).map_err(|error| PointsError::invalid(field, error.message()))
}

/// An id chosen by the caller (client ids, order ids): 1 to 128 characters, none of them a
/// control character (NUL included).
pub fn caller_id(field: &str, value: &str) -> Result<(), PointsError> {
    if crate::customers::is_caller_id(value) {
        Ok(())
    } else {
        let field = field.to_owned();
        Err(PointsError::invalid(&field, message!("{0} must be 1 to 128 characters without control characters", field)))
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
        Self {
            storage,
            clock,
            outbox: Arc::new(tokio::sync::Notify::new()),
            imports: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// What wakes the delivery worker of this process.
    pub fn outbox_waker(&self) -> Arc<tokio::sync::Notify> {
        self.outbox.clone()
    }

    /// Wakes the delivery worker: the outbox has something new.
    pub fn wake_outbox(&self) {
        self.outbox.notify_one();
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn storage(&self) -> &dyn Storage {
        self.storage.as_ref()
    }

    /// The storage, to keep (a task that outlives the borrow).
    pub fn storage_handle(&self) -> Arc<dyn Storage> {
        self.storage.clone()
    }

    /// Hands the write to storage and names the client id field in a conflict.
    async fn write(&self, write: LedgerWrite, field: &'static str) -> Result<Written, PointsError> {
        match self.storage.write_ledger(&write).await? {
            WriteOutcome::Applied(result) => {
                self.wake_outbox();
                Ok(Written { result, replayed: false })
            }
            WriteOutcome::Replayed(result) => Ok(Written { result, replayed: true }),
            WriteOutcome::Conflict => Err(PointsError::IdempotencyConflict {
                field,
                id: write.client_id.map(|client| client.id).unwrap_or_default(),
            }),
            WriteOutcome::Refused(refusal) => Err(PointsError::Refused(refusal)),
        }
    }
}

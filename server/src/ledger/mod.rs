//! The points ledger: pure, storage-agnostic rules for one customer's points.
//!
//! Storage loads a customer's [`Account`] (open lots, debt, the totals of the order concerned),
//! calls one operation with the current time, appends the returned [`NewEntry`]s and saves the
//! account, all in one transaction. Nothing here does I/O or reads a clock.
//!
//! # Invariants
//! - **I1** a customer's available balance at time `t` equals the sum of the points of their
//!   entries that are available at `t` (`available_at <= t`); pending entries count later.
//! - **I2** a redemption (or a negative adjustment) never takes the available balance below zero.
//!   A refund clawback may, only under [`ClawbackPolicy::AllowNegative`]; by default it stops at
//!   zero and records the shortfall on its entry.
//! - **I3** every write carries a client id, unique per program (enforced by storage).
//! - **I4** reversals and voids for an order never exceed what that order earned.
//! - **I5** points leave only through entries; redemptions and expiry take the oldest lots first.
//!
//! Points sit in *lots*: every positive entry opens one, negative entries consume them. A lot is
//! pending until its `available_at`; an expiring lot leaves through an `expire` entry.

mod account;
mod operation;
#[cfg(test)]
mod tests;
pub mod totals;

pub use crate::time::{Clock, ManualClock, SystemClock, Timestamp};
pub use account::{Account, Balances, ExpiryBatch, Lot, OrderTotals};
pub use operation::Operation;
use serde::{Deserialize, Serialize};

use crate::message::{message, Message};

/// Points are whole numbers; negative means points leaving the customer.
pub type Points = i64;

/// Bounds a single write, so sums of many entries stay far from overflow.
pub const MAX_POINTS_PER_WRITE: Points = 1_000_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Earn,
    Redeem,
    Adjust,
    /// A refund or cancellation taking earned points back, or redeemed points coming back.
    Reverse,
    Expire,
    /// Pending points cancelled before they became available.
    Void,
}

impl EntryKind {
    /// The name used in storage and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Earn => "earn",
            Self::Redeem => "redeem",
            Self::Adjust => "adjust",
            Self::Reverse => "reverse",
            Self::Expire => "expire",
            Self::Void => "void",
        }
    }

    /// The kind named by [`Self::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Earn, Self::Redeem, Self::Adjust, Self::Reverse, Self::Expire, Self::Void]
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

/// How a customer's lots expire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExpiryPolicy {
    #[default]
    Never,
    /// Each lot expires this many days after it was earned.
    AfterEarning { days: u32 },
    /// Every lot expires once the customer has had no earning or redemption for this many days.
    AfterInactivity { days: u32 },
}

/// What a refund does when the points it takes back were already spent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClawbackPolicy {
    /// Take what is available and record the rest as the entry's shortfall (the default).
    #[default]
    CapAtZero,
    /// Take it all; the balance may go below zero until later earnings pay it back.
    AllowNegative,
}

/// An entry the ledger asks storage to append. Storage adds the program, customer, client id,
/// source, reference and creation time, which the ledger's arithmetic does not depend on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEntry {
    /// Position in the customer's ledger, from 1; also the id of the lot a positive entry opens.
    pub seq: u64,
    pub kind: EntryKind,
    pub points: Points,
    /// When the points count toward the available balance (I1).
    pub available_at: Timestamp,
    pub order_id: Option<String>,
    /// Lots this entry took points from, oldest first: `(lot seq, points)`.
    pub consumed: Vec<(u64, Points)>,
    /// Points a capped clawback could not take back (I2).
    pub shortfall: Points,
    /// The available balance right after this entry, at the time it was written.
    pub balance_after: Points,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub enum LedgerError {
    InsufficientPoints { available: Points, requested: Points },
    NotPositive(Points),
    Zero,
    OrderAlreadyRecorded,
    UnknownOrder,
    RefundTooLarge { refundable: i64 },
}

impl LedgerError {
    pub fn message(&self) -> Message {
        match self {
            Self::InsufficientPoints { available, requested } => {
                message!("not enough points: {0} available, {1} requested", available, requested)
            }
            Self::NotPositive(points) => message!("points must be positive, got {0}", points),
            Self::Zero => message!("points must not be zero"),
            Self::OrderAlreadyRecorded => {
                message!("this order already earned points; report refunds or a cancellation instead")
            }
            Self::UnknownOrder => message!("no points were earned for this order"),
            Self::RefundTooLarge { refundable } => {
                message!("a refund can be at most what is left of the order's payment: {0}", refundable)
            }
        }
    }
}

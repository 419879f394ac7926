//! One ledger write, as a value: what the API asks for, applied by storage inside its
//! transaction to the account and order totals it loaded, so concurrent writes to one order
//! always see each other.

use serde::{Deserialize, Serialize};

use super::{Account, ClawbackPolicy, LedgerError, NewEntry, OrderTotals, Points, Timestamp};
use crate::rules::{refund_points, Minor};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Operation {
    /// Points for an action (signup, review, ...): available at once.
    Earn {
        points: Points,
        available_at: Timestamp,
    },
    /// Points for an order that earned on `amount`; each order earns once.
    EarnOrder {
        order_id: String,
        points: Points,
        amount: Minor,
        available_at: Timestamp,
    },
    Redeem {
        points: Points,
    },
    Adjust {
        points: Points,
    },
    Restore {
        points: Points,
    },
    /// An import that sets the balance: the available points become `points` by one
    /// adjustment of the difference (none when they already are).
    SetBalance {
        points: Points,
    },
    /// A refund of `amount` of the order's money: points in proportion (I4 bounds them).
    Refund {
        order_id: String,
        amount: Minor,
    },
    CancelOrder {
        order_id: String,
    },
    /// Nothing new: expiry and tier upkeep as of now (the maintenance job).
    Settle,
}

impl Operation {
    /// The order whose totals the operation reads or changes (I4).
    pub fn order_id(&self) -> Option<&str> {
        match self {
            Self::EarnOrder { order_id, .. } | Self::Refund { order_id, .. } | Self::CancelOrder { order_id } => {
                Some(order_id)
            }
            Self::Earn { .. }
            | Self::Redeem { .. }
            | Self::Adjust { .. }
            | Self::Restore { .. }
            | Self::SetBalance { .. }
            | Self::Settle => None,
        }
    }

    pub fn apply(
        &self,
        account: &mut Account,
        order: &mut OrderTotals,
        now: Timestamp,
        clawback: ClawbackPolicy,
    ) -> Result<Vec<NewEntry>, LedgerError> {
        match self {
            Self::Earn { points, available_at } => account.earn(now, *points, None, *available_at),
            Self::EarnOrder { order_id, points, amount, available_at } => {
                if order.recorded {
                    return Err(LedgerError::OrderAlreadyRecorded);
                }
                order.recorded = true;
                order.amount = *amount;
                if *points == 0 {
                    // Recorded (so refunds and repeats are recognised) but earns nothing.
                    return Ok(account.settle(now));
                }
                order.earned = *points;
                account.earn(now, *points, Some(order_id.clone()), *available_at)
            }
            Self::Redeem { points } => account.redeem(now, *points),
            Self::Adjust { points } => account.adjust(now, *points),
            Self::Restore { points } => account.restore(now, *points),
            Self::SetBalance { points } => {
                let mut entries = account.settle(now);
                let difference = points.saturating_sub(account.available(now));
                if difference != 0 {
                    entries.extend(account.adjust(now, difference)?);
                }
                Ok(entries)
            }
            Self::Refund { order_id, amount } => {
                if !order.recorded {
                    return Err(LedgerError::UnknownOrder);
                }
                // A refund never exceeds what was paid less what was refunded before.
                let refundable = (order.amount - order.refunded).max(0);
                if *amount <= 0 || *amount > refundable {
                    return Err(LedgerError::RefundTooLarge { refundable });
                }
                let points = refund_points(order.earned, order.amount, order.refunded, *amount);
                order.refunded += amount;
                if points == 0 {
                    return Ok(account.settle(now));
                }
                account.take_back(now, order_id, order, points, clawback)
            }
            Self::Settle => Ok(account.settle(now)),
            Self::CancelOrder { order_id } => {
                if !order.recorded {
                    return Err(LedgerError::UnknownOrder);
                }
                order.refunded = order.amount;
                account.cancel_order(now, order_id, order, clawback)
            }
        }
    }
}

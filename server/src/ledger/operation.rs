//! One ledger write, as a value: what the API asks for, applied by storage inside its
//! transaction to the account it loaded.

use serde::{Deserialize, Serialize};

use super::{Account, ClawbackPolicy, LedgerError, NewEntry, OrderTotals, Points, Timestamp};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Operation {
    Earn { points: Points, order_id: Option<String>, available_at: Timestamp },
    Redeem { points: Points },
    Adjust { points: Points },
    Restore { points: Points },
    TakeBack { order_id: String, points: Points },
    CancelOrder { order_id: String },
}

impl Operation {
    /// The order whose totals the operation reads or changes (I4).
    pub fn order_id(&self) -> Option<&str> {
        match self {
            Self::Earn { order_id, .. } => order_id.as_deref(),
            Self::TakeBack { order_id, .. } | Self::CancelOrder { order_id } => Some(order_id),
            Self::Redeem { .. } | Self::Adjust { .. } | Self::Restore { .. } => None,
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
            Self::Earn { points, order_id, available_at } => {
                let entries = account.earn(now, *points, order_id.clone(), *available_at)?;
                if order_id.is_some() {
                    order.earned += points;
                }
                Ok(entries)
            }
            Self::Redeem { points } => account.redeem(now, *points),
            Self::Adjust { points } => account.adjust(now, *points),
            Self::Restore { points } => account.restore(now, *points),
            Self::TakeBack { order_id, points } => account.take_back(now, order_id, order, *points, clawback),
            Self::CancelOrder { order_id } => account.cancel_order(now, order_id, order, clawback),
        }
    }
}

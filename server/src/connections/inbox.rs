//! The inbox worker: applies the stores' stored deliveries through the points service, each
//! once, one subject's (an order's) in the order they arrived; updates older than what was
//! applied for an order are stale and skipped. A delivery that fails for a passing reason (the
//! database) is tried again with the webhook backoff; one that can never apply (a malformed
//! payload, a refused order) is kept as failed with the reason, for the admin.

use std::collections::HashMap;

use super::{read_delivery, StoreChange};
use crate::{
    ledger::Timestamp,
    points::{ActionEvent, PointsError, PointsService, ReferralClaim},
    programs::Program,
    storage::{InboxItem, InboxStatus, StorageError, StoreConnection},
};

/// A claimed delivery may run this long before another worker may claim it again.
const LEASE_MS: i64 = 60_000;

pub struct InboxWorker {
    points: PointsService,
}

/// What applying a change came to, in words for the connections page.
type Outcome = Result<String, PointsError>;

impl InboxWorker {
    pub fn new(points: PointsService) -> Self {
        Self { points }
    }

    /// Applies every due delivery it can claim; how many it handled.
    pub async fn run_once(&self) -> Result<usize, StorageError> {
        let storage = self.points.storage();
        let now = self.points.now();
        let due = storage.claim_inbox(now, Timestamp(now.0.saturating_add(LEASE_MS)), 32).await?;
        // Each program once per pass, however many of its deliveries were claimed.
        let mut programs: HashMap<&str, Result<Option<Program>, String>> = HashMap::new();
        for item in &due {
            let id = item.connection.program_id.as_str();
            if !programs.contains_key(id) {
                programs.insert(id, storage.program_by_id(id).await.map_err(|error| error.to_string()));
            }
        }
        // Each claimed delivery is the oldest pending one of its subject: they apply side by side.
        let handled = due.iter().map(|item| self.handle(item, &programs[item.connection.program_id.as_str()]));
        let handled = futures_util::future::join_all(handled).await;
        for (item, (status, outcome, retry_at)) in due.iter().zip(handled) {
            storage.finish_inbox(item.id, status, &outcome, retry_at, self.points.now()).await?;
        }
        Ok(due.len())
    }

    async fn handle(
        &self,
        item: &InboxItem,
        program: &Result<Option<Program>, String>,
    ) -> (InboxStatus, String, Option<Timestamp>) {
        let program = match program {
            Ok(Some(program)) => program,
            Ok(None) => return (InboxStatus::Failed, "the program no longer exists".into(), None),
            Err(error) => return self.retry(item, error.clone()),
        };
        let change = read_delivery(&item.connection.platform, &item.topic, item.body.as_bytes(), &program.currency);
        let change = match change {
            Ok(Some(change)) => change,
            Ok(None) => return (InboxStatus::Ignored, format!("topic {} is not used", item.topic), None),
            Err(error) => return (InboxStatus::Failed, error.to_string(), None),
        };
        match self.apply(program, &item.connection, change).await {
            Ok(outcome) => (InboxStatus::Done, outcome, None),
            Err(PointsError::Storage(error)) => self.retry(item, error.to_string()),
            // A refund that came before its order (deliveries are not ordered across topics):
            // tried again once the order is there.
            Err(PointsError::NoOrder(order)) => self.retry(item, format!("order {order} not reported yet")),
            Err(refused) => (InboxStatus::Failed, refused.to_string(), None),
        }
    }

    /// Tried again later, or failed after the last retry.
    fn retry(&self, item: &InboxItem, reason: String) -> (InboxStatus, String, Option<Timestamp>) {
        match super::webhooks::next_attempt(item.attempts, self.points.now(), 0.5) {
            Some(at) => (InboxStatus::Pending, reason, Some(at)),
            None => (InboxStatus::Failed, reason, None),
        }
    }

    /// Whether an update of the order made at `modified_at` is older than one applied already.
    async fn stale(
        &self,
        connection: &StoreConnection,
        order_id: &str,
        modified_at: Timestamp,
    ) -> Result<bool, PointsError> {
        let seen = self.points.storage().platform_order_seen(&connection.id, order_id).await?;
        Ok(seen.is_some_and(|seen| seen > modified_at))
    }

    async fn remember(&self, connection: &StoreConnection, order_id: &str, at: Timestamp) -> Result<(), PointsError> {
        Ok(self.points.storage().remember_platform_order(&connection.id, order_id, at).await?)
    }

    async fn apply(&self, program: &Program, connection: &StoreConnection, change: StoreChange) -> Outcome {
        let points = &self.points;
        match change {
            StoreChange::Paid { order, refunds, coupons, modified_at, referral } => {
                if self.stale(connection, &order.order_id, modified_at).await? {
                    return Ok("an older update than one applied: skipped".into());
                }
                // Before the order earns: an approved referral pays on this first order.
                let mut said = match referral {
                    Some(referral) => vec![claim_order_referral(points, program, connection, &order, referral).await?],
                    None => Vec::new(),
                };
                said.push(match points.record_order(program, &order).await {
                    Ok(written) if written.replayed => "already earned".to_owned(),
                    Ok(written) => {
                        format!("earned {} points", written.result.entries.iter().map(|e| e.points).sum::<i64>())
                    }
                    // The same order reported again with other details: it earned once already.
                    Err(PointsError::IdempotencyConflict { .. }) => "already earned".to_owned(),
                    Err(error) => return Err(error),
                });
                for code in coupons {
                    said.push(match points.consume_coupon(program, &code, &order.order_id).await {
                        Ok(_) => format!("coupon {code} used"),
                        Err(PointsError::Storage(error)) => return Err(PointsError::Storage(error)),
                        Err(error) => format!("coupon {code}: {error}"),
                    });
                }
                said.extend(self.refunds(program, &refunds).await?);
                self.remember(connection, &order.order_id, modified_at).await?;
                Ok(said.join("; "))
            }
            StoreChange::Refunded { order_id, refunds, modified_at } => {
                if let Some(modified_at) = modified_at {
                    if self.stale(connection, &order_id, modified_at).await? {
                        return Ok("an older update than one applied: skipped".into());
                    }
                }
                let said = match self.refunds(program, &refunds).await {
                    // WooCommerce sends the whole order: one that never earned (a guest's) has
                    // nothing to refund, now or later.
                    Err(PointsError::NoOrder(_)) if modified_at.is_some() => {
                        vec!["never earned: nothing to refund".into()]
                    }
                    other => other?,
                };
                if let Some(modified_at) = modified_at {
                    self.remember(connection, &order_id, modified_at).await?;
                }
                Ok(if said.is_empty() { "refunded, no refund listed".into() } else { said.join("; ") })
            }
            StoreChange::Cancelled { order_id, modified_at } => {
                if self.stale(connection, &order_id, modified_at).await? {
                    return Ok("an older update than one applied: skipped".into());
                }
                let said = match points.cancel_order(program, &order_id).await {
                    Ok(written) => format!(
                        "cancelled: {} points back",
                        -written.result.entries.iter().map(|e| e.points).sum::<i64>()
                    ),
                    Err(PointsError::NoOrder(_)) => "cancelled before it earned: nothing to take back".to_owned(),
                    Err(PointsError::Storage(error)) => return Err(PointsError::Storage(error)),
                    Err(error) => format!("cancelled: {error}"),
                };
                self.remember(connection, &order_id, modified_at).await?;
                Ok(said)
            }
            StoreChange::NotPaid { order_id, modified_at } => {
                self.remember(connection, &order_id, modified_at).await?;
                Ok("not paid yet: nothing to do".into())
            }
            StoreChange::Guest { order_id } => Ok(format!("skipped: order {order_id} has no customer account")),
            StoreChange::NewCustomer { customer_id, profile, event_id } => {
                let id = crate::points::customer_id("id", &customer_id)?;
                profile.validate().map_err(|error| PointsError::invalid(error.field(), error.message()))?;
                points.storage().upsert_customer(&program.id, &id, &profile, points.now()).await?;
                let signup = ActionEvent { event_id, customer_id, action: "signup".into(), occurred_at: None };
                Ok(match points.record_action(program, &signup).await {
                    Ok(written) if !written.replayed => "joined; signup points earned".to_owned(),
                    Ok(_) | Err(PointsError::IdempotencyConflict { .. }) => "joined".to_owned(),
                    Err(PointsError::Storage(error)) => return Err(PointsError::Storage(error)),
                    Err(_) => "joined (the program gives no signup points)".to_owned(),
                })
            }
        }
    }

    /// Each refund once, by its id: a refund seen before is a replay. A refund of an order not
    /// recorded yet stops here (the delivery is tried again).
    async fn refunds(&self, program: &Program, refunds: &[crate::points::Refund]) -> Result<Vec<String>, PointsError> {
        let mut said = Vec::new();
        for refund in refunds {
            said.push(match self.points.refund(program, refund).await {
                Ok(written) if written.replayed => format!("{} already applied", refund.refund_id),
                Ok(_) => format!("{} applied", refund.refund_id),
                Err(error @ (PointsError::Storage(_) | PointsError::NoOrder(_))) => return Err(error),
                Err(error) => format!("{}: {error}", refund.refund_id),
            });
        }
        Ok(said)
    }
}

/// Claims the referral code a paid order carries for its customer, in words for the
/// connections page; a code refused (own, unknown, referred already) is said, not failed.
async fn claim_order_referral(
    points: &PointsService,
    program: &Program,
    connection: &StoreConnection,
    order: &crate::points::OrderEvent,
    referral: super::OrderReferral,
) -> Outcome {
    let referred = match crate::customers::CustomerId::parse(&order.customer_id) {
        Ok(id) => id,
        Err(error) => return Ok(format!("referral code {}: {}", referral.code, error.message())),
    };
    let claim = ReferralClaim {
        referred,
        email: referral.email,
        code: referral.code.clone(),
        channel: if connection.platform == "shopify" { "shopify" } else { "woocommerce" },
        address: referral.address,
        device: None,
    };
    Ok(match points.claim_referral(program, &claim).await {
        Ok((_, true)) => "referral already recorded".to_owned(),
        Ok((recorded, false)) => {
            format!("referred by {} ({})", recorded.referrer_id, recorded.status.as_str())
        }
        Err(PointsError::Storage(error)) => return Err(PointsError::Storage(error)),
        Err(error) => format!("referral code {}: {error}", referral.code),
    })
}

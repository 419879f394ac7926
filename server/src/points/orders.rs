//! What happens in the store: orders and actions earn (and a referral pays on a first order);
//! refunds and cancellations take back.

use serde::Serialize;
use serde_json::json;

use super::{caller_id, client_id, customer_id, PointsError, PointsService, Written};
use crate::{
    ledger::{Operation, Timestamp, MAX_POINTS_PER_WRITE},
    message::message,
    programs::Program,
    rules::{CampaignTarget, Minor, Order, MAX_AMOUNT},
    storage::{CapCheck, ClientId, Effect, FollowUp, LedgerWrite},
};

/// Events may be reported late, but not from the future (beyond clock skew).
const MAX_CLOCK_SKEW_MS: i64 = 5 * 60_000;

/// An order reported by the store: it earns under the purchase rule.
#[derive(Clone, Debug, Serialize)]
pub struct OrderEvent {
    pub event_id: String,
    pub customer_id: String,
    pub order_id: String,
    pub occurred_at: Option<Timestamp>,
    pub currency: String,
    pub order: Order,
}

/// An action (signup, review, birthday, `custom:NAME`, …): it earns under its action rule.
#[derive(Clone, Debug, Serialize)]
pub struct ActionEvent {
    pub event_id: String,
    pub customer_id: String,
    pub action: String,
    pub occurred_at: Option<Timestamp>,
}

/// Money refunded on an order, in minor units.
#[derive(Clone, Debug, Serialize)]
pub struct Refund {
    pub refund_id: String,
    pub order_id: String,
    pub amount: Minor,
}

impl PointsService {
    /// When the event happened: as reported (late is fine, the future is not), else now.
    fn occurred_at(&self, reported: Option<Timestamp>) -> Result<Timestamp, PointsError> {
        let now = self.now();
        let at = reported.unwrap_or(now);
        if at.0 > now.0.saturating_add(MAX_CLOCK_SKEW_MS) {
            return Err(PointsError::invalid("occurred_at", message!("occurred_at is in the future")));
        }
        Ok(at)
    }

    pub async fn record_order(&self, program: &Program, event: &OrderEvent) -> Result<Written, PointsError> {
        let customer = customer_id("customer_id", &event.customer_id)?;
        let client = client_id("event", "event_id", &event.event_id, event)?;
        caller_id("order_id", &event.order_id)?;
        if event.currency != program.currency {
            return Err(PointsError::invalid(
                "currency",
                message!("this program counts in {0}, not {1}", program.currency, event.currency),
            ));
        }
        let occurred_at = self.occurred_at(event.occurred_at)?;
        let order = &event.order;
        let paid = order.validate()?;
        let now = self.now();
        let settings = &program.settings;
        let tier_percent = if settings.tiers.tiers.is_empty() {
            100
        } else {
            let record = self.storage.customer(&program.id, &customer, settings.expiry).await?;
            settings.tiers.multiplier(record.and_then(|record| record.tier_id).as_deref())
        };
        let campaign_percent = settings.campaign_percent(occurred_at, CampaignTarget::Purchases);
        let snapshot = settings.purchase.points_for(order, tier_percent, campaign_percent);
        if snapshot.points > MAX_POINTS_PER_WRITE {
            return Err(PointsError::invalid("subtotal", message!("this order would earn more points than allowed")));
        }
        let available_at = Timestamp(occurred_at.plus_days(settings.pending_days).0.max(now.0));
        let operation = Operation::EarnOrder {
            order_id: event.order_id.clone(),
            points: snapshot.points,
            amount: paid,
            available_at,
        };
        let mut write = LedgerWrite::new(program, customer.clone(), Some(client), operation, "purchase", now);
        write.reference = Some(event.order_id.clone());
        write.rule_snapshot = Some(serde_json::to_value(&snapshot).expect("snapshots serialise"));
        write.follow_ups = self.referral_awards(program, &customer, now).await?;
        self.write(write, "event_id").await
    }

    pub async fn record_action(&self, program: &Program, event: &ActionEvent) -> Result<Written, PointsError> {
        let customer = customer_id("customer_id", &event.customer_id)?;
        let client = client_id("event", "event_id", &event.event_id, event)?;
        let occurred_at = self.occurred_at(event.occurred_at)?;
        let rule = program.settings.action_rule(&event.action).ok_or_else(|| {
            PointsError::invalid(
                "type",
                message!(
                    "no earning rule for {0} in this program (see `actions` in the settings)",
                    format!("{:?}", event.action)
                ),
            )
        })?;
        let now = self.now();
        let cap = rule.effective_cap().map(|cap| CapCheck { since: now.start_of(cap.per), max: cap.count });
        let campaign_percent = program.settings.campaign_percent(occurred_at, CampaignTarget::Actions);
        let points = i128::from(rule.points) * i128::from(campaign_percent) / 100;
        let points = i64::try_from(points)
            .ok()
            .filter(|points| *points <= MAX_POINTS_PER_WRITE)
            .ok_or_else(|| PointsError::invalid("type", message!("this action would earn more points than allowed")))?;
        let operation = Operation::Earn { points, available_at: now };
        let mut write = LedgerWrite::new(program, customer, Some(client), operation, &event.action, now);
        write.rule_snapshot = Some(json!({"rule": rule, "campaign_percent": campaign_percent, "points": points}));
        write.cap = cap;
        self.write(write, "event_id").await
    }

    /// Points back in proportion to the money refunded, pending points first.
    pub async fn refund(&self, program: &Program, refund: &Refund) -> Result<Written, PointsError> {
        let client = client_id("refund", "refund_id", &refund.refund_id, refund)?;
        if !(1..=MAX_AMOUNT).contains(&refund.amount) {
            return Err(PointsError::invalid(
                "amount",
                message!("amount must be a positive number of minor units, at most {0}", MAX_AMOUNT),
            ));
        }
        let operation = Operation::Refund { order_id: refund.order_id.clone(), amount: refund.amount };
        let write = self.order_write(program, &refund.order_id, client, operation).await?;
        self.write(write, "refund_id").await
    }

    /// Voids the order's pending points and takes back its available ones; coupons the order
    /// had used are cancelled in the same transaction, their points back with their customers.
    /// Cancelling twice is the same cancellation: the order id is its client id.
    pub async fn cancel_order(&self, program: &Program, order_id: &str) -> Result<Written, PointsError> {
        let client = client_id("cancel", "order_id", order_id, &order_id)?;
        let operation = Operation::CancelOrder { order_id: order_id.to_owned() };
        let mut write = self.order_write(program, order_id, client, operation).await?;
        for coupon in self.storage.coupons_used_by(&program.id, order_id).await? {
            let client = ClientId { kind: "coupon_release", id: coupon.code.clone(), request_hash: String::new() };
            let operation = Operation::Restore { points: coupon.points };
            let customer = customer_id("customer_id", &coupon.customer_id)?;
            let mut release = LedgerWrite::new(program, customer, Some(client), operation, "reward", write.now);
            release.reference = Some(coupon.code.clone());
            release.effect = Effect::ReleaseUsedCoupon { code: coupon.code };
            write.follow_ups.push(FollowUp::Write(Box::new(release)));
        }
        self.write(write, "order_id").await
    }

    /// A write to the ledger of the customer the order earned for.
    async fn order_write(
        &self,
        program: &Program,
        order_id: &str,
        client: ClientId,
        operation: Operation,
    ) -> Result<LedgerWrite, PointsError> {
        caller_id("order_id", order_id)?;
        let customer = self
            .storage
            .order_customer(&program.id, order_id)
            .await?
            .ok_or_else(|| PointsError::NoOrder(order_id.to_owned()))?;
        let mut write = LedgerWrite::new(
            program,
            customer_id("customer_id", &customer)?,
            Some(client),
            operation,
            "purchase",
            self.now(),
        );
        write.reference = Some(order_id.to_owned());
        Ok(write)
    }
}

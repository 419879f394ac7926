//! Spending points on rewards, and the coupons that come of it.

use serde::Serialize;

use super::{caller_id, client_id, customer_id, PointsError, PointsService, Written};
use crate::{
    ledger::{Operation, Points},
    message::message,
    programs::Program,
    rewards::{generate_code, Coupon, CouponStatus},
    storage::{ConsumeOutcome, Effect, LedgerWrite},
};

/// A customer spending points on a reward.
#[derive(Clone, Debug, Serialize)]
pub struct Redemption {
    /// Chosen by the caller; a retry with the same id returns the same coupon.
    pub redemption_id: String,
    pub customer_id: String,
    pub reward_id: String,
    /// For points-to-currency rewards: how many points to turn into money.
    pub points: Option<Points>,
}

impl PointsService {
    /// Spends the points and issues the reward's coupon, within its stock and per-customer
    /// limit (checked under the customer's lock).
    pub async fn redeem(&self, program: &Program, request: &Redemption) -> Result<Written, PointsError> {
        let customer = customer_id("customer_id", &request.customer_id)?;
        let client = client_id("redemption", "redemption_id", &request.redemption_id, request)?;
        caller_id("reward_id", &request.reward_id)?;
        let now = self.now();
        let reward = self.storage.reward(&program.id, &request.reward_id).await?.ok_or_else(|| {
            PointsError::invalid(
                "reward_id",
                message!("no reward {0} in this program", format!("{:?}", request.reward_id)),
            )
        })?;
        if !reward.is_available(now) {
            return Err(PointsError::RewardUnavailable);
        }
        let points = reward.cost(request.points)?;
        let value = reward.coupon_value(points)?;
        // The stored record suffices (its tier as last recomputed): no tier progress is read.
        let record = self
            .storage
            .customer(&program.id, &customer, program.settings.expiry)
            .await?
            .ok_or_else(|| PointsError::NoCustomer(customer.as_str().to_owned()))?;
        if let Some(minimum) = &reward.definition.min_tier {
            if !program.settings.tiers.reaches(record.tier_id.as_deref(), minimum) {
                return Err(PointsError::TierRequired { tier: minimum.clone() });
            }
        }
        let coupon = Coupon {
            code: generate_code(),
            customer_id: customer.as_str().to_owned(),
            reward_id: reward.id.clone(),
            points,
            value,
            status: CouponStatus::Issued,
            expires_at: now.plus_days(reward.definition.coupon_valid_days),
            created_at: now,
            order_id: None,
        };
        let effect = Effect::IssueCoupon {
            coupon,
            per_customer_limit: reward.definition.per_customer_limit,
            uses_stock: reward.definition.stock.is_some(),
        };
        let mut write = LedgerWrite::new(program, customer, Some(client), Operation::Redeem { points }, "reward", now);
        write.reference = Some(reward.id.clone());
        write.effect = effect;
        self.write(write, "redemption_id").await
    }

    pub async fn coupon(&self, program: &Program, code: &str) -> Result<Coupon, PointsError> {
        caller_id("code", code).map_err(|_| PointsError::NoCoupon(code.to_owned()))?;
        self.storage.coupon(&program.id, code).await?.ok_or_else(|| PointsError::NoCoupon(code.to_owned()))
    }

    /// An unused coupon is cancelled and its points come back (I4). Cancelling twice answers
    /// the first cancellation again.
    pub async fn cancel_coupon(&self, program: &Program, code: &str) -> Result<Written, PointsError> {
        let coupon = self.coupon(program, code).await?;
        let client = client_id("coupon_cancel", "code", code, &code)?;
        let customer = customer_id("customer_id", &coupon.customer_id)?;
        let operation = Operation::Restore { points: coupon.points };
        let mut write = LedgerWrite::new(program, customer, Some(client), operation, "reward", self.now());
        write.reference = Some(code.to_owned());
        write.effect = Effect::CancelCoupon { code: code.to_owned() };
        self.write(write, "code").await
    }

    /// Marks an issued, unexpired coupon as used by the order, exactly once.
    pub async fn consume_coupon(&self, program: &Program, code: &str, order_id: &str) -> Result<Coupon, PointsError> {
        caller_id("order_id", order_id)?;
        caller_id("code", code).map_err(|_| PointsError::NoCoupon(code.to_owned()))?;
        match self.storage.consume_coupon(&program.id, code, order_id, self.now()).await? {
            ConsumeOutcome::Consumed(coupon) => Ok(coupon),
            ConsumeOutcome::NotFound => Err(PointsError::NoCoupon(code.to_owned())),
            ConsumeOutcome::Unusable(coupon) => Err(PointsError::CouponUnusable(coupon.status)),
        }
    }
}

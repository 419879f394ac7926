//! The rewards catalog and coupons: what points buy, and the codes that carry it to checkout.

use serde::{Deserialize, Serialize};

use crate::{
    ledger::{Points, Timestamp, MAX_POINTS_PER_WRITE},
    message::{message, Message},
    rules::{Minor, MAX_AMOUNT},
    secrets,
    tiers::TierLadder,
};

/// What a reward gives at checkout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum RewardKind {
    /// A fixed amount off the order, minor units.
    AmountOff {
        amount: Minor,
    },
    /// A percentage off the order, 1 to 100.
    PercentOff {
        percent: u32,
    },
    FreeShipping,
    FreeProduct {
        product_id: String,
    },
    /// Points turned into money: `unit_value` minor units for every `points_per_unit` points,
    /// the customer choosing how many between `min_points` and `max_points`, in `step`s.
    PointsToCurrency {
        points_per_unit: Points,
        unit_value: Minor,
        min_points: Points,
        max_points: Points,
        step: Points,
    },
}

/// A reward as the merchant defines it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RewardDefinition {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub reward: RewardKind,
    /// Points it costs; ignored for points-to-currency rewards (the customer chooses).
    #[serde(default)]
    pub points: Points,
    /// Only customers at this tier or above may redeem it.
    #[serde(default)]
    pub min_tier: Option<String>,
    /// How many times one customer may redeem it (coupons not cancelled).
    #[serde(default)]
    pub per_customer_limit: Option<u32>,
    #[serde(default)]
    pub starts_at: Option<Timestamp>,
    #[serde(default)]
    pub ends_at: Option<Timestamp>,
    /// Days a coupon stays valid.
    #[serde(default = "default_coupon_days")]
    pub coupon_valid_days: u32,
    /// Coupons left to issue; `None` is unlimited. Each redemption takes one.
    #[serde(default)]
    pub stock: Option<i64>,
    /// Whether it is offered; rewards are deactivated, never deleted.
    #[serde(default = "yes")]
    pub active: bool,
}

fn default_coupon_days() -> u32 {
    30
}

fn yes() -> bool {
    true
}

/// A stored reward.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Reward {
    pub id: String,
    #[serde(flatten)]
    pub definition: RewardDefinition,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RewardError {
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: Message },
    #[error("{}", self.message())]
    NotAvailable,
    #[error("{}", self.message())]
    PointsOutOfRange { min: Points, max: Points, step: Points },
}

impl RewardError {
    fn invalid(field: &'static str, message: Message) -> Self {
        Self::Invalid { field, message }
    }

    /// What is wrong, without the field's name.
    pub fn message(&self) -> Message {
        match self {
            Self::Invalid { message, .. } => message.clone(),
            Self::NotAvailable => message!("this reward is not available now"),
            Self::PointsOutOfRange { min, max, step } => {
                message!("choose points from {0} to {1} in steps of {2}", min, max, step)
            }
        }
    }
}

impl RewardDefinition {
    /// An always-offered, unlimited reward with 30-day coupons; set other fields as needed.
    pub fn new(name: &str, reward: RewardKind, points: Points) -> Self {
        Self {
            name: name.to_owned(),
            description: None,
            reward,
            points,
            min_tier: None,
            per_customer_limit: None,
            starts_at: None,
            ends_at: None,
            coupon_valid_days: default_coupon_days(),
            stock: None,
            active: true,
        }
    }

    pub fn validate(&self) -> Result<(), RewardError> {
        let name_length = self.name.trim().chars().count();
        if name_length == 0 || name_length > 200 {
            return Err(RewardError::invalid("name", message!("a name of 1 to 200 characters is required")));
        }
        match &self.reward {
            RewardKind::AmountOff { amount } if !(1..=MAX_AMOUNT).contains(amount) => {
                return Err(RewardError::invalid("reward.amount", message!("must be 1 to {0}", MAX_AMOUNT)))
            }
            RewardKind::PercentOff { percent } if !(1..=100).contains(percent) => {
                return Err(RewardError::invalid("reward.percent", message!("must be 1 to 100")))
            }
            RewardKind::FreeProduct { product_id } if product_id.is_empty() => {
                return Err(RewardError::invalid("reward.product_id", message!("is required")))
            }
            RewardKind::PointsToCurrency { points_per_unit, unit_value, min_points, max_points, step } => {
                if *points_per_unit <= 0 || *unit_value <= 0 {
                    return Err(RewardError::invalid(
                        "reward.points_per_unit",
                        message!("points_per_unit and unit_value must be positive"),
                    ));
                }
                if *step <= 0 || *min_points <= 0 || min_points > max_points {
                    return Err(RewardError::invalid(
                        "reward.min_points",
                        message!("need 0 < min_points <= max_points and step > 0"),
                    ));
                }
                if *max_points > MAX_POINTS_PER_WRITE {
                    return Err(RewardError::invalid(
                        "reward.max_points",
                        message!("at most {0}", MAX_POINTS_PER_WRITE),
                    ));
                }
                let most = (max_points / points_per_unit).checked_mul(*unit_value);
                if most.is_none_or(|most| most > MAX_AMOUNT) {
                    return Err(RewardError::invalid(
                        "reward.unit_value",
                        message!("max_points would be worth more than {0} minor units", MAX_AMOUNT),
                    ));
                }
            }
            _ => {}
        }
        let fixed_price = !matches!(self.reward, RewardKind::PointsToCurrency { .. });
        if fixed_price && !(1..=MAX_POINTS_PER_WRITE).contains(&self.points) {
            return Err(RewardError::invalid(
                "points",
                message!("a reward must cost 1 to {0} points", MAX_POINTS_PER_WRITE),
            ));
        }
        if let (Some(starts), Some(ends)) = (self.starts_at, self.ends_at) {
            if ends <= starts {
                return Err(RewardError::invalid("ends_at", message!("must be after starts_at")));
            }
        }
        if self.coupon_valid_days == 0 || self.coupon_valid_days > 3650 {
            return Err(RewardError::invalid("coupon_valid_days", message!("must be 1 to 3650")));
        }
        if self.stock.is_some_and(|stock| stock < 0) {
            return Err(RewardError::invalid("stock", message!("must not be negative")));
        }
        Ok(())
    }
}

impl Reward {
    /// A reward with this definition, if it is valid for a program with `tiers`.
    pub fn validated(id: String, definition: RewardDefinition, tiers: &TierLadder) -> Result<Self, RewardError> {
        definition.validate()?;
        if let Some(tier) = &definition.min_tier {
            if tiers.tier(tier).is_none() {
                return Err(RewardError::invalid(
                    "min_tier",
                    message!("this program has no tier {0}", format!("{tier:?}")),
                ));
            }
        }
        Ok(Self { id, definition })
    }

    /// Whether it can be redeemed at `now` (active, within its dates, in stock).
    pub fn is_available(&self, now: Timestamp) -> bool {
        let definition = &self.definition;
        definition.active
            && definition.starts_at.is_none_or(|starts| starts <= now)
            && definition.ends_at.is_none_or(|ends| now < ends)
            && definition.stock.is_none_or(|stock| stock > 0)
    }

    /// The points a redemption costs: the fixed price, or the customer's choice within the
    /// range and step of a points-to-currency reward.
    pub fn cost(&self, requested: Option<Points>) -> Result<Points, RewardError> {
        match &self.definition.reward {
            RewardKind::PointsToCurrency { min_points, max_points, step, .. } => {
                let points = requested.unwrap_or(*min_points);
                // In range first: the step check subtracts.
                if points < *min_points || points > *max_points || (points - min_points) % step != 0 {
                    return Err(RewardError::PointsOutOfRange { min: *min_points, max: *max_points, step: *step });
                }
                Ok(points)
            }
            _ => Ok(self.definition.points),
        }
    }

    /// What the coupon is worth at checkout for `points` spent.
    /// What a coupon for `points` is worth; refused when the money would not fit.
    pub fn coupon_value(&self, points: Points) -> Result<CouponValue, RewardError> {
        Ok(match &self.definition.reward {
            RewardKind::AmountOff { amount } => CouponValue::AmountOff { amount: *amount },
            RewardKind::PercentOff { percent } => CouponValue::PercentOff { percent: *percent },
            RewardKind::FreeShipping => CouponValue::FreeShipping,
            RewardKind::FreeProduct { product_id } => CouponValue::FreeProduct { product_id: product_id.clone() },
            RewardKind::PointsToCurrency { points_per_unit, unit_value, .. } => {
                let amount = (points / points_per_unit).checked_mul(*unit_value);
                CouponValue::AmountOff {
                    amount: amount.ok_or_else(|| {
                        RewardError::invalid("points", message!("the coupon's value would be too large"))
                    })?,
                }
            }
        })
    }
}

/// What a coupon takes off at checkout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CouponValue {
    AmountOff { amount: Minor },
    PercentOff { percent: u32 },
    FreeShipping,
    FreeProduct { product_id: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CouponStatus {
    Issued,
    Consumed,
    Cancelled,
}

impl CouponStatus {
    /// The name used in storage and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Issued => "issued",
            Self::Consumed => "consumed",
            Self::Cancelled => "cancelled",
        }
    }

    /// The status named by [`Self::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Issued, Self::Consumed, Self::Cancelled].into_iter().find(|status| status.as_str() == name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Coupon {
    pub code: String,
    pub customer_id: String,
    pub reward_id: String,
    pub points: Points,
    pub value: CouponValue,
    pub status: CouponStatus,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
    pub order_id: Option<String>,
}

/// Letters and digits that cannot be misread for each other (no 0/O, 1/I/L, 5/S, 8/B...).
const CODE_ALPHABET: &[u8; 24] = b"ACDEFGHJKMNPQRTUVWXY2347";

/// A coupon code like `TALLY-7KQX-9WMC-PD4T`: 12 symbols of a 24-letter alphabet, about
/// 55 random bits, so codes cannot be guessed.
pub fn generate_code() -> String {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    // 256 is not a multiple of 24: redraw the few biased bytes.
    for byte in &mut bytes {
        while *byte >= 240 {
            let mut one = [0u8; 1];
            getrandom::fill(&mut one).expect("the operating system's random source is available");
            *byte = one[0];
        }
    }
    let symbols: String = bytes.iter().map(|b| CODE_ALPHABET[usize::from(*b % 24)] as char).collect();
    format!("TALLY-{}-{}-{}", &symbols[0..4], &symbols[4..8], &symbols[8..12])
}

/// A new reward id.
pub fn new_reward_id() -> String {
    secrets::random_token("rwd_", 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(reward: RewardKind, points: Points) -> RewardDefinition {
        RewardDefinition::new("Reward", reward, points)
    }

    #[test]
    fn definitions_are_validated() {
        assert_eq!(definition(RewardKind::AmountOff { amount: 500 }, 100).validate(), Ok(()));
        assert!(definition(RewardKind::AmountOff { amount: 0 }, 100).validate().is_err());
        assert!(definition(RewardKind::PercentOff { percent: 101 }, 100).validate().is_err());
        assert!(definition(RewardKind::FreeShipping, 0).validate().is_err());
    }

    #[test]
    fn points_to_currency_takes_a_chosen_amount_in_steps() {
        let kind = RewardKind::PointsToCurrency {
            points_per_unit: 100,
            unit_value: 100,
            min_points: 500,
            max_points: 5_000,
            step: 100,
        };
        let reward = Reward { id: "r".into(), definition: definition(kind, 0) };
        assert_eq!(reward.cost(Some(1_200)), Ok(1_200));
        assert_eq!(reward.coupon_value(1_200), Ok(CouponValue::AmountOff { amount: 1_200 }));
        assert!(reward.cost(Some(1_250)).is_err());
        assert!(reward.cost(Some(400)).is_err());
        assert!(reward.cost(Some(5_100)).is_err());
    }

    #[test]
    fn availability_follows_dates_stock_and_the_active_flag() {
        let mut reward = Reward {
            id: "r".into(),
            definition: RewardDefinition {
                starts_at: Some(Timestamp(1_000)),
                ends_at: Some(Timestamp(2_000)),
                stock: Some(1),
                ..definition(RewardKind::FreeShipping, 50)
            },
        };
        assert!(!reward.is_available(Timestamp(999)));
        assert!(reward.is_available(Timestamp(1_000)));
        assert!(!reward.is_available(Timestamp(2_000)));
        reward.definition.stock = Some(0);
        assert!(!reward.is_available(Timestamp(1_500)));
    }

    #[test]
    fn coupon_codes_are_random_and_readable() {
        let a = generate_code();
        assert_ne!(a, generate_code());
        assert_eq!(a.len(), "TALLY-XXXX-XXXX-XXXX".len());
        assert!(a[6..].chars().all(|c| c == '-' || CODE_ALPHABET.contains(&(c as u8))));
    }
}

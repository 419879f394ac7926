//! Earning rules: how many points an order earns. Pure arithmetic in integers: money in minor
//! units, multipliers in percent, one rounding at the very end.

use serde::{Deserialize, Serialize};

use crate::{
    ledger::{Points, Timestamp, MAX_POINTS_PER_WRITE},
    message::{message, FieldError, Message},
    time::Period,
};

/// Money in minor units (cents).
pub type Minor = i64;

/// The largest amount of money Tally accepts in one field (10^15 minor units: ten trillion
/// dollars, or a quadrillion yen). Sums of a few such amounts stay far from `i64::MAX`.
pub const MAX_AMOUNT: Minor = 1_000_000_000_000_000;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    #[default]
    Floor,
    Round,
    Ceil,
}

/// Points for purchases: `points` for every `per_amount` minor units of eligible amount.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PurchaseRule {
    pub points: Points,
    pub per_amount: Minor,
    pub rounding: Rounding,
    pub include_shipping: bool,
    pub include_tax: bool,
    /// Whether order discounts reduce the amount that earns (the default).
    pub subtract_discount: bool,
    /// Orders whose eligible amount is below this earn nothing.
    pub minimum_order: Minor,
    pub product_multipliers: Vec<Multiplier>,
    pub category_multipliers: Vec<Multiplier>,
}

impl Default for PurchaseRule {
    /// One point per whole currency unit, shipping and tax excluded.
    fn default() -> Self {
        Self {
            points: 1,
            per_amount: 100,
            rounding: Rounding::Floor,
            include_shipping: false,
            include_tax: false,
            subtract_discount: true,
            minimum_order: 0,
            product_multipliers: Vec::new(),
            category_multipliers: Vec::new(),
        }
    }
}

/// Earns `percent`/100 times the base points on matching lines (200 = double points).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Multiplier {
    pub id: String,
    pub percent: u32,
}

/// An order as the merchant reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Order {
    pub subtotal: Minor,
    #[serde(default)]
    pub shipping: Minor,
    #[serde(default)]
    pub tax: Minor,
    /// Discounts on the whole order, shared across lines in proportion to their amounts.
    #[serde(default)]
    pub discount: Minor,
    #[serde(default)]
    pub lines: Vec<OrderLine>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderLine {
    pub product_id: String,
    #[serde(default)]
    pub category_ids: Vec<String>,
    pub quantity: u32,
    /// The line's total (all units), before the order discount.
    pub amount: Minor,
}

/// What produced an order's points, stored with its entry so that refunds use the terms the
/// order was earned under, whatever the rules say later.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseSnapshot {
    pub rule: PurchaseRule,
    /// The amount points were earned on, after discounts and exclusions.
    pub eligible_amount: Minor,
    pub tier_percent: u32,
    pub campaign_percent: u32,
    pub points: Points,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub enum OrderError {
    Negative(&'static str),
    DiscountTooLarge,
    LinesMismatch { lines: Minor, subtotal: Minor },
    Quantity,
    TooLarge(&'static str),
}

impl OrderError {
    pub fn message(&self) -> Message {
        match self {
            Self::Negative(field) => message!("{0} must not be negative", field),
            Self::DiscountTooLarge => message!("the discount cannot exceed the subtotal"),
            Self::LinesMismatch { lines, subtotal } => {
                message!("the lines add up to {0}, not to the subtotal {1}", lines, subtotal)
            }
            Self::Quantity => message!("a line's quantity must be at least 1"),
            Self::TooLarge(field) => message!("{0} must be at most {1} minor units", field, MAX_AMOUNT),
        }
    }

    /// The request field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Negative(field) => field,
            Self::DiscountTooLarge => "discount",
            Self::LinesMismatch { .. } => "lines",
            Self::Quantity => "lines",
            Self::TooLarge(field) => field,
        }
    }
}

impl Order {
    /// Checks the amounts (each 0 to [`MAX_AMOUNT`], the lines adding up to the subtotal) and
    /// returns what was paid: subtotal less discount, plus shipping and tax.
    pub fn validate(&self) -> Result<Minor, OrderError> {
        for (name, value) in
            [("subtotal", self.subtotal), ("shipping", self.shipping), ("tax", self.tax), ("discount", self.discount)]
        {
            if value < 0 {
                return Err(OrderError::Negative(name));
            }
            if value > MAX_AMOUNT {
                return Err(OrderError::TooLarge(name));
            }
        }
        if self.discount > self.subtotal {
            return Err(OrderError::DiscountTooLarge);
        }
        if self.lines.iter().any(|line| line.amount < 0) {
            return Err(OrderError::Negative("lines.amount"));
        }
        if self.lines.iter().any(|line| line.amount > MAX_AMOUNT) {
            return Err(OrderError::TooLarge("lines.amount"));
        }
        if self.lines.iter().any(|line| line.quantity == 0) {
            return Err(OrderError::Quantity);
        }
        if !self.lines.is_empty() {
            let lines = self.lines.iter().try_fold(0, |sum: Minor, line| sum.checked_add(line.amount));
            match lines {
                Some(lines) if lines == self.subtotal => {}
                Some(lines) => return Err(OrderError::LinesMismatch { lines, subtotal: self.subtotal }),
                None => return Err(OrderError::TooLarge("lines.amount")),
            }
        }
        // Each term is at most MAX_AMOUNT, so the sum cannot overflow.
        Ok(self.subtotal - self.discount + self.shipping + self.tax)
    }
}

impl PurchaseRule {
    /// The line's multiplier: a product multiplier wins over category ones; among several
    /// categories the highest applies; 100 without any.
    fn line_percent(&self, line: &OrderLine) -> u32 {
        if let Some(product) = self.product_multipliers.iter().find(|m| m.id == line.product_id) {
            return product.percent;
        }
        self.category_multipliers
            .iter()
            .filter(|m| line.category_ids.contains(&m.id))
            .map(|m| m.percent)
            .max()
            .unwrap_or(100)
    }

    /// Points for `order`, with the customer's tier multiplier and the campaigns' combined
    /// multiplier (percent each). Exact in integers: rounded once, as the rule says.
    pub fn points_for(&self, order: &Order, tier_percent: u32, campaign_percent: u32) -> PurchaseSnapshot {
        let discounted = if self.subtract_discount { order.subtotal - order.discount } else { order.subtotal };
        // Weighted eligible amount, in minor units x percent: lines keep their multiplier and
        // their share of the discount.
        let weighted: i128 = if order.lines.is_empty() {
            i128::from(discounted) * 100
        } else {
            order
                .lines
                .iter()
                .map(|line| {
                    let share = if order.subtotal == 0 {
                        0
                    } else {
                        i128::from(line.amount) * i128::from(discounted) / i128::from(order.subtotal)
                    };
                    share * i128::from(self.line_percent(line))
                })
                .sum()
        };
        let extras = i128::from(if self.include_shipping { order.shipping } else { 0 })
            + i128::from(if self.include_tax { order.tax } else { 0 });
        let eligible_amount = discounted
            + if self.include_shipping { order.shipping } else { 0 }
            + if self.include_tax { order.tax } else { 0 };
        let points = if eligible_amount < self.minimum_order || self.per_amount <= 0 {
            0
        } else {
            // Saturates: an overflow means far more than any write may earn, which the caller
            // refuses.
            let numerator = [i128::from(self.points), i128::from(tier_percent), i128::from(campaign_percent)]
                .into_iter()
                .try_fold(weighted + extras * 100, i128::checked_mul)
                .unwrap_or(i128::MAX / 4);
            let denominator = i128::from(self.per_amount) * 100 * 100 * 100;
            let points = match self.rounding {
                Rounding::Floor => numerator.div_euclid(denominator),
                Rounding::Ceil => -(-numerator).div_euclid(denominator),
                Rounding::Round => (2 * numerator + denominator).div_euclid(2 * denominator),
            };
            Points::try_from(points).unwrap_or(Points::MAX)
        };
        PurchaseSnapshot { rule: self.clone(), eligible_amount, tier_percent, campaign_percent, points }
    }
}

/// Points for an action the customer takes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRule {
    /// `signup`, `review`, `birthday`, `social_follow`, `newsletter`, `comment` or `custom:NAME`.
    pub action: String,
    /// For `referral`: what the referrer earns.
    pub points: Points,
    /// For `referral` only: what the referred customer earns on their first order.
    #[serde(default)]
    pub referred_points: Option<Points>,
    #[serde(default)]
    pub cap: Option<Cap>,
}

/// At most `count` awards per calendar `per` period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Cap {
    pub count: u32,
    pub per: Period,
}

/// Actions events may report; `custom:NAME` adds the merchant's own.
pub const ACTIONS: &[&str] = &["signup", "review", "birthday", "social_follow", "newsletter", "comment", "referral"];

impl ActionRule {
    pub fn validate(&self) -> Result<(), Message> {
        let custom = self.action.strip_prefix("custom:").is_some_and(|name| {
            !name.is_empty()
                && name.len() <= 64
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
        if !custom && !ACTIONS.contains(&self.action.as_str()) {
            let (action, actions) = (format!("{:?}", self.action), format!("{ACTIONS:?}"));
            return Err(message!("unknown action {0}: use one of {1} or custom:NAME", action, actions));
        }
        if !(1..=MAX_POINTS_PER_WRITE).contains(&self.points) {
            return Err(message!("points must be 1 to {0}", MAX_POINTS_PER_WRITE));
        }
        if self.cap.is_some_and(|cap| cap.count == 0) {
            return Err(message!("a cap's count must be at least 1"));
        }
        if self.referred_points.is_some_and(|points| !(0..=MAX_POINTS_PER_WRITE).contains(&points))
            || (self.referred_points.is_some() && self.action != "referral")
        {
            return Err(message!("referred_points is for the referral action, and must not be negative"));
        }
        if matches!(self.action.as_str(), "signup" | "birthday") && self.cap.is_some() {
            return Err(message!("signup earns once and birthday once a year: leave out cap"));
        }
        Ok(())
    }

    /// The cap in force: a signup earns once, a birthday once per calendar year, other
    /// actions as configured.
    pub fn effective_cap(&self) -> Option<Cap> {
        match self.action.as_str() {
            "signup" => Some(Cap { count: 1, per: Period::Lifetime }),
            "birthday" => Some(Cap { count: 1, per: Period::Year }),
            _ => self.cap,
        }
    }
}

/// A dated multiplier, e.g. double points over a weekend.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    pub id: String,
    pub name: String,
    pub multiplier_percent: u32,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    #[serde(default)]
    pub applies_to: CampaignTarget,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CampaignTarget {
    #[default]
    Purchases,
    Actions,
    All,
}

impl Campaign {
    pub fn validate(&self) -> Result<(), FieldError> {
        let invalid = |field: &str, message| Err(FieldError::new(field, message));
        if self.id.is_empty() || self.id.len() > 64 {
            return invalid("id", message!("1 to 64 characters"));
        }
        if self.name.trim().is_empty() {
            return invalid("name", message!("required"));
        }
        if !(1..=1_000).contains(&self.multiplier_percent) {
            return invalid("multiplier_percent", message!("1 to 1000"));
        }
        if self.ends_at <= self.starts_at {
            return invalid("ends_at", message!("must be after starts_at"));
        }
        Ok(())
    }

    pub fn is_running(&self, at: Timestamp) -> bool {
        self.active && self.starts_at <= at && at < self.ends_at
    }

    pub fn applies_to(&self, target: CampaignTarget) -> bool {
        self.applies_to == CampaignTarget::All || self.applies_to == target
    }
}

/// Points a refund takes back so that, summed over an order's refunds, they follow the
/// refunded share of the order exactly: `earned x refunded / amount` so far, less what earlier
/// refunds took. Partial refunds never drift from a single full one.
pub fn refund_points(earned: Points, order_amount: Minor, refunded_before: Minor, refund: Minor) -> Points {
    if order_amount <= 0 {
        return 0;
    }
    let share = |refunded: Minor| -> Points {
        let refunded = i128::from(refunded.min(order_amount));
        Points::try_from(i128::from(earned) * refunded / i128::from(order_amount)).unwrap_or(Points::MAX)
    };
    share(refunded_before + refund) - share(refunded_before)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(subtotal: Minor, lines: Vec<(&str, &[&str], Minor)>) -> Order {
        Order {
            subtotal,
            shipping: 500,
            tax: 800,
            discount: 0,
            lines: lines
                .into_iter()
                .map(|(product, categories, amount)| OrderLine {
                    product_id: product.into(),
                    category_ids: categories.iter().map(|c| c.to_string()).collect(),
                    quantity: 1,
                    amount,
                })
                .collect(),
        }
    }

    #[test]
    fn one_point_per_dollar_excludes_shipping_and_tax_by_default() {
        let rule = PurchaseRule::default();
        let snapshot = rule.points_for(&order(8_050, vec![]), 100, 100);
        assert_eq!((snapshot.points, snapshot.eligible_amount), (80, 8_050));
        let generous = PurchaseRule { include_shipping: true, include_tax: true, ..PurchaseRule::default() };
        assert_eq!(generous.points_for(&order(8_050, vec![]), 100, 100).points, 93);
    }

    #[test]
    fn rounding_modes() {
        let order = order(8_050, vec![]);
        let with = |rounding| PurchaseRule { rounding, ..PurchaseRule::default() }.points_for(&order, 100, 100).points;
        assert_eq!((with(Rounding::Floor), with(Rounding::Round), with(Rounding::Ceil)), (80, 81, 81));
        let exact = order_with_subtotal(8_000);
        let ceil = PurchaseRule { rounding: Rounding::Ceil, ..PurchaseRule::default() };
        assert_eq!(ceil.points_for(&exact, 100, 100).points, 80, "ceil of a whole number is itself");
    }

    fn order_with_subtotal(subtotal: Minor) -> Order {
        order(subtotal, vec![])
    }

    #[test]
    fn discounts_are_excluded_and_shared_across_lines() {
        let mut o = order(10_000, vec![("mug", &["kitchen"], 4_000), ("beans", &["coffee"], 6_000)]);
        o.discount = 2_000;
        let rule = PurchaseRule {
            category_multipliers: vec![Multiplier { id: "coffee".into(), percent: 200 }],
            ..PurchaseRule::default()
        };
        // mug: 3_200 x 1, beans: 4_800 x 2 -> 128 points per 100.
        assert_eq!(rule.points_for(&o, 100, 100).points, 128);
        let gross = PurchaseRule { subtract_discount: false, ..rule };
        // mug: 4_000 x 1, beans: 6_000 x 2 -> 160.
        assert_eq!(gross.points_for(&o, 100, 100).points, 160);
    }

    #[test]
    fn product_multipliers_win_over_categories_and_tiers_and_campaigns_multiply() {
        let o = order(5_000, vec![("beans", &["coffee"], 5_000)]);
        let rule = PurchaseRule {
            product_multipliers: vec![Multiplier { id: "beans".into(), percent: 300 }],
            category_multipliers: vec![Multiplier { id: "coffee".into(), percent: 200 }],
            ..PurchaseRule::default()
        };
        assert_eq!(rule.points_for(&o, 100, 100).points, 150);
        // Gold tier 1.5x during a double points weekend.
        assert_eq!(rule.points_for(&o, 150, 200).points, 450);
    }

    #[test]
    fn orders_below_the_minimum_earn_nothing() {
        let rule = PurchaseRule { minimum_order: 2_000, ..PurchaseRule::default() };
        assert_eq!(rule.points_for(&order_with_subtotal(1_999), 100, 100).points, 0);
        assert_eq!(rule.points_for(&order_with_subtotal(2_000), 100, 100).points, 20);
    }

    #[test]
    fn partial_refunds_add_up_to_a_full_one() {
        let steps = [3_333, 3_333, 3_334];
        let mut refunded = 0;
        let mut taken = 0;
        for refund in steps {
            taken += refund_points(100, 10_000, refunded, refund);
            refunded += refund;
        }
        assert_eq!(taken, 100);
        assert_eq!(refund_points(100, 10_000, 10_000, 500), 0, "nothing beyond the order amount");
    }

    #[test]
    fn action_rules_are_validated_and_birthdays_are_yearly() {
        let rule = |action: &str, cap| ActionRule { action: action.into(), points: 50, referred_points: None, cap };
        assert_eq!(rule("review", None).validate(), Ok(()));
        assert_eq!(rule("custom:quiz_done", None).validate(), Ok(()));
        assert!(rule("dance", None).validate().is_err());
        assert!(rule("custom:", None).validate().is_err());
        let daily = Some(Cap { count: 1, per: Period::Day });
        assert!(rule("birthday", daily).validate().is_err());
        assert_eq!(rule("birthday", None).effective_cap(), Some(Cap { count: 1, per: Period::Year }));
        assert_eq!(rule("review", daily).effective_cap(), daily);
    }

    #[test]
    fn campaigns_run_between_their_dates() {
        let campaign = Campaign {
            id: "double".into(),
            name: "Double points weekend".into(),
            multiplier_percent: 200,
            starts_at: Timestamp(1_000),
            ends_at: Timestamp(2_000),
            applies_to: CampaignTarget::Purchases,
            active: true,
        };
        assert!(!campaign.is_running(Timestamp(999)) && campaign.is_running(Timestamp(1_000)));
        assert!(!campaign.is_running(Timestamp(2_000)));
        assert!(campaign.applies_to(CampaignTarget::Purchases) && !campaign.applies_to(CampaignTarget::Actions));
    }

    #[test]
    fn orders_are_validated() {
        let mut o = order(1_000, vec![("a", &[], 600), ("b", &[], 300)]);
        assert_eq!(o.validate(), Err(OrderError::LinesMismatch { lines: 900, subtotal: 1_000 }));
        o.lines[1].amount = 400;
        assert!(o.validate().is_ok());
        o.discount = 1_001;
        assert_eq!(o.validate(), Err(OrderError::DiscountTooLarge));
    }
}

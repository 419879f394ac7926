//! Tiers: ordered thresholds on what a customer earned or spent in a window, each with an
//! earn multiplier and benefits.

use serde::{Deserialize, Serialize};

use crate::{
    ledger::Timestamp,
    message::{message, FieldError},
    time::Period,
};

/// What qualifies a customer for a tier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TierBasis {
    /// Points earned (purchases and actions, less what refunds took back).
    #[default]
    PointsEarned,
    /// Money spent on orders, less refunds, in minor units.
    AmountSpent,
}

/// Over which time the basis is counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TierWindow {
    #[default]
    Lifetime,
    /// The last 365 days.
    Rolling12Months,
    CalendarYear,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// A short stable id, e.g. `gold`.
    pub id: String,
    pub name: String,
    /// The qualifying total from which a customer is in this tier.
    pub threshold: i64,
    /// Purchase points are multiplied by this percent (150 = 1.5x).
    #[serde(default = "hundred")]
    pub multiplier_percent: u32,
    #[serde(default)]
    pub benefits: String,
}

fn hundred() -> u32 {
    100
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TierLadder {
    pub basis: TierBasis,
    pub window: TierWindow,
    /// Lowest threshold first.
    pub tiers: Vec<Tier>,
}

/// The rolling window's length: 365 days.
const ROLLING_WINDOW_MS: i64 = 365 * 86_400_000;

/// A tier the rolling window is about to take away: old qualifying activity leaves the window
/// before `drops_at` and nothing new has replaced it yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierRisk {
    pub tier: Tier,
    /// The first moment the customer would no longer qualify.
    pub drops_at: Timestamp,
    /// What the customer must add (points or minor units, by the ladder's basis) before
    /// `drops_at` to keep the tier.
    pub needed: i64,
    /// The tier they would fall to, if any.
    pub falls_to: Option<Tier>,
}

/// Where a customer stands on the ladder: what counts toward tiers in the current window, the
/// tier, the next one up and what is still missing to reach it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TierStatus {
    pub qualifying: i64,
    pub tier: Option<Tier>,
    pub next_tier: Option<Tier>,
    /// What is still missing to reach the next tier.
    pub to_next_tier: Option<i64>,
}

impl TierStatus {
    /// How far from the current tier's threshold to the next one, 0 to 100.
    pub fn percent(&self) -> Option<i64> {
        let next = self.next_tier.as_ref()?;
        let floor = self.tier.as_ref().map_or(0, |tier| tier.threshold);
        let span = next.threshold.saturating_sub(floor).max(1);
        Some((i128::from(self.qualifying.saturating_sub(floor)) * 100 / i128::from(span)).clamp(0, 100) as i64)
    }
}

impl TierLadder {
    pub fn validate(&self) -> Result<(), FieldError> {
        for (index, tier) in self.tiers.iter().enumerate() {
            let field = |name: &str| format!("tiers[{index}].{name}");
            let invalid = |name: &str, message| Err(FieldError::new(field(name), message));
            let id_ok = !tier.id.is_empty()
                && tier.id.len() <= 40
                && tier.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !id_ok {
                return invalid("id", message!("1 to 40 letters, digits, - or _"));
            }
            if tier.name.trim().is_empty() || tier.name.chars().count() > 100 {
                return invalid("name", message!("1 to 100 characters"));
            }
            if tier.threshold < 0 {
                return invalid("threshold", message!("must not be negative"));
            }
            if !(1..=1_000).contains(&tier.multiplier_percent) {
                return invalid("multiplier_percent", message!("1 to 1000"));
            }
            if let Some(previous) = index.checked_sub(1).map(|i| &self.tiers[i]) {
                if tier.threshold <= previous.threshold {
                    return invalid("threshold", message!("thresholds must increase from tier to tier"));
                }
            }
            if self.tiers[..index].iter().any(|other| other.id == tier.id) {
                return invalid("id", message!("{0} is used twice", format!("{:?}", tier.id)));
            }
        }
        Ok(())
    }

    /// The earliest time that counts toward tiers at `now`.
    pub fn window_start(&self, now: Timestamp) -> Timestamp {
        match self.window {
            TierWindow::Lifetime => Timestamp(i64::MIN),
            TierWindow::Rolling12Months => Timestamp(now.0 - ROLLING_WINDOW_MS),
            TierWindow::CalendarYear => now.start_of(Period::Year),
        }
    }

    /// Whether the customer's `tier_id` falls within `days` of `now` if they add nothing:
    /// `leaving` is their qualifying activity (moment, amount) that leaves the window by then,
    /// oldest first, and `qualifying` their total now. Only a rolling window drops a tier this
    /// way (a calendar year starts everyone afresh; a lifetime never drops).
    pub fn at_risk(
        &self,
        tier_id: Option<&str>,
        qualifying: i64,
        leaving: &[(Timestamp, i64)],
        now: Timestamp,
        days: u32,
    ) -> Option<TierRisk> {
        let tier = self.tier(tier_id?)?;
        if self.window != TierWindow::Rolling12Months {
            return None;
        }
        let horizon = now.plus_days(days);
        let mut left = qualifying;
        for &(at, amount) in leaving {
            // Counted while `at >= moment - 365 days`: gone a millisecond after its year.
            let gone_at = Timestamp(at.0.saturating_add(ROLLING_WINDOW_MS + 1));
            if gone_at > horizon {
                break;
            }
            left = left.saturating_sub(amount);
            if left < tier.threshold {
                let falls_to = self.status(left).tier;
                return Some(TierRisk {
                    tier: tier.clone(),
                    drops_at: gone_at.max(now),
                    needed: tier.threshold - left,
                    falls_to,
                });
            }
        }
        None
    }

    /// The tier for a qualifying total, and the next one up.
    pub fn status(&self, qualifying: i64) -> TierStatus {
        let reached = self.tiers.iter().rposition(|tier| qualifying >= tier.threshold);
        let tier = reached.map(|index| self.tiers[index].clone());
        let next_tier = self.tiers.get(reached.map_or(0, |index| index + 1)).cloned();
        let to_next_tier = next_tier.as_ref().map(|next| next.threshold - qualifying);
        TierStatus { qualifying, tier, next_tier, to_next_tier }
    }

    pub fn tier(&self, id: &str) -> Option<&Tier> {
        self.tiers.iter().find(|tier| tier.id == id)
    }

    /// The earn multiplier of a tier, 100 without one.
    pub fn multiplier(&self, tier_id: Option<&str>) -> u32 {
        tier_id.and_then(|id| self.tier(id)).map_or(100, |tier| tier.multiplier_percent)
    }

    /// Whether `tier_id` is at or above `minimum` on the ladder.
    pub fn reaches(&self, tier_id: Option<&str>, minimum: &str) -> bool {
        let position = |id: &str| self.tiers.iter().position(|tier| tier.id == id);
        match (tier_id.and_then(position), position(minimum)) {
            (Some(have), Some(need)) => have >= need,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ladder() -> TierLadder {
        let tier = |id: &str, threshold, multiplier_percent| Tier {
            id: id.into(),
            name: id.to_uppercase(),
            threshold,
            multiplier_percent,
            benefits: String::new(),
        };
        TierLadder {
            basis: TierBasis::PointsEarned,
            window: TierWindow::Lifetime,
            tiers: vec![tier("silver", 500, 110), tier("gold", 2_000, 150)],
        }
    }

    #[test]
    fn status_names_the_tier_the_next_one_and_the_gap() {
        let ladder = ladder();
        let below = ladder.status(100);
        assert_eq!(
            (below.tier, below.next_tier.map(|t| t.id), below.to_next_tier),
            (None, Some("silver".into()), Some(400))
        );
        let silver = ladder.status(1_999);
        assert_eq!((silver.tier.map(|t| t.id), silver.to_next_tier), (Some("silver".into()), Some(1)));
        let gold = ladder.status(5_000);
        assert_eq!((gold.tier.map(|t| t.id), gold.next_tier), (Some("gold".into()), None));
    }

    #[test]
    fn ladders_are_validated() {
        let mut bad = ladder();
        bad.tiers[1].threshold = 500;
        assert_eq!(bad.validate().unwrap_err().field, "tiers[1].threshold");
        assert_eq!(ladder().validate(), Ok(()));
    }

    #[test]
    fn a_rolling_window_puts_a_tier_at_risk_when_what_leaves_it_takes_the_total_below() {
        let day = |n: i64| Timestamp(n * 86_400_000);
        let rolling = TierLadder { window: TierWindow::Rolling12Months, ..ladder() };
        let now = day(400);
        // 600 in the window: 300 from day 40 (leaves on day 405), 300 from day 100 (day 465).
        let leaving = [(day(40), 300), (day(100), 300)];
        let risk = rolling.at_risk(Some("silver"), 600, &leaving, now, 30).expect("at risk");
        assert_eq!(
            (risk.tier.id.as_str(), risk.drops_at, risk.needed, risk.falls_to),
            ("silver", Timestamp(day(405).0 + 1), 200, None)
        );
        // Further out than the warning looks, or still above the threshold after: no risk.
        assert_eq!(rolling.at_risk(Some("silver"), 600, &leaving, now, 4), None);
        assert_eq!(rolling.at_risk(Some("silver"), 900, &leaving, now, 30), None);
        // Gold falls to silver; no tier, a lifetime or a calendar year: nothing to warn of.
        let gold = rolling.at_risk(Some("gold"), 2_100, &[(day(40), 300)], now, 30).expect("gold at risk");
        assert_eq!((gold.needed, gold.falls_to.map(|t| t.id)), (200, Some("silver".into())));
        assert_eq!(rolling.at_risk(None, 600, &leaving, now, 30), None);
        assert_eq!(ladder().at_risk(Some("silver"), 600, &leaving, now, 30), None);
        let yearly = TierLadder { window: TierWindow::CalendarYear, ..ladder() };
        assert_eq!(yearly.at_risk(Some("silver"), 600, &leaving, now, 30), None);
    }

    #[test]
    fn multipliers_and_minimum_tiers() {
        let ladder = ladder();
        assert_eq!((ladder.multiplier(None), ladder.multiplier(Some("gold"))), (100, 150));
        assert!(ladder.reaches(Some("gold"), "silver"));
        assert!(!ladder.reaches(Some("silver"), "gold"));
        assert!(!ladder.reaches(None, "silver"));
    }

    #[test]
    fn windows() {
        let now = Timestamp::parse_rfc3339("2026-06-15T00:00:00Z").unwrap();
        let mut ladder = ladder();
        ladder.window = TierWindow::CalendarYear;
        assert_eq!(ladder.window_start(now), Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").unwrap());
        ladder.window = TierWindow::Rolling12Months;
        assert_eq!(ladder.window_start(now), Timestamp::parse_rfc3339("2025-06-15T00:00:00Z").unwrap());
    }
}

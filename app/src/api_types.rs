//! JSON shapes exchanged between the server and browser code (console and widget).
//! Changing a field here changes the wire format of both.

use serde::{Deserialize, Serialize};

/// What the widget shows to every visitor of a storefront: `GET /widget/v1/programs/{key}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramSummary {
    pub name: String,
    /// ISO 4217 code, e.g. `USD`.
    pub currency: String,
    /// What the program calls its points ("points", "stars", ...).
    pub points_name: String,
    #[serde(default)]
    pub ways_to_earn: Vec<WayToEarn>,
    /// Rewards offered now.
    #[serde(default)]
    pub rewards: Vec<RewardSummary>,
    /// Lowest first.
    #[serde(default)]
    pub tiers: Vec<TierSummary>,
    #[serde(default)]
    pub branding: Branding,
    /// How the storefront's loader keeps a referral link's code (when the program rewards
    /// referrals); the widget itself does not read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral_capture: Option<ReferralCapture>,
}

/// The query parameter of referral links and the days a visitor's code is kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralCapture {
    pub parameter: String,
    pub keep_days: u32,
}

/// A signed-in shopper's referral code and the link to share (none when the program has no
/// storefront address to link to).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralLink {
    pub code: String,
    #[serde(default)]
    pub url: Option<String>,
}

/// The program's look and its links for visitors; every field may be absent (widget defaults).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branding {
    /// `#rrggbb`.
    #[serde(default)]
    pub primary_color: Option<String>,
    /// Text colour on the primary colour.
    #[serde(default)]
    pub on_primary_color: Option<String>,
    /// `bottom-right` or `bottom-left`.
    pub launcher_position: String,
    #[serde(default)]
    pub launcher_label: Option<String>,
    #[serde(default)]
    pub join_url: Option<String>,
    #[serde(default)]
    pub sign_in_url: Option<String>,
}

/// One way to earn: `purchase` (points per `per_amount` minor units) or an action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WayToEarn {
    /// `purchase`, `signup`, `review`, `birthday`, `referral`, ..., `custom:NAME`.
    pub action: String,
    pub points: i64,
    /// For `purchase`: the amount (minor units) that earns `points`.
    #[serde(default)]
    pub per_amount: Option<i64>,
    /// For `referral`: what the referred friend earns.
    #[serde(default)]
    pub referred_points: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardSummary {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// The price; for a points-to-currency reward, its minimum.
    pub points: i64,
    /// For points-to-currency rewards: the range and step the shopper picks from.
    #[serde(default)]
    pub variable: Option<VariablePoints>,
    #[serde(default)]
    pub min_tier: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariablePoints {
    pub min: i64,
    pub max: i64,
    pub step: i64,
    /// Minor units of money per `points_per_unit` points.
    pub unit_value: i64,
    pub points_per_unit: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierSummary {
    pub id: String,
    pub name: String,
    pub threshold: i64,
    pub multiplier_percent: u32,
    #[serde(default)]
    pub benefits: String,
}

/// A signed-in shopper's standing: `GET /widget/v1/programs/{key}/me`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerSummary {
    pub customer_id: String,
    pub available: i64,
    pub pending: i64,
    pub lifetime_earned: i64,
    /// Points expiring within `expiring_within_days`.
    pub expiring_soon: i64,
    pub expiring_within_days: u32,
    #[serde(default)]
    pub tier: Option<TierSummary>,
    #[serde(default)]
    pub next_tier: Option<TierSummary>,
    /// What is still missing to reach `next_tier`.
    #[serde(default)]
    pub to_next_tier: Option<i64>,
    #[serde(default)]
    pub coupons: Vec<CouponSummary>,
    /// When the program rewards referrals.
    #[serde(default)]
    pub referral: Option<ReferralLink>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponSummary {
    pub code: String,
    pub reward_id: String,
    pub points: i64,
    /// `issued`, `consumed` or `cancelled`.
    pub status: String,
    /// RFC 3339.
    pub expires_at: String,
    /// Issued and not expired.
    pub usable: bool,
    /// When the program creates its coupons in the store (checkout-native coupons): `ready`
    /// once the store knows the code, `pending` until then, `failed` when the store refused it
    /// after every retry. Absent: the store is not asked (the merchant applies codes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout: Option<String>,
}

/// One line of the console's program list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramListItem {
    pub id: String,
    pub name: String,
    pub currency: String,
    pub publishable_key: String,
}

/// One line of a shopper's points history: `GET /widget/v1/programs/{key}/me/history`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// `earn`, `redeem`, `adjust`, `reverse`, `expire` or `void`.
    pub kind: String,
    pub points: i64,
    /// `purchase`, `review`, ..., `reward`, `admin`, `expiry`.
    pub source: String,
    /// RFC 3339.
    pub created_at: String,
    /// Not yet available.
    pub pending: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub entries: Vec<HistoryEntry>,
    /// Pass as `cursor` for the next, older page; absent on the last page.
    #[serde(default)]
    pub next_cursor: Option<u64>,
}

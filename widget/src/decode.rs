//! Reading the server's JSON answers, parsed by the browser's `JSON.parse`, into the shared
//! `api_types` structs. Written out by hand rather than with serde: in the widget's bundle every
//! kilobyte counts, and serde's generated visitors and error messages cost about 30 KB of WASM.
//! A missing or mistyped field makes the whole answer unreadable (`None`), as serde would.

use js_sys::{Array, Reflect};
use tally_app::api_types::{
    Branding, CouponSummary, CustomerSummary, HistoryEntry, HistoryPage, ProgramSummary, ReferralLink, RewardSummary, TierSummary,
    VariablePoints, WayToEarn,
};
use wasm_bindgen::JsValue;

fn field(object: &JsValue, key: &str) -> Option<JsValue> {
    Reflect::get(object, &JsValue::from_str(key)).ok().filter(|value| !value.is_undefined() && !value.is_null())
}

fn text(object: &JsValue, key: &str) -> Option<String> {
    field(object, key)?.as_string()
}

fn number(object: &JsValue, key: &str) -> Option<i64> {
    field(object, key)?.as_f64().filter(|n| n.fract() == 0.0).map(|n| n as i64)
}

fn boolean(object: &JsValue, key: &str) -> Option<bool> {
    field(object, key)?.as_bool()
}

/// Each element of an array field, read by `read`; an absent field is an empty list.
fn list<T>(object: &JsValue, key: &str, read: impl Fn(&JsValue) -> Option<T>) -> Option<Vec<T>> {
    match field(object, key) {
        None => Some(Vec::new()),
        Some(value) => Array::is_array(&value).then(|| Array::from(&value).iter().map(|item| read(&item)).collect())?,
    }
}

/// An optional object field: absent is `Some(None)`, present but unreadable is `None`.
fn optional<T>(object: &JsValue, key: &str, read: impl Fn(&JsValue) -> Option<T>) -> Option<Option<T>> {
    match field(object, key) {
        None => Some(None),
        Some(value) => read(&value).map(Some),
    }
}

pub fn program_summary(value: &JsValue) -> Option<ProgramSummary> {
    Some(ProgramSummary {
        name: text(value, "name")?,
        currency: text(value, "currency")?,
        points_name: text(value, "points_name")?,
        ways_to_earn: list(value, "ways_to_earn", way_to_earn)?,
        rewards: list(value, "rewards", reward)?,
        tiers: list(value, "tiers", tier)?,
        branding: optional(value, "branding", branding)?.unwrap_or_default(),
        referral_capture: None,
    })
}

fn branding(value: &JsValue) -> Option<Branding> {
    Some(Branding {
        primary_color: text(value, "primary_color"),
        on_primary_color: text(value, "on_primary_color"),
        launcher_position: text(value, "launcher_position").unwrap_or_default(),
        launcher_label: text(value, "launcher_label"),
        join_url: text(value, "join_url"),
        sign_in_url: text(value, "sign_in_url"),
    })
}

fn way_to_earn(value: &JsValue) -> Option<WayToEarn> {
    Some(WayToEarn {
        action: text(value, "action")?,
        points: number(value, "points")?,
        per_amount: number(value, "per_amount"),
        referred_points: number(value, "referred_points"),
    })
}

fn reward(value: &JsValue) -> Option<RewardSummary> {
    Some(RewardSummary {
        id: text(value, "id")?,
        name: text(value, "name")?,
        description: text(value, "description"),
        points: number(value, "points")?,
        variable: optional(value, "variable", |range| {
            Some(VariablePoints {
                min: number(range, "min")?,
                max: number(range, "max")?,
                step: number(range, "step")?,
                unit_value: number(range, "unit_value")?,
                points_per_unit: number(range, "points_per_unit")?,
            })
        })?,
        min_tier: text(value, "min_tier"),
    })
}

fn tier(value: &JsValue) -> Option<TierSummary> {
    Some(TierSummary {
        id: text(value, "id")?,
        name: text(value, "name")?,
        threshold: number(value, "threshold")?,
        multiplier_percent: u32::try_from(number(value, "multiplier_percent")?).ok()?,
        benefits: text(value, "benefits").unwrap_or_default(),
    })
}

pub fn customer_summary(value: &JsValue) -> Option<CustomerSummary> {
    Some(CustomerSummary {
        customer_id: text(value, "customer_id")?,
        available: number(value, "available")?,
        pending: number(value, "pending")?,
        lifetime_earned: number(value, "lifetime_earned")?,
        expiring_soon: number(value, "expiring_soon")?,
        expiring_within_days: u32::try_from(number(value, "expiring_within_days")?).ok()?,
        tier: optional(value, "tier", tier)?,
        next_tier: optional(value, "next_tier", tier)?,
        to_next_tier: number(value, "to_next_tier"),
        coupons: list(value, "coupons", coupon)?,
        referral: optional(value, "referral", referral)?,
    })
}

fn referral(value: &JsValue) -> Option<ReferralLink> {
    Some(ReferralLink { code: text(value, "code")?, url: text(value, "url") })
}

fn coupon(value: &JsValue) -> Option<CouponSummary> {
    Some(CouponSummary {
        code: text(value, "code")?,
        reward_id: text(value, "reward_id")?,
        points: number(value, "points")?,
        status: text(value, "status")?,
        expires_at: text(value, "expires_at")?,
        usable: boolean(value, "usable")?,
        checkout: text(value, "checkout"),
    })
}

pub fn history_page(value: &JsValue) -> Option<HistoryPage> {
    Some(HistoryPage {
        entries: list(value, "entries", |entry| {
            Some(HistoryEntry {
                kind: text(entry, "kind")?,
                points: number(entry, "points")?,
                source: text(entry, "source")?,
                created_at: text(entry, "created_at")?,
                pending: boolean(entry, "pending")?,
            })
        })?,
        next_cursor: number(value, "next_cursor").and_then(|cursor| u64::try_from(cursor).ok()),
    })
}

/// The coupon of a redemption's answer: `(code, expires_at)`.
pub fn issued_coupon(value: &JsValue) -> Option<(String, String)> {
    let coupon = field(value, "coupon")?;
    Some((text(&coupon, "code")?, text(&coupon, "expires_at")?))
}

/// The `detail` of a problem+json answer.
pub fn problem_detail(value: &JsValue) -> Option<String> {
    text(value, "detail")
}

//! Tally's connections to the systems around a program: the stores that report to it by their
//! own webhooks (`woocommerce`, stored durably and applied by the `inbox` worker), the events it
//! tells others (`events`, written to the transactional outbox with the writes that cause
//! them), the signed webhooks that carry them (`webhooks`), the worker that delivers them
//! (`delivery`) and the coupons created in the stores' own checkouts (`checkout`).

pub mod checkout;
pub mod delivery;
pub mod events;
pub mod inbox;
pub mod shopify;
pub mod webhooks;
pub mod woocommerce;

use std::sync::Arc;

use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, Mac};
use tokio::sync::Notify;

use crate::{
    customers::CustomerProfile,
    ledger::Timestamp,
    message::{message, FieldError},
    points::{OrderEvent, Refund},
    secrets,
    storage::StoreConnection,
};

/// Why a store's delivery could not be read. It is kept as failed, with this reason, for the admin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("not a {platform} {resource} payload: {reason}")]
    Malformed { platform: &'static str, resource: &'static str, reason: String },
    #[error("{field} is not an amount of {currency}: {value:?}")]
    Amount { field: String, currency: String, value: String },
}

/// A store's customer as a Tally profile: the email and the name from its parts.
fn store_profile(email: Option<&str>, first_name: Option<&str>, last_name: Option<&str>) -> CustomerProfile {
    let name = [first_name, last_name].into_iter().flatten().map(str::trim).filter(|part| !part.is_empty());
    let name = name.collect::<Vec<_>>().join(" ");
    CustomerProfile {
        email: email.map(str::trim).filter(|email| !email.is_empty()).map(str::to_owned),
        name: (!name.is_empty()).then_some(name),
        ..CustomerProfile::default()
    }
}

/// `value` in `currency` as minor units, or the error naming `field`.
fn amount_of(field: &str, value: &str, currency: &str) -> Result<i64, PayloadError> {
    let digits = tally_app::console::money::minor_digits(currency);
    to_minor(value, digits).filter(|minor| *minor >= 0).ok_or_else(|| PayloadError::Amount {
        field: field.to_owned(),
        currency: currency.to_owned(),
        value: value.to_owned(),
    })
}

/// What a delivery of `topic` from a store of `platform` means (`None`: a topic Tally does not
/// act on). `shop_currency` is the program's: Shopify's refunds do not name theirs.
pub fn read_delivery(
    platform: &str,
    topic: &str,
    body: &[u8],
    shop_currency: &str,
) -> Result<Option<StoreChange>, PayloadError> {
    match platform {
        "shopify" => shopify::read(topic, body, shop_currency),
        _ => woocommerce::read(topic, body),
    }
}

/// The order's subtotal: the sum of its lines, checked.
fn lines_subtotal(lines: &[crate::rules::OrderLine], currency: &str) -> Result<i64, PayloadError> {
    lines.iter().try_fold(0_i64, |sum, line| sum.checked_add(line.amount)).ok_or_else(|| PayloadError::Amount {
        field: "line_items".into(),
        currency: currency.to_owned(),
        value: "sum".into(),
    })
}

/// The Tally coupons among an order's discount codes, as Tally spells them (stores may lower-case
/// them).
fn tally_coupons<'a>(codes: impl Iterator<Item = &'a str>) -> Vec<String> {
    codes.map(|code| code.trim().to_ascii_uppercase()).filter(|code| code.starts_with("TALLY-")).collect()
}

/// The webhooks to create in a store of `platform`, one per topic, with the connection's URL.
pub fn store_topics(platform: &str) -> Vec<&'static str> {
    match platform {
        "shopify" => vec!["orders/paid", "refunds/create", "orders/cancelled", "customers/create"],
        _ => vec!["order.created", "order.updated", "order.deleted", "customer.created"],
    }
}

/// Where a store posts its webhooks, on the server browsers reach at `base_url`.
pub fn store_webhook_url(base_url: &str, connection: &StoreConnection) -> String {
    format!("{}/connections/{}/{}", base_url.trim_end_matches('/'), connection.platform, connection.id)
}

/// A new connection of `platform` with the store's own signing key (Shopify shows one) or a
/// fresh one to paste into the store (WooCommerce).
pub fn new_store_connection(
    program_id: &str,
    platform: &str,
    secret: Option<&str>,
    now: Timestamp,
) -> Result<StoreConnection, FieldError> {
    if !matches!(platform, "woocommerce" | "shopify") {
        return Err(FieldError::new("platform", message!("woocommerce or shopify")));
    }
    let secret = match secret {
        Some(secret) => store_secret(secret)?,
        None => secrets::random_token("", 24),
    };
    Ok(StoreConnection {
        id: secrets::random_token("con_", 8),
        program_id: program_id.to_owned(),
        platform: platform.to_owned(),
        secret,
        created_at: now,
        api: None,
    })
}

/// A key a store signs with: 16 to 200 characters, none of them a control character.
pub fn store_secret(secret: &str) -> Result<String, FieldError> {
    let secret = secret.trim();
    if (16..=200).contains(&secret.chars().count()) && !secret.chars().any(char::is_control) {
        Ok(secret.to_owned())
    } else {
        Err(FieldError::new("secret", message!("a key of 16 to 200 characters")))
    }
}

/// What a store's delivery asks of the program, whichever platform sent it.
#[derive(Debug, Clone)]
pub enum StoreChange {
    /// A paid order (WooCommerce `processing` or `completed`, Shopify `paid`): it earns; the refunds it lists and the Tally
    /// coupons it used are applied too (each once, by its id).
    Paid { order: OrderEvent, refunds: Vec<Refund>, coupons: Vec<String>, modified_at: Timestamp, referral: Option<OrderReferral> },
    /// A refunded order: its refunds (one per WooCommerce refund, exactly what is new).
    /// `modified_at` when the platform times the order's updates (WooCommerce); a refund of
    /// its own (Shopify's `refunds/create`) is not ordered against them.
    Refunded { order_id: String, refunds: Vec<Refund>, modified_at: Option<Timestamp> },
    /// Cancelled, failed, trashed or deleted: the order's points (and coupons) go back.
    Cancelled { order_id: String, modified_at: Timestamp },
    /// Pending, on hold, authorized only: nothing yet.
    NotPaid { order_id: String, modified_at: Timestamp },
    /// An order without a customer account: skipped (counted), as it has no one to earn.
    Guest { order_id: String },
    /// A new customer account: their profile, and the signup action.
    NewCustomer { customer_id: String, profile: CustomerProfile, event_id: String },
}

/// The referral code a paid order carries (the storefront's loader put it in the Shopify cart's
/// attributes, the WordPress plugin in the WooCommerce order's meta data), with what the fraud
/// checks use: claimed for the order's customer before the order earns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderReferral {
    pub code: String,
    pub email: Option<String>,
    pub address: Option<std::net::IpAddr>,
}

/// The name under which both platforms carry the code (`_tally_ref` in WooCommerce's meta data:
/// the underscore hides it from the order page's custom fields).
pub const REFERRAL_ATTRIBUTE: &str = "tally_ref";

impl StoreChange {
    /// The order or customer the change is about: one subject's deliveries apply in order.
    pub fn subject(&self) -> String {
        match self {
            Self::Paid { order, .. } => format!("order:{}", order.order_id),
            // A refund of its own may come before its order and wait for it: it must not hold
            // up the order's deliveries.
            Self::Refunded { order_id, modified_at: None, .. } => format!("refund:{order_id}"),
            Self::Refunded { order_id, .. }
            | Self::Cancelled { order_id, .. }
            | Self::NotPaid { order_id, .. }
            | Self::Guest { order_id } => format!("order:{order_id}"),
            Self::NewCustomer { customer_id, .. } => format!("customer:{customer_id}"),
        }
    }
}

/// Runs the inbox and the delivery passes until the process ends: at once when `wake` is
/// notified (a write committed events, a store delivered), else every poll. A failed pass is
/// logged and the next one tries again.
pub fn spawn_workers(
    inbox: inbox::InboxWorker,
    delivery: delivery::DeliveryWorker,
    checkout: checkout::CheckoutWorker,
    emails: Option<crate::notifications::worker::EmailWorker>,
    wake: Arc<Notify>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let applied = inbox.run_once().await.unwrap_or_else(|error| {
                tracing::warn!(%error, "inbox pass failed; trying again");
                0
            });
            // Relays the outbox too: the coupons to create in stores are queued by it.
            let sent = delivery.run_once().await.unwrap_or_else(|error| {
                tracing::warn!(%error, "webhook delivery pass failed; trying again");
                0
            });
            let created = checkout.run_once().await.unwrap_or_else(|error| {
                tracing::warn!(%error, "store coupon pass failed; trying again");
                0
            });
            let mailed = match &emails {
                Some(worker) => worker.run_once().await.unwrap_or_else(|error| {
                    tracing::warn!(%error, "email pass failed; trying again");
                    0
                }),
                None => 0,
            };
            if applied + sent + created + mailed == 0 {
                let _ = tokio::time::timeout(delivery.config().poll, wake.notified()).await;
            }
        }
    })
}

/// Whether `signature` (WooCommerce's `X-WC-Webhook-Signature`, Shopify's
/// `X-Shopify-Hmac-Sha256`: base64 of the HMAC-SHA256 of the raw body under the shared secret) is right, compared in constant time.
pub fn signature_matches(secret: &str, body: &[u8], signature: &str) -> bool {
    let Ok(expected) = STANDARD.decode(signature.trim()) else { return false };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// `"29.35"` in a currency with `digits` decimals as minor units, exactly (no floats): more
/// decimals than the currency has are accepted only as trailing zeros (`"0.900"` USD).
pub fn to_minor(value: &str, digits: u32) -> Option<i64> {
    let text = value.trim();
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (major, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = digits as usize;
    let (kept, extra) = fraction.split_at(fraction.len().min(digits));
    let well_formed = !major.is_empty()
        && major.bytes().all(|byte| byte.is_ascii_digit())
        && fraction.bytes().all(|byte| byte.is_ascii_digit())
        && extra.bytes().all(|byte| byte == b'0');
    if !well_formed {
        return None;
    }
    let unit = 10_i64.checked_pow(u32::try_from(digits).ok()?)?;
    let major: i64 = major.parse().ok()?;
    let fraction: i64 = if digits == 0 { 0 } else { format!("{kept:0<digits$}").parse().ok()? };
    let minor = major.checked_mul(unit)?.checked_add(fraction)?;
    Some(if negative { -minor } else { minor })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_convert_exactly_by_the_currency_decimals() {
        assert_eq!(to_minor("29.35", 2), Some(2_935));
        assert_eq!(to_minor("0.9", 2), Some(90));
        assert_eq!(to_minor("0.900000", 2), Some(90));
        assert_eq!(to_minor("1500", 0), Some(1_500));
        assert_eq!(to_minor("1500.00", 0), Some(1_500));
        assert_eq!(to_minor("12.345", 3), Some(12_345));
        assert_eq!(to_minor("-10.00", 2), Some(-1_000));
        for bad in ["0.905", "1.5", "abc", "", ".5", "1e3", "99999999999999999999"] {
            let digits = if bad == "1.5" { 0 } else { 2 };
            assert_eq!(to_minor(bad, digits), None, "{bad}");
        }
    }
}

//! WooCommerce's own webhooks (Settings → Advanced → Webhooks, API version 3), read into what
//! they mean for the program: an order that earns, refunds, a cancellation, a new customer.
//! Pure: the inbox worker applies the result through the points service.
//!
//! Shapes follow WooCommerce's REST API v3 documentation (the order resource is what the
//! webhook delivers, "exactly the same as if requested via the REST API"); the test fixtures
//! under `server/tests/fixtures/woocommerce/` say where each one comes from.

use serde::Deserialize;

use super::{PayloadError, StoreChange};
use crate::{
    ledger::Timestamp,
    points::{OrderEvent, Refund},
    rules::{Order, OrderLine},
};

/// The body WooCommerce sends, unsigned, when a webhook is saved: `webhook_id=N`.
pub fn is_ping(body: &[u8]) -> bool {
    std::str::from_utf8(body)
        .ok()
        .and_then(|text| text.strip_prefix("webhook_id="))
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|byte| byte.is_ascii_digit()))
}

#[derive(Deserialize)]
struct WooOrder {
    id: u64,
    #[serde(default)]
    status: String,
    currency: String,
    #[serde(default)]
    customer_id: u64,
    #[serde(default)]
    date_created_gmt: Option<String>,
    #[serde(default)]
    date_modified_gmt: Option<String>,
    #[serde(default)]
    date_paid_gmt: Option<String>,
    #[serde(default)]
    discount_total: Option<String>,
    #[serde(default)]
    shipping_total: Option<String>,
    #[serde(default)]
    total_tax: Option<String>,
    #[serde(default)]
    line_items: Vec<WooLine>,
    #[serde(default)]
    coupon_lines: Vec<WooCoupon>,
    #[serde(default)]
    refunds: Vec<WooRefund>,
    #[serde(default)]
    customer_ip_address: Option<String>,
    #[serde(default)]
    billing: Option<WooBilling>,
    /// `[{"id": 1, "key": "_tally_ref", "value": "CODE"}]`: the WordPress plugin's referral code.
    #[serde(default)]
    meta_data: Vec<WooMeta>,
}

#[derive(Deserialize)]
struct WooBilling {
    #[serde(default)]
    email: Option<String>,
}

#[derive(Deserialize)]
struct WooMeta {
    key: String,
    #[serde(default)]
    value: serde_json::Value,
}

#[derive(Deserialize)]
struct WooLine {
    product_id: u64,
    #[serde(default)]
    variation_id: u64,
    quantity: i64,
    /// Before discounts, as Tally's line amounts are.
    subtotal: String,
}

#[derive(Deserialize)]
struct WooCoupon {
    code: String,
}

#[derive(Deserialize)]
struct WooRefund {
    id: u64,
    /// Negative: `"-10.00"`.
    total: String,
}

#[derive(Deserialize)]
struct WooDeleted {
    id: u64,
}

#[derive(Deserialize)]
struct WooCustomer {
    id: u64,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
}

/// A WooCommerce GMT time (`2017-03-22T19:28:02`, no zone) as a timestamp.
fn gmt(value: Option<&str>) -> Option<Timestamp> {
    let civil: jiff::civil::DateTime = value?.trim_end_matches('Z').parse().ok()?;
    let instant = civil.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
    Some(Timestamp(instant.as_millisecond()))
}

fn malformed(resource: &'static str, error: impl std::fmt::Display) -> PayloadError {
    PayloadError::Malformed { platform: "WooCommerce", resource, reason: error.to_string() }
}

/// What a delivery of `topic` means, or `None` for a topic Tally does not act on.
pub fn read(topic: &str, body: &[u8]) -> Result<Option<StoreChange>, PayloadError> {
    match topic {
        "order.created" | "order.updated" | "order.restored" => {
            let order: WooOrder = serde_json::from_slice(body).map_err(|error| malformed("order", error))?;
            order_change(order).map(Some)
        }
        "order.deleted" => {
            let deleted: WooDeleted = serde_json::from_slice(body).map_err(|error| malformed("order", error))?;
            Ok(Some(StoreChange::Cancelled { order_id: deleted.id.to_string(), modified_at: Timestamp(i64::MAX) }))
        }
        "customer.created" => {
            let customer: WooCustomer = serde_json::from_slice(body).map_err(|error| malformed("customer", error))?;
            let profile = super::store_profile(
                customer.email.as_deref(),
                customer.first_name.as_deref(),
                customer.last_name.as_deref(),
            );
            Ok(Some(StoreChange::NewCustomer {
                customer_id: customer.id.to_string(),
                profile,
                event_id: format!("wc-customer-{}", customer.id),
            }))
        }
        _ => Ok(None),
    }
}

fn order_change(order: WooOrder) -> Result<StoreChange, PayloadError> {
    let order_id = order.id.to_string();
    // A deletion carries no time: it wins over every update.
    let modified_at = gmt(order.date_modified_gmt.as_deref()).unwrap_or(Timestamp(0));
    let amount = |field: &str, value: &str| super::amount_of(field, value, &order.currency);
    let refunds = order
        .refunds
        .iter()
        .map(|refund| {
            let total = refund.total.trim().trim_start_matches('-');
            Ok(Refund {
                refund_id: format!("wc-refund-{}", refund.id),
                order_id: order_id.clone(),
                amount: amount("refunds.total", total)?,
            })
        })
        .collect::<Result<Vec<_>, PayloadError>>()?;
    match order.status.as_str() {
        "cancelled" | "failed" | "trash" => return Ok(StoreChange::Cancelled { order_id, modified_at }),
        "refunded" => return Ok(StoreChange::Refunded { order_id, refunds, modified_at: Some(modified_at) }),
        "processing" | "completed" => {}
        _ => return Ok(StoreChange::NotPaid { order_id, modified_at }),
    }
    if order.customer_id == 0 {
        return Ok(StoreChange::Guest { order_id });
    }
    let mut lines = Vec::with_capacity(order.line_items.len());
    for line in &order.line_items {
        let product = if line.variation_id == 0 { line.product_id } else { line.variation_id };
        lines.push(OrderLine {
            product_id: product.to_string(),
            category_ids: Vec::new(),
            quantity: u32::try_from(line.quantity.max(0)).unwrap_or(u32::MAX),
            amount: amount("line_items.subtotal", &line.subtotal)?,
        });
    }
    let subtotal = super::lines_subtotal(&lines, &order.currency)?;
    let optional = |field: &str, value: &Option<String>| value.as_deref().map_or(Ok(0), |value| amount(field, value));
    let event = OrderEvent {
        event_id: format!("wc-order-{order_id}"),
        customer_id: order.customer_id.to_string(),
        order_id: order_id.clone(),
        occurred_at: gmt(order.date_paid_gmt.as_deref()).or_else(|| gmt(order.date_created_gmt.as_deref())),
        currency: order.currency.clone(),
        order: Order {
            subtotal,
            shipping: optional("shipping_total", &order.shipping_total)?,
            tax: optional("total_tax", &order.total_tax)?,
            discount: optional("discount_total", &order.discount_total)?,
            lines,
        },
    };
    // WooCommerce lowercases coupon codes.
    let coupons = super::tally_coupons(order.coupon_lines.iter().map(|coupon| coupon.code.as_str()));
    let key = format!("_{}", super::REFERRAL_ATTRIBUTE);
    let referral = order.meta_data.iter().find(|meta| meta.key == key).and_then(|meta| meta.value.as_str()).map(|code| {
        super::OrderReferral {
            code: code.to_owned(),
            email: order.billing.as_ref().and_then(|billing| billing.email.clone()),
            address: order.customer_ip_address.as_deref().and_then(|ip| ip.parse().ok()),
        }
    });
    Ok(StoreChange::Paid { order: event, refunds, coupons, modified_at, referral })
}

#[cfg(test)]
mod tests {
    use base64::{engine::general_purpose::STANDARD, Engine};
    use hmac::{Hmac, Mac};

    use super::*;

    #[test]
    fn signatures_are_base64_hmac_sha256_of_the_raw_body() {
        let body = br#"{"id":727}"#;
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(body);
        let signature = STANDARD.encode(mac.finalize().into_bytes());
        assert!(super::super::signature_matches("s3cret", body, &signature));
        assert!(!super::super::signature_matches("other", body, &signature));
        assert!(!super::super::signature_matches("s3cret", br#"{"id":728}"#, &signature));
        assert!(!super::super::signature_matches("s3cret", body, "not base64!"));
        assert!(is_ping(b"webhook_id=15") && !is_ping(b"webhook_id=") && !is_ping(b"{}"));
    }
}

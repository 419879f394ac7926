//! Shopify's webhooks (a custom app or Settings → Notifications → Webhooks, JSON), read into
//! what they mean for the program. Pure: the inbox worker applies the result.
//!
//! Topics: `orders/paid` (or `orders/create` already paid) earns, `refunds/create` refunds the
//! money its successful refund transactions returned, `orders/cancelled` cancels,
//! `customers/create` is a signup. Payloads are the Admin REST API resources (orders, refunds,
//! customers) that Shopify's webhook reference shows; see `server/tests/fixtures/shopify/`.

use serde::Deserialize;

use super::{PayloadError, StoreChange};
use crate::{
    customers::CustomerProfile,
    ledger::Timestamp,
    points::{OrderEvent, Refund},
    rules::{Order, OrderLine},
};

#[derive(Deserialize)]
struct ShopifyOrder {
    id: u64,
    currency: String,
    #[serde(default)]
    financial_status: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
    #[serde(default)]
    processed_at: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    total_discounts: Option<String>,
    #[serde(default)]
    total_tax: Option<String>,
    #[serde(default)]
    total_shipping_price_set: Option<MoneySet>,
    #[serde(default)]
    line_items: Vec<ShopifyLine>,
    #[serde(default)]
    discount_codes: Vec<DiscountCode>,
    #[serde(default)]
    customer: Option<Customer>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    browser_ip: Option<String>,
    /// The cart's attributes (`[{"name": "tally_ref", "value": "CODE"}]`).
    #[serde(default)]
    note_attributes: Vec<NoteAttribute>,
}

#[derive(Deserialize)]
struct NoteAttribute {
    name: String,
    #[serde(default)]
    value: serde_json::Value,
}

#[derive(Deserialize)]
struct MoneySet {
    shop_money: Money,
}

#[derive(Deserialize)]
struct Money {
    amount: String,
}

#[derive(Deserialize)]
struct ShopifyLine {
    #[serde(default)]
    product_id: Option<u64>,
    #[serde(default)]
    variant_id: Option<u64>,
    quantity: i64,
    /// Per unit, before discounts.
    price: String,
}

#[derive(Deserialize)]
struct DiscountCode {
    code: String,
}

#[derive(Deserialize)]
struct Customer {
    id: u64,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    /// `{"state": "subscribed", "opt_in_level": ..., "consent_updated_at": ...}`.
    #[serde(default)]
    email_marketing_consent: Option<MarketingConsent>,
}

#[derive(Deserialize)]
struct MarketingConsent {
    #[serde(default)]
    state: Option<String>,
}

#[derive(Deserialize)]
struct ShopifyRefund {
    id: u64,
    order_id: u64,
    #[serde(default)]
    transactions: Vec<Transaction>,
}

#[derive(Deserialize)]
struct Transaction {
    amount: String,
    kind: String,
    status: String,
}

/// An ISO 8601 time with its offset (`2008-01-10T11:00:00-05:00`).
fn time(value: Option<&str>) -> Option<Timestamp> {
    let instant: jiff::Timestamp = value?.parse().ok()?;
    Some(Timestamp(instant.as_millisecond()))
}

fn malformed(resource: &'static str, error: impl std::fmt::Display) -> PayloadError {
    PayloadError::Malformed { platform: "Shopify", resource, reason: error.to_string() }
}

fn profile(customer: &Customer) -> CustomerProfile {
    let mut profile =
        super::store_profile(customer.email.as_deref(), customer.first_name.as_deref(), customer.last_name.as_deref());
    // Subscribed agrees; unsubscribed or never subscribed does not; pending (double opt-in not
    // confirmed yet) and redacted tell nothing.
    let state = customer.email_marketing_consent.as_ref().and_then(|consent| consent.state.as_deref());
    profile.marketing_consent = match state.map(str::to_ascii_lowercase).as_deref() {
        Some("subscribed") => Some(true),
        Some("unsubscribed" | "not_subscribed") => Some(false),
        _ => None,
    };
    profile
}

/// What a delivery of `topic` means, or `None` for a topic Tally does not act on.
pub fn read(topic: &str, body: &[u8], shop_currency: &str) -> Result<Option<StoreChange>, PayloadError> {
    match topic {
        "orders/paid" | "orders/create" | "orders/cancelled" => {
            let order: ShopifyOrder = serde_json::from_slice(body).map_err(|error| malformed("order", error))?;
            order_change(topic, order).map(Some)
        }
        "refunds/create" => {
            let refund: ShopifyRefund = serde_json::from_slice(body).map_err(|error| malformed("refund", error))?;
            // Only money that went back counts: successful refund transactions, in the shop's
            // currency (the program's: its orders earn only in it).
            let mut amount = 0_i64;
            for transaction in &refund.transactions {
                if transaction.kind == "refund" && transaction.status == "success" {
                    let minor = super::amount_of("transactions.amount", &transaction.amount, shop_currency)?;
                    amount = amount.saturating_add(minor);
                }
            }
            let refunds = if amount > 0 {
                vec![Refund {
                    refund_id: format!("shopify-refund-{}", refund.id),
                    order_id: refund.order_id.to_string(),
                    amount,
                }]
            } else {
                Vec::new()
            };
            Ok(Some(StoreChange::Refunded { order_id: refund.order_id.to_string(), refunds, modified_at: None }))
        }
        "customers/create" => {
            let customer: Customer = serde_json::from_slice(body).map_err(|error| malformed("customer", error))?;
            Ok(Some(StoreChange::NewCustomer {
                customer_id: customer.id.to_string(),
                profile: profile(&customer),
                event_id: format!("shopify-customer-{}", customer.id),
            }))
        }
        _ => Ok(None),
    }
}

fn order_change(topic: &str, order: ShopifyOrder) -> Result<StoreChange, PayloadError> {
    let order_id = order.id.to_string();
    let modified_at = time(order.updated_at.as_deref()).unwrap_or(Timestamp(0));
    if topic == "orders/cancelled" {
        return Ok(StoreChange::Cancelled { order_id, modified_at });
    }
    let paid = topic == "orders/paid" || order.financial_status.as_deref() == Some("paid");
    if !paid {
        return Ok(StoreChange::NotPaid { order_id, modified_at });
    }
    let Some(customer) = &order.customer else { return Ok(StoreChange::Guest { order_id }) };
    let amount = |field: &str, value: &str| super::amount_of(field, value, &order.currency);
    let mut lines = Vec::with_capacity(order.line_items.len());
    for line in &order.line_items {
        let quantity = line.quantity.max(0);
        let unit = amount("line_items.price", &line.price)?;
        let total = unit.checked_mul(quantity).ok_or_else(|| PayloadError::Amount {
            field: "line_items.price".into(),
            currency: order.currency.clone(),
            value: line.price.clone(),
        })?;
        let product = line.variant_id.or(line.product_id).unwrap_or_default();
        lines.push(OrderLine {
            product_id: product.to_string(),
            category_ids: Vec::new(),
            quantity: u32::try_from(quantity).unwrap_or(u32::MAX),
            amount: total,
        });
    }
    let subtotal = super::lines_subtotal(&lines, &order.currency)?;
    let optional = |field: &str, value: Option<&str>| value.map_or(Ok(0), |value| amount(field, value));
    let shipping = order.total_shipping_price_set.as_ref().map(|set| set.shop_money.amount.as_str());
    let event = OrderEvent {
        event_id: format!("shopify-order-{order_id}"),
        customer_id: customer.id.to_string(),
        order_id: order_id.clone(),
        occurred_at: time(order.processed_at.as_deref()).or_else(|| time(order.created_at.as_deref())),
        currency: order.currency.clone(),
        order: Order {
            subtotal,
            shipping: optional("total_shipping_price_set", shipping)?,
            tax: optional("total_tax", order.total_tax.as_deref())?,
            discount: optional("total_discounts", order.total_discounts.as_deref())?,
            lines,
        },
    };
    let coupons = super::tally_coupons(order.discount_codes.iter().map(|code| code.code.as_str()));
    let referral = order
        .note_attributes
        .iter()
        .find(|attribute| attribute.name == super::REFERRAL_ATTRIBUTE)
        .and_then(|attribute| attribute.value.as_str())
        .map(|code| super::OrderReferral {
            code: code.to_owned(),
            email: order.email.clone().or_else(|| customer.email.clone()),
            address: order.browser_ip.as_deref().and_then(|ip| ip.parse().ok()),
        });
    Ok(StoreChange::Paid { order: event, refunds: Vec::new(), coupons, modified_at, referral })
}

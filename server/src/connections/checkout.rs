//! Checkout-native coupons: a coupon Tally issues is created in the store too, through the
//! store's own API, so the shopper's code works at the store's checkout:
//! - WooCommerce: REST API v3 `POST /wp-json/wc/v3/coupons`, HTTP Basic with the consumer key
//!   and secret; single use, restricted to the customer's email, expiring with the coupon.
//! - Shopify: Admin GraphQL `discountCodeBasicCreate` (`discountCodeFreeShippingCreate` for
//!   free shipping) with the `X-Shopify-Access-Token` header; once per customer, usage limit 1,
//!   for the customer alone when they are a Shopify customer.
//!
//! The request and the reading of each answer are pure functions; [`CheckoutWorker`] sends
//! them with retries (the webhooks' back-off, about three days) and records what came of each.
//! A code already in the store counts as created: codes are random, so it is ours, created by
//! an attempt whose answer was lost.

use std::{sync::Arc, time::Duration};

use base64::{engine::general_purpose::STANDARD, Engine};
use serde_json::{json, Value};

use super::{delivery::DeliveryConfig, webhooks::UrlPolicy};
use crate::{
    ledger::Timestamp,
    message::{message, FieldError},
    rewards::{Coupon, CouponValue},
    storage::{Storage, StorageError, StoreApi, StoreCouponAttempt, StoreCouponTask},
    time::Clock,
};

/// The Admin API version Tally's Shopify requests are written against.
pub const SHOPIFY_API_VERSION: &str = "2025-10";

/// The store API a merchant gives for a connection of `platform`: the store's URL (checked
/// like a webhook URL: https, a public host), WooCommerce's consumer key and secret or
/// Shopify's access token.
pub fn store_api(
    platform: &str,
    url: &str,
    key: Option<&str>,
    secret: &str,
    urls: UrlPolicy,
) -> Result<StoreApi, FieldError> {
    let raw = url.trim();
    // A bare Shopify shop name is the usual way to give it.
    let raw = if platform == "shopify" && !raw.contains("://") { format!("https://{raw}") } else { raw.to_owned() };
    let mut url = urls.check(&raw).map_err(|error| FieldError::new("api_url", error.message))?;
    url.set_query(None);
    url.set_fragment(None);
    let url = url.as_str().trim_end_matches('/').to_owned();
    let credential = |field: &'static str, value: &str| {
        let value = value.trim();
        if (1..=500).contains(&value.chars().count()) && !value.chars().any(char::is_control) {
            Ok(value.to_owned())
        } else {
            Err(FieldError::new(field, message!("a key of 1 to 500 characters")))
        }
    };
    let key = match platform {
        "woocommerce" => Some(credential("api_key", key.unwrap_or_default())?),
        _ => None,
    };
    Ok(StoreApi { url, key, secret: credential("api_secret", secret)? })
}

/// One request to a store's API.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreRequest {
    pub url: String,
    /// The authentication header: name and value.
    pub auth: (&'static str, String),
    pub body: Value,
}

/// `minor` units of a currency with `digits` decimals as the decimal text stores take
/// (`1050`, 2 → `"10.50"`).
pub fn to_decimal(minor: i64, digits: u32) -> String {
    let unit = 10_u64.pow(digits);
    let (major, fraction) = (minor.unsigned_abs() / unit, minor.unsigned_abs() % unit);
    let sign = if minor < 0 { "-" } else { "" };
    if digits == 0 {
        format!("{sign}{major}")
    } else {
        format!("{sign}{major}.{fraction:0width$}", width = digits as usize)
    }
}

/// WooCommerce's `date_expires_gmt`: the site's GMT time, without a zone.
fn woocommerce_time(at: Timestamp) -> String {
    let text = at.to_string();
    text.get(..19).unwrap_or(&text).to_owned()
}

/// The request that creates `coupon` in the store of `platform`.
pub fn coupon_request(
    platform: &str,
    api: &StoreApi,
    coupon: &Coupon,
    email: Option<&str>,
    currency: &str,
) -> Result<StoreRequest, String> {
    let digits = tally_app::console::money::minor_digits(currency);
    match platform {
        "woocommerce" => {
            let (discount_type, amount, free_shipping, product_ids) = match &coupon.value {
                CouponValue::AmountOff { amount } => ("fixed_cart", to_decimal(*amount, digits), false, vec![]),
                CouponValue::PercentOff { percent } => ("percent", percent.to_string(), false, vec![]),
                CouponValue::FreeShipping => ("fixed_cart", "0".to_owned(), true, vec![]),
                CouponValue::FreeProduct { product_id } => {
                    let id: u64 = product_id
                        .parse()
                        .map_err(|_| format!("the product {product_id:?} is not a WooCommerce product id"))?;
                    ("percent", "100".to_owned(), false, vec![id])
                }
            };
            let mut body = json!({
                "code": coupon.code,
                "discount_type": discount_type,
                "amount": amount,
                "description": format!("Tally reward {} for customer {}", coupon.reward_id, coupon.customer_id),
                "date_expires_gmt": woocommerce_time(coupon.expires_at),
                "usage_limit": 1,
                "usage_limit_per_user": 1,
                "free_shipping": free_shipping,
                "email_restrictions": email.into_iter().collect::<Vec<_>>(),
            });
            if !product_ids.is_empty() {
                body["product_ids"] = json!(product_ids);
                body["limit_usage_to_x_items"] = json!(1);
            }
            let key = api.key.as_deref().unwrap_or_default();
            let basic = STANDARD.encode(format!("{key}:{}", api.secret));
            Ok(StoreRequest {
                url: format!("{}/wp-json/wc/v3/coupons", api.url),
                auth: ("authorization", format!("Basic {basic}")),
                body,
            })
        }
        _ => {
            // Shopify's customers come with numeric ids: the code is theirs alone.
            let context = coupon
                .customer_id
                .parse::<u64>()
                .ok()
                .map(|id| json!({ "customers": { "add": [format!("gid://shopify/Customer/{id}")] } }));
            let mut input = json!({
                "title": format!("Tally reward {}", coupon.reward_id),
                "code": coupon.code,
                "startsAt": coupon.created_at,
                "endsAt": coupon.expires_at,
                "usageLimit": 1,
                "appliesOncePerCustomer": true,
            });
            if let Some(context) = context {
                input["context"] = context;
            }
            let (mutation, argument, input_type) = match &coupon.value {
                CouponValue::FreeShipping => {
                    input["destination"] = json!({ "all": true });
                    ("discountCodeFreeShippingCreate", "freeShippingCodeDiscount", "DiscountCodeFreeShippingInput")
                }
                value => {
                    input["customerGets"] = match value {
                        CouponValue::AmountOff { amount } => json!({
                            "value": { "discountAmount": { "amount": to_decimal(*amount, digits), "appliesOnEachItem": false } },
                            "items": { "all": true },
                        }),
                        CouponValue::PercentOff { percent } => json!({
                            "value": { "percentage": f64::from(*percent) / 100.0 },
                            "items": { "all": true },
                        }),
                        CouponValue::FreeProduct { product_id } => {
                            let id: u64 = product_id
                                .parse()
                                .map_err(|_| format!("the product {product_id:?} is not a Shopify product id"))?;
                            json!({
                                "value": { "percentage": 1.0 },
                                "items": { "products": { "productsToAdd": [format!("gid://shopify/Product/{id}")] } },
                            })
                        }
                        CouponValue::FreeShipping => unreachable!("matched above"),
                    };
                    ("discountCodeBasicCreate", "basicCodeDiscount", "DiscountCodeBasicInput")
                }
            };
            let query = format!(
                "mutation TallyCoupon(${argument}: {input_type}!) {{ {mutation}({argument}: ${argument}) \
                 {{ codeDiscountNode {{ id }} userErrors {{ field code message }} }} }}"
            );
            Ok(StoreRequest {
                url: format!("{}/admin/api/{SHOPIFY_API_VERSION}/graphql.json", api.url),
                auth: ("x-shopify-access-token", api.secret.clone()),
                body: json!({ "query": query, "variables": { argument: input } }),
            })
        }
    }
}

/// What the store's answer says: the store's id of the coupon (`None` when it was there
/// already), or why not.
pub fn read_answer(platform: &str, status: u16, body: &str) -> Result<Option<String>, String> {
    let answer: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let said = |answer: &Value| {
        let errors = &answer["errors"];
        let text = answer["message"].as_str().or_else(|| errors.as_str()).or_else(|| errors[0]["message"].as_str());
        text.unwrap_or_default().chars().take(300).collect::<String>()
    };
    match platform {
        "woocommerce" => match status {
            200..=299 => answer["id"]
                .as_u64()
                .map(|id| Some(id.to_string()))
                .ok_or_else(|| format!("the store answered {status} without a coupon id")),
            400 if answer["code"] == "woocommerce_rest_coupon_code_already_exists" => Ok(None),
            _ => Err(format!("the store answered {status}: {}", said(&answer))),
        },
        _ => {
            if !(200..300).contains(&status) {
                return Err(format!("the store answered {status}: {}", said(&answer)));
            }
            if answer["errors"].is_array() {
                return Err(format!("the store refused the request: {}", said(&answer)));
            }
            let Some(result) = answer["data"].as_object().and_then(|data| data.values().next()) else {
                return Err("the store's answer has no data".to_owned());
            };
            let errors = result["userErrors"].as_array().cloned().unwrap_or_default();
            if errors.iter().any(|error| error["code"] == "TAKEN") {
                return Ok(None);
            }
            if let Some(error) = errors.first() {
                return Err(format!("the store refused the code: {}", error["message"].as_str().unwrap_or_default()));
            }
            result["codeDiscountNode"]["id"]
                .as_str()
                .map(|id| Some(id.to_owned()))
                .ok_or_else(|| "the store's answer has no discount id".to_owned())
        }
    }
}

/// Creates queued coupons in their stores.
pub struct CheckoutWorker {
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
    client: reqwest::Client,
    timeout: Duration,
}

/// Coupons claimed and sent concurrently per pass.
const BATCH: u32 = 16;

impl CheckoutWorker {
    pub fn new(storage: Arc<dyn Storage>, clock: Arc<dyn Clock>, config: DeliveryConfig) -> Self {
        let client = super::delivery::checked_client(&config, concat!("Tally-Checkout/", env!("CARGO_PKG_VERSION")));
        Self { storage, clock, client, timeout: config.timeout }
    }

    /// One pass: every due coupon it can claim, sent. How many were attempted.
    pub async fn run_once(&self) -> Result<usize, StorageError> {
        let now = self.clock.now();
        let lease_ms = i64::try_from(self.timeout.as_millis()).unwrap_or(i64::MAX).saturating_mul(3);
        let tasks = self.storage.claim_store_coupons(now, Timestamp(now.0.saturating_add(lease_ms)), BATCH).await?;
        let attempted = tasks.len();
        let attempts = futures_util::future::join_all(tasks.into_iter().map(|task| self.attempt(task))).await;
        self.storage.record_store_coupons(&attempts).await?;
        Ok(attempted)
    }

    async fn attempt(&self, task: StoreCouponTask) -> (i64, StoreCouponAttempt) {
        let outcome = self.send(&task).await;
        let at = self.clock.now();
        let (store_ref, error) = match outcome {
            Ok(store_ref) => (store_ref, None),
            Err(error) => (None, Some(error)),
        };
        let retry_at =
            error.as_ref().and_then(|_| super::webhooks::next_attempt(task.attempts, at, super::delivery::jitter()));
        if let (Some(error), None) = (&error, retry_at) {
            tracing::warn!(connection = %task.connection.id, %error,
                "a coupon could not be created in the store after its last retry");
        }
        (task.id, StoreCouponAttempt { at, store_ref, error, retry_at })
    }

    async fn send(&self, task: &StoreCouponTask) -> Result<Option<String>, String> {
        let api = task.connection.api.as_ref().ok_or("the connection no longer has the store's API")?;
        let event: Value = serde_json::from_str(&task.payload).map_err(|_| "the coupon's event is gone".to_owned())?;
        let coupon: Coupon = serde_json::from_value(event["data"]["coupon"].clone())
            .map_err(|error| format!("the coupon's event does not hold a coupon: {error}"))?;
        let platform = task.connection.platform.as_str();
        let request = coupon_request(platform, api, &coupon, task.email.as_deref(), &task.currency)?;
        let response = self
            .client
            .post(&request.url)
            .header(request.auth.0, &request.auth.1)
            .json(&request.body)
            .send()
            .await
            .map_err(super::delivery::describe)?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(super::delivery::describe)?;
        read_answer(platform, status, &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rewards::CouponStatus;

    fn coupon(value: CouponValue, customer_id: &str) -> Coupon {
        Coupon {
            code: "TALLY-7KQX-9WMC-PD4T".into(),
            customer_id: customer_id.into(),
            reward_id: "rwd_1".into(),
            points: 500,
            value,
            status: CouponStatus::Issued,
            expires_at: Timestamp(1_798_761_600_000),
            created_at: Timestamp(1_767_225_600_000),
            order_id: None,
        }
    }

    #[test]
    fn amounts_are_the_currency_decimals() {
        assert_eq!(to_decimal(1_050, 2), "10.50");
        assert_eq!(to_decimal(500, 0), "500");
        assert_eq!(to_decimal(12_345, 3), "12.345");
        assert_eq!(to_decimal(5, 2), "0.05");
    }

    #[test]
    fn a_woocommerce_coupon_is_single_use_for_the_customer_and_expires_with_ours() {
        let api = StoreApi { url: "https://shop.example".into(), key: Some("ck_1".into()), secret: "cs_2".into() };
        let request = coupon_request(
            "woocommerce",
            &api,
            &coupon(CouponValue::AmountOff { amount: 1_000 }, "7"),
            Some("a@b.co"),
            "KWD",
        )
        .unwrap();
        assert_eq!(request.url, "https://shop.example/wp-json/wc/v3/coupons");
        assert_eq!(request.auth, ("authorization", format!("Basic {}", STANDARD.encode("ck_1:cs_2"))));
        assert_eq!(request.body["amount"], "1.000");
        assert_eq!(request.body["discount_type"], "fixed_cart");
        assert_eq!(request.body["usage_limit"], 1);
        assert_eq!(request.body["email_restrictions"], json!(["a@b.co"]));
        assert_eq!(request.body["date_expires_gmt"], "2027-01-01T00:00:00");
    }

    #[test]
    fn a_shopify_discount_is_for_the_shopify_customer_alone() {
        let api = StoreApi { url: "https://my-shop.myshopify.com".into(), key: None, secret: "shpat_1".into() };
        let request =
            coupon_request("shopify", &api, &coupon(CouponValue::PercentOff { percent: 15 }, "207119551"), None, "USD")
                .unwrap();
        assert_eq!(request.url, "https://my-shop.myshopify.com/admin/api/2025-10/graphql.json");
        let input = &request.body["variables"]["basicCodeDiscount"];
        assert_eq!(input["customerGets"]["value"]["percentage"], 0.15);
        assert_eq!(input["context"]["customers"]["add"][0], "gid://shopify/Customer/207119551");
        assert_eq!(input["endsAt"], "2027-01-01T00:00:00.000Z");
        let shipping =
            coupon_request("shopify", &api, &coupon(CouponValue::FreeShipping, "guest-9"), None, "USD").unwrap();
        assert!(shipping.body["query"].as_str().unwrap().contains("discountCodeFreeShippingCreate"));
        assert!(shipping.body["variables"]["freeShippingCodeDiscount"].get("context").is_none());
    }

    #[test]
    fn answers_say_created_already_there_or_why_not() {
        assert_eq!(read_answer("woocommerce", 201, r#"{"id": 720, "code": "tally-7kqx"}"#), Ok(Some("720".into())));
        let exists = r#"{"code":"woocommerce_rest_coupon_code_already_exists","message":"The coupon code already exists","data":{"status":400}}"#;
        assert_eq!(read_answer("woocommerce", 400, exists), Ok(None));
        assert!(read_answer("woocommerce", 401, r#"{"code":"woocommerce_rest_cannot_create","message":"Sorry"}"#)
            .unwrap_err()
            .contains("401: Sorry"));
        let created = r#"{"data":{"discountCodeBasicCreate":{"codeDiscountNode":{"id":"gid://shopify/DiscountCodeNode/1"},"userErrors":[]}}}"#;
        assert_eq!(read_answer("shopify", 200, created), Ok(Some("gid://shopify/DiscountCodeNode/1".into())));
        let taken = r#"{"data":{"discountCodeBasicCreate":{"codeDiscountNode":null,"userErrors":[{"field":["basicCodeDiscount","code"],"code":"TAKEN","message":"Code must be unique."}]}}}"#;
        assert_eq!(read_answer("shopify", 200, taken), Ok(None));
        let throttled = r#"{"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED"}}]}"#;
        assert!(read_answer("shopify", 200, throttled).unwrap_err().contains("Throttled"));
    }
}

//! Checkout-native coupons: a coupon redeemed in Tally is created in the store through the
//! store's own API, against local fakes of each API that check the documented request shape
//! and authentication (we cannot reach real stores here):
//! - WooCommerce REST API v3 `POST /wp-json/wc/v3/coupons` (HTTP Basic, consumer key and
//!   secret), its coupon properties and its `woocommerce_rest_coupon_code_already_exists` and
//!   `woocommerce_rest_cannot_create` errors, as woocommerce.github.io/woocommerce-rest-api-docs
//!   shows them;
//! - Shopify Admin GraphQL `discountCodeBasicCreate` (`X-Shopify-Access-Token`), its
//!   `DiscountCodeBasicInput` and `userErrors` (code `TAKEN`), as shopify.dev shows them.
//!
//! Both databases; the widget tells the shopper while the store does not know the code yet.

use std::sync::{Arc, Mutex};

use axum::{extract::State, http::HeaderMap, routing::post, Json, Router};
use base64::{engine::general_purpose::STANDARD, Engine};
use reqwest::Method;
use serde_json::{json, Value};
use tally_server::{
    connections::{
        checkout::CheckoutWorker,
        delivery::{DeliveryConfig, DeliveryWorker},
        webhooks::{UrlPolicy, MAX_ATTEMPTS},
    },
    customer_token::sign,
    ledger::Timestamp,
    time::Clock,
};

use crate::common::{spawn_app_at, TestApp, T0};

const ORIGIN: &str = "https://shop.example";

/// What the fake store does with the next requests.
#[derive(Default)]
struct FakeStore {
    /// The credential it accepts: `Basic base64(key:secret)` or the Shopify token.
    accepts: String,
    /// Answers 503 to this many requests before looking at them.
    unavailable: usize,
    /// Creates the coupon, then answers 504 (the answer is lost) this many times.
    lose_answers: usize,
    /// Every request, as received.
    requests: Vec<(HeaderMap, Value)>,
    /// The coupons it holds, as created.
    coupons: Vec<Value>,
}

type Shared = Arc<Mutex<FakeStore>>;

/// Checks a WooCommerce coupon as the REST API documents its properties; the reason if not.
fn woocommerce_shape(coupon: &Value) -> Result<(), String> {
    let decimal = |value: &Value| value.as_str().is_some_and(|text| text.parse::<f64>().is_ok());
    let checks = [
        ("code", coupon["code"].as_str().is_some_and(|code| !code.is_empty())),
        ("discount_type", matches!(coupon["discount_type"].as_str(), Some("percent" | "fixed_cart" | "fixed_product"))),
        ("amount", decimal(&coupon["amount"])),
        ("usage_limit", coupon["usage_limit"].is_u64()),
        ("usage_limit_per_user", coupon["usage_limit_per_user"].is_u64()),
        (
            "email_restrictions",
            coupon["email_restrictions"].as_array().is_some_and(|list| list.iter().all(Value::is_string)),
        ),
        // `YYYY-MM-DDTHH:MM:SS`, GMT, no zone.
        (
            "date_expires_gmt",
            coupon["date_expires_gmt"].as_str().is_some_and(|at| at.len() == 19 && &at[10..11] == "T"),
        ),
        ("free_shipping", coupon["free_shipping"].is_boolean()),
    ];
    match checks.iter().find(|(_, ok)| !ok) {
        Some((field, _)) => Err(format!("Invalid parameter(s): {field}")),
        None => Ok(()),
    }
}

async fn woocommerce_coupons(
    State(store): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (axum::http::StatusCode, Json<Value>) {
    use axum::http::StatusCode;
    let mut store = store.lock().unwrap();
    store.requests.push((headers.clone(), body.clone()));
    if store.unavailable > 0 {
        store.unavailable -= 1;
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"message": "Service Unavailable"})));
    }
    if headers.get("authorization").and_then(|value| value.to_str().ok()) != Some(store.accepts.as_str()) {
        let refused = json!({"code": "woocommerce_rest_cannot_create", "message": "Sorry, you are not allowed to create resources.", "data": {"status": 401}});
        return (StatusCode::UNAUTHORIZED, Json(refused));
    }
    if let Err(message) = woocommerce_shape(&body) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"code": "rest_invalid_param", "message": message, "data": {"status": 400}})),
        );
    }
    // WooCommerce keeps codes lower-cased, and each code once.
    let code = body["code"].as_str().unwrap().to_lowercase();
    if store.coupons.iter().any(|coupon| coupon["code"] == code.as_str()) {
        let exists = json!({"code": "woocommerce_rest_coupon_code_already_exists", "message": "The coupon code already exists", "data": {"status": 400}});
        return (StatusCode::BAD_REQUEST, Json(exists));
    }
    let mut coupon = body.clone();
    coupon["id"] = json!(719 + store.coupons.len());
    coupon["code"] = json!(code);
    store.coupons.push(coupon.clone());
    if store.lose_answers > 0 {
        store.lose_answers -= 1;
        return (StatusCode::GATEWAY_TIMEOUT, Json(json!({})));
    }
    (StatusCode::CREATED, Json(coupon))
}

/// Checks a `DiscountCodeBasicInput` as the Admin API documents it; the reason if not.
fn shopify_shape(query: &str, input: &Value) -> Result<(), String> {
    let value = &input["customerGets"]["value"];
    let checks = [
        ("mutation", query.contains("discountCodeBasicCreate(basicCodeDiscount: $basicCodeDiscount)")),
        ("variable", query.contains("$basicCodeDiscount: DiscountCodeBasicInput!")),
        ("title", input["title"].is_string()),
        ("code", input["code"].is_string()),
        ("startsAt", input["startsAt"].as_str().is_some_and(|at| at.ends_with('Z'))),
        ("endsAt", input["endsAt"].as_str().is_some_and(|at| at.ends_with('Z'))),
        (
            "customerGets.value",
            value["percentage"].as_f64().is_some_and(|share| (0.0..=1.0).contains(&share))
                || value["discountAmount"]["amount"].as_str().is_some_and(|amount| amount.parse::<f64>().is_ok()),
        ),
        (
            "customerGets.items",
            input["customerGets"]["items"]["all"] == true || input["customerGets"]["items"]["products"].is_object(),
        ),
        ("usageLimit", input["usageLimit"] == 1),
    ];
    match checks.iter().find(|(_, ok)| !ok) {
        Some((field, _)) => Err(format!(
            "Variable $basicCodeDiscount of type DiscountCodeBasicInput! was provided invalid value for {field}"
        )),
        None => Ok(()),
    }
}

async fn shopify_graphql(
    State(store): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (axum::http::StatusCode, Json<Value>) {
    use axum::http::StatusCode;
    let mut store = store.lock().unwrap();
    store.requests.push((headers.clone(), body.clone()));
    if store.unavailable > 0 {
        store.unavailable -= 1;
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"errors": "Service Unavailable"})));
    }
    if headers.get("x-shopify-access-token").and_then(|value| value.to_str().ok()) != Some(store.accepts.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"})),
        );
    }
    let input = &body["variables"]["basicCodeDiscount"];
    if let Err(message) = shopify_shape(body["query"].as_str().unwrap_or_default(), input) {
        return (
            StatusCode::OK,
            Json(json!({"errors": [{"message": message, "extensions": {"code": "INVALID_VARIABLE"}}]})),
        );
    }
    let taken = store.coupons.iter().any(|coupon| coupon["code"] == input["code"]);
    let payload = if taken {
        json!({"codeDiscountNode": null, "userErrors": [{"field": ["basicCodeDiscount", "code"], "code": "TAKEN", "message": "Code must be unique. Please try a different code."}]})
    } else {
        store.coupons.push(input.clone());
        json!({"codeDiscountNode": {"id": format!("gid://shopify/DiscountCodeNode/{}", 1000 + store.coupons.len())}, "userErrors": []})
    };
    if !taken && store.lose_answers > 0 {
        store.lose_answers -= 1;
        return (StatusCode::GATEWAY_TIMEOUT, Json(json!({})));
    }
    (StatusCode::OK, Json(json!({"data": {"discountCodeBasicCreate": payload}})))
}

/// Both fakes on one listener; its base URL.
async fn start_fake_store(store: Shared) -> String {
    let app = Router::new()
        .route("/wp-json/wc/v3/coupons", post(woocommerce_coupons))
        .route("/admin/api/2025-10/graphql.json", post(shopify_graphql))
        .with_state(store);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

struct Shop {
    secret: String,
    widget_secret: String,
    key: String,
    connection: String,
}

/// A program with a connection of `platform` whose store API is `store_url` with `credential`.
async fn shop(app: &TestApp, platform: &str, store_url: &str, credential: Value) -> Shop {
    let (mut program, secret) = app.create_program("Coffee Club").await;
    program.allowed_origins = vec![ORIGIN.to_owned()];
    app.storage.upsert_program(&program).await.unwrap();
    let (status, connection) =
        app.api_send(Method::POST, "/api/v1/connections", &secret, &json!({"platform": platform})).await;
    assert_eq!(status, 201, "{connection}");
    let connection = connection["id"].as_str().unwrap().to_owned();
    let mut api = credential;
    api["url"] = json!(store_url);
    let path = format!("/api/v1/connections/{connection}/store-api");
    let (status, view) = app.api_send(Method::PUT, &path, &secret, &api).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["store_api"]["url"], store_url, "{view}");
    assert!(!view.to_string().contains(api["secret"].as_str().unwrap()), "the secret is never shown back: {view}");
    Shop { secret, widget_secret: program.widget_secret, key: program.publishable_key, connection }
}

/// Gives `customer` 1,000 points and redeems a reward of `reward`; the coupon code.
async fn redeem(app: &TestApp, shop: &Shop, customer: &str, reward: Value) -> String {
    let profile = json!({"email": "ana@example.com", "name": "Ana"});
    assert_eq!(
        app.api_send(Method::PUT, &format!("/api/v1/customers/{customer}"), &shop.secret, &profile).await.0,
        200
    );
    let grant = json!({"adjustment_id": "g", "points": 1_000, "reason": "welcome"});
    let path = format!("/api/v1/customers/{customer}/adjustments");
    assert_eq!(app.api_send(Method::POST, &path, &shop.secret, &grant).await.0, 201);
    let reward = json!({"name": "Reward", "reward": reward, "points": 100});
    let (_, reward) = app.api_send(Method::POST, "/api/v1/rewards", &shop.secret, &reward).await;
    let redemption = json!({"redemption_id": "r1", "reward_id": reward["id"]});
    let path = format!("/api/v1/customers/{customer}/redemptions");
    let (status, redeemed) = app.api_send(Method::POST, &path, &shop.secret, &redemption).await;
    assert_eq!(status, 201, "{redeemed}");
    redeemed["coupon"]["code"].as_str().unwrap().to_owned()
}

/// What the widget says of the shopper's coupon at the store's checkout.
async fn widget_checkout(app: &TestApp, shop: &Shop, customer: &str, now: Timestamp) -> Value {
    let token = sign(&json!({"sub": customer, "exp": now.0 / 1_000 + 3_600}), &shop.widget_secret);
    let response = app
        .client
        .get(app.url(&format!("/widget/v1/programs/{}/me", shop.key)))
        .header("origin", ORIGIN)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let (status, me) = crate::common::into_parts(response).await;
    assert_eq!(status, 200, "{me}");
    me["coupons"][0]["checkout"].clone()
}

struct Workers {
    relay: DeliveryWorker,
    checkout: CheckoutWorker,
}

impl Workers {
    fn new(app: &TestApp, clock: Arc<dyn Clock>) -> Self {
        let config = DeliveryConfig { urls: UrlPolicy { allow_private: true }, ..DeliveryConfig::default() };
        Self {
            relay: DeliveryWorker::new(app.storage.clone(), clock.clone(), config),
            checkout: CheckoutWorker::new(app.storage.clone(), clock, config),
        }
    }

    /// Relays the outbox, then one checkout pass; how many coupons were attempted.
    async fn pass(&self) -> usize {
        self.relay.run_once().await.unwrap();
        self.checkout.run_once().await.unwrap()
    }
}

async fn connection_view(app: &TestApp, shop: &Shop) -> Value {
    let (status, view) = app.api_get(&format!("/api/v1/connections/{}", shop.connection), &shop.secret).await;
    assert_eq!(status, 200, "{view}");
    view
}

each_db! {
/// A redeemed coupon is created in the WooCommerce store: single use, for the customer's email,
/// expiring with Tally's coupon; the store being down once is retried, and the widget says
/// "pending" until the store has it.
#[tokio::test]
async fn a_redeemed_coupon_is_created_in_the_woocommerce_store_for_the_customer(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let store: Shared = Arc::new(Mutex::new(FakeStore {
        accepts: format!("Basic {}", STANDARD.encode("ck_live_1:cs_live_2")),
        unavailable: 1,
        ..FakeStore::default()
    }));
    let url = start_fake_store(store.clone()).await;
    let shop = shop(&app, "woocommerce", &url, json!({"consumer_key": "ck_live_1", "secret": "cs_live_2"})).await;
    let sealed: String = crate::common::scalar(&app.database_url, "SELECT api_secret FROM store_connections").await;
    assert!(sealed.starts_with("sealed:v1:") && !sealed.contains("cs_live_2"), "{db:?}: sealed at rest: {sealed}");

    let code = redeem(&app, &shop, "25", json!({"type": "amount_off", "amount": 500})).await;
    assert_eq!(widget_checkout(&app, &shop, "25", T0).await, "pending", "{db:?}: before the store has it");
    let workers = Workers::new(&app, clock.clone());
    assert_eq!(workers.pass().await, 1, "{db:?}");
    let view = connection_view(&app, &shop).await;
    assert_eq!((view["coupons"][0]["state"].as_str(), view["coupons"][0]["attempts"].as_u64()), (Some("pending"), Some(1)), "{db:?}: {view}");
    assert!(view["coupons"][0]["last_error"].as_str().unwrap().contains("503"), "{db:?}: {view}");
    assert_eq!(widget_checkout(&app, &shop, "25", T0).await, "pending", "{db:?}: the store was down");

    clock.set(Timestamp(T0.0 + 60_000));
    assert_eq!(workers.pass().await, 1, "{db:?}: retried");
    assert_eq!(workers.pass().await, 0, "{db:?}: once created, never again");
    assert_eq!(widget_checkout(&app, &shop, "25", clock.now()).await, "ready", "{db:?}");
    let view = connection_view(&app, &shop).await;
    assert_eq!(view["coupons"][0]["state"], "created", "{db:?}: {view}");
    assert_eq!(view["coupons"][0]["store_ref"], "719", "{db:?}: {view}");

    let (_, tally_coupon) = app.api_get(&format!("/api/v1/coupons/{code}"), &shop.secret).await;
    let store = std::mem::take(&mut *store.lock().unwrap());
    assert_eq!(store.coupons.len(), 1, "{db:?}");
    let created = &store.coupons[0];
    assert_eq!(created["code"], code.to_lowercase(), "{db:?}");
    assert_eq!((created["discount_type"].as_str(), created["amount"].as_str()), (Some("fixed_cart"), Some("5.00")), "{db:?}");
    assert_eq!((created["usage_limit"].as_u64(), created["usage_limit_per_user"].as_u64()), (Some(1), Some(1)));
    assert_eq!(created["email_restrictions"], json!(["ana@example.com"]), "{db:?}");
    let expires = tally_coupon["expires_at"].as_str().unwrap();
    assert_eq!(created["date_expires_gmt"].as_str(), expires.get(..19), "{db:?}: expires with Tally's coupon");
    let (headers, _) = &store.requests[1];
    assert_eq!(headers["content-type"], "application/json");
    app.stop().await;
}
}

each_db! {
/// Shopify: `discountCodeBasicCreate` for the Shopify customer alone. An answer lost after the
/// store created the code is retried, and the store's `TAKEN` counts as created: one discount.
#[tokio::test]
async fn a_redeemed_coupon_is_created_once_in_shopify_even_when_an_answer_is_lost(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let store: Shared = Arc::new(Mutex::new(FakeStore { accepts: "shpat_live_1".into(), lose_answers: 1, ..FakeStore::default() }));
    let url = start_fake_store(store.clone()).await;
    let shop = shop(&app, "shopify", &url, json!({"secret": "shpat_live_1"})).await;
    let code = redeem(&app, &shop, "207119551", json!({"type": "percent_off", "percent": 15})).await;
    let workers = Workers::new(&app, clock.clone());
    assert_eq!(workers.pass().await, 1, "{db:?}");
    assert_eq!(widget_checkout(&app, &shop, "207119551", T0).await, "pending", "{db:?}: the answer was lost");
    clock.set(Timestamp(T0.0 + 60_000));
    assert_eq!(workers.pass().await, 1, "{db:?}");
    assert_eq!(widget_checkout(&app, &shop, "207119551", clock.now()).await, "ready", "{db:?}");

    let store = std::mem::take(&mut *store.lock().unwrap());
    assert_eq!(store.coupons.len(), 1, "{db:?}: one discount in the store");
    let input = &store.coupons[0];
    assert_eq!(input["code"], code.as_str());
    assert_eq!(input["customerGets"]["value"]["percentage"], 0.15);
    assert_eq!(input["context"]["customers"]["add"], json!(["gid://shopify/Customer/207119551"]), "{db:?}");
    assert_eq!((input["usageLimit"].as_u64(), input["appliesOncePerCustomer"].as_bool()), (Some(1), Some(true)));
    assert_eq!(store.requests.len(), 2, "{db:?}");
    assert!(store.requests.iter().all(|(headers, _)| headers["x-shopify-access-token"] == "shpat_live_1"));
    app.stop().await;
}
}

each_db! {
/// Wrong credentials: retried for days, then failed, which the widget and the connection show;
/// with the right token saved, "retry" creates it.
#[tokio::test]
async fn a_coupon_the_store_refuses_is_failed_visibly_and_retried_on_request(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let store: Shared = Arc::new(Mutex::new(FakeStore { accepts: "shpat_right".into(), ..FakeStore::default() }));
    let url = start_fake_store(store.clone()).await;
    let shop = shop(&app, "shopify", &url, json!({"secret": "shpat_wrong"})).await;
    redeem(&app, &shop, "ana", json!({"type": "amount_off", "amount": 500})).await;
    let workers = Workers::new(&app, clock.clone());
    let mut now = T0;
    for attempt in 1..=MAX_ATTEMPTS {
        assert_eq!(workers.pass().await, 1, "{db:?}: attempt {attempt}");
        now = Timestamp(now.0 + 2 * 86_400_000);
        clock.set(now);
    }
    assert_eq!(workers.pass().await, 0, "{db:?}: given up");
    assert_eq!(widget_checkout(&app, &shop, "ana", now).await, "failed", "{db:?}");
    let view = connection_view(&app, &shop).await;
    assert_eq!(view["coupons"][0]["state"], "failed", "{db:?}: {view}");
    assert!(view["coupons"][0]["last_error"].as_str().unwrap().contains("401"), "{db:?}: {view}");

    let fixed = json!({"url": url, "secret": "shpat_right"});
    let path = format!("/api/v1/connections/{}/store-api", shop.connection);
    assert_eq!(app.api_send(Method::PUT, &path, &shop.secret, &fixed).await.0, 200);
    let path = format!("/api/v1/connections/{}/coupons/retry", shop.connection);
    let (status, view) = app.api_send(Method::POST, &path, &shop.secret, &json!({})).await;
    assert_eq!((status, view["coupons"][0]["state"].as_str()), (200, Some("pending")), "{db:?}: {view}");
    assert_eq!(workers.pass().await, 1, "{db:?}");
    assert_eq!(widget_checkout(&app, &shop, "ana", now).await, "ready", "{db:?}");
    assert_eq!(store.lock().unwrap().coupons[0]["customerGets"]["value"]["discountAmount"]["amount"], "5.00");
    // Without a store API the widget says nothing of checkout.
    assert_eq!(app.api_send(Method::DELETE, &format!("/api/v1/connections/{}/store-api", shop.connection), &shop.secret, &json!({})).await.0, 200);
    assert_eq!(widget_checkout(&app, &shop, "ana", now).await, Value::Null, "{db:?}");
    app.stop().await;
}
}

each_db! {
/// A store URL that is not https to a public host, or a WooCommerce connection without its
/// consumer key, is a 422 problem naming the field.
#[tokio::test]
async fn store_api_settings_are_validated(db: Db) {
    let (app, _) = spawn_app_at(db).await;
    let (_, secret) = app.create_program("Shop").await;
    let (_, connection) = app.api_send(Method::POST, "/api/v1/connections", &secret, &json!({"platform": "woocommerce"})).await;
    let path = format!("/api/v1/connections/{}/store-api", connection["id"].as_str().unwrap());
    for (body, field) in [
        (json!({"url": "ftp://shop.example", "consumer_key": "ck", "secret": "cs"}), "api_url"),
        (json!({"url": "https://shop.example", "secret": "cs"}), "api_key"),
        (json!({"url": "https://shop.example", "consumer_key": "ck", "secret": ""}), "api_secret"),
    ] {
        let (status, problem) = app.api_send(Method::PUT, &path, &secret, &body).await;
        assert_eq!(status, 422, "{db:?}: {body} → {problem}");
        assert!(problem.to_string().contains(field), "{db:?}: {problem} names {field}");
    }
    app.stop().await;
}
}

//! A WooCommerce-shaped store driven only by its webhook payloads (the documentation's own
//! examples, `server/tests/fixtures/woocommerce/`), signed as WooCommerce signs them, posted to
//! a real server on both databases: it earns, refunds and cancels with no merchant code.

use std::sync::Arc;

use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{spawn_app_at, spawn_app_with_clock, TestApp};
use tally_server::time::Clock;

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/woocommerce").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The documentation's order 727, of customer 25 (the example is a guest's), at `modified`.
fn order(status: &str, modified: &str) -> Value {
    let mut order = fixture("order.json");
    order["customer_id"] = json!(25);
    order["status"] = json!(status);
    order["date_modified_gmt"] = json!(modified);
    order
}

struct Store {
    url: String,
    secret: String,
    id: String,
}

async fn connect(app: &TestApp, secret: &str) -> Store {
    let (status, connection) =
        app.api_send(Method::POST, "/api/v1/connections", secret, &json!({"platform": "woocommerce"})).await;
    assert_eq!(status, 201, "{connection}");
    let url = connection["webhook_url"].as_str().unwrap().to_owned();
    assert!(url.ends_with(&format!("/connections/woocommerce/{}", connection["id"].as_str().unwrap())), "{url}");
    Store {
        url: app.url(url.split_once("/connections/").map(|(_, path)| format!("/connections/{path}")).unwrap().as_str()),
        secret: connection["secret"].as_str().unwrap().to_owned(),
        id: connection["id"].as_str().unwrap().to_owned(),
    }
}

/// Posts `body` as WooCommerce does: its topic headers and the base64 HMAC-SHA256 signature.
async fn deliver(app: &TestApp, store: &Store, topic: &str, body: &Value) -> u16 {
    let body = body.to_string();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(store.secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let signature = STANDARD.encode(mac.finalize().into_bytes());
    let (resource, event) = topic.split_once('.').unwrap();
    app.client
        .post(&store.url)
        .header("content-type", "application/json")
        .header("x-wc-webhook-topic", topic)
        .header("x-wc-webhook-resource", resource)
        .header("x-wc-webhook-event", event)
        .header("x-wc-webhook-signature", signature)
        .header("x-wc-webhook-id", "3")
        .header("x-wc-webhook-delivery-id", tally_server::secrets::random_token("", 16))
        .header("x-wc-webhook-source", "https://example.com/")
        .header("user-agent", "WooCommerce/8.6.1 Hookshot (WordPress/6.4.3)")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

each_db! {
#[tokio::test]
async fn a_woocommerce_store_earns_refunds_and_cancels_with_no_merchant_code(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let clock: Arc<dyn Clock> = clock;
    let (_, secret) = app.create_program("Shop").await;
    let store = connect(&app, &secret).await;

    // Saving the webhook in WooCommerce pings the URL, unsigned.
    let ping = app.client.post(&store.url).header("content-type", "application/x-www-form-urlencoded").body("webhook_id=3");
    assert_eq!(ping.send().await.unwrap().status(), 200, "{db:?}: the ping is answered");
    let forged = app.client.post(&store.url).header("x-wc-webhook-topic", "order.created")
        .header("x-wc-webhook-signature", STANDARD.encode([0u8; 32])).body(order("processing", "2017-03-22T19:28:08").to_string());
    let forged = forged.send().await.unwrap();
    assert_eq!(forged.status(), 401, "{db:?}");
    assert_eq!(forged.headers()["content-type"], "application/problem+json");

    assert_eq!(deliver(&app, &store, "customer.created", &fixture("customer.json")).await, 200);
    assert_eq!(deliver(&app, &store, "order.created", &order("processing", "2017-03-22T19:28:08")).await, 200);
    // The same delivery again (a retry after a timeout): stored once, applied once.
    assert_eq!(deliver(&app, &store, "order.created", &order("processing", "2017-03-22T19:28:08")).await, 200);
    assert_eq!(app.available(&secret, "25").await, None, "{db:?}: nothing applied before the worker runs");
    app.apply_inbox(clock.clone()).await;
    let (_, customer) = app.api_get("/api/v1/customers/25", &secret).await;
    assert_eq!((customer["email"].as_str(), customer["name"].as_str()), (Some("john.doe@example.com"), Some("John Doe")), "{db:?}");
    // Lines 6.00 + 12.00 earn (shipping and tax do not): 18 points.
    assert_eq!(customer["available"], 18, "{db:?}: {customer}");

    // Completed later: nothing new. Then two partial refunds, as WooCommerce lists them on the
    // order, each applied once however often the order is delivered again.
    assert_eq!(deliver(&app, &store, "order.updated", &order("completed", "2017-03-23T10:00:00")).await, 200);
    let mut refunded = order("completed", "2017-03-24T10:00:00");
    refunded["refunds"] = json!([{"id": 726, "refund": "", "total": "-9.00"}]);
    assert_eq!(deliver(&app, &store, "order.updated", &refunded).await, 200);
    refunded["date_modified_gmt"] = json!("2017-03-25T10:00:00");
    refunded["refunds"] = json!([{"id": 724, "refund": "", "total": "-10.00"}, {"id": 726, "refund": "", "total": "-9.00"}]);
    assert_eq!(deliver(&app, &store, "order.updated", &refunded).await, 200);
    app.apply_inbox(clock.clone()).await;

    // The same order and refunds through the REST API, for customer "twin": the same points.
    let api_order = json!({"event_id": "twin-727", "customer_id": "twin", "type": "order", "order_id": "twin-727",
        "currency": "USD", "subtotal": 1800, "shipping": 1000, "tax": 135,
        "lines": [{"product_id": "93", "quantity": 2, "amount": 600}, {"product_id": "23", "quantity": 1, "amount": 1200}]});
    assert_eq!(app.api_send(Method::POST, "/api/v1/events", &secret, &api_order).await.0, 201);
    for (id, amount) in [("r726", 900), ("r724", 1000)] {
        let refund = json!({"refund_id": id, "amount": amount});
        assert_eq!(app.api_send(Method::POST, "/api/v1/orders/twin-727/refunds", &secret, &refund).await.0, 201);
    }
    let twin = app.available(&secret, "twin").await.unwrap();
    assert!(twin < 18, "{db:?}: the refunds took points back: {twin}");
    assert_eq!(app.available(&secret, "25").await, Some(twin), "{db:?}: the store's refunds = the API's");

    // Out of order: the cancellation of order 800 arrives before its creation.
    let mut cancelled = order("cancelled", "2017-04-02T10:00:00");
    cancelled["id"] = json!(800);
    let mut created = order("processing", "2017-04-01T10:00:00");
    created["id"] = json!(800);
    assert_eq!(deliver(&app, &store, "order.updated", &cancelled).await, 200);
    assert_eq!(deliver(&app, &store, "order.created", &created).await, 200);
    app.apply_inbox(clock.clone()).await;
    assert_eq!(app.available(&secret, "25").await, Some(twin), "{db:?}: the stale creation earned nothing");

    // Deleting order 727 takes its remaining points back; a guest's order and an unknown topic
    // are accepted and counted.
    assert_eq!(deliver(&app, &store, "order.deleted", &json!({"id": 727})).await, 200);
    assert_eq!(deliver(&app, &store, "order.created", &fixture("order.json")).await, 200);
    assert_eq!(deliver(&app, &store, "product.updated", &json!({"id": 93})).await, 200);
    app.apply_inbox(clock.clone()).await;
    assert_eq!(app.available(&secret, "25").await, Some(0), "{db:?}");

    let (_, connection) = app.api_get(&format!("/api/v1/connections/{}", store.id), &secret).await;
    let topics: Vec<(String, i64, i64)> = connection["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row["topic"].as_str().unwrap().to_owned(), row["deliveries"].as_i64().unwrap(), row["ignored"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        topics,
        [("customer.created".into(), 1, 0), ("order.created".into(), 3, 0), ("order.deleted".into(), 1, 0),
            ("order.updated".into(), 4, 0), ("product.updated".into(), 1, 1)],
        "{db:?}: {connection}"
    );
    let created = connection["deliveries"].as_array().unwrap().iter().find(|row| row["topic"] == "order.created").unwrap();
    assert!(created["last_outcome"].as_str().unwrap().starts_with("skipped: order 727 has no customer account"), "{db:?}: {created}");
    app.stop().await;
}
}

each_db! {
/// Money arrives as decimal strings in the order's currency: JPY has no decimals, KWD three.
#[tokio::test]
async fn amounts_convert_exactly_in_each_currencys_decimals(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let clock: Arc<dyn Clock> = clock;
    for (currency, subtotal, points) in [("JPY", "1500", 15), ("KWD", "12.345", 123), ("USD", "0.99", 0)] {
        // The currency is fixed when a program is made.
        let (program, key, secret_key) = tally_server::programs::Program::create(currency, currency, "points", vec![]).unwrap();
        app.storage.create_program(&program, &key, crate::common::T0).await.unwrap();
        let store = connect(&app, &secret_key).await;
        let mut body = order("processing", "2017-03-22T19:28:08");
        body["currency"] = json!(currency);
        body["line_items"] = json!([{"id": 1, "name": "Tea", "product_id": 5, "variation_id": 0, "quantity": 1,
            "subtotal": subtotal, "total": subtotal}]);
        body["shipping_total"] = json!("0");
        body["total_tax"] = json!("0");
        body["discount_total"] = json!("0");
        assert_eq!(deliver(&app, &store, "order.created", &body).await, 200);
        app.apply_inbox(clock.clone()).await;
        // Under one whole unit earns nothing, and the customer is still known.
        assert_eq!(app.available(&secret_key, "25").await, Some(points), "{db:?}: {currency} {subtotal}");
    }
    app.stop().await;
}
}

each_db! {
/// A delivery is stored before it is answered: a server stopped right after the 200 applies it
/// when the next one starts.
#[tokio::test]
async fn a_delivery_answered_before_a_crash_is_applied_after_the_restart(db: Db) {
    let database_url = crate::common::fresh_database(db).await;
    let clock: Arc<dyn Clock> = Arc::new(tally_server::ledger::ManualClock::at(crate::common::T0));
    let app = spawn_app_with_clock(database_url.clone(), clock.clone()).await;
    let (_, secret) = app.create_program("Shop").await;
    let store = connect(&app, &secret).await;
    assert_eq!(deliver(&app, &store, "order.created", &order("processing", "2017-03-22T19:28:08")).await, 200);
    app.stop().await;

    let restarted = spawn_app_with_clock(database_url, clock.clone()).await;
    restarted.apply_inbox(clock).await;
    assert_eq!(restarted.available(&secret, "25").await, Some(18), "{db:?}");
    restarted.stop().await;
}
}

each_db! {
/// A Tally coupon used at the store's checkout (WooCommerce lists it, lower-cased, among the
/// order's coupon lines) is consumed once the order is paid.
#[tokio::test]
async fn a_tally_coupon_in_a_paid_order_is_consumed(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let clock: Arc<dyn Clock> = clock;
    let (_, secret) = app.create_program("Shop").await;
    let store = connect(&app, &secret).await;
    assert_eq!(app.api_send(Method::PUT, "/api/v1/customers/25", &secret, &json!({})).await.0, 200);
    let grant = json!({"adjustment_id": "g", "points": 500, "reason": "welcome"});
    assert_eq!(app.api_send(Method::POST, "/api/v1/customers/25/adjustments", &secret, &grant).await.0, 201);
    let reward = json!({"name": "$5 off", "reward": {"type": "amount_off", "amount": 500}, "points": 100});
    let (_, reward) = app.api_send(Method::POST, "/api/v1/rewards", &secret, &reward).await;
    let redemption = json!({"redemption_id": "r1", "reward_id": reward["id"]});
    let (_, redeemed) = app.api_send(Method::POST, "/api/v1/customers/25/redemptions", &secret, &redemption).await;
    let code = redeemed["coupon"]["code"].as_str().unwrap().to_owned();

    let mut paid = order("processing", "2017-03-22T19:28:08");
    paid["coupon_lines"] = json!([{"id": 320, "code": code.to_lowercase(), "discount": "5.00", "discount_tax": "0.00", "meta_data": []}]);
    paid["discount_total"] = json!("5.00");
    assert_eq!(deliver(&app, &store, "order.created", &paid).await, 200);
    app.apply_inbox(clock).await;
    let (_, coupon) = app.api_get(&format!("/api/v1/coupons/{code}"), &secret).await;
    assert_eq!((coupon["status"].as_str(), coupon["order_id"].as_str()), (Some("consumed"), Some("727")), "{db:?}: {coupon}");
    app.stop().await;
}
}

each_db! {
/// What a stranger can post to a connection's URL: a 4xx problem for each, and a signed but
/// malformed payload kept as failed with its reason, never a 5xx or a write.
#[tokio::test]
async fn hostile_deliveries_get_problems_and_malformed_ones_are_kept_as_failed(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let (_, secret) = app.create_program("Shop").await;
    let store = connect(&app, &secret).await;
    let post = |url: String, body: Vec<u8>| app.client.post(url).header("x-wc-webhook-topic", "order.created").body(body);
    let status = |response: reqwest::Response| {
        let problem = response.headers().get("content-type").is_some_and(|v| v == "application/problem+json");
        (response.status().as_u16(), problem)
    };
    let huge = vec![b'x'; 2 * 1024 * 1024];
    assert_eq!(status(post(store.url.clone(), huge).send().await.unwrap()), (413, true), "{db:?}: too large");
    let shopify_url = store.url.replace("/woocommerce/", "/shopify/");
    assert_eq!(status(post(shopify_url, b"{}".to_vec()).send().await.unwrap()), (404, true), "{db:?}: wrong platform");
    let magento_url = store.url.replace("/woocommerce/", "/magento/");
    assert_eq!(status(post(magento_url, b"{}".to_vec()).send().await.unwrap()), (404, true), "{db:?}");
    let nul_url = format!("{}%00", store.url);
    assert_eq!(status(post(nul_url, b"{}".to_vec()).send().await.unwrap()), (400, true), "{db:?}: a NUL in the id");
    let unsigned = post(store.url.clone(), b"{\"id\": 1}".to_vec()).send().await.unwrap();
    assert_eq!(status(unsigned), (401, true), "{db:?}");

    // Signed, but not UTF-8: refused. Signed, UTF-8, not an order: stored, then failed with why.
    let signed = |body: &[u8]| {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(store.secret.as_bytes()).unwrap();
        mac.update(body);
        STANDARD.encode(mac.finalize().into_bytes())
    };
    let latin1 = b"{\"id\": \"caf\xe9\"}".to_vec();
    let response = post(store.url.clone(), latin1.clone()).header("x-wc-webhook-signature", signed(&latin1));
    assert_eq!(status(response.send().await.unwrap()), (400, true), "{db:?}: not UTF-8");
    let bad = br#"{"id": -5, "status": "processing", "currency": "USD", "customer_id": 25}"#.to_vec();
    let response = post(store.url.clone(), bad.clone()).header("x-wc-webhook-signature", signed(&bad));
    assert_eq!(response.send().await.unwrap().status(), 200, "{db:?}: stored for the admin to see");
    app.apply_inbox(clock).await;
    let (_, connection) = app.api_get(&format!("/api/v1/connections/{}", store.id), &secret).await;
    let row = &connection["deliveries"][0];
    assert_eq!((row["topic"].as_str(), row["failed"].as_i64()), (Some("order.created"), Some(1)), "{db:?}: {connection}");
    assert!(row["last_outcome"].as_str().unwrap().starts_with("not a WooCommerce order payload"), "{db:?}: {row}");
    assert_eq!(app.available(&secret, "25").await, None, "{db:?}: nothing written");
    app.stop().await;
}
}

//! A Shopify-shaped store driven only by its webhook payloads (`server/tests/fixtures/shopify/`,
//! shaped after the Admin REST API reference's examples), signed as Shopify signs them, on both
//! databases: paid orders earn, refunds and cancellations take points back, retries of one
//! delivery (the same `X-Shopify-Webhook-Id`) apply once, a refund before its order waits.

use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{spawn_app_at, TestApp};
use tally_server::time::Clock;

/// Shopify shows its own signing key; the merchant gives it to Tally.
const SIGNING_KEY: &str = "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";

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shopify").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn connect(app: &TestApp, secret: &str) -> String {
    let body = json!({"platform": "shopify", "secret": "too short"});
    let (status, problem) = app.api_send(Method::POST, "/api/v1/connections", secret, &body).await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("secret")), "{problem}");
    let (status, connection) =
        app.api_send(Method::POST, "/api/v1/connections", secret, &json!({"platform": "shopify"})).await;
    assert_eq!(status, 201, "{connection}");
    assert_eq!(connection["topics"], json!(["orders/paid", "refunds/create", "orders/cancelled", "customers/create"]));
    // The admin pastes the key Shopify shows once the webhooks exist.
    let path = format!("/api/v1/connections/{}/secret", connection["id"].as_str().unwrap());
    let (status, updated) = app.api_send(Method::PUT, &path, secret, &json!({"secret": SIGNING_KEY})).await;
    assert_eq!((status, updated["secret"].as_str()), (200, Some(SIGNING_KEY)), "{updated}");
    let url = connection["webhook_url"].as_str().unwrap();
    app.url(&url[url.find("/connections/").unwrap()..])
}

/// Posts as Shopify does: topic, webhook id and the base64 HMAC-SHA256 of the body.
async fn deliver(app: &TestApp, url: &str, topic: &str, webhook_id: &str, body: &Value) -> u16 {
    let body = body.to_string();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SIGNING_KEY.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    app.client
        .post(url)
        .header("content-type", "application/json")
        .header("x-shopify-topic", topic)
        .header("x-shopify-hmac-sha256", STANDARD.encode(mac.finalize().into_bytes()))
        .header("x-shopify-shop-domain", "jsmith.myshopify.com")
        .header("x-shopify-webhook-id", webhook_id)
        .header("x-shopify-triggered-at", "2008-01-10T16:00:00.000000Z")
        .header("x-shopify-api-version", "2025-07")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

each_db! {
#[tokio::test]
async fn a_shopify_store_earns_refunds_and_cancels_with_no_merchant_code(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let (_, secret) = app.create_program("Shop").await;
    let url = connect(&app, &secret).await;

    // The refund arrives first: it waits for its order instead of being lost.
    assert_eq!(deliver(&app, &url, "refunds/create", "w-refund", &fixture("refund.json")).await, 200);
    assert_eq!(deliver(&app, &url, "customers/create", "w-customer", &fixture("customer.json")).await, 200);
    app.apply_inbox(clock.clone()).await;
    assert_eq!(app.available(&secret, "207119551").await, Some(0), "{db:?}: the customer joined");
    let (_, customer) = app.api_get("/api/v1/customers/207119551", &secret).await;
    assert_eq!(customer["marketing_consent"], true, "{db:?}: email_marketing_consent subscribed: {customer}");

    assert_eq!(deliver(&app, &url, "orders/paid", "w-paid", &fixture("order.json")).await, 200);
    // A retry of the same delivery: the same webhook id.
    assert_eq!(deliver(&app, &url, "orders/paid", "w-paid", &fixture("order.json")).await, 200);
    app.apply_inbox(clock.clone()).await;
    // The same through the REST API for customer "twin": the same points.
    let api_order = json!({"event_id": "twin", "customer_id": "twin", "type": "order", "order_id": "twin",
        "currency": "USD", "subtotal": 59_700, "tax": 1_194, "discount": 1_000,
        "lines": [{"product_id": "39072856", "quantity": 1, "amount": 19_900},
            {"product_id": "49148385", "quantity": 1, "amount": 19_900},
            {"product_id": "457924702", "quantity": 1, "amount": 19_900}]});
    assert_eq!(app.api_send(Method::POST, "/api/v1/events", &secret, &api_order).await.0, 201);
    let twin_paid = app.available(&secret, "twin").await;
    assert_eq!(app.available(&secret, "207119551").await, twin_paid, "{db:?}: earned as through the API, refund waiting");
    // The refund is tried again after its backoff, and applies.
    clock.set(tally_server::ledger::Timestamp(clock.now().0 + 10_000));
    app.apply_inbox(clock.clone()).await;

    let refund = json!({"refund_id": "twin-refund", "amount": 20_900});
    assert_eq!(app.api_send(Method::POST, "/api/v1/orders/twin/refunds", &secret, &refund).await.0, 201);
    let twin = app.available(&secret, "twin").await.unwrap();
    assert!(twin > 0 && twin < 587, "{db:?}: {twin}");
    assert_eq!(app.available(&secret, "207119551").await, Some(twin), "{db:?}: the store's refund = the API's");
    let (_, customer) = app.api_get("/api/v1/customers/207119551", &secret).await;
    assert_eq!(customer["name"], "Bob Norman", "{db:?}");

    // A guest's order is skipped; an unused topic accepted; a forged signature refused.
    let mut guest = fixture("order.json");
    guest["id"] = json!(450789470);
    guest["customer"] = Value::Null;
    assert_eq!(deliver(&app, &url, "orders/paid", "w-guest", &guest).await, 200);
    assert_eq!(deliver(&app, &url, "products/update", "w-product", &json!({"id": 632910392})).await, 200);
    let forged = app.client.post(&url).header("x-shopify-topic", "orders/paid")
        .header("x-shopify-hmac-sha256", STANDARD.encode([7u8; 32])).body(fixture("order.json").to_string());
    assert_eq!(forged.send().await.unwrap().status(), 401, "{db:?}");

    // Cancelled: the rest of the order's points go back.
    let mut cancelled = fixture("order.json");
    cancelled["cancelled_at"] = json!("2008-01-12T11:00:00-05:00");
    cancelled["updated_at"] = json!("2008-01-12T11:00:00-05:00");
    assert_eq!(deliver(&app, &url, "orders/cancelled", "w-cancel", &cancelled).await, 200);
    app.apply_inbox(clock.clone()).await;
    assert_eq!(app.available(&secret, "207119551").await, Some(0), "{db:?}");

    let (_, connections) = app.api_get("/api/v1/connections", &secret).await;
    let topics: Vec<(String, i64, i64, i64)> = connections[0]["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let count = |name: &str| row[name].as_i64().unwrap();
            (row["topic"].as_str().unwrap().to_owned(), count("deliveries"), count("ignored"), count("failed"))
        })
        .collect();
    assert_eq!(
        topics,
        [("customers/create".into(), 1, 0, 0), ("orders/cancelled".into(), 1, 0, 0), ("orders/paid".into(), 2, 0, 0),
            ("products/update".into(), 1, 1, 0), ("refunds/create".into(), 1, 0, 0)],
        "{db:?}: {connections}"
    );
    app.stop().await;
}
}

each_db! {
/// The storefront's loader puts the referral link's code in the cart's attributes; Shopify
/// hands them on as the order's `note_attributes`: the friend's first paid order records the
/// referral (checked like a widget claim, with the order's `browser_ip`) and pays both.
#[tokio::test]
async fn a_paid_order_carrying_a_referral_code_records_the_referral_and_pays_it(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let (mut program, secret) = app.create_program("Shop").await;
    program.settings.actions =
        serde_json::from_value(json!([{"action": "referral", "points": 500, "referred_points": 100}])).unwrap();
    app.storage.upsert_program(&program).await.unwrap();
    let referrer = tally_server::customers::CustomerId::parse("ana").unwrap();
    app.storage.save_referral_code(&program.id, &referrer, "ANAREF22", clock.now()).await.unwrap();
    let url = connect(&app, &secret).await;

    let mut order = fixture("order.json");
    order["browser_ip"] = json!("216.191.105.146");
    order["note_attributes"] = json!([{"name": "gift_note", "value": "Happy birthday"}, {"name": "tally_ref", "value": "anaref22"}]);
    assert_eq!(deliver(&app, &url, "orders/paid", "w-paid", &order).await, 200);
    app.apply_inbox(clock.clone()).await;

    let bob = tally_server::customers::CustomerId::parse("207119551").unwrap();
    let referral = app.storage.referral(&program.id, &bob).await.unwrap().expect("the order recorded the referral");
    assert_eq!(
        (referral.referrer_id.as_str(), referral.channel.as_str(), referral.code.as_deref()),
        ("ana", "shopify", Some("ANAREF22")),
        "{db:?}"
    );
    assert!(referral.rewarded_at.is_some(), "{db:?}: paid on this first order");
    assert_eq!(app.available(&secret, "ana").await, Some(500), "{db:?}");
    let (_, listed) = app.api_get("/api/v1/referrals", &secret).await;
    assert_eq!(listed["referrals"][0]["status"], "approved", "{db:?}: {listed}");
    app.stop().await;
}
}

//! Referral links through the widget API and the merchant API, on both databases: a shopper's
//! code and link, a friend's claim of it (kept by the storefront's loader), the awards on the
//! friend's first order, and the fraud checks that hold a claim for the merchant's decision.

use crate::common::{scalar, spawn_app_at, TestApp, T0};
use reqwest::Method;
use serde_json::{json, Value};
use tally_server::{customer_token::sign, ledger::Timestamp};

const ORIGIN: &str = "https://shop.example";
const NOW_S: i64 = T0.0 / 1_000;

struct Shop {
    secret: String,
    widget_secret: String,
    key: String,
}

async fn shop(app: &TestApp, referrals: Value) -> Shop {
    let (mut program, secret) = app.create_program("Coffee Club").await;
    program.allowed_origins = vec![ORIGIN.to_owned()];
    program.settings = serde_json::from_value(json!({
        "actions": [{"action": "referral", "points": 500, "referred_points": 100}],
        "referrals": referrals,
    }))
    .unwrap();
    app.storage.upsert_program(&program).await.unwrap();
    Shop { secret, widget_secret: program.widget_secret, key: program.publishable_key }
}

/// A shopper's token, with the email the store knows (the fraud checks read it).
fn token(shop: &Shop, sub: &str, email: &str) -> String {
    token_at(shop, sub, email, NOW_S)
}

fn token_at(shop: &Shop, sub: &str, email: &str, now_s: i64) -> String {
    sign(&json!({"sub": sub, "email": email, "iat": now_s, "exp": now_s + 3_600}), &shop.widget_secret)
}

/// The shopper's `/me`.
async fn me(app: &TestApp, shop: &Shop, token: &str) -> Value {
    let url = app.url(&format!("/widget/v1/programs/{}/me", shop.key));
    let response = app.client.get(url).header("Origin", ORIGIN).bearer_auth(token).send().await.unwrap();
    crate::common::into_parts(response).await.1
}

/// What the loader posts once the shopper is signed in, from `address` (a trusted proxy's
/// X-Forwarded-For) and the loader's browser id.
async fn claim(app: &TestApp, shop: &Shop, token: &str, code: &str, address: &str, device: &str) -> (u16, Value) {
    let url = app.url(&format!("/widget/v1/programs/{}/me/referral", shop.key));
    let response = app
        .client
        .post(url)
        .header("Origin", ORIGIN)
        .header("X-Forwarded-For", address)
        .bearer_auth(token)
        .json(&json!({"code": code, "device": device}))
        .send()
        .await
        .unwrap();
    crate::common::into_parts(response).await
}

async fn order(app: &TestApp, shop: &Shop, customer: &str, id: &str) {
    let order = json!({"event_id": id, "customer_id": customer, "type": "order", "order_id": id,
                       "currency": "USD", "subtotal": 1_000});
    let (status, body) = app.api_send(Method::POST, "/api/v1/events", &shop.secret, &order).await;
    assert_eq!(status, 201, "{body}");
}

async fn balance(app: &TestApp, shop: &Shop, customer: &str) -> i64 {
    app.available(&shop.secret, customer).await.unwrap_or(0)
}

/// The referral of `customer` as the merchant API lists it.
async fn referral_of(app: &TestApp, shop: &Shop, customer: &str) -> Value {
    let (status, list) = app.api_get("/api/v1/referrals?limit=500", &shop.secret).await;
    assert_eq!(status, 200, "{list}");
    list["referrals"].as_array().unwrap().iter().find(|r| r["referred_id"] == customer).cloned().unwrap_or(Value::Null)
}

each_db! {
#[tokio::test]
async fn a_shared_link_credits_both_customers_on_the_friends_first_order(db: Db) {
    let (app, _) = spawn_app_at(db).await;
    let shop = shop(&app, json!({})).await;
    let ana = token(&shop, "ana", "ana@example.com");
    let summary: Value = app.get(&format!("/widget/v1/programs/{}", shop.key)).await.json().await.unwrap();
    assert_eq!(summary["referral_capture"], json!({"parameter": "ref", "keep_days": 30}), "{db:?}: what the loader reads");

    let mine = me(&app, &shop, &ana).await;
    let link = mine["referral"].clone();
    assert!(link.is_object(), "{db:?}: {mine}");
    let code = link["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 8, "{link}");
    assert_eq!(link["url"], format!("{ORIGIN}/?ref={code}"), "{db:?}: the storefront with the code");
    assert_eq!(me(&app, &shop, &ana).await["referral"]["code"], code.as_str(), "the code is ana's for good");

    let bo = token(&shop, "bo", "bo@example.com");
    let (status, body) = claim(&app, &shop, &bo, &code.to_lowercase(), "198.51.100.7", "bo-browser").await;
    assert_eq!((status, &body), (201, &json!({"recorded": true})), "{db:?}: typed in any case");
    assert_eq!(claim(&app, &shop, &bo, &code, "198.51.100.7", "bo-browser").await.0, 200, "a repeat");

    let (status, problem) = claim(&app, &shop, &ana, &code, "198.51.100.8", "ana-browser").await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("code")), "{db:?}: one's own code: {problem}");
    let cy = token(&shop, "cy", "cy@example.com");
    for unknown in ["ZZZZZZZZ", "not a code", ""] {
        let (status, problem) = claim(&app, &shop, &cy, unknown, "198.51.100.9", "cy-browser").await;
        assert_eq!((status, problem["field"].as_str()), (422, Some("code")), "{unknown:?}: {problem}");
    }
    let (status, problem) = claim(&app, &shop, &cy, &code, "198.51.100.9", &"x".repeat(101)).await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("device")), "{problem}");

    let referral = referral_of(&app, &shop, "bo").await;
    assert_eq!(
        (referral["referrer_id"].as_str(), referral["status"].as_str(), referral["channel"].as_str()),
        (Some("ana"), Some("approved"), Some("widget")),
        "{db:?}: {referral}"
    );
    assert_eq!(referral["code"], code.as_str());

    order(&app, &shop, "bo", "o1").await;
    order(&app, &shop, "bo", "o2").await;
    assert_eq!(balance(&app, &shop, "ana").await, 500, "{db:?}: the referrer, once");
    assert_eq!(balance(&app, &shop, "bo").await, 100 + 10 + 10, "{db:?}: the friend, once, and the orders");
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn claims_that_look_wrong_wait_for_the_merchant_who_approves_or_rejects(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let shop = shop(&app, json!({"max_claims": 2, "window_hours": 24})).await;
    let ana = token(&shop, "ana", "ana.kim@gmail.com");
    app.api_send(Method::PUT, "/api/v1/customers/ana", &shop.secret, &json!({"email": "ana.kim@gmail.com"})).await;
    let code = me(&app, &shop, &ana).await["referral"]["code"].as_str().unwrap().to_owned();

    // Ana's own mailbox behind a +tag, dots and googlemail.com.
    let dan = token(&shop, "dan", "anakim+deals@googlemail.com");
    assert_eq!(claim(&app, &shop, &dan, &code, "198.51.100.1", "d1").await.0, 201);
    // Eve had ordered before she came by the link.
    order(&app, &shop, "eve", "eve-1").await;
    let eve = token(&shop, "eve", "eve@example.com");
    assert_eq!(claim(&app, &shop, &eve, &code, "198.51.100.2", "d2").await.0, 201);
    // One network: the third claim within the window is held; one browser likewise.
    for (who, device) in [("fay", "shared"), ("gus", "shared"), ("hal", "other")] {
        let token = token(&shop, who, &format!("{who}@example.com"));
        assert_eq!(claim(&app, &shop, &token, &code, "203.0.113.9", device).await.0, 201, "{who}");
    }
    let ivy = token(&shop, "ivy", "ivy@example.com");
    assert_eq!(claim(&app, &shop, &ivy, &code, "192.0.2.50", "shared").await.0, 201);

    let held = |reasons: Value| json!({"status": "held", "hold_reasons": reasons});
    for (who, expected) in [
        ("dan", held(json!(["same_mailbox"]))),
        ("eve", held(json!(["already_ordered"]))),
        ("fay", json!({"status": "approved", "hold_reasons": []})),
        ("gus", json!({"status": "approved", "hold_reasons": []})),
        ("hal", held(json!(["many_from_address"]))),
        ("ivy", held(json!(["many_from_device"]))),
    ] {
        let referral = referral_of(&app, &shop, who).await;
        let seen = json!({"status": referral["status"], "hold_reasons": referral["hold_reasons"]});
        assert_eq!(seen, expected, "{db:?}: {who}: {referral}");
    }
    let (_, queue) = app.api_get("/api/v1/referrals?status=held", &shop.secret).await;
    assert_eq!(queue["referrals"].as_array().unwrap().len(), 4, "{db:?}: the review queue: {queue}");

    // A held referral pays nothing on the friend's first order...
    order(&app, &shop, "dan", "dan-1").await;
    assert_eq!(balance(&app, &shop, "ana").await, 0, "{db:?}: held");
    // ...until the merchant approves it: the friend has ordered, so both are paid now.
    let (status, approved) = app.api_send(Method::POST, "/api/v1/referrals/dan/approve", &shop.secret, &json!({})).await;
    assert_eq!((status, approved["status"].as_str()), (200, Some("approved")), "{db:?}: {approved}");
    assert!(approved["rewarded_at"].is_string(), "{approved}");
    assert_eq!(approved["reviewed_by"], "merchant API");
    assert_eq!(balance(&app, &shop, "ana").await, 500, "{db:?}: paid on approval");
    assert_eq!(balance(&app, &shop, "dan").await, 100 + 10);
    let (status, problem) = app.api_send(Method::POST, "/api/v1/referrals/dan/reject", &shop.secret, &json!({})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("referral_decided")), "{problem}");
    order(&app, &shop, "dan", "dan-2").await;
    assert_eq!(balance(&app, &shop, "ana").await, 500, "{db:?}: paid once");

    // Rejected: never pays. Approved before the first order: pays on it.
    let (status, rejected) = app.api_send(Method::POST, "/api/v1/referrals/hal/reject", &shop.secret, &json!({})).await;
    assert_eq!((status, rejected["status"].as_str()), (200, Some("rejected")), "{rejected}");
    order(&app, &shop, "hal", "hal-1").await;
    assert_eq!(app.api_send(Method::POST, "/api/v1/referrals/ivy/approve", &shop.secret, &json!({})).await.0, 200);
    assert_eq!(balance(&app, &shop, "ana").await, 500, "{db:?}: ivy has not ordered yet");
    order(&app, &shop, "ivy", "ivy-1").await;
    assert_eq!(balance(&app, &shop, "ana").await, 1_000, "{db:?}: ivy's first order");
    let (status, problem) = app.api_send(Method::POST, "/api/v1/referrals/nobody/approve", &shop.secret, &json!({})).await;
    assert_eq!(status, 404, "{problem}");
    let audited: i64 = scalar(
        &app.database_url,
        "SELECT COUNT(*) FROM audit_log WHERE action IN ('referral.approve', 'referral.reject')",
    )
    .await;
    assert_eq!(audited, 3, "{db:?}: each decision audited");

    // A day later the network's window has passed.
    clock.set(Timestamp(T0.0 + 25 * 3_600_000));
    let jo = token_at(&shop, "jo", "jo@example.com", NOW_S + 25 * 3_600);
    assert_eq!(claim(&app, &shop, &jo, &code, "203.0.113.9", "shared").await.0, 201);
    assert_eq!(referral_of(&app, &shop, "jo").await["status"], "approved", "{db:?}");
    app.stop().await;
}
}

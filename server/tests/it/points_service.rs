//! What the points service guarantees on every surface, through the real API on both
//! databases: client ids bound to their target, orders owned by their first customer, amounts
//! that cannot overflow, every effect of one operation in one transaction, and an upkeep pass
//! that goes on past a failure.

use crate::common::{fail_inserts, spawn_app_at, stop_failing_inserts, TestApp, T0};
use reqwest::Method;
use serde_json::{json, Value};
use tally_server::{customer_token::sign, jobs::run_upkeep, points::PointsService};

const ORIGIN: &str = "https://shop.example";

async fn shop(app: &TestApp, settings: Value) -> (tally_server::programs::Program, String) {
    let (mut program, secret) = app.create_program("Shop").await;
    program.allowed_origins = vec![ORIGIN.to_owned()];
    program.settings = serde_json::from_value(settings).unwrap();
    app.storage.upsert_program(&program).await.unwrap();
    (program, secret)
}

async fn post(app: &TestApp, secret: &str, path: &str, body: Value) -> (u16, Value) {
    app.api_send(Method::POST, path, secret, &body).await
}

fn order(event_id: &str, customer: &str, order_id: &str, subtotal: i64) -> Value {
    json!({"event_id": event_id, "customer_id": customer, "type": "order", "order_id": order_id,
           "currency": "USD", "subtotal": subtotal})
}

each_db! {
/// The same adjustment body sent for another customer is a conflict, never the first
/// customer's result; nothing is applied to either.
#[tokio::test]
async fn a_client_id_sent_for_another_target_is_a_conflict(db: Db) {
    let (app, _) = spawn_app_at(db).await;
    let (_, secret) = shop(&app, json!({})).await;
    for customer in ["ana", "bo"] {
        app.api_send(Method::PUT, &format!("/api/v1/customers/{customer}"), &secret, &json!({})).await;
    }
    let adjustment = json!({"adjustment_id": "adj-1", "points": 70, "reason": "welcome"});
    let (status, first) = post(&app, &secret, "/api/v1/customers/ana/adjustments", adjustment.clone()).await;
    assert_eq!(status, 201, "{db:?} {first}");
    let (status, problem) = post(&app, &secret, "/api/v1/customers/bo/adjustments", adjustment).await;
    assert_eq!((status, problem["code"].as_str(), problem["field"].as_str()), (409, Some("idempotency_conflict"), Some("adjustment_id")), "{db:?} {problem}");
    assert_eq!((app.available(&secret, "ana").await, app.available(&secret, "bo").await), (Some(70), Some(0)));

    // A refund id used on one order cannot be replayed on another.
    post(&app, &secret, "/api/v1/events", order("e1", "ana", "o1", 10_000)).await;
    post(&app, &secret, "/api/v1/events", order("e2", "ana", "o2", 10_000)).await;
    assert_eq!(post(&app, &secret, "/api/v1/orders/o1/refunds", json!({"refund_id": "r1", "amount": 1_000})).await.0, 201);
    let (status, problem) = post(&app, &secret, "/api/v1/orders/o2/refunds", json!({"refund_id": "r1", "amount": 1_000})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("idempotency_conflict")), "{db:?}");
    app.stop().await;
}
}

each_db! {
/// Shopper B sending shopper A's redemption body through the widget gets a conflict: not A's
/// coupon code, not A's balance.
#[tokio::test]
async fn a_shopper_never_receives_another_shoppers_redemption(db: Db) {
    let (app, _) = spawn_app_at(db).await;
    let (program, secret) = shop(&app, json!({})).await;
    let reward = json!({"name": "$5 off", "reward": {"type": "amount_off", "amount": 500}, "points": 100});
    let (_, reward) = post(&app, &secret, "/api/v1/rewards", reward).await;
    for customer in ["ana", "bo"] {
        app.api_send(Method::PUT, &format!("/api/v1/customers/{customer}"), &secret, &json!({})).await;
        let body = json!({"adjustment_id": format!("start-{customer}"), "points": 300, "reason": "start"});
        post(&app, &secret, &format!("/api/v1/customers/{customer}/adjustments"), body).await;
    }
    let redeem = |customer: &str| {
        let token = sign(&json!({"sub": customer, "exp": T0.0 / 1_000 + 3_600}), &program.widget_secret);
        app.client
            .post(app.url(&format!("/widget/v1/programs/{}/me/redemptions", program.publishable_key)))
            .header("Origin", ORIGIN)
            .bearer_auth(token)
            .json(&json!({"redemption_id": "red-1", "reward_id": reward["id"]}))
            .send()
    };
    let (status, ana) = crate::common::into_parts(redeem("ana").await.unwrap()).await;
    assert_eq!(status, 201, "{db:?} {ana}");
    let (status, bo) = crate::common::into_parts(redeem("bo").await.unwrap()).await;
    assert_eq!((status, bo["code"].as_str()), (409, Some("idempotency_conflict")), "{db:?} {bo}");
    assert!(!bo.to_string().contains(ana["coupon"]["code"].as_str().unwrap()), "{db:?}: no code of ana's");
    assert_eq!((app.available(&secret, "ana").await, app.available(&secret, "bo").await), (Some(200), Some(300)));
    app.stop().await;
}
}

each_db! {
/// An order id belongs to the customer of its first event, whatever that order earned.
#[tokio::test]
async fn an_order_id_belongs_to_its_first_customer(db: Db) {
    let (app, _) = spawn_app_at(db).await;
    let (_, secret) = shop(&app, json!({})).await;
    // A free order earns nothing but is recorded for ana.
    assert_eq!(post(&app, &secret, "/api/v1/events", order("e1", "ana", "o1", 0)).await.0, 201);
    let (status, problem) = post(&app, &secret, "/api/v1/events", order("e2", "bo", "o1", 50_000)).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("order_of_another_customer")), "{db:?} {problem}");
    let (status, problem) = post(&app, &secret, "/api/v1/events", order("e3", "ana", "o1", 50_000)).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("order_already_recorded")), "{db:?}: once, even free");
    assert_eq!(app.available(&secret, "bo").await, None, "{db:?}: the refused write left no trace of bo");
    app.stop().await;
}
}

each_db! {
/// Amounts near `i64::MAX` are refused naming the field; refunds cannot exceed the payment,
/// and the customer stays readable and writable.
#[tokio::test]
async fn amounts_cannot_overflow_or_refund_more_than_was_paid(db: Db) {
    let (app, _) = spawn_app_at(db).await;
    let campaigns: Vec<Value> = (0..30)
        .map(|n| json!({"id": format!("c{n}"), "name": "x10", "multiplier_percent": 1000,
                        "starts_at": "2025-01-01T00:00:00Z", "ends_at": "2027-01-01T00:00:00Z", "applies_to": "all"}))
        .collect();
    let (_, secret) = shop(&app, json!({"campaigns": campaigns, "actions": [{"action": "review", "points": 50}]})).await;
    let huge = i64::MAX;
    let (status, problem) = post(&app, &secret, "/api/v1/events", order("e1", "ana", "o1", huge)).await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("subtotal")), "{db:?} {problem}");
    let lines = json!([{"product_id": "a", "quantity": 1, "amount": huge}, {"product_id": "b", "quantity": 1, "amount": huge}]);
    let mut body = order("e2", "ana", "o2", 1_000);
    body["lines"] = lines;
    let (status, problem) = post(&app, &secret, "/api/v1/events", body).await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("lines.amount")), "{db:?} {problem}");
    let mut body = order("e3", "ana", "o3", 1_000);
    body["shipping"] = json!(huge);
    assert_eq!(post(&app, &secret, "/api/v1/events", body).await.1["field"], "shipping");

    // 30 campaigns of x10 each: the combined multiplier stops at x1000 instead of overflowing.
    let (status, body) = post(&app, &secret, "/api/v1/events", order("e4", "ana", "o4", 10_000)).await;
    assert_eq!((status, &body["entries"][0]["rule_snapshot"]["campaign_percent"]), (201, &json!(100_000)), "{db:?} {body}");
    let review = json!({"event_id": "e5", "customer_id": "ana", "type": "review"});
    let (status, body) = post(&app, &secret, "/api/v1/events", review).await;
    assert_eq!((status, &body["entries"][0]["points"]), (201, &json!(50_000)), "{db:?} {body}");
    post(&app, &secret, "/api/v1/orders/o4/cancel", json!({})).await;
    post(&app, &secret, "/api/v1/customers/ana/adjustments", json!({"adjustment_id": "x", "points": -50_000, "reason": "reset"})).await;

    // A real order, then refunds: never more than was paid, never i64::MAX.
    app.storage.upsert_program(&{
        let mut program = app.storage.program_for_api_key(&tally_server::secrets::hash_secret(&secret), T0).await.unwrap().unwrap();
        program.settings.campaigns.clear();
        program
    }).await.unwrap();
    assert_eq!(post(&app, &secret, "/api/v1/events", order("e6", "ana", "o6", 1_000)).await.0, 201);
    for (refund_id, amount) in [("r1", 5_000), ("r2", huge)] {
        let (status, problem) = post(&app, &secret, "/api/v1/orders/o6/refunds", json!({"refund_id": refund_id, "amount": amount})).await;
        assert_eq!((status, problem["field"].as_str()), (422, Some("amount")), "{db:?} {amount} {problem}");
    }
    assert_eq!(post(&app, &secret, "/api/v1/orders/o6/refunds", json!({"refund_id": "r3", "amount": 1_000})).await.0, 201);
    assert_eq!(app.available(&secret, "ana").await, Some(0), "{db:?}");
    assert_eq!(post(&app, &secret, "/api/v1/events", order("e7", "ana", "o7", 2_000)).await.0, 201, "{db:?}: still writable");
    assert_eq!(app.available(&secret, "ana").await, Some(20));
    app.stop().await;
}
}

each_db! {
/// A referral's awards commit with the order that earns them: when an award cannot be
/// written, the order is not recorded either, and a retry pays everyone once.
#[tokio::test]
async fn a_referral_award_commits_with_its_order_or_not_at_all(db: Db) {
    let (app, _) = spawn_app_at(db).await;
    let (_, secret) = shop(&app, json!({"actions": [{"action": "referral", "points": 500, "referred_points": 250}]})).await;
    app.api_send(Method::PUT, "/api/v1/customers/ana", &secret, &json!({})).await;
    let referral = json!({"event_id": "ref-1", "customer_id": "bo", "type": "referral", "referrer_id": "ana"});
    assert_eq!(post(&app, &secret, "/api/v1/events", referral).await.0, 201);

    fail_inserts(&app.database_url, "ledger_entries", "NEW.source = 'referral'").await;
    let (status, _) = post(&app, &secret, "/api/v1/events", order("e1", "bo", "o1", 10_000)).await;
    assert_eq!(status, 503, "{db:?}: the award failed, so did the order");
    assert_eq!(app.available(&secret, "bo").await, None, "{db:?}: bo's order left nothing behind");
    stop_failing_inserts(&app.database_url, "ledger_entries").await;

    assert_eq!(post(&app, &secret, "/api/v1/events", order("e1", "bo", "o1", 10_000)).await.0, 201);
    assert_eq!(post(&app, &secret, "/api/v1/events", order("e2", "bo", "o2", 10_000)).await.0, 201);
    assert_eq!(app.available(&secret, "ana").await, Some(500), "{db:?}: the referrer, once");
    assert_eq!(app.available(&secret, "bo").await, Some(250 + 100 + 100), "{db:?}: the referred, once");
    app.stop().await;
}
}

each_db! {
/// The points of the coupons a cancelled order used come back in the cancellation's
/// transaction: no cancellation without them.
#[tokio::test]
async fn an_order_cancellation_restores_its_coupons_in_the_same_transaction(db: Db) {
    let (app, _) = spawn_app_at(db).await;
    let (_, secret) = shop(&app, json!({})).await;
    let reward = json!({"name": "$5 off", "reward": {"type": "amount_off", "amount": 500}, "points": 100});
    let (_, reward) = post(&app, &secret, "/api/v1/rewards", reward).await;
    app.api_send(Method::PUT, "/api/v1/customers/ana", &secret, &json!({})).await;
    post(&app, &secret, "/api/v1/customers/ana/adjustments", json!({"adjustment_id": "a1", "points": 100, "reason": "start"})).await;
    let (_, redeemed) =
        post(&app, &secret, "/api/v1/customers/ana/redemptions", json!({"redemption_id": "d1", "reward_id": reward["id"]})).await;
    let code = redeemed["coupon"]["code"].as_str().unwrap().to_owned();
    post(&app, &secret, "/api/v1/events", order("e1", "ana", "o1", 10_000)).await;
    post(&app, &secret, &format!("/api/v1/coupons/{code}/consume"), json!({"order_id": "o1"})).await;
    assert_eq!(app.available(&secret, "ana").await, Some(100));

    // The coupon's restore entry carries its code as client id.
    fail_inserts(&app.database_url, "ledger_entries", &format!("NEW.client_id = '{code}'")).await;
    let (status, _) = post(&app, &secret, "/api/v1/orders/o1/cancel", json!({})).await;
    assert_eq!(status, 503, "{db:?}: the restore failed, so did the cancellation");
    assert_eq!(app.available(&secret, "ana").await, Some(100), "{db:?}: the order still stands");
    let (_, coupon) = app.api_get(&format!("/api/v1/coupons/{code}"), &secret).await;
    assert_eq!(coupon["status"], "consumed", "{db:?}");
    stop_failing_inserts(&app.database_url, "ledger_entries").await;

    let (status, cancelled) = post(&app, &secret, "/api/v1/orders/o1/cancel", json!({})).await;
    assert_eq!((status, cancelled["restored_coupons"].clone()), (201, json!([code])), "{db:?} {cancelled}");
    let (status, again) = post(&app, &secret, "/api/v1/orders/o1/cancel", json!({})).await;
    assert_eq!((status, again["restored_coupons"].clone()), (200, json!([code])), "{db:?}: a replay says the same");
    assert_eq!(app.available(&secret, "ana").await, Some(100), "{db:?}: the order's points out, the coupon's back");
    app.stop().await;
}
}

each_db! {
/// One customer's failing upkeep is logged and counted; the pass settles everyone else.
#[tokio::test]
async fn upkeep_goes_on_past_a_failing_customer(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let (_, secret) = shop(&app, json!({"expiry": {"type": "after_earning", "days": 10}})).await;
    for customer in ["ana", "bo", "cy"] {
        app.api_send(Method::PUT, &format!("/api/v1/customers/{customer}"), &secret, &json!({})).await;
        let body = json!({"adjustment_id": format!("a-{customer}"), "points": 10, "reason": "start"});
        assert_eq!(post(&app, &secret, &format!("/api/v1/customers/{customer}/adjustments"), body).await.0, 201);
    }
    clock.set(T0.plus_days(11));
    fail_inserts(&app.database_url, "ledger_entries", "NEW.customer_id = 'bo'").await;
    let report = run_upkeep(&PointsService::new(app.storage.clone(), clock.clone())).await.unwrap();
    assert_eq!((report.customers, report.entries_written, report.failures), (3, 2, 1), "{db:?}");
    stop_failing_inserts(&app.database_url, "ledger_entries").await;
    let report = run_upkeep(&PointsService::new(app.storage.clone(), clock.clone())).await.unwrap();
    assert_eq!((report.entries_written, report.failures), (1, 0), "{db:?}: bo's turn came at the next pass");
    app.stop().await;
}
}

each_db! {
/// The scale program's bulk import goes through the service: its histories are checked (a batch
/// with a customer twice writes nothing), and what it writes reads back as the ledger would
/// have written it: balances from the lots, later writes continuing each customer's entries.
#[tokio::test]
async fn a_bulk_import_is_checked_by_the_service_and_continues_like_any_ledger(db: Db) {
    use tally_server::{
        customers::{CustomerId, CustomerProfile},
        ledger::{Account, ExpiryPolicy},
        programs::ApiKeyRecord,
        scale::seed_scale_program,
        storage::{ImportedCustomer, ImportedEntry},
    };
    let (app, clock) = spawn_app_at(db).await;
    let points = PointsService::new(app.storage.clone(), clock.clone());
    let (mut template, _) = app.create_program("Shop").await;
    template.settings.tiers = serde_json::from_value(json!({"tiers": [
        {"id": "silver", "name": "Silver", "threshold": 500}, {"id": "gold", "name": "Gold", "threshold": 2000}]})).unwrap();
    let program = seed_scale_program(&points, &template, 40, 600, T0).await.unwrap();
    let (secret, key) = ApiKeyRecord::generate();
    app.storage.add_api_key(&program.id, &key, T0, None).await.unwrap();
    // Each seeded customer is in the tier their earnings reach (not "no tier, 0 points to
    // Silver" with 3,948 points, as a random tier left some).
    let mut tiered = 0;
    for index in 0..40 {
        let (_, account) = app.api_get(&format!("/api/v1/customers/c{index:07}"), &secret).await;
        let tiers = &account["tiers"];
        let qualifying = tiers["qualifying"].as_i64().unwrap();
        let expected = match qualifying { q if q >= 2000 => json!("gold"), q if q >= 500 => json!("silver"), _ => Value::Null };
        assert_eq!(tiers["tier"]["id"], expected, "{db:?}: {account}");
        assert!(tiers["to_next_tier"].is_null() || tiers["to_next_tier"].as_i64().unwrap() > 0, "{db:?}: {account}");
        tiered += usize::from(!expected.is_null());
    }
    assert!(tiered > 0, "{db:?}: some customers reach a tier");

    for index in 0..40 {
        let customer = format!("c{index:07}");
        let id = CustomerId::parse(&customer).unwrap();
        let newest = app.storage.entries(&program.id, &id, None, 1).await.unwrap();
        let (seq, balance) = (newest[0].seq, newest[0].balance_after);
        assert_eq!(seq, 15, "{db:?}: 600 entries over 40 customers");
        assert_eq!(app.available(&secret, &customer).await, Some(balance), "{db:?}: {customer}");
    }
    let before = app.available(&secret, "c0000001").await.unwrap();
    let body = json!({"adjustment_id": "after-import", "points": 10, "reason": "welcome back"});
    let (status, _) = post(&app, &secret, "/api/v1/customers/c0000001/adjustments", body).await;
    assert_eq!(status, 201, "{db:?}");
    assert_eq!(app.available(&secret, "c0000001").await, Some(before + 10), "{db:?}");
    let id = CustomerId::parse("c0000001").unwrap();
    assert_eq!(app.storage.entries(&program.id, &id, None, 1).await.unwrap()[0].seq, 16, "{db:?}: seq continues");

    let mut account = Account::new(ExpiryPolicy::Never);
    let entries = account.earn(T0, 100, None, T0).unwrap();
    let twin = ImportedCustomer {
        customer_id: "twin".into(),
        profile: CustomerProfile::default(),
        created_at: T0,
        tier_id: None,
        entries: entries
            .into_iter()
            .map(|entry| ImportedEntry { entry, source: "import".into(), created_at: T0 })
            .collect(),
        account,
    };
    let refused = points.import_histories(&program, &[twin.clone(), twin]).await.unwrap_err();
    assert_eq!(refused.to_string(), "each customer comes once in an import", "{db:?}");
    assert_eq!(app.available(&secret, "twin").await, None, "{db:?}: nothing of the batch written");
    app.stop().await;
}
}

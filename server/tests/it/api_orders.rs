//! Orders through the merchant API on both databases: points under the purchase rule, pending
//! periods, idempotent events, proportional refunds and cancellations.

use crate::common::{spawn_app_at, Db, TestApp, T0};
use reqwest::Method;
use serde_json::{json, Value};

async fn program_with(app: &TestApp, pending_days: u32) -> String {
    let (mut program, secret) = app.create_program("Shop").await;
    program.settings.pending_days = pending_days;
    app.storage.upsert_program(&program).await.unwrap();
    secret
}

fn order(event_id: &str, order_id: &str, subtotal: i64) -> Value {
    json!({
        "event_id": event_id, "customer_id": "ana", "type": "order", "order_id": order_id,
        "currency": "USD", "subtotal": subtotal, "shipping": 500, "tax": 700, "discount": 0,
        "lines": [{"product_id": "beans", "category_ids": ["coffee"], "quantity": 2, "amount": subtotal}]
    })
}

async fn balance(app: &TestApp, secret: &str) -> (i64, i64) {
    let (_, customer) = app.api_get("/api/v1/customers/ana", secret).await;
    (customer["available"].as_i64().unwrap(), customer["pending"].as_i64().unwrap())
}

each_db! {
#[tokio::test]
async fn an_order_earns_under_the_purchase_rule_and_creates_the_customer(db: Db) {
    let (app, _) = spawn_app_at(db).await;
    let secret = program_with(&app, 0).await;
    let (status, body) = app.api_send(Method::POST, "/api/v1/events", &secret, &order("e1", "o1", 8_050)).await;
    assert_eq!(status, 201, "{db:?} {body}");
    // $80.50 of goods at 1 point per $1, shipping and tax excluded, rounded down.
    assert_eq!(body["entries"][0]["points"], 80);
    assert_eq!(body["entries"][0]["source"], "purchase");
    assert_eq!(body["entries"][0]["rule_snapshot"]["eligible_amount"], 8_050);
    assert_eq!(balance(&app, &secret).await, (80, 0));

    let (status, replay) = app.api_send(Method::POST, "/api/v1/events", &secret, &order("e1", "o1", 8_050)).await;
    assert_eq!((status, &replay), (200, &body), "{db:?}: replayed, not applied twice");
    let (status, problem) = app.api_send(Method::POST, "/api/v1/events", &secret, &order("e1", "o1", 9_000)).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("idempotency_conflict")));
    let (status, problem) = app.api_send(Method::POST, "/api/v1/events", &secret, &order("e2", "o1", 8_050)).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("order_already_recorded")), "{db:?}");
    assert_eq!(balance(&app, &secret).await, (80, 0));
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn purchase_points_stay_pending_then_become_available_without_a_job(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let secret = program_with(&app, 14).await;
    app.api_send(Method::POST, "/api/v1/events", &secret, &order("e1", "o1", 10_000)).await;
    assert_eq!(balance(&app, &secret).await, (0, 100), "{db:?}");
    clock.set(T0.plus_days(14));
    assert_eq!(balance(&app, &secret).await, (100, 0), "{db:?}");
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn partial_refunds_take_back_points_in_proportion_pending_first(db: Db) {
    let (app, _) = spawn_app_at(db).await;
    let secret = program_with(&app, 14).await;
    // Paid: 10_000 + 500 shipping + 700 tax = 11_200 for 100 points.
    app.api_send(Method::POST, "/api/v1/events", &secret, &order("e1", "o1", 10_000)).await;
    let url = "/api/v1/orders/o1/refunds";
    let (status, body) =
        app.api_send(Method::POST, url, &secret, &json!({"refund_id": "r1", "amount": 5_600})).await;
    assert_eq!(status, 201, "{db:?} {body}");
    assert_eq!(body["entries"][0]["points"], -50);
    assert_eq!(balance(&app, &secret).await, (0, 50), "{db:?}: the pending points are reduced");

    let (status, _) = app.api_send(Method::POST, url, &secret, &json!({"refund_id": "r1", "amount": 5_600})).await;
    assert_eq!(status, 200, "a replayed refund is not applied again");
    app.api_send(Method::POST, url, &secret, &json!({"refund_id": "r2", "amount": 5_600})).await;
    assert_eq!(balance(&app, &secret).await, (0, 0));
    // Nothing is left to refund: a refund beyond what was paid is refused, naming the amount.
    let (status, problem) =
        app.api_send(Method::POST, url, &secret, &json!({"refund_id": "r3", "amount": 100})).await;
    assert_eq!((status, problem["code"].as_str(), problem["field"].as_str()), (422, Some("refund_too_large"), Some("amount")));

    let (status, problem) = app
        .api_send(Method::POST, "/api/v1/orders/nope/refunds", &secret, &json!({"refund_id": "r9", "amount": 1}))
        .await;
    assert_eq!((status, problem["code"].as_str()), (404, Some("not_found")));
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn cancelling_voids_pending_points_and_is_idempotent(db: Db) {
    let (app, _) = spawn_app_at(db).await;
    let secret = program_with(&app, 14).await;
    app.api_send(Method::POST, "/api/v1/events", &secret, &order("e1", "o1", 10_000)).await;
    let (status, body) = app.api_send(Method::POST, "/api/v1/orders/o1/cancel", &secret, &json!({})).await;
    assert_eq!(status, 201, "{db:?} {body}");
    assert_eq!(body["entries"][0]["kind"], "void");
    let (status, again) = app.api_send(Method::POST, "/api/v1/orders/o1/cancel", &secret, &json!({})).await;
    assert_eq!((status, &again), (200, &body));
    assert_eq!(balance(&app, &secret).await, (0, 0), "{db:?}");
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn concurrent_partial_refunds_add_up_exactly(db: Db) {
    let (app, _) = spawn_app_at(db).await;
    let secret = program_with(&app, 0).await;
    // 9_999 + 500 + 700 = 11_199 paid for 99 points; ten refunds of 1_119.9 cents, roughly.
    app.api_send(Method::POST, "/api/v1/events", &secret, &order("e1", "o1", 9_999)).await;
    let amounts = [1_120, 1_120, 1_120, 1_120, 1_120, 1_120, 1_120, 1_120, 1_120, 1_119];
    let handles: Vec<_> = amounts
        .iter()
        .enumerate()
        .map(|(n, amount)| {
            let request = app
                .api(Method::POST, "/api/v1/orders/o1/refunds", &secret)
                .json(&json!({"refund_id": format!("r{n}"), "amount": amount}));
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.await.unwrap(), 201);
    }
    assert_eq!(balance(&app, &secret).await, (0, 0), "{db:?}: all 99 points back, not one more or less");
    app.stop().await;
}
}

#[tokio::test]
async fn invalid_orders_are_422_naming_the_field() {
    let (app, _) = spawn_app_at(Db::Sqlite).await;
    let secret = program_with(&app, 0).await;
    let mut wrong_currency = order("e1", "o1", 1_000);
    wrong_currency["currency"] = json!("EUR");
    let mut wrong_lines = order("e2", "o2", 1_000);
    wrong_lines["lines"][0]["amount"] = json!(999);
    let mut future = order("e3", "o3", 1_000);
    future["occurred_at"] = json!("2030-01-01T00:00:00Z");
    let mut bad_time = order("e4", "o4", 1_000);
    bad_time["occurred_at"] = json!("yesterday");
    let unknown_type = json!({"event_id": "e5", "customer_id": "ana", "type": "dance"});
    let cases = [
        (wrong_currency, "currency"),
        (wrong_lines, "lines"),
        (future, "occurred_at"),
        (bad_time, "occurred_at"),
        (unknown_type, "type"),
    ];
    for (body, field) in cases {
        let (status, problem) = app.api_send(Method::POST, "/api/v1/events", &secret, &body).await;
        assert_eq!((status, problem["field"].as_str()), (422, Some(field)), "{problem}");
    }
    let (_, customer) = app.api_get("/api/v1/customers/ana", &secret).await;
    assert_eq!(customer["code"], "not_found", "nothing was written");
    app.stop().await;
}

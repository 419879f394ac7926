//! A shopper's data on request: the export of everything held about them, erasure that keeps
//! the ledger's amounts, and the retention pass. Both databases, through the real API.

use std::sync::Arc;

use crate::common::{spawn_app_at, TestApp, T0};
use reqwest::Method;
use serde_json::json;
use tally_server::{
    dashboard::{self, calendar::DateRange},
    ledger::{Clock, Timestamp},
    points::PointsService,
};

const ANA: &str = "ana-7731";
const EMAIL: &str = "ana.private@mail.example";

/// A program where ana joined, ordered, redeemed a coupon, got an adjustment and referred bo.
async fn shop(app: &TestApp) -> (tally_server::programs::Program, String) {
    let (program, secret) = app.create_program("Privacy Shop").await;
    let settings = json!({"name": "Privacy Shop", "points_name": "points", "allowed_origins": [],
        "settings": {"purchase": {"points": 1, "per_amount": 100},
            "actions": [{"action": "referral", "points": 500, "referred_points": 250}]}});
    assert_eq!(app.api_send(Method::PUT, "/api/v1/settings", &secret, &settings).await.0, 200);
    let profile = json!({"email": EMAIL, "name": "Ana Privée", "birthday": "1990-04-01", "tags": ["vip"]});
    assert_eq!(app.api_send(Method::PUT, &format!("/api/v1/customers/{ANA}"), &secret, &profile).await.0, 200);
    let order = json!({"event_id": "o1", "customer_id": ANA, "type": "order", "order_id": "o1", "currency": "USD",
        "subtotal": 50_000});
    assert_eq!(app.api_send(Method::POST, "/api/v1/events", &secret, &order).await.0, 201);
    let reward = json!({"name": "$5 off", "reward": {"type": "amount_off", "amount": 500}, "points": 100});
    let (_, reward) = app.api_send(Method::POST, "/api/v1/rewards", &secret, &reward).await;
    let redemption = json!({"redemption_id": "r1", "reward_id": reward["id"]});
    let path = format!("/api/v1/customers/{ANA}/redemptions");
    assert_eq!(app.api_send(Method::POST, &path, &secret, &redemption).await.0, 201);
    let adjustment = json!({"adjustment_id": "a1", "points": 7, "reason": "goodwill"});
    let path = format!("/api/v1/customers/{ANA}/adjustments");
    assert_eq!(app.api_send(Method::POST, &path, &secret, &adjustment).await.0, 201);
    let referral = json!({"event_id": "ref-1", "customer_id": "bo", "type": "referral", "referrer_id": ANA});
    assert_eq!(app.api_send(Method::POST, "/api/v1/events", &secret, &referral).await.0, 201);
    (program, secret)
}

each_db! {
#[tokio::test]
async fn a_customer_gets_everything_held_about_them_as_one_document(db: Db) {
    let (app, _) = spawn_app_at(db).await;
    let (program, secret) = shop(&app).await;
    let (status, export) = app.api_get(&format!("/api/v1/customers/{ANA}/export"), &secret).await;
    assert_eq!(status, 200, "{db:?}: {export}");
    assert_eq!((export["format"].as_str(), export["program_id"].as_str()), (Some("tally.customer-export.v1"), Some(program.id.as_str())));
    let customer = &export["customer"];
    assert_eq!((customer["email"].as_str(), customer["birthday"].as_str()), (Some(EMAIL), Some("1990-04-01")));
    assert_eq!(customer["available"], 500 - 100 + 7, "{db:?}");
    let kinds: Vec<&str> = export["entries"].as_array().unwrap().iter().map(|entry| entry["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.len(), 3, "{db:?}: every entry: {kinds:?}");
    assert_eq!(export["coupons"].as_array().unwrap().len(), 1);
    assert_eq!(export["referred"][0]["referred_id"], "bo");
    assert!(export["referred_by"].is_null());
    assert_eq!(export["messages"], json!([]));
    let (status, problem) = app.api_get("/api/v1/customers/nobody/export", &secret).await;
    assert_eq!((status, problem["code"].as_str()), (404, Some("not_found")), "{db:?}: {problem}");
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn erasure_removes_the_person_and_keeps_the_amounts(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let (program, secret) = shop(&app).await;
    let storage = app.storage.as_ref();
    // The dashboard's copy of earnings per day holds ana's id: build it before erasing.
    tally_server::jobs::fold_totals(storage).await.unwrap();
    let range = DateRange::custom("2025-12-31", "2026-01-02").unwrap();
    let now = Timestamp(T0.0 + 60_000);
    clock.set(now);
    let leaders = dashboard::top_earners(storage, &program, &range, now).await.unwrap();
    assert_eq!(leaders[0].customer_id, ANA, "{db:?}");
    let liability = dashboard::points_status(storage, &program, &range, now).await.unwrap();

    let (status, erased) = app.api_send(Method::POST, &format!("/api/v1/customers/{ANA}/erase"), &secret, &json!({})).await;
    assert_eq!(status, 200, "{db:?}: {erased}");
    let pseudonym = erased["pseudonym"].as_str().unwrap().to_owned();
    assert!(pseudonym.starts_with("erased_") && erased["replayed"] == false, "{erased}");
    let (status, again) = app.api_send(Method::POST, &format!("/api/v1/customers/{ANA}/erase"), &secret, &json!({})).await;
    assert_eq!((status, again["pseudonym"].as_str(), again["replayed"].as_bool()), (200, Some(pseudonym.as_str()), Some(true)), "{db:?}: idempotent");

    assert_eq!(app.api_get(&format!("/api/v1/customers/{ANA}"), &secret).await.0, 404, "{db:?}: the id is gone");
    let (_, kept) = app.api_get(&format!("/api/v1/customers/{pseudonym}"), &secret).await;
    assert_eq!(kept["available"], 407, "{db:?}: the amounts stay: {kept}");
    assert!(kept["email"].is_null() && kept["name"].is_null() && kept["birthday"].is_null() && kept["tags"] == json!([]));
    let (_, entries) = app.api_get(&format!("/api/v1/customers/{pseudonym}/entries"), &secret).await;
    assert_eq!(entries["entries"].as_array().unwrap().len(), 3, "{db:?}");
    let referral = format!("SELECT COUNT(*) FROM referrals WHERE referrer_id = '{pseudonym}' AND referred_id = 'bo'");
    assert_eq!(crate::common::scalar::<i64>(&app.database_url, &referral).await, 1, "{db:?}: bo's referral history stays");
    let after = dashboard::points_status(storage, &program, &range, now).await.unwrap();
    assert_eq!(format!("{after:?}"), format!("{liability:?}"), "{db:?}: the program's totals and liability stay");
    let leaders = dashboard::top_earners(storage, &program, &range, now).await.unwrap();
    assert!(leaders.iter().all(|row| row.customer_id != ANA), "{db:?}: {:?}", leaders.iter().map(|r| &r.customer_id).collect::<Vec<_>>());
    assert!(leaders.iter().any(|row| row.customer_id == pseudonym), "{db:?}: the earnings count under the pseudonym");

    // Nothing under the id or the email is left in the database.
    let url = &app.database_url;
    let quoted = format!("%\"{ANA}\"%");
    for sql in [
        format!("SELECT COUNT(*) FROM customers WHERE customer_id = '{ANA}' OR email = '{EMAIL}'"),
        format!("SELECT COUNT(*) FROM ledger_entries WHERE customer_id = '{ANA}'"),
        format!("SELECT COUNT(*) FROM lots WHERE customer_id = '{ANA}'"),
        format!("SELECT COUNT(*) FROM coupons WHERE customer_id = '{ANA}'"),
        format!("SELECT COUNT(*) FROM referrals WHERE referrer_id = '{ANA}'"),
        format!("SELECT COUNT(*) FROM customer_day_earnings WHERE customer_id = '{ANA}'"),
        format!("SELECT COUNT(*) FROM customer_earnings WHERE customer_id = '{ANA}'"),
        format!("SELECT COUNT(*) FROM outbox_events WHERE customer_id = '{ANA}' OR payload LIKE '{quoted}' OR payload LIKE '%{EMAIL}%'"),
        format!("SELECT COUNT(*) FROM idempotency_keys WHERE response LIKE '{quoted}'"),
    ] {
        assert_eq!(crate::common::scalar::<i64>(url, &sql).await, 0, "{db:?}: {sql}");
    }
    assert_eq!(crate::common::scalar::<i64>(url, "SELECT COUNT(*) FROM audit_log WHERE action = 'customer.erase'").await, 1, "{db:?}: audited once");

    // The id is free again: a later event starts a new, empty customer.
    let order = json!({"event_id": "o2", "customer_id": ANA, "type": "order", "order_id": "o2", "currency": "USD", "subtotal": 1_000});
    assert_eq!(app.api_send(Method::POST, "/api/v1/events", &secret, &order).await.0, 201);
    let (_, fresh) = app.api_get(&format!("/api/v1/customers/{ANA}"), &secret).await;
    assert_eq!((fresh["available"].as_i64(), fresh["email"].is_null()), (Some(10), true), "{db:?}: {fresh}");
    let (status, _) = app.api_send(Method::POST, "/api/v1/customers/nobody/erase", &secret, &json!({})).await;
    assert_eq!(status, 404, "{db:?}: no such customer, never erased");
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn the_retention_pass_removes_old_idempotency_records_and_expired_sessions(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let (_, secret) = shop(&app).await;
    let url = app.database_url.clone();
    let day = 86_400_000;
    let points = PointsService::new(app.storage.clone(), clock.clone() as Arc<dyn Clock>);
    let user = tally_server::console_users::ConsoleUser {
        id: "usr_x".into(),
        email: tally_server::console_users::Email::parse("x@shop.example").unwrap(),
        role: tally_server::console_users::Role::Owner,
        created_at: T0,
    };
    assert!(app.storage.create_user(&user, "hash", &[], None).await.unwrap());
    let (_, session) = tally_server::console_users::Session::start(&user.id, T0);
    app.storage.start_session(&session).await.unwrap();
    let records = crate::common::scalar::<i64>(&url, "SELECT COUNT(*) FROM idempotency_keys").await;
    assert!(records >= 3, "{db:?}: {records}");

    clock.set(Timestamp(T0.0 + 10 * day));
    let newer = json!({"event_id": "o9", "customer_id": "cy", "type": "order", "order_id": "o9", "currency": "USD", "subtotal": 100});
    assert_eq!(app.api_send(Method::POST, "/api/v1/events", &secret, &newer).await.0, 201);
    let pruned = tally_server::jobs::prune(&points, std::time::Duration::from_secs(30 * 86_400)).await.unwrap();
    assert_eq!((pruned.idempotency_keys, pruned.sessions), (0, 1), "{db:?}: the 7-day session expired, records are young");

    clock.set(Timestamp(T0.0 + 31 * day));
    let pruned = tally_server::jobs::prune(&points, std::time::Duration::from_secs(30 * 86_400)).await.unwrap();
    assert_eq!(pruned.idempotency_keys, records as u64, "{db:?}: those older than 30 days");
    assert_eq!(crate::common::scalar::<i64>(&url, "SELECT COUNT(*) FROM idempotency_keys").await, 1, "{db:?}: the newer one stays");
    assert_eq!(crate::common::scalar::<i64>(&url, "SELECT COUNT(*) FROM console_sessions").await, 0);
    app.stop().await;
}
}

//! Tiers, campaigns and the upkeep job, on both databases with a moving clock.

use crate::common::{spawn_app_at, Db, TestApp, T0};
use reqwest::Method;
use serde_json::{json, Value};
use tally_server::{jobs::run_upkeep, points::PointsService};

fn ladder(window: &str) -> Value {
    json!({"basis": "points_earned", "window": window, "tiers": [
        {"id": "silver", "name": "Silver", "threshold": 100, "multiplier_percent": 110, "benefits": "Free shipping"},
        {"id": "gold", "name": "Gold", "threshold": 300, "multiplier_percent": 150}
    ]})
}

async fn order(app: &TestApp, secret: &str, n: u32, subtotal: i64) -> i64 {
    let body = json!({"event_id": format!("e{n}"), "customer_id": "ana", "type": "order",
                      "order_id": format!("o{n}"), "currency": "USD", "subtotal": subtotal});
    let (status, result) = app.api_send(Method::POST, "/api/v1/events", secret, &body).await;
    assert_eq!(status, 201, "{result}");
    result["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "earn")
        .map(|e| e["points"].as_i64().unwrap())
        .sum()
}

async fn customer(app: &TestApp, secret: &str) -> Value {
    app.api_get("/api/v1/customers/ana", secret).await.1
}

each_db! {
#[tokio::test]
async fn customers_climb_tiers_that_multiply_their_purchase_points(db: Db) {
    let (app, _) = spawn_app_at(db).await;
    let (_, secret) = app.create_program("Shop").await;
    let (status, body) = app.api_send(Method::PUT, "/api/v1/tiers", &secret, &ladder("lifetime")).await;
    assert_eq!(status, 200, "{body}");

    assert_eq!(order(&app, &secret, 1, 10_000).await, 100, "{db:?}: no tier yet");
    assert_eq!(customer(&app, &secret).await["tiers"]["tier"]["id"], "silver");
    assert_eq!(order(&app, &secret, 2, 10_000).await, 110, "{db:?}: silver earns 1.1x");
    assert_eq!(order(&app, &secret, 3, 10_000).await, 110);
    let view = customer(&app, &secret).await;
    assert_eq!(
        (view["tiers"]["tier"]["id"].as_str(), view["tiers"]["qualifying"].as_i64()),
        (Some("gold"), Some(320))
    );
    assert_eq!(view["tiers"]["next_tier"], Value::Null);

    let (_, history) = app.api_get("/api/v1/customers/ana/tier-history", &secret).await;
    let moves: Vec<(Value, Value)> =
        history.as_array().unwrap().iter().map(|c| (c["from_tier"].clone(), c["to_tier"].clone())).collect();
    assert_eq!(moves, vec![(json!("silver"), json!("gold")), (Value::Null, json!("silver"))], "{db:?}");
    app.stop().await;
}
}

#[tokio::test]
async fn tier_ladders_and_minimum_tiers_are_validated() {
    let (app, _) = spawn_app_at(Db::Sqlite).await;
    let (_, secret) = app.create_program("Shop").await;
    let mut bad = ladder("lifetime");
    bad["tiers"][1]["threshold"] = json!(50);
    let (status, problem) = app.api_send(Method::PUT, "/api/v1/tiers", &secret, &bad).await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("tiers[1].threshold")), "{problem}");

    app.api_send(Method::PUT, "/api/v1/tiers", &secret, &ladder("lifetime")).await;
    let reward =
        json!({"name": "Gold gift", "reward": {"type": "free_shipping"}, "points": 10, "min_tier": "platinum"});
    let (status, problem) = app.api_send(Method::POST, "/api/v1/rewards", &secret, &reward).await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("min_tier")));

    let reward = json!({"name": "Gold gift", "reward": {"type": "free_shipping"}, "points": 10, "min_tier": "gold"});
    let (_, created) = app.api_send(Method::POST, "/api/v1/rewards", &secret, &reward).await;
    order(&app, &secret, 1, 15_000).await; // silver
    let redeem = json!({"redemption_id": "r1", "reward_id": created["id"]});
    let (status, problem) = app.api_send(Method::POST, "/api/v1/customers/ana/redemptions", &secret, &redeem).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("tier_required")));
    app.stop().await;
}

each_db! {
#[tokio::test]
async fn campaigns_multiply_points_while_they_run(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let (_, secret) = app.create_program("Shop").await;
    let campaigns = json!([{"id": "double", "name": "Double points weekend", "multiplier_percent": 200,
                            "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2026-01-03T00:00:00Z"}]);
    let (status, body) = app.api_send(Method::PUT, "/api/v1/campaigns", &secret, &campaigns).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(order(&app, &secret, 1, 5_000).await, 100, "{db:?}: double points");
    clock.set(T0.plus_days(3));
    assert_eq!(order(&app, &secret, 2, 5_000).await, 50, "{db:?}: the weekend is over");
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn upkeep_writes_expiry_entries_and_demotes_when_the_window_moves_on(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let (mut program, secret) = app.create_program("Shop").await;
    program.settings.expiry = tally_server::ledger::ExpiryPolicy::AfterEarning { days: 400 };
    program.settings.tiers = serde_json::from_value(ladder("rolling12_months")).unwrap();
    app.storage.upsert_program(&program).await.unwrap();
    order(&app, &secret, 1, 35_000).await;
    assert_eq!(customer(&app, &secret).await["tiers"]["tier"]["id"], "gold", "{db:?}");

    // A year on, the window holds nothing: the job demotes.
    let upkeep = PointsService::new(app.storage.clone(), clock.clone());
    clock.set(T0.plus_days(366));
    let report = run_upkeep(&upkeep).await.unwrap();
    assert_eq!((report.customers, report.entries_written), (1, 0));
    let view = customer(&app, &secret).await;
    assert_eq!((view["tiers"]["tier"].clone(), view["available"].as_i64()), (Value::Null, Some(350)), "{db:?}");

    // Past the expiry: reads already show it, the job writes the entry, once.
    clock.set(T0.plus_days(401));
    assert_eq!(customer(&app, &secret).await["available"], 0);
    let report = run_upkeep(&upkeep).await.unwrap();
    assert_eq!(report.entries_written, 1, "{db:?}");
    let report = run_upkeep(&upkeep).await.unwrap();
    assert_eq!(report.entries_written, 0, "{db:?}: idempotent");
    let (_, page) = app.api_get("/api/v1/customers/ana/entries", &secret).await;
    assert_eq!(
        (page["entries"][0]["kind"].as_str(), page["entries"][0]["points"].as_i64()),
        (Some("expire"), Some(-350))
    );
    let (_, history) = app.api_get("/api/v1/customers/ana/tier-history", &secret).await;
    assert_eq!(history[0]["to_tier"], Value::Null, "{db:?}: the demotion is in the history");
    app.stop().await;
}
}

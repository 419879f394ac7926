//! Rewards, redemptions and coupons through the merchant API on both databases.

use crate::common::{spawn_app, Db, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

/// A program whose customer `ana` holds `points`.
async fn shop_with_points(app: &TestApp, points: i64) -> String {
    let (_, secret) = app.create_program("Shop").await;
    app.api_send(Method::PUT, "/api/v1/customers/ana", &secret, &json!({})).await;
    let grant = json!({"adjustment_id": "grant", "points": points, "reason": "test balance"});
    let (status, _) = app.api_send(Method::POST, "/api/v1/customers/ana/adjustments", &secret, &grant).await;
    assert_eq!(status, 201);
    secret
}

async fn create_reward(app: &TestApp, secret: &str, body: Value) -> String {
    let (status, reward) = app.api_send(Method::POST, "/api/v1/rewards", secret, &body).await;
    assert_eq!(status, 201, "{reward}");
    reward["id"].as_str().unwrap().to_owned()
}

fn five_off() -> Value {
    json!({"name": "$5 off", "reward": {"type": "amount_off", "amount": 500}, "points": 100})
}

async fn redeem(app: &TestApp, secret: &str, id: &str, reward: &str) -> (u16, Value) {
    let body = json!({"redemption_id": id, "reward_id": reward});
    app.api_send(Method::POST, "/api/v1/customers/ana/redemptions", secret, &body).await
}

async fn available(app: &TestApp, secret: &str) -> i64 {
    app.api_get("/api/v1/customers/ana", secret).await.1["available"].as_i64().unwrap()
}

#[tokio::test]
async fn rewards_are_created_listed_replaced_and_deactivated() {
    let app = spawn_app(Db::Sqlite).await;
    let (_, secret) = app.create_program("Shop").await;
    let id = create_reward(&app, &secret, five_off()).await;
    let (_, list) = app.api_get("/api/v1/rewards", &secret).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["reward"], json!({"type": "amount_off", "amount": 500}));

    let mut changed = five_off();
    changed["points"] = json!(120);
    let (status, reward) = app.api_send(Method::PUT, &format!("/api/v1/rewards/{id}"), &secret, &changed).await;
    assert_eq!((status, reward["points"].as_i64()), (200, Some(120)));
    let (status, reward) = app.api_send(Method::DELETE, &format!("/api/v1/rewards/{id}"), &secret, &json!({})).await;
    assert_eq!((status, reward["active"].as_bool()), (200, Some(false)));

    let invalid = [
        (json!({"name": "x", "reward": {"type": "percent_off", "percent": 150}, "points": 10}), "reward.percent"),
        (json!({"name": "x", "reward": {"type": "free_shipping"}, "points": 0}), "points"),
        (json!({"name": "x", "reward": {"type": "free_shipping"}, "points": 5, "colour": "red"}), "colour"),
        (json!({"name": "x", "reward": {"type": "teleport"}, "points": 5}), "reward"),
    ];
    for (body, field) in invalid {
        let (status, problem) = app.api_send(Method::POST, "/api/v1/rewards", &secret, &body).await;
        assert_eq!(status, 422, "{body} -> {problem}");
        assert!(problem["field"].as_str().unwrap().starts_with(field), "{problem}");
    }
    app.stop().await;
}

each_db! {
#[tokio::test]
async fn a_redemption_issues_one_coupon_and_replays_return_it(db: Db) {
    let app = spawn_app(db).await;
    let secret = shop_with_points(&app, 150).await;
    let reward = create_reward(&app, &secret, five_off()).await;

    let (status, first) = redeem(&app, &secret, "red-1", &reward).await;
    assert_eq!(status, 201, "{db:?} {first}");
    let code = first["coupon"]["code"].as_str().unwrap().to_owned();
    assert!(code.starts_with("TALLY-"));
    assert_eq!(first["coupon"]["value"], json!({"type": "amount_off", "amount": 500}));
    assert_eq!((first["available"].as_i64(), first["entries"][0]["points"].as_i64()), (Some(50), Some(-100)));

    let (status, replay) = redeem(&app, &secret, "red-1", &reward).await;
    assert_eq!((status, &replay), (200, &first), "{db:?}: the same coupon, not a second one");
    let (status, problem) = redeem(&app, &secret, "red-2", &reward).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("insufficient_points")));
    assert_eq!(available(&app, &secret).await, 50);

    let (status, coupon) = app.api_get(&format!("/api/v1/coupons/{code}"), &secret).await;
    assert_eq!((status, coupon["usable"].as_bool(), coupon["status"].as_str()), (200, Some(true), Some("issued")));
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn a_coupon_is_consumed_once_and_an_unused_one_can_be_cancelled_for_its_points(db: Db) {
    let app = spawn_app(db).await;
    let secret = shop_with_points(&app, 300).await;
    let reward = create_reward(&app, &secret, five_off()).await;
    let (_, used) = redeem(&app, &secret, "red-1", &reward).await;
    let (_, unused) = redeem(&app, &secret, "red-2", &reward).await;
    let used = used["coupon"]["code"].as_str().unwrap().to_owned();
    let unused = unused["coupon"]["code"].as_str().unwrap().to_owned();
    assert_eq!(available(&app, &secret).await, 100);

    let consume = |code: &str| format!("/api/v1/coupons/{code}/consume");
    let (status, coupon) = app.api_send(Method::POST, &consume(&used), &secret, &json!({"order_id": "o1"})).await;
    assert_eq!((status, coupon["status"].as_str()), (200, Some("consumed")), "{db:?}");
    let (status, problem) = app.api_send(Method::POST, &consume(&used), &secret, &json!({"order_id": "o2"})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("coupon_already_consumed")), "{db:?}");
    let (status, problem) =
        app.api_send(Method::POST, &format!("/api/v1/coupons/{used}/cancel"), &secret, &json!({})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("coupon_not_issued")), "{db:?}");

    let cancel = format!("/api/v1/coupons/{unused}/cancel");
    let (status, body) = app.api_send(Method::POST, &cancel, &secret, &json!({})).await;
    assert_eq!((status, body["entries"][0]["points"].as_i64()), (201, Some(100)), "{db:?} {body}");
    let (status, again) = app.api_send(Method::POST, &cancel, &secret, &json!({})).await;
    assert_eq!((status, &again), (200, &body));
    assert_eq!(available(&app, &secret).await, 200, "{db:?}: the points came back once");
    let (status, problem) =
        app.api_send(Method::POST, &consume(&unused), &secret, &json!({"order_id": "o3"})).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("coupon_cancelled")));
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn stock_and_per_customer_limits_are_enforced(db: Db) {
    let app = spawn_app(db).await;
    let secret = shop_with_points(&app, 1_000).await;
    let mut scarce = five_off();
    scarce["stock"] = json!(1);
    let scarce = create_reward(&app, &secret, scarce).await;
    let mut once = five_off();
    once["per_customer_limit"] = json!(1);
    let once = create_reward(&app, &secret, once).await;

    assert_eq!(redeem(&app, &secret, "a", &scarce).await.0, 201);
    let (status, problem) = redeem(&app, &secret, "b", &scarce).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("reward_unavailable")), "{db:?}: stock 0");
    let (_, reward) = app.api_get(&format!("/api/v1/rewards/{scarce}"), &secret).await;
    assert_eq!(reward["stock"], 0);

    assert_eq!(redeem(&app, &secret, "c", &once).await.0, 201);
    let (status, problem) = redeem(&app, &secret, "d", &once).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("reward_limit_reached")), "{db:?}");
    assert_eq!(available(&app, &secret).await, 800, "{db:?}: refusals took nothing");
    app.stop().await;
}
}

#[tokio::test]
async fn points_to_currency_redeems_a_chosen_amount_in_steps() {
    let app = spawn_app(Db::Sqlite).await;
    let secret = shop_with_points(&app, 1_000).await;
    let reward = create_reward(
        &app,
        &secret,
        json!({"name": "Points to cash", "reward": {"type": "points_to_currency", "points_per_unit": 100,
               "unit_value": 100, "min_points": 200, "max_points": 1000, "step": 100}}),
    )
    .await;
    let url = "/api/v1/customers/ana/redemptions";
    let (status, body) = app
        .api_send(Method::POST, url, &secret, &json!({"redemption_id": "r1", "reward_id": reward, "points": 700}))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["coupon"]["value"], json!({"type": "amount_off", "amount": 700}));
    let (status, problem) = app
        .api_send(Method::POST, url, &secret, &json!({"redemption_id": "r2", "reward_id": reward, "points": 250}))
        .await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("points")));
    app.stop().await;
}

each_db! {
/// 64 concurrent redemptions of a 10-point reward with 100 points: exactly 10 coupons.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_redemptions_never_overspend(db: Db) {
    let app = spawn_app(db).await;
    let secret = shop_with_points(&app, 100).await;
    let reward = create_reward(
        &app,
        &secret,
        json!({"name": "Sticker", "reward": {"type": "free_product", "product_id": "sticker"}, "points": 10}),
    )
    .await;
    let handles: Vec<_> = (0..64)
        .map(|n| {
            let request = app
                .api(Method::POST, "/api/v1/customers/ana/redemptions", &secret)
                .json(&json!({"redemption_id": format!("r{n}"), "reward_id": reward}));
            tokio::spawn(async move {
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap();
                (status, body["coupon"]["code"].as_str().map(str::to_owned))
            })
        })
        .collect();
    let mut codes = Vec::new();
    let mut refused = 0;
    for handle in handles {
        match handle.await.unwrap() {
            (201, Some(code)) => codes.push(code),
            (422, None) => refused += 1,
            other => panic!("{db:?}: unexpected {other:?}"),
        }
    }
    codes.sort();
    codes.dedup();
    assert_eq!((codes.len(), refused), (10, 54), "{db:?}");
    assert_eq!(available(&app, &secret).await, 0, "{db:?}");
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn cancelling_an_order_gives_back_the_points_of_the_coupon_it_used(db: Db) {
    let app = spawn_app(db).await;
    let secret = shop_with_points(&app, 100).await;
    let reward = create_reward(&app, &secret, five_off()).await;
    let (_, redeemed) = redeem(&app, &secret, "red-1", &reward).await;
    let code = redeemed["coupon"]["code"].as_str().unwrap().to_owned();
    let order = json!({"event_id": "e1", "customer_id": "ana", "type": "order", "order_id": "o1",
                       "currency": "USD", "subtotal": 2_000, "discount": 500});
    assert_eq!(app.api_send(Method::POST, "/api/v1/events", &secret, &order).await.0, 201);
    let consume_url = format!("/api/v1/coupons/{code}/consume");
    assert_eq!(app.api_send(Method::POST, &consume_url, &secret, &json!({"order_id": "o1"})).await.0, 200);
    assert_eq!(available(&app, &secret).await, 15, "{db:?}: 0 left after the coupon, 15 earned");

    let (status, body) = app.api_send(Method::POST, "/api/v1/orders/o1/cancel", &secret, &json!({})).await;
    assert_eq!((status, body["restored_coupons"].clone()), (201, json!([code])), "{db:?} {body}");
    assert_eq!(available(&app, &secret).await, 100, "{db:?}: order points gone, coupon points back");
    let (_, coupon) = app.api_get(&format!("/api/v1/coupons/{code}"), &secret).await;
    assert_eq!(coupon["status"], "cancelled");

    let (status, again) = app.api_send(Method::POST, "/api/v1/orders/o1/cancel", &secret, &json!({})).await;
    assert_eq!((status, again["restored_coupons"].clone()), (200, json!([code])));
    assert_eq!(available(&app, &secret).await, 100, "{db:?}: restored once");
    app.stop().await;
}
}

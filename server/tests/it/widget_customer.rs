//! The widget API for signed-in shoppers: customer tokens (HS256, pinned, expiring), the
//! shopper's standing, history and redemptions, and the guest summary. Both databases.

use crate::common::{spawn_app_at, Db, TestApp, T0};
use reqwest::Method;
use serde_json::{json, Value};
use tally_server::customer_token::sign;

const ORIGIN: &str = "https://shop.example";
const NOW_S: i64 = T0.0 / 1_000;

struct Shop {
    secret: String,
    widget_secret: String,
    key: String,
}

async fn shop(app: &TestApp) -> Shop {
    let (mut program, secret) = app.create_program("Coffee Club").await;
    program.allowed_origins = vec![ORIGIN.to_owned()];
    program.settings = serde_json::from_value(json!({
        "actions": [{"action": "review", "points": 50}, {"action": "referral", "points": 500, "referred_points": 100}],
        "tiers": {"tiers": [{"id": "gold", "name": "Gold", "threshold": 200, "multiplier_percent": 150, "benefits": "Free shipping"}]}
    }))
    .unwrap();
    app.storage.upsert_program(&program).await.unwrap();
    Shop { secret, widget_secret: program.widget_secret, key: program.publishable_key }
}

fn token(shop: &Shop, sub: &str) -> String {
    sign(&json!({"sub": sub, "exp": NOW_S + 3_600}), &shop.widget_secret)
}

async fn widget(
    app: &TestApp,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (u16, Value, Option<String>) {
    let mut request = app.client.request(method, app.url(path)).header("Origin", ORIGIN);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let cors = response.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = crate::common::into_parts(response).await;
    (status, body, cors)
}

each_db! {
#[tokio::test]
async fn guests_see_ways_to_earn_rewards_and_tiers(db: Db) {
    let (app, _) = spawn_app_at(db).await;
    let shop = shop(&app).await;
    let reward = json!({"name": "$5 off", "reward": {"type": "amount_off", "amount": 500}, "points": 100});
    app.api_send(Method::POST, "/api/v1/rewards", &shop.secret, &reward).await;
    let hidden = json!({"name": "Old", "reward": {"type": "free_shipping"}, "points": 10, "active": false});
    app.api_send(Method::POST, "/api/v1/rewards", &shop.secret, &hidden).await;

    let (status, summary, cors) =
        widget(&app, Method::GET, &format!("/widget/v1/programs/{}", shop.key), None, None).await;
    assert_eq!((status, cors.as_deref()), (200, Some(ORIGIN)), "{db:?}");
    let actions: Vec<&str> =
        summary["ways_to_earn"].as_array().unwrap().iter().map(|w| w["action"].as_str().unwrap()).collect();
    assert_eq!(actions, vec!["purchase", "review", "referral"]);
    assert_eq!(summary["ways_to_earn"][2]["referred_points"], 100);
    let rewards: Vec<&str> =
        summary["rewards"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(rewards, vec!["$5 off"], "{db:?}: inactive rewards are not offered");
    assert_eq!(summary["tiers"][0]["benefits"], "Free shipping");
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn a_signed_in_shopper_sees_what_the_merchant_api_reports_and_can_redeem(db: Db) {
    let (app, _) = spawn_app_at(db).await;
    let shop = shop(&app).await;
    let order = json!({"event_id": "e1", "customer_id": "ana", "type": "order", "order_id": "o1",
                       "currency": "USD", "subtotal": 25_000});
    assert_eq!(app.api_send(Method::POST, "/api/v1/events", &shop.secret, &order).await.0, 201);
    let (_, reward) = app
        .api_send(
            Method::POST,
            "/api/v1/rewards",
            &shop.secret,
            &json!({"name": "$5 off", "reward": {"type": "amount_off", "amount": 500}, "points": 100}),
        )
        .await;
    let me = format!("/widget/v1/programs/{}/me", shop.key);
    let ana = token(&shop, "ana");

    let (status, summary, _) = widget(&app, Method::GET, &me, Some(&ana), None).await;
    assert_eq!(status, 200, "{db:?} {summary}");
    let (_, merchant_view) = app.api_get("/api/v1/customers/ana", &shop.secret).await;
    assert_eq!(summary["available"], merchant_view["available"], "{db:?}: the same balance as the API");
    assert_eq!((summary["available"].as_i64(), summary["tier"]["id"].as_str()), (Some(250), Some("gold")));

    let redeem = json!({"redemption_id": "w-1", "reward_id": reward["id"]});
    let (status, redeemed, cors) =
        widget(&app, Method::POST, &format!("{me}/redemptions"), Some(&ana), Some(redeem.clone())).await;
    assert_eq!((status, cors.as_deref()), (201, Some(ORIGIN)), "{db:?} {redeemed}");
    let code = redeemed["coupon"]["code"].as_str().unwrap().to_owned();
    let (status, again, _) =
        widget(&app, Method::POST, &format!("{me}/redemptions"), Some(&ana), Some(redeem)).await;
    assert_eq!((status, again["coupon"]["code"].as_str()), (200, Some(code.as_str())), "a retried click");

    let (_, summary, _) = widget(&app, Method::GET, &me, Some(&ana), None).await;
    assert_eq!(summary["available"], 150);
    assert_eq!(
        (summary["coupons"][0]["code"].as_str(), summary["coupons"][0]["usable"].as_bool()),
        (Some(code.as_str()), Some(true))
    );
    let (status, history, _) = widget(&app, Method::GET, &format!("{me}/history"), Some(&ana), None).await;
    assert_eq!(status, 200);
    let kinds: Vec<&str> =
        history["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["redeem", "earn"], "{db:?}");

    let (status, bo, _) = widget(&app, Method::GET, &me, Some(&token(&shop, "bo")), None).await;
    assert_eq!(
        (status, bo["available"].as_i64(), bo["to_next_tier"].as_i64()),
        (200, Some(0), Some(200)),
        "an unknown shopper has nothing yet"
    );
    app.stop().await;
}
}

#[tokio::test]
async fn forged_expired_or_missing_tokens_get_a_401_that_says_why() {
    let (app, _) = spawn_app_at(Db::Sqlite).await;
    let shop = shop(&app).await;
    let me = format!("/widget/v1/programs/{}/me", shop.key);
    let cases = [
        (None, "Authorization"),
        (Some(sign(&json!({"sub": "ana", "exp": NOW_S + 600}), "not the secret")), "signature"),
        (Some(sign(&json!({"sub": "ana", "exp": NOW_S - 3_600}), &shop.widget_secret)), "expired"),
        (Some(sign(&json!({"sub": "ana"}), &shop.widget_secret)), "exp"),
    ];
    for (bearer, reason) in cases {
        let (status, problem, cors) = widget(&app, Method::GET, &me, bearer.as_deref(), None).await;
        assert_eq!((status, problem["code"].as_str()), (401, Some("invalid_customer_token")), "{reason}");
        assert!(problem["detail"].as_str().unwrap().contains(reason), "{problem}");
        assert_eq!(cors.as_deref(), Some(ORIGIN), "the storefront can read the reason");
    }
    let preflight = app
        .client
        .request(Method::OPTIONS, app.url(&me))
        .header("Origin", ORIGIN)
        .header("Access-Control-Request-Headers", "authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert!(preflight.headers()["access-control-allow-headers"].to_str().unwrap().contains("authorization"));
    app.stop().await;
}

#[tokio::test]
async fn the_widget_api_is_rate_limited_per_shopper_with_retry_after() {
    let (app, _) = spawn_app_at(Db::Sqlite).await;
    let shop = shop(&app).await;
    let me = format!("/widget/v1/programs/{}/me", shop.key);
    let ana = token(&shop, "ana");
    let limit = tally_server::http::WIDGET_CALLS_PER_SHOPPER_PER_MINUTE;
    for _ in 0..limit {
        assert_eq!(widget(&app, Method::GET, &me, Some(&ana), None).await.0, 200);
    }
    let response = app.client.get(app.url(&me)).header("Origin", ORIGIN).bearer_auth(&ana).send().await.unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    let (_, problem) = crate::common::into_parts(response).await;
    assert_eq!(problem["code"], "rate_limited");
    // Another shopper on the same IP is not held back by ana's limit (the clock does not move).
    assert_eq!(widget(&app, Method::GET, &me, Some(&token(&shop, "bo")), None).await.0, 200);
    app.stop().await;
}

//! Program settings through the API, and the action rules they configure: points per action,
//! caps per calendar period, signup once, birthday once a year.

use crate::common::{spawn_app_at, Db, TestApp, T0};
use reqwest::Method;
use serde_json::{json, Value};

fn settings(actions: Value) -> Value {
    json!({
        "name": "Coffee Club", "points_name": "beans", "allowed_origins": ["https://shop.example"],
        "settings": {"pending_days": 0, "purchase": {"points": 1, "per_amount": 100}, "actions": actions}
    })
}

async fn configure(app: &TestApp, secret: &str, body: &Value) -> (u16, Value) {
    app.api_send(Method::PUT, "/api/v1/settings", secret, body).await
}

async fn event(app: &TestApp, secret: &str, id: &str, kind: &str) -> (u16, Value) {
    let body = json!({"event_id": id, "customer_id": "ana", "type": kind});
    app.api_send(Method::POST, "/api/v1/events", secret, &body).await
}

#[tokio::test]
async fn settings_are_read_replaced_and_validated() {
    let (app, _) = spawn_app_at(Db::Sqlite).await;
    let (program, secret) = app.create_program("Shop").await;
    let (status, view) = app.api_get("/api/v1/settings", &secret).await;
    assert_eq!((status, view["program_id"].as_str()), (200, Some(program.id.as_str())));
    assert_eq!(view["settings"]["purchase"]["per_amount"], 100);

    let (status, view) = configure(&app, &secret, &settings(json!([{"action": "review", "points": 50}]))).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!((view["name"].as_str(), view["points_name"].as_str()), (Some("Coffee Club"), Some("beans")));
    let (_, widget) = crate::common::into_parts(
        app.client
            .get(app.url(&format!("/widget/v1/programs/{}", program.publishable_key)))
            .header("Origin", "https://shop.example")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(widget["points_name"], "beans", "the widget sees the new settings");

    let cases = [
        (settings(json!([{"action": "dance", "points": 5}])), "settings.actions[0]"),
        (
            settings(json!([{"action": "review", "points": 5}, {"action": "review", "points": 6}])),
            "settings.actions[1].action",
        ),
        (
            settings(json!([{"action": "birthday", "points": 5, "cap": {"count": 2, "per": "year"}}])),
            "settings.actions[0]",
        ),
        (
            settings(json!([{"action": "review", "points": 5, "cap": {"count": 1, "per": "fortnight"}}])),
            "settings.actions[0].cap.per",
        ),
        (
            json!({"name": "x", "points_name": "p", "allowed_origins": ["shop.example"], "settings": {}}),
            "allowed_origins[0]",
        ),
        (json!({"name": "x", "points_name": "p", "settings": {"pending_days": 9999}}), "settings.pending_days"),
        (json!({"name": "x", "points_name": "p", "settings": {"colour": "red"}}), "settings.colour"),
    ];
    for (body, field) in cases {
        let (status, problem) = configure(&app, &secret, &body).await;
        assert_eq!((status, problem["field"].as_str()), (422, Some(field)), "{body} -> {problem}");
    }
    app.stop().await;
}

each_db! {
#[tokio::test]
async fn widget_branding_and_guest_links_reach_the_widget_on_both_databases(db: Db) {
    let (app, _) = spawn_app_at(db).await;
    let (program, secret) = app.create_program("Shop").await;
    let summary_path = format!("/widget/v1/programs/{}", program.publishable_key);
    let (_, summary) = crate::common::into_parts(app.get(&summary_path).await).await;
    assert_eq!(summary["branding"]["launcher_position"], "bottom-right", "{db:?}: defaults");
    assert!(summary["branding"]["primary_color"].is_null() && summary["branding"]["join_url"].is_null());

    let widget = json!({
        "primary_color": "#facc15", "launcher_position": "bottom_left", "launcher_label": "Club",
        "join_url": "https://shop.example/join", "sign_in_url": "https://shop.example/login"
    });
    let body = json!({"name": "Shop", "points_name": "points", "settings": {"widget": widget}});
    let (status, view) = configure(&app, &secret, &body).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["settings"]["widget"], widget, "{db:?}: stored as sent");
    let (_, summary) = crate::common::into_parts(app.get(&summary_path).await).await;
    assert_eq!(
        summary["branding"],
        json!({
            "primary_color": "#facc15", "on_primary_color": "#111827", "launcher_position": "bottom-left",
            "launcher_label": "Club", "join_url": "https://shop.example/join",
            "sign_in_url": "https://shop.example/login"
        }),
        "{db:?}: dark text on a light colour"
    );

    for (widget, field) in [
        (json!({"primary_color": "teal"}), "settings.widget.primary_color"),
        (json!({"join_url": "javascript:alert(1)"}), "settings.widget.join_url"),
        (json!({"launcher_position": "top_left"}), "settings.widget.launcher_position"),
    ] {
        let body = json!({"name": "Shop", "points_name": "points", "settings": {"widget": widget}});
        let (status, problem) = configure(&app, &secret, &body).await;
        assert_eq!((status, problem["field"].as_str()), (422, Some(field)), "{db:?}: {widget} -> {problem}");
    }
    let (_, view) = app.api_get("/api/v1/settings", &secret).await;
    assert_eq!(view["settings"]["widget"]["primary_color"], "#facc15", "{db:?}: rejected writes change nothing");
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn actions_earn_their_points_within_their_caps(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let (_, secret) = app.create_program("Shop").await;
    let actions = json!([
        {"action": "review", "points": 50, "cap": {"count": 2, "per": "day"}},
        {"action": "signup", "points": 100},
        {"action": "birthday", "points": 200},
        {"action": "custom:quiz", "points": 10}
    ]);
    assert_eq!(configure(&app, &secret, &settings(actions)).await.0, 200);

    assert_eq!(event(&app, &secret, "r1", "review").await.0, 201, "{db:?}");
    assert_eq!(event(&app, &secret, "r2", "review").await.0, 201);
    let (status, problem) = event(&app, &secret, "r3", "review").await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("cap_reached")), "{db:?}");
    clock.set(T0.plus_days(1));
    assert_eq!(event(&app, &secret, "r3", "review").await.0, 201, "{db:?}: a new day, a new allowance");

    assert_eq!(event(&app, &secret, "s1", "signup").await.0, 201);
    assert_eq!(event(&app, &secret, "s2", "signup").await.0, 422, "{db:?}: signup earns once");
    assert_eq!(event(&app, &secret, "b1", "birthday").await.0, 201);
    assert_eq!(event(&app, &secret, "b2", "birthday").await.0, 422);
    clock.set(T0.plus_days(366));
    assert_eq!(event(&app, &secret, "b3", "birthday").await.0, 201, "{db:?}: next year's birthday");
    assert_eq!(event(&app, &secret, "q1", "custom:quiz").await.0, 201);
    let (status, problem) = event(&app, &secret, "x1", "newsletter").await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("type")), "no rule configured");

    let (_, customer) = app.api_get("/api/v1/customers/ana", &secret).await;
    assert_eq!(customer["available"], 50 * 3 + 100 + 200 * 2 + 10, "{db:?}");
    let (_, page) = app.api_get("/api/v1/customers/ana/entries?limit=1", &secret).await;
    assert_eq!(page["entries"][0]["source"], "custom:quiz");
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn refunds_use_the_terms_the_order_earned_under(db: Db) {
    let (app, _) = spawn_app_at(db).await;
    let (_, secret) = app.create_program("Shop").await;
    let order = json!({"event_id": "e1", "customer_id": "ana", "type": "order", "order_id": "o1",
                       "currency": "USD", "subtotal": 5_000});
    let (status, body) = app.api_send(Method::POST, "/api/v1/events", &secret, &order).await;
    assert_eq!((status, body["entries"][0]["points"].as_i64()), (201, Some(50)));

    let mut generous = settings(json!([]));
    generous["settings"]["purchase"]["points"] = json!(10);
    assert_eq!(configure(&app, &secret, &generous).await.0, 200);
    let refund = json!({"refund_id": "r1", "amount": 5_000});
    let (status, body) = app.api_send(Method::POST, "/api/v1/orders/o1/refunds", &secret, &refund).await;
    assert_eq!((status, body["entries"][0]["points"].as_i64()), (201, Some(-50)), "{db:?}");
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn a_referral_pays_both_customers_on_the_first_order_once(db: Db) {
    let (app, _) = spawn_app_at(db).await;
    let (_, secret) = app.create_program("Shop").await;
    let actions = json!([{"action": "referral", "points": 500, "referred_points": 250}]);
    assert_eq!(configure(&app, &secret, &settings(actions)).await.0, 200);
    app.api_send(Method::PUT, "/api/v1/customers/ana", &secret, &json!({})).await;

    let referral = |id: &str, referrer: &str| json!({"event_id": id, "customer_id": "bo", "type": "referral", "referrer_id": referrer});
    let (status, body) = app.api_send(Method::POST, "/api/v1/events", &secret, &referral("ref-1", "ana")).await;
    assert_eq!((status, body["referral"]["referrer_id"].as_str()), (201, Some("ana")), "{db:?} {body}");
    assert_eq!(app.api_send(Method::POST, "/api/v1/events", &secret, &referral("ref-1", "ana")).await.0, 200);
    let (status, problem) = app.api_send(Method::POST, "/api/v1/events", &secret, &referral("ref-2", "cy")).await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("referrer_id")), "cy is unknown");
    app.api_send(Method::PUT, "/api/v1/customers/cy", &secret, &json!({})).await;
    let (status, problem) = app.api_send(Method::POST, "/api/v1/events", &secret, &referral("ref-2", "cy")).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("already_referred")), "{db:?}");

    let order = |n: u32| {
        json!({"event_id": format!("o{n}"), "customer_id": "bo", "type": "order",
                               "order_id": format!("o{n}"), "currency": "USD", "subtotal": 1_000})
    };
    assert_eq!(app.api_send(Method::POST, "/api/v1/events", &secret, &order(1)).await.0, 201);
    assert_eq!(app.api_send(Method::POST, "/api/v1/events", &secret, &order(1)).await.0, 200, "a replay");
    assert_eq!(app.api_send(Method::POST, "/api/v1/events", &secret, &order(2)).await.0, 201);
    let balance = |who: &'static str| {
        let app = &app;
        let secret = secret.clone();
        async move { app.api_get(&format!("/api/v1/customers/{who}"), &secret).await.1["available"].as_i64() }
    };
    assert_eq!(balance("ana").await, Some(500), "{db:?}: the referrer, once");
    assert_eq!(balance("bo").await, Some(250 + 10 + 10), "{db:?}: the referred, once, plus the orders");

    let late = json!({"event_id": "ref-3", "customer_id": "bo", "type": "referral", "referrer_id": "cy"});
    let (status, problem) = app.api_send(Method::POST, "/api/v1/events", &secret, &late).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("already_ordered")));
    app.stop().await;
}
}

each_db! {
/// Two admins saving different parts at once keep both changes, and a settings save racing a
/// key rotation never brings the old widget secret back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_saves_of_different_parts_and_key_rotations_keep_every_change(db: Db) {
    let (app, _) = spawn_app_at(db).await;
    let (program, mut secret) = app.create_program("Shop").await;
    for round in 0..20 {
        let tiers = json!({"tiers": [{"id": format!("t{round}"), "name": "Tier", "threshold": 100}]});
        let campaigns = json!([{"id": format!("c{round}"), "name": "Double", "multiplier_percent": 200,
            "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2026-02-01T00:00:00Z"}]);
        let (a, b) = tokio::join!(
            app.api_send(Method::PUT, "/api/v1/tiers", &secret, &tiers),
            app.api_send(Method::PUT, "/api/v1/campaigns", &secret, &campaigns)
        );
        assert_eq!((a.0, b.0), (200, 200), "{db:?} {a:?} {b:?}");
        let (_, settings) = app.api_get("/api/v1/settings", &secret).await;
        assert_eq!(settings["settings"]["tiers"]["tiers"][0]["id"], format!("t{round}"), "{db:?} round {round}");
        assert_eq!(settings["settings"]["campaigns"][0]["id"], format!("c{round}"), "{db:?} round {round}");

        let (new_secret, key) = tally_server::programs::ApiKeyRecord::generate();
        let widget_secret = format!("whsec_round_{round}");
        let body = json!({"name": format!("Shop {round}"), "points_name": "points", "allowed_origins": [], "settings": settings["settings"]});
        let (_, rotated) = tokio::join!(
            app.api_send(Method::PUT, "/api/v1/settings", &secret, &body),
            app.storage.rotate_keys(&program.id, &key, &widget_secret, T0)
        );
        assert!(rotated.unwrap());
        secret = new_secret;
        let stored = app.storage.program_by_id(&program.id).await.unwrap().unwrap();
        assert_eq!(stored.widget_secret, widget_secret, "{db:?} round {round}: the rotation stands");
        assert_eq!(stored.publishable_key, program.publishable_key);
    }
    app.stop().await;
}
}

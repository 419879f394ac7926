//! The merchant API's customers and adjustments, over a real listener on both databases:
//! authentication, isolation between programs, strict validation, idempotent writes, and no
//! overspending under concurrency.

use crate::common::{spawn_app, spawn_app_at, Db, T0};
use reqwest::Method;
use serde_json::json;

each_db! {
#[tokio::test]
async fn a_missing_wrong_or_revoked_key_is_401(db: Db) {
    let app = spawn_app(db).await;
    let (program, secret) = app.create_program("Shop").await;

    let (status, body) = crate::common::into_parts(app.get("/api/v1/customers/c1").await).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")), "{db:?}");
    let (status, _) = app.api_get("/api/v1/customers/c1", "sk_not_a_real_key").await;
    assert_eq!(status, 401);
    let (status, _) = app.api_get("/api/v1/customers/c1", &secret).await;
    assert_eq!(status, 404, "{db:?}: a valid key gets past authentication");

    let (_, new_key) = tally_server::programs::ApiKeyRecord::generate();
    assert!(app.storage.rotate_keys(&program.id, &new_key, "whsec_new", T0).await.unwrap());
    let (status, _) = app.api_get("/api/v1/customers/c1", &secret).await;
    assert_eq!(status, 401, "{db:?}: a rotated key stops working");
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn programs_never_see_each_others_customers(db: Db) {
    let app = spawn_app(db).await;
    let (_, shop_a) = app.create_program("Shop A").await;
    let (_, shop_b) = app.create_program("Shop B").await;
    let (status, _) = app.api_send(Method::PUT, "/api/v1/customers/ana", &shop_a, &json!({"name": "Ana"})).await;
    assert_eq!(status, 200);

    let (status, body) = app.api_get("/api/v1/customers/ana", &shop_b).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")), "{db:?}");
    let adjust = json!({"adjustment_id": "a1", "points": 5, "reason": "x"});
    let (status, _) = app.api_send(Method::POST, "/api/v1/customers/ana/adjustments", &shop_b, &adjust).await;
    assert_eq!(status, 404, "{db:?}: no write reaches another program's customer");
    let (status, body) = app.api_get("/api/v1/customers/ana", &shop_a).await;
    assert_eq!((status, body["available"].as_i64()), (200, Some(0)));
    app.stop().await;
}
}

#[tokio::test]
async fn customer_profiles_are_stored_and_validated_field_by_field() {
    let app = spawn_app(Db::Sqlite).await;
    let (_, secret) = app.create_program("Shop").await;
    let profile = json!({"email": "ana@example.com", "name": "Ana", "birthday": "1990-05-17", "tags": ["vip"]});
    let (status, body) = app.api_send(Method::PUT, "/api/v1/customers/ana", &secret, &profile).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["email"], "ana@example.com");
    assert_eq!(body["tags"], json!(["vip"]));
    assert_eq!((body["available"].as_i64(), body["pending"].as_i64()), (Some(0), Some(0)));

    let cases = [
        (json!({"email": "not-an-email"}), "email"),
        (json!({"birthday": "1990-02-30"}), "birthday"),
        (json!({"nickname": "x"}), "nickname"),
        (json!({"tags": "vip"}), "tags"),
        (json!({"name": 5}), "name"),
    ];
    for (body, field) in cases {
        let (status, problem) = app.api_send(Method::PUT, "/api/v1/customers/ana", &secret, &body).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(problem["field"], field, "{problem}");
        assert_eq!(problem["type"], "/problems/invalid_request");
    }
    let adjust_without_id = json!({"points": 5, "reason": "x"});
    let (status, problem) =
        app.api_send(Method::POST, "/api/v1/customers/ana/adjustments", &secret, &adjust_without_id).await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("adjustment_id")), "{problem}");
    let too_long_id = "x".repeat(129);
    let (status, problem) = app.api_get(&format!("/api/v1/customers/{too_long_id}"), &secret).await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("customer_id")));
    app.stop().await;
}

#[tokio::test]
async fn bodies_that_are_not_json_malformed_or_too_large_get_clear_4xx() {
    let app = spawn_app(Db::Sqlite).await;
    let (_, secret) = app.create_program("Shop").await;
    let url = "/api/v1/customers/ana";

    let plain = app.api(Method::PUT, url, &secret).body("{}").send().await.unwrap();
    assert_eq!(crate::common::into_parts(plain).await.0, 415);
    let malformed = app.api(Method::PUT, url, &secret).header("content-type", "application/json").body("{").send();
    let (status, problem) = crate::common::into_parts(malformed.await.unwrap()).await;
    assert_eq!((status, problem["code"].as_str()), (400, Some("malformed_json")));
    let huge = json!({"name": "x".repeat(70 * 1024)});
    let (status, problem) = app.api_send(Method::PUT, url, &secret, &huge).await;
    assert_eq!((status, problem["code"].as_str()), (413, Some("body_too_large")));
    app.stop().await;
}

each_db! {
#[tokio::test]
async fn adjustments_are_idempotent_by_adjustment_id(db: Db) {
    let app = spawn_app(db).await;
    let (_, secret) = app.create_program("Shop").await;
    app.api_send(Method::PUT, "/api/v1/customers/ana", &secret, &json!({})).await;
    let url = "/api/v1/customers/ana/adjustments";
    let grant = json!({"adjustment_id": "welcome-1", "points": 100, "reason": "welcome gift"});

    let (status, first) = app.api_send(Method::POST, url, &secret, &grant).await;
    assert_eq!(status, 201, "{db:?} {first}");
    assert_eq!((first["available"].as_i64(), first["entries"][0]["kind"].as_str()), (Some(100), Some("adjust")));

    let (status, replay) = app.api_send(Method::POST, url, &secret, &grant).await;
    assert_eq!(status, 200, "{db:?}: a replay answers with the original result");
    assert_eq!(replay, first);

    let changed = json!({"adjustment_id": "welcome-1", "points": 500, "reason": "welcome gift"});
    let (status, problem) = app.api_send(Method::POST, url, &secret, &changed).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("idempotency_conflict")), "{db:?}");

    let (_, customer) = app.api_get("/api/v1/customers/ana", &secret).await;
    assert_eq!(customer["available"], 100, "{db:?}: applied exactly once");

    let take = json!({"adjustment_id": "fix-1", "points": -101, "reason": "correction"});
    let (status, problem) = app.api_send(Method::POST, url, &secret, &take).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("insufficient_points")), "{db:?}");
    let missing_reason = json!({"adjustment_id": "fix-2", "points": -1, "reason": " "});
    let (status, problem) = app.api_send(Method::POST, url, &secret, &missing_reason).await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("reason")));
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn entries_are_listed_newest_first_in_pages(db: Db) {
    let app = spawn_app(db).await;
    let (_, secret) = app.create_program("Shop").await;
    app.api_send(Method::PUT, "/api/v1/customers/ana", &secret, &json!({})).await;
    for n in 1..=5 {
        let body = json!({"adjustment_id": format!("a{n}"), "points": n, "reason": "test"});
        let (status, _) = app.api_send(Method::POST, "/api/v1/customers/ana/adjustments", &secret, &body).await;
        assert_eq!(status, 201);
    }
    let (status, page) = app.api_get("/api/v1/customers/ana/entries?limit=2", &secret).await;
    assert_eq!(status, 200);
    let points: Vec<i64> =
        page["entries"].as_array().unwrap().iter().map(|e| e["points"].as_i64().unwrap()).collect();
    assert_eq!(points, vec![5, 4], "{db:?}");
    assert_eq!(page["entries"][0]["balance_after"], 15);
    assert_eq!(page["entries"][0]["status"], "available");
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, page) = app.api_get(&format!("/api/v1/customers/ana/entries?limit=2&cursor={cursor}"), &secret).await;
    let (_, last) = app.api_get("/api/v1/customers/ana/entries?limit=5&cursor=2", &secret).await;
    assert_eq!(page["entries"][1]["points"], 2);
    assert_eq!(last["entries"].as_array().unwrap().len(), 1);
    let (status, problem) = app.api_get("/api/v1/customers/ana/entries?limit=0", &secret).await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("limit")));
    app.stop().await;
}
}

each_db! {
/// 64 concurrent requests each take 10 of 100 points: exactly 10 succeed, on either database.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_spends_never_overspend(db: Db) {
    let app = spawn_app(db).await;
    let (_, secret) = app.create_program("Shop").await;
    app.api_send(Method::PUT, "/api/v1/customers/ana", &secret, &json!({})).await;
    let grant = json!({"adjustment_id": "grant", "points": 100, "reason": "stock"});
    app.api_send(Method::POST, "/api/v1/customers/ana/adjustments", &secret, &grant).await;

    let requests = (0..64).map(|n| {
        let request = app
            .api(Method::POST, "/api/v1/customers/ana/adjustments", &secret)
            .json(&json!({"adjustment_id": format!("spend-{n}"), "points": -10, "reason": "spend"}));
        async move { request.send().await.unwrap().status().as_u16() }
    });
    let statuses = futures_join_all(requests).await;
    let applied = statuses.iter().filter(|&&status| status == 201).count();
    let refused = statuses.iter().filter(|&&status| status == 422).count();
    assert_eq!((applied, refused), (10, 54), "{db:?}: {statuses:?}");

    let (_, customer) = app.api_get("/api/v1/customers/ana", &secret).await;
    assert_eq!(customer["available"], 0, "{db:?}");
    let (_, page) = app.api_get("/api/v1/customers/ana/entries?limit=200", &secret).await;
    let sum: i64 = page["entries"].as_array().unwrap().iter().map(|e| e["points"].as_i64().unwrap()).sum();
    assert_eq!(sum, 0, "{db:?}: I1, the entries add up to the balance");
    app.stop().await;
}
}

/// Runs the futures concurrently on the runtime, keeping their order.
async fn futures_join_all<F: std::future::Future<Output = u16> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<u16> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        results.push(handle.await.unwrap());
    }
    results
}

each_db! {
#[tokio::test]
async fn balances_are_read_as_of_now_with_an_injected_clock(db: Db) {
    use tally_server::{
        customers::CustomerId,
        ledger::Operation,
        storage::{ClientId, LedgerWrite},
    };
    let (app, clock) = spawn_app_at(db).await;
    let (program, secret) = app.create_program("Shop").await;
    let operation =
        Operation::EarnOrder { order_id: "o1".into(), points: 80, amount: 8_000, available_at: T0.plus_days(14) };
    let client = ClientId { kind: "event", id: "order-1".into(), request_hash: "h".into() };
    let mut earn =
        LedgerWrite::new(&program, CustomerId::parse("ana").unwrap(), Some(client), operation, "purchase", T0);
    earn.rule_snapshot = Some(json!({"rate": 1}));
    app.storage.write_ledger(&earn).await.unwrap();

    let (_, customer) = app.api_get("/api/v1/customers/ana", &secret).await;
    assert_eq!((customer["available"].as_i64(), customer["pending"].as_i64()), (Some(0), Some(80)), "{db:?}");
    let (_, page) = app.api_get("/api/v1/customers/ana/entries", &secret).await;
    assert_eq!(page["entries"][0]["status"], "pending");
    assert_eq!(page["entries"][0]["rule_snapshot"], json!({"rate": 1}));

    // No job has run: the read alone sees the pending period is over.
    clock.set(T0.plus_days(14));
    let (_, customer) = app.api_get("/api/v1/customers/ana", &secret).await;
    assert_eq!((customer["available"].as_i64(), customer["pending"].as_i64()), (Some(80), Some(0)), "{db:?}");
    assert_eq!(customer["lifetime_earned"], 80);
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn a_search_finds_names_beyond_ascii_in_any_case_also_those_saved_before_it_existed(db: Db) {
    use sqlx::{Connection, Executor};
    use tally_server::{
        ledger::ExpiryPolicy,
        storage::CustomerSearch,
    };
    let app = spawn_app(db).await;
    let (program, secret) = app.create_program("Shop").await;
    for (id, name) in [("elo", "Élodie Dupont"), ("sve", "Øystein Ærø"), ("ana", "Ana")] {
        let (status, _) =
            app.api_send(Method::PUT, &format!("/api/v1/customers/{id}"), &secret, &json!({"name": name})).await;
        assert_eq!(status, 200);
    }
    let found = |storage: std::sync::Arc<dyn tally_server::storage::Storage>, text: &'static str| {
        let program_id = program.id.clone();
        async move {
            let search = CustomerSearch { text: Some(text.to_owned()), limit: 10, ..CustomerSearch::default() };
            let (rows, total) = storage.search_customers(&program_id, &search, ExpiryPolicy::Never).await.unwrap();
            (rows.into_iter().map(|row| row.customer_id).collect::<Vec<_>>(), total)
        }
    };
    assert_eq!(found(app.storage.clone(), "élodie").await, (vec!["elo".to_owned()], 1), "{db:?}");
    assert_eq!(found(app.storage.clone(), "ÉLODIE").await, (vec!["elo".to_owned()], 1), "{db:?}");
    assert_eq!(found(app.storage.clone(), "ærø").await, (vec!["sve".to_owned()], 1), "{db:?}");

    // Customers saved before migration 0012 have no search text: the next start fills it in.
    let url = app.database_url.clone();
    app.stop().await;
    let emptied = "UPDATE customers SET search_text = NULL";
    if url.starts_with("sqlite:") {
        let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
        connection.execute(emptied).await.unwrap();
    } else {
        let mut connection = sqlx::PgConnection::connect(&url).await.unwrap();
        connection.execute(emptied).await.unwrap();
    }
    let reopened = crate::common::connect(&url).await;
    assert_eq!(found(reopened.clone(), "ØYSTEIN").await, (vec!["sve".to_owned()], 1), "{db:?}");
    assert_eq!(found(reopened, "DUPONT").await, (vec!["elo".to_owned()], 1), "{db:?}");
}
}

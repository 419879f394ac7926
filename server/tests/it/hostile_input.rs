//! Inputs that once broke a connection or answered a 5xx, each answered now by a clear 4xx
//! `application/problem+json`, on both databases.

use crate::common::{into_parts, spawn_app};
use reqwest::Method;
use serde_json::json;

each_db! {
#[tokio::test]
async fn hostile_ids_cursors_and_bodies_are_clear_problems(db: Db) {
    let app = spawn_app(db).await;
    let (program, secret) = app.create_program("Shop").await;
    app.api_send(Method::PUT, "/api/v1/customers/ana", &secret, &json!({})).await;

    // Cursors past i64::MAX (they used to panic and drop the connection).
    let (status, problem) = app.api_get("/api/v1/customers/ana/entries?cursor=9223372036854775808", &secret).await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("cursor")), "{db:?} {problem}");
    let token = tally_server::customer_token::sign(
        &json!({"sub": "ana", "exp": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 600}),
        &program.widget_secret,
    );
    let history = app
        .client
        .get(app.url(&format!("/widget/v1/programs/{}/me/history?cursor=9223372036854775808", program.publishable_key)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let (status, problem) = into_parts(history).await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("cursor")), "{db:?} {problem}");

    // The console pages through storage directly: a seq past i64::MAX reads from the newest.
    let ana = tally_server::customers::CustomerId::parse("ana").unwrap();
    assert!(app.storage.entries(&program.id, &ana, Some(u64::MAX), 10).await.is_ok(), "{db:?}");

    // NUL in a path (PostgreSQL answered 503) and in a JSON text field.
    let (status, problem) = into_parts(app.get("/widget/v1/programs/%00").await).await;
    assert_eq!((status, problem["code"].as_str()), (400, Some("control_characters")), "{db:?}");
    let (status, problem) = into_parts(app.get("/api/v1/rewards/a%00b").await).await;
    assert_eq!((status, problem["code"].as_str()), (400, Some("control_characters")), "{db:?}");
    let body = json!({"adjustment_id": "a1", "points": 5, "reason": "bad\u{0}reason"});
    let (status, problem) = app.api_send(Method::POST, "/api/v1/customers/ana/adjustments", &secret, &body).await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("reason")), "{db:?} {problem}");
    let body = json!({"name": "ok", "tags": ["fine", "not\u{1}fine"]});
    let (status, problem) = app.api_send(Method::PUT, "/api/v1/customers/ana", &secret, &body).await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("tags[1]")), "{db:?} {problem}");

    // The router's own errors, a file name no file system allows, a path that is not UTF-8.
    let (status, problem) = into_parts(app.api(Method::DELETE, "/api/v1/events", &secret).send().await.unwrap()).await;
    assert_eq!((status, problem["code"].as_str()), (405, Some("method_not_allowed")), "{db:?} {problem}");
    let (status, _) = into_parts(app.get("/no/such/thing").await).await;
    assert_eq!(status, 404);
    let (status, _) = into_parts(app.get(&format!("/pkg/{}", "a".repeat(5_000))).await).await;
    assert_eq!(status, 404, "{db:?}");
    let (status, _) = into_parts(app.get("/widget/v1/programs/%FF").await).await;
    assert_eq!(status, 400, "{db:?}");

    // A console call with arguments it cannot read.
    let malformed = app
        .client
        .post(app.url("/admin/fn/sign_in"))
        .header("Origin", app.url(""))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("garbage=1")
        .send()
        .await
        .unwrap();
    let (status, problem) = into_parts(malformed).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("invalid_request")), "{db:?} {problem}");

    // JSON is JSON whatever the case of its media type.
    let upper = app
        .api(Method::PUT, "/api/v1/customers/bo", &secret)
        .header("Content-Type", "APPLICATION/JSON; charset=UTF-8")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(upper.status(), 200, "{db:?}");
    app.stop().await;
}
}

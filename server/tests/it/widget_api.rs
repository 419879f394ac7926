//! The widget API answers CORS only for a program's allowed origins.

use crate::common::spawn_app;
use tally_server::demo::demo_program;

const STOREFRONT: &str = "http://127.0.0.1:3100";

each_db! {
#[tokio::test]
async fn program_summary_is_shared_with_allowed_origins_only(db: Db) {
    let app = spawn_app(db).await;
    app.storage.upsert_program(&demo_program("127.0.0.1:3100".parse().unwrap())).await.unwrap();
    let url = app.url("/widget/v1/programs/pk_demo");

    let allowed = app.client.get(&url).header("Origin", STOREFRONT).send().await.unwrap();
    assert_eq!(allowed.status(), 200, "{db:?}");
    assert_eq!(allowed.headers()["access-control-allow-origin"], STOREFRONT);
    assert_eq!(allowed.headers()["vary"], "Origin");
    let body: serde_json::Value = allowed.json().await.unwrap();
    assert_eq!((body["name"].as_str(), body["currency"].as_str()), (Some("Demo Store"), Some("USD")));
    assert_eq!(body["points_name"], "points");
    assert_eq!(body["ways_to_earn"][0]["action"], "purchase");

    let other = app.client.get(&url).header("Origin", "https://evil.example").send().await.unwrap();
    assert_eq!(other.status(), 200);
    assert!(other.headers().get("access-control-allow-origin").is_none(), "{db:?}: no CORS for strangers");

    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, &url)
        .header("Origin", STOREFRONT)
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(preflight.headers()["access-control-allow-origin"], STOREFRONT);
    assert!(preflight.headers()["access-control-allow-methods"].to_str().unwrap().contains("POST"));
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn an_unknown_publishable_key_is_a_problem_404(db: Db) {
    let app = spawn_app(db).await;
    let response = app.get("/widget/v1/programs/pk_nope").await;
    assert_eq!(response.status(), 404, "{db:?}");
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/not_found");
    assert!(problem["detail"].as_str().unwrap().contains("pk_nope"));
    app.stop().await;
}
}

#[tokio::test]
async fn an_unknown_path_is_a_problem_404_not_an_empty_page() {
    let app = spawn_app(crate::common::Db::Sqlite).await;
    let response = app.get("/no/such/thing").await;
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    app.stop().await;
}

//! The server starts on each database, reports liveness and readiness, and says so when the
//! database goes away.

use crate::common::{postgres_admin_url, spawn_app, spawn_app_on, Db};
use sqlx::{Connection, Executor, PgConnection};

each_db! {
#[tokio::test]
async fn healthz_and_readyz_answer_on_every_database(db: Db) {
    let app = spawn_app(db).await;

    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200, "{db:?}");
    assert_eq!(health.json::<serde_json::Value>().await.unwrap(), serde_json::json!({"status": "ok"}));

    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200, "{db:?}");
    assert_eq!(ready.json::<serde_json::Value>().await.unwrap(), serde_json::json!({"status": "ready"}));
    app.stop().await;
}
}

#[tokio::test]
async fn sqlite_file_is_created_on_first_start_and_reopened_later() {
    let url = crate::common::fresh_database(Db::Sqlite).await;
    let file = url.trim_start_matches("sqlite://").to_owned();
    assert!(!std::path::Path::new(&file).exists());

    let first = spawn_app_on(url.clone()).await;
    assert!(std::path::Path::new(&file).exists(), "the database file is created");
    first.stop().await;

    // Migrations already applied: a second start must not fail on them.
    let second = spawn_app_on(url).await;
    assert_eq!(second.get("/readyz").await.status(), 200);
    second.stop().await;
}

#[tokio::test]
async fn readyz_is_503_when_postgres_is_gone_while_healthz_stays_up() {
    let app = spawn_app(Db::Postgres).await;
    assert_eq!(app.get("/readyz").await.status(), 200);

    let name = app.database_url.rsplit('/').next().unwrap().split('?').next().unwrap().to_owned();
    let mut admin = PgConnection::connect(&postgres_admin_url()).await.unwrap();
    admin.execute(format!(r#"DROP DATABASE "{name}" WITH (FORCE)"#).as_str()).await.unwrap();

    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.headers()["content-type"], "application/problem+json");
    let problem: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/unavailable");
    assert_eq!(problem["status"], 503);

    assert_eq!(app.get("/healthz").await.status(), 200, "the process itself is still up");
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_database_url_is_refused_with_a_clear_message() {
    let error = tally_server::storage::connect("mysql://localhost/tally").await.err().expect("refused");
    assert!(error.to_string().contains("use sqlite://FILE or postgres://"), "{error}");
}

//! Outbound webhooks through real parts: endpoints managed over the API, events written with
//! the ledger writes that cause them, a real HTTP receiver, signatures checked by the Standard
//! Webhooks library (PyPI `standardwebhooks`), retries on the test's clock, and real `tally`
//! processes killed mid-delivery and run side by side.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::common::{fail_inserts, spawn_app_at, spawn_app_with_clock, stop_failing_inserts, TestApp, T0};
use axum::{http::HeaderMap, routing::post, Router};
use reqwest::Method;
use serde_json::{json, Value};
use tally_server::{
    connections::delivery::{DeliveryConfig, DeliveryWorker},
    connections::webhooks::UrlPolicy,
    jobs::run_upkeep,
    ledger::Timestamp,
    points::PointsService,
    time::{Clock, SystemClock},
};

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    headers: HashMap<String, String>,
    body: String,
}

impl Received {
    fn event(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// A real HTTP receiver on 127.0.0.1: records every request; answers 500 to the first
/// `failures` of them, and waits `delay` before answering.
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(failures: usize, delay: Duration) -> Self {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let log = received.clone();
        let app = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: String| {
                let log = log.clone();
                async move {
                    tokio::time::sleep(delay).await;
                    let headers = headers
                        .iter()
                        .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap_or("").to_owned()))
                        .collect();
                    let mut log = log.lock().unwrap();
                    log.push(Received { headers, body });
                    if log.len() <= failures {
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        axum::http::StatusCode::NO_CONTENT
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The event types received, in order.
    fn types(&self) -> Vec<String> {
        self.received().iter().map(|request| request.event()["type"].as_str().unwrap().to_owned()).collect()
    }
}

/// Passes until nothing is due; how many deliveries were attempted.
async fn drain(worker: &DeliveryWorker) -> usize {
    let mut attempted = 0;
    loop {
        match worker.run_once().await.unwrap() {
            0 => return attempted,
            more => attempted += more,
        }
    }
}

fn worker(app: &TestApp, clock: Arc<dyn Clock>) -> DeliveryWorker {
    let config = DeliveryConfig { urls: UrlPolicy { allow_private: true }, ..DeliveryConfig::default() };
    DeliveryWorker::new(app.storage.clone(), clock, config)
}

async fn create_endpoint(app: &TestApp, secret: &str, body: Value) -> Value {
    let (status, endpoint) = app.api_send(Method::POST, "/api/v1/webhooks", secret, &body).await;
    assert_eq!(status, 201, "{endpoint}");
    endpoint
}

async fn order(app: &TestApp, secret: &str, event_id: &str, customer: &str, subtotal: i64) -> (u16, Value) {
    let body = json!({"event_id": event_id, "customer_id": customer, "type": "order", "order_id": event_id,
        "currency": "USD", "subtotal": subtotal});
    app.api_send(Method::POST, "/api/v1/events", secret, &body).await
}

/// Verifies each request with the Standard Webhooks library under each of `secrets`: the
/// library's answer per request and secret, `ok` or the error it raised.
fn verify_with_the_standard_library(requests: &[Received], secrets: &[&str]) -> Vec<String> {
    let python = std::env::var("TALLY_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/tally-venv"))
        .join("bin/python");
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
cases = json.load(sys.stdin)
for case in cases:
    for secret in case["secrets"]:
        try:
            Webhook(secret).verify(case["body"], case["headers"])
            print("ok")
        except Exception as error:
            print(type(error).__name__)
"#;
    let cases: Vec<Value> = requests
        .iter()
        .map(|request| json!({"body": request.body, "headers": request.headers, "secrets": secrets}))
        .collect();
    let mut child = std::process::Command::new(&python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("{} runs (scripts/bootstrap installs it): {error}", python.display()));
    use std::io::Write;
    child.stdin.take().unwrap().write_all(serde_json::to_string(&cases).unwrap().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "the verifier ran");
    String::from_utf8(output.stdout).unwrap().lines().map(str::to_owned).collect()
}

each_db! {
/// A write's events reach the receiver signed as the specification says: the library accepts
/// them with the endpoint's secret, refuses them with another; after a rotation both secrets
/// sign for a day.
#[tokio::test]
async fn deliveries_are_signed_per_standard_webhooks_and_verify_with_its_library(db: Db) {
    let database_url = crate::common::fresh_database(db).await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let app = spawn_app_with_clock(database_url, clock.clone()).await;
    let (_, secret) = app.create_program("Shop").await;
    let receiver = Receiver::start(0, Duration::ZERO).await;
    let endpoint = create_endpoint(&app, &secret, json!({"url": receiver.url, "description": "CRM"})).await;
    let signing = endpoint["secret"].as_str().unwrap().to_owned();
    assert!(signing.starts_with("whsec_"), "{endpoint}");

    assert_eq!(order(&app, &secret, "o-1", "ana", 12_000).await.0, 201);
    let worker = worker(&app, clock.clone());
    assert_eq!(drain(&worker).await, 2, "{db:?}: customer.created, then points.earned");
    assert_eq!(receiver.types(), ["customer.created", "points.earned"], "{db:?}");
    let earned = receiver.received()[1].clone();
    let event = earned.event();
    assert_eq!(earned.headers["webhook-id"], event["id"].as_str().unwrap(), "{db:?}");
    assert_eq!(event["data"]["customer_id"], "ana");
    assert_eq!((event["data"]["points"].as_i64(), event["data"]["available"].as_i64()), (Some(120), Some(120)), "{db:?}");
    assert_eq!(event["data"]["entry"]["order_id"], "o-1");
    let other = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    assert_eq!(verify_with_the_standard_library(std::slice::from_ref(&earned), &[&signing, other]), ["ok", "WebhookVerificationError"]);
    let mut tampered = earned.clone();
    tampered.body = tampered.body.replace("120", "999");
    assert_eq!(verify_with_the_standard_library(&[tampered], &[&signing]), ["WebhookVerificationError"]);

    let path = format!("/api/v1/webhooks/{}/rotate-secret", endpoint["id"].as_str().unwrap());
    let (status, rotated) = app.api_send(Method::POST, &path, &secret, &json!({})).await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, signing);
    assert_eq!(order(&app, &secret, "o-2", "ana", 1_000).await.0, 201);
    drain(&worker).await;
    let after = receiver.received().last().unwrap().clone();
    assert_eq!(after.headers["webhook-signature"].split(' ').count(), 2, "{db:?}: both secrets sign");
    assert_eq!(verify_with_the_standard_library(&[after], &[&new_secret, &signing]), ["ok", "ok"], "{db:?}");
    app.stop().await;
}
}

each_db! {
/// A receiver that fails three times gets each event once it recovers, in order per customer,
/// on the retry schedule; the API shows every attempt.
#[tokio::test]
async fn a_receiver_that_fails_three_times_gets_each_event_in_order_once_it_recovers(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let (_, secret) = app.create_program("Shop").await;
    let receiver = Receiver::start(3, Duration::ZERO).await;
    let endpoint = create_endpoint(&app, &secret, json!({"url": receiver.url, "event_types": ["points.earned"]})).await;
    let endpoint_id = endpoint["id"].as_str().unwrap().to_owned();
    for (n, subtotal) in [1_000, 2_000, 3_000].into_iter().enumerate() {
        assert_eq!(order(&app, &secret, &format!("o-{n}"), "ana", subtotal).await.0, 201);
    }
    let worker = worker(&app, clock.clone());
    // Only the customer's first event is tried while it fails: the others wait their turn. Each
    // retry is due after its delay and at most a fifth more (the jitter), not before.
    for delay_ms in [0, 5_000, 5 * 60_000, 30 * 60_000] {
        if delay_ms > 0 {
            clock.set(Timestamp(clock.now().0 + delay_ms - 1_000));
            assert_eq!(worker.run_once().await.unwrap(), 0, "{db:?}: not due a second before {delay_ms} ms");
            clock.set(Timestamp(clock.now().0 + delay_ms / 5 + 2_000));
        }
        assert_eq!(worker.run_once().await.unwrap(), 1, "{db:?}: one attempt after {delay_ms} ms");
    }
    drain(&worker).await;
    let points: Vec<i64> = receiver.received().iter().map(|r| r.event()["data"]["points"].as_i64().unwrap()).collect();
    assert_eq!(points, [10, 10, 10, 10, 20, 30], "{db:?}: the first event four times, then the rest in order");
    let ids: Vec<String> = receiver.received().iter().map(|r| r.headers["webhook-id"].clone()).collect();
    assert!(ids[..4].iter().all(|id| *id == ids[0]), "{db:?}: retries keep the event's id");

    let (status, page) = app.api_get(&format!("/api/v1/webhooks/{endpoint_id}/deliveries"), &secret).await;
    assert_eq!(status, 200, "{page}");
    let rows = page["deliveries"].as_array().unwrap();
    let summary: Vec<(String, i64, i64)> = rows
        .iter()
        .map(|row| (row["status"].as_str().unwrap().to_owned(), row["attempts"].as_i64().unwrap(), row["response_status"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [("delivered".into(), 1, 204), ("delivered".into(), 1, 204), ("delivered".into(), 4, 204)],
        "{db:?}: newest first"
    );
    app.stop().await;
}
}

each_db! {
/// After its last retry a delivery fails and the endpoint is marked failing; a resend
/// delivers it and clears the mark. A test event goes to its endpoint only.
#[tokio::test]
async fn a_delivery_that_gives_up_marks_its_endpoint_failing_until_a_resend_succeeds(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let (_, secret) = app.create_program("Shop").await;
    let receiver = Receiver::start(10, Duration::ZERO).await;
    let bystander = Receiver::start(0, Duration::ZERO).await;
    let endpoint = create_endpoint(&app, &secret, json!({"url": receiver.url, "event_types": ["points.earned"]})).await;
    create_endpoint(&app, &secret, json!({"url": bystander.url, "event_types": ["tier.changed"]})).await;
    let endpoint_id = endpoint["id"].as_str().unwrap().to_owned();
    assert_eq!(order(&app, &secret, "o-1", "ana", 1_000).await.0, 201);
    let worker = worker(&app, clock.clone());
    for _ in 0..10 {
        worker.run_once().await.unwrap();
        clock.set(Timestamp(clock.now().0 + 30 * 3_600_000));
    }
    assert_eq!(receiver.received().len(), 10, "{db:?}: ten attempts in about three days");
    assert_eq!(worker.run_once().await.unwrap(), 0, "{db:?}: then no more");
    let (_, shown) = app.api_get(&format!("/api/v1/webhooks/{endpoint_id}"), &secret).await;
    assert!(shown["failing_since"].is_string(), "{db:?}: {shown}");
    let (_, page) = app.api_get(&format!("/api/v1/webhooks/{endpoint_id}/deliveries"), &secret).await;
    assert_eq!(page["deliveries"][0]["status"], "failed", "{db:?}");
    assert_eq!(page["deliveries"][0]["last_error"], "the receiver answered 500");

    let resend = format!("/api/v1/webhooks/{endpoint_id}/resend");
    let (status, resent) = app.api_send(Method::POST, &resend, &secret, &json!({})).await;
    assert_eq!((status, resent["queued"].as_i64()), (200, Some(1)), "{db:?}: {resent}");
    assert_eq!(drain(&worker).await, 1);
    let (_, shown) = app.api_get(&format!("/api/v1/webhooks/{endpoint_id}"), &secret).await;
    assert!(shown["failing_since"].is_null(), "{db:?}: recovered: {shown}");

    let (status, test) = app.api_send(Method::POST, &format!("/api/v1/webhooks/{endpoint_id}/test"), &secret, &json!({})).await;
    assert_eq!(status, 202, "{test}");
    drain(&worker).await;
    assert_eq!(receiver.types().last().map(String::as_str), Some("webhook.test"), "{db:?}");
    assert!(bystander.received().is_empty(), "{db:?}: neither the earning nor the test reached the other endpoint");
    app.stop().await;
}
}

each_db! {
/// The upkeep announces points that expire within 30 days: one `points.expiring_soon` event per
/// batch (points that expire together), never twice however often it runs.
#[tokio::test]
async fn points_expiring_soon_are_announced_once_per_batch(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let (mut program, secret) = app.create_program("Shop").await;
    program.settings.expiry = tally_server::ledger::ExpiryPolicy::AfterEarning { days: 60 };
    app.storage.upsert_program(&program).await.unwrap();
    let receiver = Receiver::start(0, Duration::ZERO).await;
    create_endpoint(&app, &secret, json!({"url": receiver.url, "event_types": ["points.expiring_soon"]})).await;
    let adjust = |id: &str, points: i64| json!({"adjustment_id": id, "points": points, "reason": "welcome"});
    let adjustments = "/api/v1/customers/ana/adjustments";
    app.api_send(Method::PUT, "/api/v1/customers/ana", &secret, &json!({})).await;
    assert_eq!(app.api_send(Method::POST, adjustments, &secret, &adjust("a1", 100)).await.0, 201);
    clock.set(T0.plus_days(5));
    assert_eq!(app.api_send(Method::POST, adjustments, &secret, &adjust("a2", 40)).await.0, 201);
    let worker = worker(&app, clock.clone());
    let upkeep = |at: u32| {
        let (storage, clock) = (app.storage.clone(), clock.clone());
        async move {
            clock.set(T0.plus_days(at));
            run_upkeep(&PointsService::new(storage, clock)).await.unwrap();
        }
    };

    upkeep(29).await;
    drain(&worker).await;
    assert!(receiver.received().is_empty(), "{db:?}: day 60 is more than 30 days after day 29");
    upkeep(31).await;
    upkeep(32).await;
    drain(&worker).await;
    let received = receiver.received();
    assert_eq!(receiver.types(), ["points.expiring_soon"], "{db:?}: the first batch, once");
    let data = &received[0].event()["data"];
    assert_eq!((data["customer_id"].as_str(), data["points"].as_i64(), data["available"].as_i64()),
        (Some("ana"), Some(100), Some(140)), "{db:?}: {data}");
    assert_eq!(data["expires_at"], json!(T0.plus_days(60)), "{db:?}");
    upkeep(40).await;
    upkeep(59).await;
    drain(&worker).await;
    let received = receiver.received();
    assert_eq!(received.len(), 2, "{db:?}: the second batch, once");
    assert_eq!(received[1].event()["data"]["points"], 40, "{db:?}");
    app.stop().await;
}
}

each_db! {
/// The upkeep tells of a tier that a rolling window takes within 30 days, once, with what
/// keeps it and where the customer would fall (amount-spent ladders count minor units).
#[tokio::test]
async fn a_tier_at_risk_is_announced_once_with_what_keeps_it(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let (mut program, secret) = app.create_program("Shop").await;
    program.settings.tiers = serde_json::from_value(json!({"window": "rolling12_months", "basis": "amount_spent",
        "tiers": [{"id": "silver", "name": "Silver", "threshold": 10_000}, {"id": "gold", "name": "Gold", "threshold": 50_000}]})).unwrap();
    app.storage.upsert_program(&program).await.unwrap();
    let receiver = Receiver::start(0, Duration::ZERO).await;
    create_endpoint(&app, &secret, json!({"url": receiver.url, "event_types": ["tier.at_risk"]})).await;
    assert_eq!(order(&app, &secret, "o-1", "ana", 45_000).await.0, 201);
    clock.set(T0.plus_days(100));
    assert_eq!(order(&app, &secret, "o-2", "ana", 15_000).await.0, 201);
    let worker = worker(&app, clock.clone());
    for day in [330, 340, 350] {
        clock.set(T0.plus_days(day));
        run_upkeep(&PointsService::new(app.storage.clone(), clock.clone())).await.unwrap();
    }
    drain(&worker).await;
    assert_eq!(receiver.types(), ["tier.at_risk"], "{db:?}: day 0's order leaves on day 365: once");
    let data = &receiver.received()[0].event()["data"];
    assert_eq!(data["tier"], "gold", "{db:?}: {data}");
    assert_eq!((data["needed"].as_i64(), data["qualifying"].as_i64()), (Some(35_000), Some(60_000)), "{db:?}: {data}");
    assert_eq!((&data["falls_to"], &data["basis"]), (&json!("silver"), &json!("amount_spent")), "{db:?}");
    assert_eq!(data["drops_at"], json!(tally_server::ledger::Timestamp(T0.plus_days(365).0 + 1)), "{db:?}");
    app.stop().await;
}
}

each_db! {
/// The outbox is part of the write: when its insert fails, the write fails whole (nothing in
/// the ledger); when the write fails, no event is left behind.
#[tokio::test]
async fn an_event_commits_with_its_write_or_neither_does(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let (_, secret) = app.create_program("Shop").await;
    let receiver = Receiver::start(0, Duration::ZERO).await;
    create_endpoint(&app, &secret, json!({"url": receiver.url})).await;

    fail_inserts(&app.database_url, "outbox_events", "1 = 1").await;
    assert_eq!(order(&app, &secret, "o-1", "ana", 1_000).await.0, 503, "{db:?}");
    stop_failing_inserts(&app.database_url, "outbox_events").await;
    assert_eq!(app.api_get("/api/v1/customers/ana", &secret).await.0, 404, "{db:?}: the write did not happen");

    fail_inserts(&app.database_url, "ledger_entries", "NEW.customer_id = 'bo'").await;
    assert_eq!(order(&app, &secret, "o-2", "bo", 1_000).await.0, 503, "{db:?}");
    stop_failing_inserts(&app.database_url, "ledger_entries").await;
    assert_eq!(order(&app, &secret, "o-3", "cy", 1_000).await.0, 201, "{db:?}");
    drain(&worker(&app, clock.clone())).await;
    let customers: Vec<String> =
        receiver.received().iter().map(|r| r.event()["data"]["customer_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(customers, ["cy", "cy"], "{db:?}: only the write that committed told anyone");
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn endpoints_are_validated_and_kept_to_their_program(db: Db) {
    let (app, _) = spawn_app_at(db).await;
    let (_, secret) = app.create_program("Shop").await;
    let (_, other) = app.create_program("Other").await;
    let (status, problem) = app
        .api_send(Method::POST, "/api/v1/webhooks", &secret, &json!({"url": "https://x.example/", "event_types": ["points.stolen"]}))
        .await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("event_types[0]")), "{db:?}: {problem}");
    let (status, problem) =
        app.api_send(Method::POST, "/api/v1/webhooks", &secret, &json!({"url": "ftp://x.example/"})).await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("url")), "{db:?}: {problem}");
    let endpoint = create_endpoint(&app, &secret, json!({"url": "https://hooks.shop.example/tally"})).await;
    let path = format!("/api/v1/webhooks/{}", endpoint["id"].as_str().unwrap());
    assert_eq!(app.api_get(&path, &other).await.0, 404, "{db:?}: another program's endpoint");
    assert_eq!(app.api_send(Method::DELETE, &path, &other, &json!({})).await.0, 404, "{db:?}");
    let (status, listed) = app.api_get("/api/v1/webhooks", &secret).await;
    assert_eq!((status, listed.as_array().map(Vec::len)), (200, Some(1)), "{db:?}");
    assert!(listed[0].get("secret").is_none(), "{db:?}: the list does not show secrets");
    let (status, _) = app.api_send(Method::DELETE, &path, &secret, &json!({})).await;
    assert_eq!(status, 204, "{db:?}");
    assert_eq!(app.api_get(&path, &secret).await.0, 404, "{db:?}");
    app.stop().await;
}
}

/// A program with a secret key, made straight in the database `tally serve` processes use.
async fn program_in(database_url: &str) -> String {
    let storage = crate::common::connect(database_url).await;
    let (program, key, secret) = tally_server::programs::Program::create("Shop", "USD", "points", vec![]).unwrap();
    storage.create_program(&program, &key, Timestamp(0)).await.unwrap();
    secret
}

/// Waits until the receiver holds every one of `expected` event ids (or a minute has passed).
async fn wait_for(receiver: &Receiver, expected: usize) -> HashMap<String, usize> {
    for _ in 0..600 {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for request in receiver.received() {
            *seen.entry(request.headers["webhook-id"].clone()).or_default() += 1;
        }
        if seen.len() >= expected {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the receiver got {} of {expected} events", receiver.received().len());
}

/// Orders from `customers` new customers through `base`: two events each (customer.created,
/// points.earned).
async fn orders_through(client: &reqwest::Client, bases: &[String], secret: &str, prefix: &str, customers: usize) {
    for n in 0..customers {
        let body = json!({"event_id": format!("{prefix}{n}"), "customer_id": format!("{prefix}{n}"), "type": "order",
            "order_id": format!("{prefix}{n}"), "currency": "USD", "subtotal": 1_000});
        let response = client
            .post(format!("{}/api/v1/events", bases[n % bases.len()]))
            .bearer_auth(secret)
            .json(&body)
            .send()
            .await;
        assert_eq!(response.unwrap().status(), 201);
    }
}

const SERVE_ENV: [(&str, &str); 3] =
    [("TALLY_WEBHOOKS_ALLOW_PRIVATE", "true"), ("TALLY_WEBHOOK_POLL_MS", "50"), ("TALLY_WEBHOOK_TIMEOUT_MS", "1000")];

/// Two `tally serve` replicas on one PostgreSQL database, both delivering: each event reaches
/// the receiver exactly once in normal operation.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_deliver_each_event_once() {
    let database_url = crate::common::fresh_database(crate::common::Db::Postgres).await;
    let args = ["serve", "--listen", "127.0.0.1:0", "--database-url", &database_url, "--upkeep-interval", "0"];
    let (first, second) =
        (crate::common::start_tally(&args, &SERVE_ENV), crate::common::start_tally(&args, &SERVE_ENV));
    let bases = [format!("http://{}", first.addr), format!("http://{}", second.addr)];
    let secret = program_in(&database_url).await;
    let receiver = Receiver::start(0, Duration::from_millis(5)).await;
    let client = crate::common::client_builder().build().unwrap();
    let created = client.post(format!("{}/api/v1/webhooks", bases[0])).bearer_auth(&secret);
    assert_eq!(created.json(&json!({"url": receiver.url})).send().await.unwrap().status(), 201);

    orders_through(&client, &bases, &secret, "c", 60).await;
    let seen = wait_for(&receiver, 120).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 120, "no event sent twice: {seen:?}");
}

/// `kill -9` of the only server while deliveries are in flight to a slow receiver; after a
/// restart every event arrives (at least once: the ones in flight may come twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_killed_mid_delivery_delivers_everything_after_a_restart() {
    let database_url = crate::common::fresh_database(crate::common::Db::Sqlite).await;
    let args = ["serve", "--listen", "127.0.0.1:0", "--database-url", &database_url, "--upkeep-interval", "0"];
    let secret = program_in(&database_url).await;
    let receiver = Receiver::start(0, Duration::from_millis(300)).await;
    let client = crate::common::client_builder().build().unwrap();
    let mut server = crate::common::start_tally(&args, &SERVE_ENV);
    let base = [format!("http://{}", server.addr)];
    let created = client.post(format!("{}/api/v1/webhooks", base[0])).bearer_auth(&secret);
    assert_eq!(created.json(&json!({"url": receiver.url})).send().await.unwrap().status(), 201);
    orders_through(&client, &base, &secret, "c", 40).await;
    while receiver.received().len() < 3 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.child.kill().unwrap(); // SIGKILL: no shutdown of any kind
    server.child.wait().unwrap();
    let before_restart = receiver.received().len();
    assert!(before_restart < 80, "killed while deliveries were left: {before_restart}");

    let _restarted = crate::common::start_tally(&args, &SERVE_ENV);
    let seen = wait_for(&receiver, 80).await;
    assert_eq!(seen.len(), 80, "every event of the 40 orders arrived");
}

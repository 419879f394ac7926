//! Property-based fuzzing of the HTTP surface: thousands of generated requests (paths with
//! hostile segments, query strings, JSON bodies of known fields with extreme values, broken
//! bodies and headers) against a real server with real data, on both databases. Every answer
//! must come (no dropped connection), be below 500, and be a problem when it is an error.
//!
//! `FUZZ_CASES` sets the number of requests per database (default 2,000); a failure prints the
//! request, which proptest shrinks to a small one.

use std::sync::Arc;

use proptest::{
    prelude::*,
    test_runner::{Config, TestCaseError, TestRunner},
};
use serde_json::{json, Value};
use tally_server::{customer_token::sign, ledger::ManualClock};

use crate::common::{fresh_database, spawn_app_with_clock, Db, TestApp, T0};

/// One generated request.
#[derive(Clone, Debug)]
struct Fuzzed {
    method: reqwest::Method,
    path: String,
    query: Option<String>,
    content_type: Option<&'static str>,
    body: Option<Vec<u8>>,
    auth: Auth,
}

#[derive(Clone, Copy, Debug)]
enum Auth {
    None,
    SecretKey,
    CustomerToken,
    Garbage,
}

const TEMPLATES: &[&str] = &[
    "/api/v1/customers/{}",
    "/api/v1/customers/{}/entries",
    "/api/v1/customers/{}/adjustments",
    "/api/v1/customers/{}/redemptions",
    "/api/v1/customers/{}/tier-history",
    "/api/v1/events",
    "/api/v1/orders/{}/refunds",
    "/api/v1/orders/{}/cancel",
    "/api/v1/rewards",
    "/api/v1/rewards/{}",
    "/api/v1/coupons/{}",
    "/api/v1/coupons/{}/consume",
    "/api/v1/coupons/{}/cancel",
    "/api/v1/settings",
    "/api/v1/tiers",
    "/api/v1/campaigns",
    "/api/v1/openapi.json",
    "/widget/v1/programs/{}",
    "/widget/v1/programs/{}/me",
    "/widget/v1/programs/{}/me/history",
    "/widget/v1/programs/{}/me/redemptions",
    "/widget/assets/{}",
    "/pkg/{}",
    "/admin/fn/{}",
    "/{}",
];

const FIELDS: &[&str] = &[
    "event_id",
    "customer_id",
    "type",
    "order_id",
    "currency",
    "subtotal",
    "shipping",
    "tax",
    "discount",
    "lines",
    "product_id",
    "category_ids",
    "quantity",
    "amount",
    "refund_id",
    "points",
    "reason",
    "adjustment_id",
    "redemption_id",
    "reward_id",
    "referrer_id",
    "occurred_at",
    "name",
    "email",
    "birthday",
    "tags",
    "reward",
    "stock",
    "per_customer_limit",
    "coupon_valid_days",
    "tiers",
    "threshold",
    "campaigns",
    "starts_at",
    "ends_at",
    "purchase",
    "actions",
    "expiry",
    "pending_days",
    "limit",
    "cursor",
];

/// Path segments: ids the data has, numbers at the edges, and any text, percent-encoded.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("ana".to_owned()),
        Just("o1".to_owned()),
        Just("PK".to_owned()),
        Just("REWARD".to_owned()),
        Just("9223372036854775808".to_owned()),
        Just("-1".to_owned()),
        Just("%00".to_owned()),
        Just("%FF%FE".to_owned()),
        Just("a".repeat(5_000)),
        "\\PC{0,40}".prop_map(|text| percent_encode(&text)),
        any::<String>().prop_map(|text| percent_encode(&text)),
    ]
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
                (byte as char).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

fn extreme_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(i64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(u64::MAX)),
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!(1e308)),
        Just(json!(0.5)),
        Just(json!(1_000_000_000_000_000_i64)),
        any::<i64>().prop_map(Value::from),
        (0..100_000_i64).prop_map(Value::from),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        extreme_number(),
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        prop_oneof![
            Just("order"),
            Just("review"),
            Just("signup"),
            Just("referral"),
            Just("USD"),
            Just("ana"),
            Just("o1"),
            Just("2026-01-01T00:00:00Z"),
            Just("9999-12-31T23:59:59Z"),
            Just("a\u{0}b"),
            Just("")
        ]
        .prop_map(Value::from),
        "\\PC{0,30}".prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::vec((prop::sample::select(FIELDS), inner), 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

/// Mostly objects of known fields (so the handlers' checks are reached), some anything.
fn body() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        3 => prop::collection::vec((prop::sample::select(FIELDS), json_value()), 0..10).prop_map(|fields| {
            let object: serde_json::Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            Some(serde_json::to_vec(&object).unwrap())
        }),
        1 => json_value().prop_map(|value| Some(serde_json::to_vec(&value).unwrap())),
        1 => prop::collection::vec(any::<u8>(), 0..200).prop_map(Some),
        1 => Just(Some(b"{\"event_id\": \"\\u0000\"}".to_vec())),
        1 => Just(None),
    ]
}

fn query() -> impl Strategy<Value = Option<String>> {
    let key =
        prop::sample::select(&["limit", "cursor", "from", "to", "range", "q", "page", "sort", "kind", "locale"][..]);
    let value = prop_oneof![segment(), extreme_number().prop_map(|number| number.to_string())];
    prop::option::of(
        prop::collection::vec((key, value), 1..4).prop_map(|pairs| {
            pairs.into_iter().map(|(key, value)| format!("{key}={value}")).collect::<Vec<_>>().join("&")
        }),
    )
}

fn request() -> impl Strategy<Value = Fuzzed> {
    let method = prop::sample::select(vec![
        reqwest::Method::GET,
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
        reqwest::Method::OPTIONS,
    ]);
    let content_type = prop::sample::select(vec![
        Some("application/json"),
        Some("APPLICATION/JSON; charset=utf-8"),
        Some("application/x-www-form-urlencoded"),
        Some("text/plain"),
        None,
    ]);
    let auth =
        prop::sample::select(vec![Auth::SecretKey, Auth::SecretKey, Auth::CustomerToken, Auth::None, Auth::Garbage]);
    (method, prop::sample::select(TEMPLATES), segment(), query(), content_type, body(), auth).prop_map(
        |(method, template, segment, query, content_type, body, auth)| Fuzzed {
            method,
            path: template.replace("{}", &segment),
            query,
            content_type,
            body,
            auth,
        },
    )
}

/// A program with a customer, points, a reward, an order and a coupon, so that generated
/// requests reach real data.
async fn seeded(db: Db) -> (TestApp, String, String, String) {
    let clock = Arc::new(ManualClock::at(T0));
    let app = spawn_app_with_clock(fresh_database(db).await, clock).await;
    let (mut program, secret) = app.create_program("Fuzz Shop").await;
    program.settings = serde_json::from_value(json!({
        "actions": [{"action": "review", "points": 50}, {"action": "referral", "points": 500, "referred_points": 100}],
        "tiers": {"tiers": [{"id": "gold", "name": "Gold", "threshold": 200, "multiplier_percent": 150}]}
    }))
    .unwrap();
    app.storage.upsert_program(&program).await.unwrap();
    let post = |path: &str, body: Value| {
        let request = app.api(reqwest::Method::POST, path, &secret).json(&body);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let order = json!({"event_id": "e1", "customer_id": "ana", "type": "order", "order_id": "o1", "currency": "USD", "subtotal": 50_000});
    assert_eq!(post("/api/v1/events", order).await, 201);
    let reward = json!({"name": "$5 off", "reward": {"type": "amount_off", "amount": 500}, "points": 100});
    let response = app.api(reqwest::Method::POST, "/api/v1/rewards", &secret).json(&reward).send().await.unwrap();
    let reward: Value = response.json().await.unwrap();
    let reward_id = reward["id"].as_str().unwrap().to_owned();
    assert_eq!(
        post("/api/v1/customers/ana/redemptions", json!({"redemption_id": "d1", "reward_id": reward_id})).await,
        201
    );
    let token = sign(&json!({"sub": "ana", "exp": T0.0 / 1_000 + 3_600}), &program.widget_secret);
    (app, secret, token, format!("{}|{}", program.publishable_key, reward_id))
}

fn fuzz(db: Db) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (app, secret, token, names) = runtime.block_on(seeded(db));
    let (publishable_key, reward_id) = names.split_once('|').unwrap();
    let cases = std::env::var("FUZZ_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(2_000);
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let result = runner.run(&request(), |fuzzed| {
        let path = fuzzed.path.replace("PK", publishable_key).replace("REWARD", reward_id);
        let url = match &fuzzed.query {
            Some(query) => format!("{}?{query}", app.url(&path)),
            None => app.url(&path),
        };
        let mut request = app.client.request(fuzzed.method.clone(), url).header("Origin", "https://shop.example");
        request = match fuzzed.auth {
            Auth::None => request,
            Auth::SecretKey => request.bearer_auth(&secret),
            Auth::CustomerToken => request.bearer_auth(&token),
            Auth::Garbage => request.header("Authorization", "Bearer sk_\tnot a key"),
        };
        if let Some(content_type) = fuzzed.content_type {
            request = request.header("Content-Type", content_type);
        }
        if let Some(body) = fuzzed.body.clone() {
            request = request.body(body);
        }
        let answer = runtime.block_on(async {
            let response = request.send().await.map_err(|error| format!("no answer: {error}"))?;
            let status = response.status().as_u16();
            let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap_or("?").to_owned());
            let text = response.text().await.map_err(|error| format!("answer cut: {error}"))?;
            Ok::<_, String>((status, content_type, text))
        });
        let (status, content_type, text) = answer.map_err(TestCaseError::fail)?;
        prop_assert!(status < 500, "{db:?}: {status} {text}");
        if status >= 400 && !text.is_empty() {
            // Console pages answer in HTML; everything else is a problem.
            let html = content_type.as_deref().is_some_and(|ct| ct.starts_with("text/html"));
            prop_assert!(
                html || content_type.as_deref() == Some("application/problem+json"),
                "{db:?}: {status} {content_type:?} {text}"
            );
        }
        Ok(())
    });
    runtime.block_on(app.stop());
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

#[test]
fn fuzzed_requests_get_answers_below_500_on_sqlite() {
    fuzz(Db::Sqlite);
}

#[test]
fn fuzzed_requests_get_answers_below_500_on_postgres() {
    fuzz(Db::Postgres);
}

//! Hostile clients against a real server: sign-in guessing spread over many addresses,
//! forwarded headers from trusted and untrusted peers, per-key limits on the merchant API, the
//! widget's limits, customer tokens past their maximum lifetime, the console's security headers.

use std::sync::Arc;

use crate::common::{fresh_database, spawn_app_configured, Db, TestApp, T0};
use reqwest::{header, redirect::Policy, Client, Method, Response};
use serde_json::json;
use tally_server::{
    console_users::{ConsoleUser, Email, NewPassword, Role},
    customer_token::sign,
    ledger::{ManualClock, Timestamp},
};

const OWNER: &str = "owner@shop.example";
const PASSWORD: &str = "a long enough password";

/// A server trusting the given proxies (the tests' requests come from 127.0.0.1).
async fn app_trusting(proxies: &str) -> (TestApp, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::at(T0));
    let proxies = proxies.to_owned();
    let app = spawn_app_configured(fresh_database(Db::Sqlite).await, clock.clone(), move |args| {
        args.http.trusted_proxies = proxies;
    })
    .await;
    (app, clock)
}

async fn add_owner(app: &TestApp) {
    let user =
        ConsoleUser { id: "usr_owner".into(), email: Email::parse(OWNER).unwrap(), role: Role::Owner, created_at: T0 };
    let hash = NewPassword::parse(PASSWORD).unwrap().hash();
    assert!(app.storage.create_user(&user, &hash, &[], None).await.unwrap());
}

fn browser() -> Client {
    crate::common::client_builder().redirect(Policy::none()).build().unwrap()
}

/// A sign-in form post, as forwarded by a proxy for `client_ip`, with these cookies.
async fn sign_in_from(
    app: &TestApp,
    client_ip: &str,
    email: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> Response {
    let mut request = browser()
        .post(app.url("/admin/fn/sign_in"))
        .header(header::ORIGIN, format!("http://{}", app.addr))
        .header(header::ACCEPT, "text/html")
        .header("x-forwarded-for", client_ip)
        .form(&[("email", email), ("password", password)]);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// `name=value` of the cookie `name` a response sets, with its attributes.
fn set_cookie(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .find(|cookie| cookie.starts_with(&format!("{name}=")))
}

#[tokio::test]
async fn strangers_guessing_from_many_addresses_cannot_lock_the_owner_out() {
    let (app, _) = app_trusting("127.0.0.1").await;
    add_owner(&app).await;
    for index in 1..=6 {
        let wrong = sign_in_from(&app, &format!("203.0.113.{index}"), OWNER, "a wrong guess", &[]).await;
        assert_eq!(wrong.status(), 422, "guess {index}");
    }
    let owner = sign_in_from(&app, "198.51.100.7", OWNER, PASSWORD, &[]).await;
    assert_eq!(owner.status(), 302, "six wrong passwords from six addresses do not lock the owner out");
    let device = set_cookie(&owner, "tally_device").expect("a sign-in marks the browser as a known device");
    assert!(device.contains("HttpOnly") && device.contains("SameSite=Strict"), "{device}");
    let device = device.split(';').next().unwrap().to_owned();

    // Many more strangers use up the account's allowance for browsers it never signed in on…
    let mut refused = 0;
    for index in 10..40 {
        let wrong = sign_in_from(&app, &format!("203.0.113.{index}"), OWNER, "another guess", &[]).await;
        refused += u32::from(wrong.status() == 429);
    }
    assert!(refused > 0, "guessing spread over addresses is bounded too");
    let new_browser = sign_in_from(&app, "198.51.100.8", OWNER, PASSWORD, &[]).await;
    assert_eq!(new_browser.status(), 429, "while under attack, new browsers wait");
    assert!(new_browser.headers().contains_key("ratelimit-limit"));
    // … but the owner's own browser still gets in, from any address.
    let known = sign_in_from(&app, "198.51.100.9", OWNER, PASSWORD, &[("cookie", &device)]).await;
    assert_eq!(known.status(), 302, "a known browser is not locked out by strangers");
    let forged = sign_in_from(&app, "198.51.100.10", OWNER, PASSWORD, &[("cookie", "tally_device=00ff")]).await;
    assert_eq!(forged.status(), 429, "a made-up device cookie is not a known browser");
    app.stop().await;
}

#[tokio::test]
async fn one_address_guessing_one_account_is_held_up_while_other_addresses_are_not() {
    let (app, clock) = app_trusting("127.0.0.1").await;
    add_owner(&app).await;
    let statuses: Vec<u16> = {
        let mut statuses = Vec::new();
        for _ in 0..11 {
            statuses.push(sign_in_from(&app, "203.0.113.1", OWNER, "a wrong guess", &[]).await.status().as_u16());
        }
        statuses
    };
    assert_eq!(statuses[..10], [422; 10]);
    assert_eq!(statuses[10], 429, "ten tries per account and address, then a wait");
    let right_password = sign_in_from(&app, "203.0.113.1", OWNER, PASSWORD, &[]).await;
    assert_eq!(right_password.status(), 429, "the right password waits too: the limit tells nothing");
    assert_eq!(sign_in_from(&app, "198.51.100.1", OWNER, PASSWORD, &[]).await.status(), 302, "another address");
    clock.set(Timestamp(T0.0 + 61_000));
    assert_eq!(sign_in_from(&app, "203.0.113.1", OWNER, PASSWORD, &[]).await.status(), 302, "a minute later");
    app.stop().await;
}

#[tokio::test]
async fn forwarded_headers_from_an_untrusted_peer_are_ignored() {
    let (app, _) = app_trusting("").await;
    let mut statuses = Vec::new();
    for index in 0..21 {
        let response =
            sign_in_from(&app, &format!("203.0.113.{index}"), &format!("u{index}@x.example"), "guess", &[]).await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses[..20], [422; 20]);
    assert_eq!(statuses[20], 429, "a spoofed X-Forwarded-For does not buy a fresh allowance");
    app.stop().await;
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client_and_its_https_makes_cookies_secure() {
    let (app, _) = app_trusting("127.0.0.0/8").await;
    add_owner(&app).await;
    for index in 0..25 {
        let response =
            sign_in_from(&app, &format!("203.0.113.{index}"), &format!("u{index}@x.example"), "guess", &[]).await;
        assert_eq!(response.status(), 422, "each shopper behind the balancer has their own allowance");
    }
    let mut statuses = Vec::new();
    for index in 0..21 {
        let response = sign_in_from(&app, "198.51.100.1", &format!("v{index}@x.example"), "guess", &[]).await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses[20], 429, "one client's own attempts are still limited");

    let plain = sign_in_from(&app, "192.0.2.1", OWNER, PASSWORD, &[]).await;
    let session = set_cookie(&plain, "tally_session").unwrap();
    assert!(!session.contains("Secure"), "plain http: {session}");
    let https = sign_in_from(&app, "192.0.2.2", OWNER, PASSWORD, &[("x-forwarded-proto", "https")]).await;
    for name in ["tally_session", "tally_device"] {
        let cookie = set_cookie(&https, name).unwrap();
        assert!(cookie.contains("; Secure"), "the balancer says https: {cookie}");
    }
    app.stop().await;
}

#[tokio::test]
async fn https_from_an_untrusted_peer_does_not_make_cookies_secure() {
    let (app, _) = app_trusting("10.0.0.0/8").await;
    add_owner(&app).await;
    let response = sign_in_from(&app, "192.0.2.1", OWNER, PASSWORD, &[("x-forwarded-proto", "https")]).await;
    assert_eq!(response.status(), 302);
    assert!(!set_cookie(&response, "tally_session").unwrap().contains("Secure"));
    app.stop().await;
}

each_db! {
#[tokio::test]
async fn the_merchant_api_limits_each_key_and_says_so_in_headers(db: Db) {
    let clock = Arc::new(ManualClock::at(T0));
    let app = spawn_app_configured(fresh_database(db).await, clock.clone(), |_| {}).await;
    let (_, secret) = app.create_program("Busy Shop").await;
    let (_, other_secret) = app.create_program("Quiet Shop").await;

    let first = app.api(Method::GET, "/api/v1/settings", &secret).send().await.unwrap();
    let header = |response: &Response, name: &str| response.headers()[name].to_str().unwrap().to_owned();
    assert_eq!(first.status(), 200, "{:?}", first.headers());
    assert_eq!((header(&first, "ratelimit-limit"), header(&first, "ratelimit-remaining")), ("600".into(), "599".into()));
    assert_eq!(header(&first, "ratelimit-policy"), "600;w=60");

    let settings = |rate: serde_json::Value| {
        json!({"name": "Busy Shop", "points_name": "points", "allowed_origins": [], "settings": {"api_requests_per_minute": rate}})
    };
    let (status, body) = app.api_send(Method::PUT, "/api/v1/settings", &secret, &settings(json!(5))).await;
    assert_eq!(status, 200, "{db:?}: {body}");
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(app.api(Method::GET, "/api/v1/settings", &secret).send().await.unwrap());
    }
    let remaining: Vec<String> = statuses[..5].iter().map(|response| header(response, "ratelimit-remaining")).collect();
    assert_eq!(remaining, ["4", "3", "2", "1", "0"], "{db:?}: the program's own limit, per key");
    let refused = statuses.pop().unwrap();
    assert_eq!(refused.status(), 429, "{db:?}");
    assert_eq!(header(&refused, "retry-after"), "12", "{db:?}: one request every 12 s at 5 a minute");
    assert_eq!((header(&refused, "ratelimit-limit"), header(&refused, "ratelimit-remaining")), ("5".into(), "0".into()));
    let (status, problem) = crate::common::into_parts(refused).await;
    assert_eq!((status, problem["code"].as_str()), (429, Some("rate_limited")));

    let other = app.api(Method::GET, "/api/v1/settings", &other_secret).send().await.unwrap();
    assert_eq!(other.status(), 200, "{db:?}: another program's key has its own allowance");
    clock.set(Timestamp(T0.0 + 12_000));
    let later = app.api(Method::GET, "/api/v1/settings", &secret).send().await.unwrap();
    assert_eq!(later.status(), 200, "{db:?}: one more after 12 s");

    for bad in [json!(0), json!(100_001)] {
        let (status, problem) = app.api_send(Method::PUT, "/api/v1/settings", &other_secret, &settings(bad)).await;
        assert_eq!((status, problem["field"].as_str()), (422, Some("settings.api_requests_per_minute")), "{db:?}");
    }
    app.stop().await;
}
}

#[tokio::test]
async fn widget_answers_carry_their_limits_and_storefronts_may_read_them() {
    let (app, _) = app_trusting("127.0.0.1").await;
    let (mut program, _) = app.create_program("Widget Shop").await;
    program.allowed_origins = vec!["https://shop.example".into()];
    app.storage.upsert_program(&program).await.unwrap();
    let path = format!("/widget/v1/programs/{}", program.publishable_key);
    let response = app.client.get(app.url(&path)).header("origin", "https://shop.example").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["ratelimit-limit"], "300");
    assert_eq!(response.headers()["ratelimit-remaining"], "299");
    let exposed = response.headers()["access-control-expose-headers"].to_str().unwrap();
    assert!(exposed.contains("ratelimit-remaining") && exposed.contains("retry-after"), "{exposed}");
    // Shoppers behind one balancer have their own allowances.
    for index in 0..301 {
        let response = app
            .client
            .get(app.url(&path))
            .header("x-forwarded-for", format!("203.0.113.{}", index % 200))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "request {index}");
    }
    app.stop().await;
}

each_db! {
#[tokio::test]
async fn customer_tokens_past_the_programs_maximum_lifetime_are_refused(db: Db) {
    let clock = Arc::new(ManualClock::at(T0));
    let app = spawn_app_configured(fresh_database(db).await, clock, |_| {}).await;
    let (mut program, _) = app.create_program("Token Shop").await;
    let now = T0.0 / 1_000;
    let me = |token: String| {
        let url = app.url(&format!("/widget/v1/programs/{}/me", program.publishable_key));
        let request = app.client.get(url).bearer_auth(token);
        async move { crate::common::into_parts(request.send().await.unwrap()).await }
    };
    let secret = program.widget_secret.clone();
    let (status, _) = me(sign(&json!({"sub": "ana", "iat": now, "exp": now + 3_600}), &secret)).await;
    assert_eq!(status, 200, "{db:?}");
    let two_days = sign(&json!({"sub": "ana", "exp": now + 2 * 86_400}), &secret);
    let (status, problem) = me(two_days.clone()).await;
    assert_eq!(status, 401, "{db:?}: a day at most by default");
    assert!(problem["detail"].as_str().unwrap().contains("longer than this program allows"), "{problem}");
    for (exp, iat) in [(i64::MAX, i64::MIN), (i64::MAX, now), (i64::MIN, i64::MAX)] {
        let (status, _) = me(sign(&json!({"sub": "ana", "iat": iat, "exp": exp}), &secret)).await;
        assert_eq!(status, 401, "{db:?}: exp {exp}, iat {iat} is refused, not a panic");
    }
    program.settings.widget.token_max_lifetime_minutes = Some(3 * 1_440);
    app.storage.upsert_program(&program).await.unwrap();
    assert_eq!(me(two_days).await.0, 200, "{db:?}: the program allows three days");
    app.stop().await;
}
}

#[tokio::test]
async fn console_answers_carry_security_headers_and_pages_a_nonce_policy() {
    let (app, _) = app_trusting("").await;
    let page = browser().get(app.url("/admin/setup")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let header = |response: &Response, name: &str| response.headers()[name].to_str().unwrap().to_owned();
    let policy = header(&page, "content-security-policy");
    assert_eq!(header(&page, "x-frame-options"), "DENY");
    assert_eq!(header(&page, "x-content-type-options"), "nosniff");
    assert_eq!(header(&page, "referrer-policy"), "same-origin");
    assert!(policy.contains("frame-ancestors 'none'") && policy.contains("object-src 'none'"), "{policy}");
    let nonce = policy.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).unwrap().to_owned();
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("nonce=\"{nonce}\"")), "the hydration script carries the policy's nonce");
    let again = browser().get(app.url("/admin/setup")).send().await.unwrap();
    assert!(!header(&again, "content-security-policy").contains(&nonce), "a fresh nonce per page");

    let call = browser()
        .post(app.url("/admin/fn/me"))
        .header(header::ORIGIN, format!("http://{}", app.addr))
        .send()
        .await
        .unwrap();
    assert!(header(&call, "content-security-policy").starts_with("default-src 'none'"));
    assert_eq!(header(&call, "x-frame-options"), "DENY");

    let widget = browser().get(app.url("/widget.js")).send().await.unwrap();
    assert_eq!(widget.status(), 200);
    assert!(
        !widget.headers().contains_key("x-frame-options") && !widget.headers().contains_key("content-security-policy"),
        "the widget's script stays embeddable on storefronts"
    );
    app.stop().await;
}

each_db! {
#[tokio::test]
async fn secrets_that_must_be_read_back_are_sealed_at_rest(db: Db) {
    let clock = Arc::new(ManualClock::at(T0));
    let database_url = fresh_database(db).await;
    let app = spawn_app_configured(database_url.clone(), clock, |_| {}).await;
    let (program, secret) = app.create_program("Sealed Shop").await;
    let (_, endpoint) = app
        .api_send(Method::POST, "/api/v1/webhooks", &secret, &json!({"url": "http://127.0.0.1:9/hook"}))
        .await;
    let (_, connection) =
        app.api_send(Method::POST, "/api/v1/connections", &secret, &json!({"platform": "woocommerce"})).await;
    let (_, shown) = app.api_get(&format!("/api/v1/webhooks/{}/secret", endpoint["id"].as_str().unwrap()), &secret).await;

    let widget = crate::common::scalar::<String>(&database_url, &format!("SELECT widget_secret FROM programs WHERE id = '{}'", program.id)).await;
    let store = crate::common::scalar::<String>(&database_url, "SELECT secret FROM store_connections").await;
    let webhook = crate::common::scalar::<String>(&database_url, "SELECT secret FROM webhook_endpoints").await;
    for (stored, plain) in [
        (&widget, program.widget_secret.as_str()),
        (&store, connection["secret"].as_str().unwrap()),
        (&webhook, shown["secret"].as_str().unwrap()),
    ] {
        assert!(stored.starts_with("sealed:v1:") && !stored.contains(plain), "{db:?}: {stored} holds {plain}");
    }
    let read_back = app.storage.program_by_id(&program.id).await.unwrap().unwrap();
    assert_eq!(read_back.widget_secret, program.widget_secret, "{db:?}: the server reads what it sealed");
    app.stop().await;

    // Another key cannot open them: the server says so instead of serving wrong secrets.
    let stranger = tally_server::secrets::SecretKeys::new([0xab; 32]);
    let refused = tally_server::storage::connect_with_keys(&database_url, stranger).await;
    assert!(refused.is_err(), "{db:?}: a database sealed with another key does not open");

    // A plain secret from before sealing is sealed at the next start, and reads the same.
    let sql = format!("UPDATE programs SET widget_secret = 'whsec_from_before' WHERE id = '{}'", program.id);
    crate::common::execute_sql(&database_url, &sql).await;
    let storage = crate::common::connect(&database_url).await;
    let stored = crate::common::scalar::<String>(&database_url, &format!("SELECT widget_secret FROM programs WHERE id = '{}'", program.id)).await;
    assert!(stored.starts_with("sealed:v1:"), "{db:?}: resealed at start: {stored}");
    assert_eq!(storage.program_by_id(&program.id).await.unwrap().unwrap().widget_secret, "whsec_from_before");
}
}

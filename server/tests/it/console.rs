//! Console access over real HTTP: first-owner set-up, sign-in, sessions, CSRF and origin
//! checks, rate limiting, program grants, sign-out and the CSV export.

use crate::common::{spawn_app_at, TestApp};
use reqwest::{header, redirect::Policy, Client, Response};
use serde_json::{json, Value};
use tally_server::{
    console_users::{ConsoleUser, Email, NewPassword, Role},
    storage::UserChange,
};

const OWNER: &str = "owner@shop.example";
pub(crate) const PASSWORD: &str = "a long enough password";

/// A browser-like client that shows redirects instead of following them.
pub(crate) fn browser() -> Client {
    crate::common::client_builder().redirect(Policy::none()).build().unwrap()
}

/// A form post to a console server function, from the console's own origin.
async fn post_form(
    app: &TestApp,
    client: &Client,
    function: &str,
    cookie: Option<&str>,
    form: &[(&str, &str)],
) -> Response {
    let mut request = client
        .post(app.url(&format!("/admin/fn/{function}")))
        .header(header::ORIGIN, format!("http://{}", app.addr))
        // As a browser's plain form post: success answers with a redirect.
        .header(header::ACCEPT, "text/html")
        .form(form);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    request.send().await.unwrap()
}

/// A page, as a browser asks for it. A server render on PostgreSQL has, rarely and only under
/// the full suite, never finished (three times in about twenty runs: NOTES.md, "the hanging
/// console render"); such a request is given 20 s, reported, and asked once more, so the rest
/// of the test still runs. A second hang fails the test.
async fn get(app: &TestApp, client: &Client, path: &str, cookie: Option<&str>) -> Response {
    let mut request = client.get(app.url(path));
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let again = request.try_clone().expect("a GET can be sent again");
    match request.timeout(std::time::Duration::from_secs(20)).send().await {
        Err(error) if error.is_timeout() => {
            eprintln!("GET {path} did not finish in 20 s (the known console render hang); asking again");
            again.send().await.unwrap()
        }
        answer => answer.unwrap(),
    }
}

/// `tally_session=...` from a response's `Set-Cookie`.
fn session_cookie(response: &Response) -> String {
    let set_cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax") && set_cookie.contains("Path=/admin")
    );
    set_cookie.split(';').next().unwrap().to_owned()
}

pub(crate) fn location(response: &Response) -> &str {
    response.headers()[header::LOCATION].to_str().unwrap()
}

each_db! {
#[tokio::test]
async fn the_first_owner_sets_up_signs_in_and_out_with_csrf_checked(db: Db) {
    let (app, _) = spawn_app_at(db).await;
    let client = browser();
    let (program, _) = app.create_program("Shop").await;
    let code = app.setup_code.clone().expect("a server without an owner prints a set-up code");
    let code = code.as_str();

    let response = get(&app, &client, "/admin", None).await;
    assert_eq!((response.status().as_u16(), location(&response)), (303, "/admin/setup"), "{db:?}");
    assert_eq!(get(&app, &client, "/admin/setup", None).await.status(), 200);

    let cross_site = client
        .post(app.url("/admin/fn/set_up"))
        .header(header::ORIGIN, "https://evil.example")
        .form(&[("code", code), ("email", OWNER), ("password", PASSWORD), ("confirm", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403, "{db:?}: a cross-site post is refused");
    assert_eq!(cross_site.headers()[header::CONTENT_TYPE], "application/problem+json");

    let short = post_form(
        &app,
        &client,
        "set_up",
        None,
        &[("code", code), ("email", OWNER), ("password", "short"), ("confirm", "short")],
    )
    .await;
    assert_eq!(short.status(), 422, "{db:?}");
    assert!(short.text().await.unwrap().contains("at least 10 characters"));

    // Whoever reaches the server first is not the owner: set-up needs the code in the log.
    for wrong in ["", "0000-0000-0000"] {
        let refused = post_form(
            &app,
            &client,
            "set_up",
            None,
            &[("code", wrong), ("email", "intruder@evil.example"), ("password", PASSWORD), ("confirm", PASSWORD)],
        )
        .await;
        assert_eq!(refused.status(), 422, "{db:?}: set-up with the code {wrong:?}");
        assert!(refused.text().await.unwrap().contains("set-up code"));
    }
    let without_code = post_form(
        &app,
        &client,
        "set_up",
        None,
        &[("email", "intruder@evil.example"), ("password", PASSWORD), ("confirm", PASSWORD)],
    )
    .await;
    // A form without the field is refused before set-up runs (leptos sends a plain form back).
    let went_to = without_code.headers().get(header::LOCATION).map(|value| value.to_str().unwrap().to_owned());
    assert!(without_code.status() == 422 || went_to.as_deref() != Some("/admin"), "{db:?}: set-up without a code");
    assert_eq!(get(&app, &client, "/admin/setup", None).await.status(), 200, "{db:?}: still not set up");

    let typed = code.to_uppercase();
    let created = post_form(
        &app,
        &client,
        "set_up",
        None,
        &[("code", &typed), ("email", OWNER), ("password", PASSWORD), ("confirm", PASSWORD)],
    )
    .await;
    assert!(created.status().is_redirection(), "{db:?}: {}", created.status());
    assert_eq!(location(&created), "/admin");
    let cookie = session_cookie(&created);
    let again = post_form(
        &app,
        &client,
        "set_up",
        None,
        &[("code", code), ("email", "x@y.z"), ("password", PASSWORD), ("confirm", PASSWORD)],
    )
    .await;
    assert_eq!(again.status(), 403, "{db:?}: only one first owner");

    let home = get(&app, &client, "/admin", Some(&cookie)).await;
    assert_eq!(home.status(), 200);
    let html = home.text().await.unwrap();
    assert!(html.contains(OWNER) && html.contains(&program.id), "{db:?}: the owner sees every program");
    assert_eq!(location(&get(&app, &client, "/admin/login", Some(&cookie)).await), "/admin");

    let me: Value = post_form(&app, &client, "me", Some(&cookie), &[]).await.json().await.unwrap();
    assert_eq!((me["email"].as_str(), me["role"].as_str()), (Some(OWNER), Some("owner")));
    let csrf = me["csrf"].as_str().unwrap().to_owned();

    let forged = post_form(&app, &client, "sign_out", Some(&cookie), &[("csrf", "csrf_forged")]).await;
    assert_eq!(forged.status(), 403, "{db:?}: a write without the session's CSRF token is refused");
    assert_eq!(get(&app, &client, "/admin", Some(&cookie)).await.status(), 200, "still signed in");

    let signed_out = post_form(&app, &client, "sign_out", Some(&cookie), &[("csrf", &csrf)]).await;
    assert_eq!(location(&signed_out), "/admin/login");
    assert!(signed_out.headers()[header::SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    let response = get(&app, &client, "/admin", Some(&cookie)).await;
    assert_eq!(location(&response), "/admin/login", "{db:?}: the old cookie is dead");

    let wrong =
        post_form(&app, &client, "sign_in", None, &[("email", OWNER), ("password", "not the password")]).await;
    assert_eq!(wrong.status(), 422);
    let unknown = post_form(&app, &client, "sign_in", None, &[("email", "who@x.y"), ("password", PASSWORD)]).await;
    assert_eq!(unknown.status(), 422, "unknown emails answer exactly like wrong passwords");
    let signed_in =
        post_form(&app, &client, "sign_in", None, &[("email", " Owner@Shop.Example"), ("password", PASSWORD)])
            .await;
    assert!(signed_in.status().is_redirection(), "{db:?}: {}", signed_in.status());
    let statuses = futures_statuses(&app, &client).await;
    assert!(statuses.contains(&429), "{db:?}: repeated failures are throttled: {statuses:?}");
    app.stop().await;
}
}

/// Ten wrong passwords in a row for one account from one address.
async fn futures_statuses(app: &TestApp, client: &Client) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let response =
            post_form(app, client, "sign_in", None, &[("email", OWNER), ("password", "guess guess guess")]).await;
        statuses.push(response.status().as_u16());
    }
    statuses
}

each_db! {
#[tokio::test]
async fn viewers_see_only_granted_programs_and_export_their_history(db: Db) {
    let (app, _) = spawn_app_at(db).await;
    let client = browser();
    let (granted, secret) = app.create_program("Granted Shop").await;
    let (hidden, _) = app.create_program("Hidden Shop").await;
    let viewer = ConsoleUser {
        id: "usr_viewer".into(),
        email: Email::parse("viewer@shop.example").unwrap(),
        role: Role::Viewer,
        created_at: crate::common::T0,
    };
    let hash = NewPassword::parse(PASSWORD).unwrap().hash();
    assert!(app.storage.create_user(&viewer, &hash, std::slice::from_ref(&granted.id), None).await.unwrap());
    let order = json!({"event_id": "e1", "customer_id": "ana,\"quoted\"", "type": "order", "order_id": "o1",
        "currency": "USD", "subtotal": 12_300, "shipping": 0, "tax": 0, "discount": 0, "lines": []});
    let (status, body) = app.api_send(reqwest::Method::POST, "/api/v1/events", &secret, &order).await;
    assert_eq!(status, 201, "{body}");

    let signed_in =
        post_form(&app, &client, "sign_in", None, &[("email", "viewer@shop.example"), ("password", PASSWORD)])
            .await;
    let cookie = session_cookie(&signed_in);
    let html = get(&app, &client, "/admin", Some(&cookie)).await.text().await.unwrap();
    assert!(html.contains("Granted Shop") && !html.contains("Hidden Shop"), "{db:?}");
    let page = get(&app, &client, &format!("/admin/programs/{}/customers", granted.id), Some(&cookie)).await;
    assert!(!page.text().await.unwrap().contains("Switch program"), "{db:?}: one program, no switcher");
    let dashboard = get(&app, &client, &format!("/admin/programs/{}", granted.id), Some(&cookie)).await;
    assert_eq!(dashboard.status(), 200);
    let html = dashboard.text().await.unwrap();
    assert!(html.contains("Points status") && html.contains("<svg"), "{db:?}: charts are server-rendered");
    let other = get(&app, &client, &format!("/admin/programs/{}", hidden.id), Some(&cookie)).await;
    assert_eq!(other.status(), 404, "{db:?}: another program is not there for this viewer");

    let csv = get(
        &app,
        &client,
        &format!("/admin/programs/{}/history.csv?range=year_to_date", granted.id),
        Some(&cookie),
    )
    .await;
    assert_eq!(csv.status(), 200);
    assert_eq!(csv.headers()[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "created_at,customer_id,kind,points,source,reference,order_id,balance_after");
    assert_eq!(lines[1], "2026-01-01T00:00:00.000Z,\"ana,\"\"quoted\"\"\",earn,123,purchase,o1,o1,123", "{db:?}");
    assert_eq!(lines.len(), 2);
    let stranger = get(&app, &client, &format!("/admin/programs/{}/history.csv", granted.id), None).await;
    assert_eq!(stranger.status(), 303, "no session, no export");
    app.stop().await;
}
}

/// Signs `email` in (the user must exist) and returns the session cookie and CSRF token.
pub(crate) async fn sign_in(app: &TestApp, client: &Client, email: &str) -> (String, String) {
    let signed_in = post_form(app, client, "sign_in", None, &[("email", email), ("password", PASSWORD)]).await;
    assert!(signed_in.status().is_redirection(), "{email}: {}", signed_in.status());
    let cookie = session_cookie(&signed_in);
    let me: Value = post_form(app, client, "me", Some(&cookie), &[]).await.json().await.unwrap();
    (cookie, me["csrf"].as_str().unwrap().to_owned())
}

/// A form post as the hydrated page sends it (a fetch, not a page navigation): answered with
/// the function's result instead of a redirect.
pub(crate) async fn post_fields(app: &TestApp, client: &Client, function: &str, cookie: &str, form: &[(&str, &str)]) -> Response {
    client
        .post(app.url(&format!("/admin/fn/{function}")))
        .header(header::ORIGIN, format!("http://{}", app.addr))
        .header(header::COOKIE, cookie)
        .form(form)
        .send()
        .await
        .unwrap()
}

/// A console server function that takes JSON (the list pages).
pub(crate) async fn post_json(app: &TestApp, client: &Client, function: &str, cookie: &str, body: &Value) -> (u16, Value) {
    let response = client
        .post(app.url(&format!("/admin/fn/{function}")))
        .header(header::ORIGIN, format!("http://{}", app.addr))
        .header(header::COOKIE, cookie)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    // Failures come back as the server function's error text, not JSON.
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// What a sign-in with these credentials answers: 302 (signed in) or 422.
async fn sign_in_status(app: &TestApp, client: &Client, email: &str, password: &str) -> u16 {
    post_form(app, client, "sign_in", None, &[("email", email), ("password", password)]).await.status().as_u16()
}

/// A failed server function's message (its body is `ServerError|message`).
pub(crate) fn failure(body: &Value) -> &str {
    body.as_str().unwrap_or_default().trim_start_matches("ServerError|")
}

pub(crate) async fn add_user(app: &TestApp, id: &str, email: &str, role: Role, programs: &[String]) {
    let user = ConsoleUser { id: id.into(), email: Email::parse(email).unwrap(), role, created_at: crate::common::T0 };
    let hash = NewPassword::parse(PASSWORD).unwrap().hash();
    assert!(app.storage.create_user(&user, &hash, programs, None).await.unwrap());
}

/// A server with one program, its owner signed in (cookie, CSRF token) and a viewer of it.
struct ConsoleSetup {
    app: TestApp,
    client: Client,
    program: tally_server::programs::Program,
    secret: String,
    owner: String,
    csrf: String,
}

async fn console_setup(db: crate::common::Db) -> ConsoleSetup {
    let (app, _) = spawn_app_at(db).await;
    let client = browser();
    let (program, secret) = app.create_program("Shop").await;
    add_user(&app, "usr_owner", OWNER, Role::Owner, &[]).await;
    add_user(&app, "usr_viewer", "viewer@shop.example", Role::Viewer, std::slice::from_ref(&program.id)).await;
    let (owner, csrf) = sign_in(&app, &client, OWNER).await;
    ConsoleSetup { app, client, program, secret, owner, csrf }
}

/// The audit log's actions, newest first, as the owner reads them.
async fn audit_actions(app: &TestApp, client: &Client, owner: &str) -> Vec<String> {
    let audit: Value = post_form(app, client, "audit_log", Some(owner), &[]).await.json().await.unwrap();
    audit["rows"].as_array().unwrap().iter().map(|row| row["action"].as_str().unwrap().to_owned()).collect()
}

each_db! {
#[tokio::test]
async fn admins_search_customers_adjust_points_once_and_owners_read_the_audit(db: Db) {
    let (app, _) = spawn_app_at(db).await;
    let client = browser();
    let (program, secret) = app.create_program("Shop").await;
    let grant = std::slice::from_ref(&program.id);
    add_user(&app, "usr_owner", OWNER, Role::Owner, &[]).await;
    add_user(&app, "usr_admin", "admin@shop.example", Role::Admin, grant).await;
    add_user(&app, "usr_viewer", "viewer@shop.example", Role::Viewer, grant).await;
    // 27 customers: ana, bob and c00..c24; bob has no email. Ana earns 123 points.
    let mut customers = vec![
        ("ana".to_owned(), json!({"name": "Ana Lima", "email": "ana@mail.example"})),
        ("bob".to_owned(), json!({"name": "Bob Stone"})),
    ];
    customers.extend((0..25).map(|n| (format!("c{n:02}"), json!({"name": format!("zz {n:02}")}))));
    for (id, profile) in &customers {
        let (status, body) =
            app.api_send(reqwest::Method::PUT, &format!("/api/v1/customers/{id}"), &secret, profile).await;
        assert_eq!(status, 200, "{body}");
    }
    let order = json!({"event_id": "e1", "customer_id": "ana", "type": "order", "order_id": "o1",
        "currency": "USD", "subtotal": 12_300, "shipping": 0, "tax": 0, "discount": 0, "lines": []});
    assert_eq!(app.api_send(reqwest::Method::POST, "/api/v1/events", &secret, &order).await.0, 201);

    let (admin, admin_csrf) = sign_in(&app, &client, "admin@shop.example").await;
    let list = |query: Value| json!({"program": program.id, "query": query});
    let (status, found) = post_json(&app, &client, "customers", &admin, &list(json!({"q": "LIMA"}))).await;
    assert_eq!(status, 200, "{db:?}: {found}");
    assert_eq!(found["total"], 1, "{db:?}: a part of the name, any case");
    assert_eq!(
        (found["rows"][0]["customer_id"].as_str(), found["rows"][0]["available"].as_i64()),
        (Some("ana"), Some(123))
    );
    let (_, by_id) = post_json(&app, &client, "customers", &admin, &list(json!({"q": "bob"}))).await;
    assert_eq!(by_id["rows"][0]["customer_id"], "bob");
    let (_, by_email) = post_json(&app, &client, "customers", &admin, &list(json!({"q": "@mail.EXAMPLE"}))).await;
    assert_eq!(by_email["total"], 1);
    let (_, none) = post_json(&app, &client, "customers", &admin, &list(json!({"q": "100%_"}))).await;
    assert_eq!(none["total"], 0, "{db:?}: LIKE wildcards are literal");
    let (_, by_name) = post_json(&app, &client, "customers", &admin, &list(json!({"sort": "name"}))).await;
    assert_eq!(by_name["total"], 27);
    let names: Vec<&str> =
        by_name["rows"].as_array().unwrap().iter().map(|row| row["name"].as_str().unwrap()).collect();
    assert_eq!((names.len(), names[0], names[1], names[2]), (25, "Ana Lima", "Bob Stone", "zz 00"), "{db:?}");
    let (_, second) =
        post_json(&app, &client, "customers", &admin, &list(json!({"sort": "name", "page": 2}))).await;
    let ids: Vec<&str> =
        second["rows"].as_array().unwrap().iter().map(|row| row["customer_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["c23", "c24"], "{db:?}");
    let (_, by_email_sort) = post_json(&app, &client, "customers", &admin, &list(json!({"sort": "email"}))).await;
    assert_eq!(by_email_sort["rows"][0]["customer_id"], "ana", "{db:?}: customers without an email come last");
    // Most points first: c07's 450 before Ana's 123, then by id among those with none.
    let order = json!({"event_id": "e2", "customer_id": "c07", "type": "order", "order_id": "o2",
        "currency": "USD", "subtotal": 45_000, "shipping": 0, "tax": 0, "discount": 0, "lines": []});
    assert_eq!(app.api_send(reqwest::Method::POST, "/api/v1/events", &secret, &order).await.0, 201);
    let (_, by_points) = post_json(&app, &client, "customers", &admin, &list(json!({"sort": "points"}))).await;
    let ids: Vec<&str> = by_points["rows"]
        .as_array()
        .unwrap()
        .iter()
        .take(3)
        .map(|row| row["customer_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["c07", "ana", "bob"], "{db:?}");
    let (status, bad) =
        post_json(&app, &client, "customers", &admin, &list(json!({"sort": "balance; DROP"}))).await;
    assert_eq!(status, 422, "{db:?}: {bad}");

    // Adjust: reviewed on the page, applied once even when the form is sent twice.
    let detail: Value =
        post_form(&app, &client, "customer", Some(&admin), &[("program", &program.id), ("customer", "ana")])
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(detail["customer"]["available"], 123);
    let adjustment_id = detail["next_adjustment_id"].as_str().unwrap().to_owned();
    let form = |csrf: &str, points: &str, reason: &str| {
        vec![
            ("program", program.id.clone()),
            ("customer", "ana".to_owned()),
            ("csrf", csrf.to_owned()),
            ("adjustment_id", adjustment_id.clone()),
            ("points", points.to_owned()),
            ("reason", reason.to_owned()),
        ]
    };
    let send = |fields: Vec<(&'static str, String)>, cookie: String| {
        let (app, client) = (&app, &client);
        async move {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(name, value)| (*name, value.as_str())).collect();
            let response = post_fields(app, client, "adjust_points", &cookie, &pairs).await;
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let (status, body) = send(form("csrf_forged", "50", "goodwill"), admin.clone()).await;
    assert_eq!(status, 403, "{db:?}: {body}");
    let (status, body) = send(form(&admin_csrf, "0", "goodwill"), admin.clone()).await;
    assert!(status == 422 && body.contains("points"), "{db:?}: {status} {body}");
    let (status, body) = send(form(&admin_csrf, "50", "  "), admin.clone()).await;
    assert!(status == 422 && body.contains("reason"), "{db:?}: {status} {body}");
    let (status, body) = send(form(&admin_csrf, "-500", "too much"), admin.clone()).await;
    assert!(status == 422 && body.contains("123"), "{db:?}: {status} {body}");
    // Refusals come in the page's language, made so where they arose (the domain's messages too).
    let (status, body) = send(form(&admin_csrf, "0", "goodwill"), format!("{admin}; tally_lang=ko")).await;
    assert_eq!((status, body.as_str()), (422, "ServerError|points: 포인트는 0이 아닌 정수이며 ±1000000000 이내여야 합니다"), "{db:?}");
    let (status, body) = send(form(&admin_csrf, "50", "  "), format!("{admin}; tally_lang=ja")).await;
    assert_eq!((status, body.as_str()), (422, "ServerError|reason: 1〜500 文字の理由が必要です"), "{db:?}");
    let (status, body) = send(form(&admin_csrf, "-500", "too much"), format!("{admin}; tally_lang=id")).await;
    assert!(status == 422 && !body.contains("only") && body.contains("123"), "{db:?}: {status} {body}");
    for attempt in 0..2 {
        let (status, body) = send(form(&admin_csrf, "50", "Late delivery"), admin.clone()).await;
        assert_eq!(status, 200, "{db:?}: {body}");
        let done: Value = serde_json::from_str(&body).unwrap();
        assert_eq!((done["balance_after"].as_i64(), done["replay"].as_bool()), (Some(173), Some(attempt == 1)));
    }
    let (_, entries) = app.api_get("/api/v1/customers/ana/entries", &secret).await;
    let newest = &entries["entries"][0];
    assert_eq!((newest["kind"].as_str(), newest["points"].as_i64()), (Some("adjust"), Some(50)), "{db:?}");
    assert_eq!((newest["source"].as_str(), newest["reference"].as_str()), (Some("admin"), Some("Late delivery")));
    assert_eq!(entries["entries"].as_array().unwrap().len(), 2, "{db:?}: one adjustment for two submits");

    let (viewer, viewer_csrf) = sign_in(&app, &client, "viewer@shop.example").await;
    let (status, body) = send(form(&viewer_csrf, "5", "viewer tries"), viewer.clone()).await;
    assert!(status == 403 && body.contains("Viewers"), "{db:?}: {status} {body}");
    let page = get(&app, &client, &format!("/admin/programs/{}/customers/ana", program.id), Some(&viewer)).await;
    let html = page.text().await.unwrap();
    assert!(html.contains("Late delivery") && !html.contains("Confirm adjustment"), "{db:?}: read-only page");
    let status = post_form(&app, &client, "audit_log", Some(&admin), &[]).await.status();
    assert_eq!(status, 403, "{db:?}: only owners read the audit log");

    let (owner, _) = sign_in(&app, &client, OWNER).await;
    let audit: Value = post_form(&app, &client, "audit_log", Some(&owner), &[]).await.json().await.unwrap();
    let rows = audit["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{db:?}: audited once: {audit}");
    assert_eq!(
        (rows[0]["action"].as_str(), rows[0]["user_email"].as_str()),
        (Some("customer.adjust"), Some("admin@shop.example"))
    );
    assert_eq!(rows[0]["before"], r#"{"available":123}"#);
    assert!(rows[0]["after"].as_str().unwrap().contains(r#""available":173"#));
    let html = get(&app, &client, "/admin/audit", Some(&owner)).await.text().await.unwrap();
    assert!(html.contains("customer.adjust") && html.contains("admin@shop.example"), "{db:?}");

    let csv =
        get(&app, &client, &format!("/admin/programs/{}/customers.csv?q=a&sort=id", program.id), Some(&viewer))
            .await;
    assert_eq!(csv.headers()[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "customer_id,email,name,tier,available,pending,joined_at,last_activity_at");
    assert!(
        lines[1].starts_with("ana,ana@mail.example,Ana Lima,,173,0,2026-01-01T00:00:00.000Z,"),
        "{db:?}: {text}"
    );
    assert_eq!(lines.len(), 2, "{db:?}: {text}");
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn rewards_are_created_edited_and_deactivated_with_field_messages_and_reach_the_widget(db: Db) {
    let ConsoleSetup { app, client, program, owner, csrf, .. } = console_setup(db).await;
    let form = |name: &str, amount: &str, points: &str| {
        json!({"reward_id": null, "name": name, "description": "", "kind": "amount_off", "amount": amount,
            "percent": "", "product_id": "", "points": points, "points_per_unit": "", "unit_value": "",
            "min_points": "", "max_points": "", "step": "", "min_tier": "", "per_customer_limit": "",
            "coupon_valid_days": "30", "stock": "20", "active": true})
    };
    let save = |csrf: &str, form: Value| json!({"program": program.id, "csrf": csrf, "form": form});

    let (status, body) =
        post_json(&app, &client, "save_reward", &owner, &save(&csrf, form("$5 off", "5.555", "500"))).await;
    assert_eq!(status, 422, "{db:?}: {body}");
    assert!(body.to_string().contains("amount: an amount of USD with at most 2 decimals"), "{db:?}: {body}");
    let (status, body) = post_json(&app, &client, "save_reward", &owner, &save(&csrf, form(" ", "5", "500"))).await;
    assert!(status == 422 && body.to_string().contains("name: a name of 1 to 200"), "{db:?}: {body}");
    let (status, body) =
        post_json(&app, &client, "save_reward", &owner, &save(&csrf, form("$5 off", "5", "0"))).await;
    assert!(status == 422 && body.to_string().contains("points: "), "{db:?}: {body}");
    let (status, body) =
        post_json(&app, &client, "save_reward", &owner, &save("csrf_forged", form("$5 off", "5", "500"))).await;
    assert_eq!(status, 403, "{db:?}: {body}");

    let (status, created) =
        post_json(&app, &client, "save_reward", &owner, &save(&csrf, form("$5 off", "5", "500"))).await;
    assert_eq!(status, 200, "{db:?}: {created}");
    assert_eq!(
        (created["gives"].as_str(), created["cost"].as_str()),
        (Some("USD 5.00 off the order"), Some("500"))
    );
    let reward_id = created["id"].as_str().unwrap().to_owned();
    let summary: Value =
        app.get(&format!("/widget/v1/programs/{}", program.publishable_key)).await.json().await.unwrap();
    assert_eq!(summary["rewards"][0]["name"], "$5 off", "{db:?}: the widget offers it: {summary}");
    assert_eq!(summary["rewards"][0]["points"], 500);

    let mut edited = form("$6 off", "6.00", "600");
    edited["reward_id"] = json!(reward_id);
    let (status, body) = post_json(&app, &client, "save_reward", &owner, &save(&csrf, edited)).await;
    assert_eq!((status, body["gives"].as_str()), (200, Some("USD 6.00 off the order")), "{db:?}: {body}");
    let (viewer, viewer_csrf) = sign_in(&app, &client, "viewer@shop.example").await;
    let (status, _) =
        post_json(&app, &client, "save_reward", &viewer, &save(&viewer_csrf, form("x", "1", "1"))).await;
    assert_eq!(status, 403, "{db:?}: viewers cannot write");
    let board: Value =
        post_form(&app, &client, "rewards", Some(&viewer), &[("program", &program.id)]).await.json().await.unwrap();
    assert_eq!(board["rewards"].as_array().unwrap().len(), 1, "{db:?}: viewers can read");
    assert_eq!(board["rewards"][0]["form"]["amount"], "6.00");

    let toggled = post_fields(
        &app,
        &client,
        "set_reward_active",
        &owner,
        &[("program", &program.id), ("csrf", &csrf), ("reward_id", &reward_id), ("active", "false")],
    )
    .await;
    assert_eq!(toggled.status(), 200, "{db:?}");
    let summary: Value =
        app.get(&format!("/widget/v1/programs/{}", program.publishable_key)).await.json().await.unwrap();
    assert_eq!(summary["rewards"], json!([]), "{db:?}: a deactivated reward is not offered");

    let actions = audit_actions(&app, &client, &owner).await;
    assert_eq!(actions, ["reward.deactivate", "reward.update", "reward.create"], "{db:?}");
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn a_console_change_and_its_audit_entry_commit_together_or_not_at_all(db: Db) {
    let ConsoleSetup { app, client, program, owner, csrf, .. } = console_setup(db).await;
    let reward = json!({"reward_id": null, "name": "$5 off", "description": "", "kind": "amount_off",
        "amount": "5", "percent": "", "product_id": "", "points": "500", "points_per_unit": "",
        "unit_value": "", "min_points": "", "max_points": "", "step": "", "min_tier": "",
        "per_customer_limit": "", "coupon_valid_days": "30", "stock": "", "active": true});
    let save_reward = json!({"program": program.id, "csrf": csrf, "form": reward});
    let (_, kept) = post_json(&app, &client, "save_reward", &owner, &save_reward).await;
    let reward_id = kept["id"].as_str().unwrap().to_owned();
    let key_id = app.storage.api_keys(&program.id).await.unwrap()[0].id.clone();
    let viewer_id = "usr_viewer";
    let new_user = json!({"csrf": csrf, "form": {"user_id": null, "email": "new@shop.example",
        "password": PASSWORD, "role": "admin", "programs": []}});
    let promote = json!({"csrf": csrf, "form": {"user_id": viewer_id, "email": "", "password": "",
        "role": "owner", "programs": []}});

    // Every audit entry now fails to be written: as a crash between the change and its record.
    crate::common::fail_inserts(&app.database_url, "audit_log", "1 = 1").await;
    let mut statuses = Vec::new();
    statuses.push(post_json(&app, &client, "save_reward", &owner, &save_reward).await.0);
    let deactivate = [("program", program.id.as_str()), ("csrf", &csrf), ("reward_id", &reward_id), ("active", "false")];
    statuses.push(post_fields(&app, &client, "set_reward_active", &owner, &deactivate).await.status().as_u16());
    let create_key = [("program", program.id.as_str()), ("csrf", &csrf)];
    statuses.push(post_fields(&app, &client, "create_api_key", &owner, &create_key).await.status().as_u16());
    let revoke = [("program", program.id.as_str()), ("csrf", &csrf), ("key_id", &key_id)];
    statuses.push(post_fields(&app, &client, "revoke_api_key", &owner, &revoke).await.status().as_u16());
    statuses.push(post_json(&app, &client, "save_user", &owner, &new_user).await.0);
    statuses.push(post_json(&app, &client, "save_user", &owner, &promote).await.0);
    let password = [("csrf", csrf.as_str()), ("user_id", viewer_id), ("password", "another long password")];
    statuses.push(post_fields(&app, &client, "set_user_password", &owner, &password).await.status().as_u16());
    let remove = [("csrf", csrf.as_str()), ("user_id", viewer_id)];
    statuses.push(post_fields(&app, &client, "remove_user", &owner, &remove).await.status().as_u16());
    assert_eq!(statuses, [503; 8], "{db:?}: each change fails with its audit entry");

    // Nothing of any of them was written.
    let rewards = app.storage.rewards(&program.id).await.unwrap();
    assert_eq!((rewards.len(), rewards[0].definition.active), (1, true), "{db:?}: no reward added or deactivated");
    let keys = app.storage.api_keys(&program.id).await.unwrap();
    assert_eq!((keys.len(), keys[0].revoked_at), (1, None), "{db:?}: no key added or revoked");
    let users = app.storage.console_users().await.unwrap();
    let roles: Vec<(&str, Role)> = users.iter().map(|(user, _)| (user.email.as_str(), user.role)).collect();
    assert_eq!(roles, [(OWNER, Role::Owner), ("viewer@shop.example", Role::Viewer)], "{db:?}");
    assert_eq!(sign_in_status(&app, &client, "viewer@shop.example", PASSWORD).await, 302, "{db:?}: same password");

    crate::common::stop_failing_inserts(&app.database_url, "audit_log").await;
    assert_eq!(post_fields(&app, &client, "remove_user", &owner, &remove).await.status(), 200, "{db:?}");
    assert_eq!(audit_actions(&app, &client, &owner).await, ["user.remove", "reward.create"], "{db:?}");
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn api_keys_are_shown_once_revoked_and_audited_and_cookies_are_secure_behind_https(db: Db) {
    let clock = std::sync::Arc::new(tally_server::ledger::ManualClock::at(crate::common::T0));
    let database_url = crate::common::fresh_database(db).await;
    let app = crate::common::spawn_app_with_public_url(database_url, clock, Some("https://loyalty.shop.example/")).await;
    let client = browser();
    let (program, _) = app.create_program("Shop").await;
    let grant = std::slice::from_ref(&program.id);
    add_user(&app, "usr_owner", OWNER, Role::Owner, &[]).await;
    add_user(&app, "usr_admin", "admin@shop.example", Role::Admin, grant).await;
    add_user(&app, "usr_viewer", "viewer@shop.example", Role::Viewer, grant).await;
    let signed_in =
        post_form(&app, &client, "sign_in", None, &[("email", "admin@shop.example"), ("password", PASSWORD)]).await;
    assert!(signed_in.headers()[header::SET_COOKIE].to_str().unwrap().ends_with("; Secure"), "{db:?}");
    let (admin, csrf) = sign_in(&app, &client, "admin@shop.example").await;

    let board: Value =
        post_fields(&app, &client, "install", &admin, &[("program", &program.id)]).await.json().await.unwrap();
    assert_eq!(board["tally_url"], "https://loyalty.shop.example", "{db:?}: the public URL, not the listener");
    assert_eq!(board["keys"].as_array().unwrap().len(), 1, "{db:?}: the program's first key");
    let html = get(&app, &client, &format!("/admin/programs/{}/install", program.id), Some(&admin)).await;
    let html = html.text().await.unwrap();
    let tag =
        format!("src=\"https://loyalty.shop.example/widget.js\" data-program=\"{}\"", program.publishable_key);
    assert!(html.contains(&tag.replace('"', "&quot;")) || html.contains(&tag), "{db:?}: the script tag");
    assert!(html.contains("jwt.sign(") && html.contains("JWT::encode(") && html.contains("jwt.encode("), "{db:?}");

    let created: Value =
        post_fields(&app, &client, "create_api_key", &admin, &[("program", &program.id), ("csrf", &csrf)])
            .await
            .json()
            .await
            .unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let key_id = created["key"]["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with(created["key"]["prefix"].as_str().unwrap()));
    assert_eq!(app.api_get("/api/v1/rewards", &secret).await.0, 200, "{db:?}: the new key works");
    let board: Value =
        post_fields(&app, &client, "install", &admin, &[("program", &program.id)]).await.json().await.unwrap();
    let listed = board["keys"].as_array().unwrap().iter().find(|key| key["id"] == key_id.as_str()).unwrap().clone();
    assert!(listed["last_used_at"].is_string(), "{db:?}: {listed}");
    assert!(!board.to_string().contains(&secret), "{db:?}: the secret is shown once");

    let (viewer, viewer_csrf) = sign_in(&app, &client, "viewer@shop.example").await;
    let viewer_form = [("program", program.id.as_str()), ("csrf", viewer_csrf.as_str())];
    for function in ["create_api_key", "widget_secret"] {
        let refused = post_fields(&app, &client, function, &viewer, &viewer_form).await;
        assert_eq!(refused.status(), 403, "{db:?}: {function}");
    }
    let admin_form = [("program", program.id.as_str()), ("csrf", csrf.as_str())];
    let revealed = post_fields(&app, &client, "widget_secret", &admin, &admin_form).await;
    assert_eq!(revealed.json::<String>().await.unwrap(), program.widget_secret);

    let revoke = [("program", program.id.as_str()), ("csrf", csrf.as_str()), ("key_id", key_id.as_str())];
    assert_eq!(post_fields(&app, &client, "revoke_api_key", &admin, &revoke).await.status(), 200);
    assert_eq!(app.api_get("/api/v1/rewards", &secret).await.0, 401, "{db:?}: a revoked key stops at once");
    assert_eq!(post_fields(&app, &client, "revoke_api_key", &admin, &revoke).await.status(), 404);

    let (owner, _) = sign_in(&app, &client, OWNER).await;
    let actions = audit_actions(&app, &client, &owner).await;
    assert_eq!(actions, ["api_key.revoke", "widget_secret.reveal", "api_key.create"], "{db:?}");
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn settings_are_saved_with_the_rest_apis_rules_and_reach_the_widget(db: Db) {
    let ConsoleSetup { app, client, program, secret, owner, csrf } = console_setup(db).await;
    let (other, _) = app.create_program("Other Shop").await;
    let page = get(&app, &client, &format!("/admin/programs/{}/settings", program.id), Some(&owner)).await;
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Switch program") && html.contains(&format!("value=\"{}\"", other.id)),
        "{db:?}: a switcher"
    );
    let board: Value =
        post_fields(&app, &client, "settings", &owner, &[("program", &program.id)]).await.json().await.unwrap();
    let form = board["form"].clone();
    assert_eq!(
        (form["redemption_points"].as_str(), form["redemption_amount"].as_str()),
        (Some("100"), Some("1.00"))
    );
    let save = |csrf: &str, changes: Value| {
        let mut form = form.clone();
        for (key, value) in changes.as_object().unwrap() {
            form[key] = value.clone();
        }
        json!({"program": program.id, "csrf": csrf, "form": form})
    };
    for (changes, message) in [
        (json!({"primary_color": "teal"}), "settings.widget.primary_color: "),
        (json!({"allowed_origins": "https://shop.example\nshop.example"}), "allowed_origins[1]: "),
        (json!({"time_zone": "Mars/Olympus"}), "settings.time_zone: "),
        (json!({"redemption_amount": "1.005"}), "redemption_amount: "),
        (json!({"expiry": "after_earning", "expiry_days": ""}), "expiry_days: "),
        (json!({"name": ""}), "name: "),
        (json!({"token_max_lifetime_minutes": "0"}), "token_max_lifetime_minutes: "),
        (json!({"api_requests_per_minute": "lots"}), "api_requests_per_minute: "),
    ] {
        let (status, body) = post_json(&app, &client, "save_settings", &owner, &save(&csrf, changes.clone())).await;
        assert!(status == 422 && body.to_string().contains(message), "{db:?}: {changes} -> {status} {body}");
    }
    let (viewer, viewer_csrf) = sign_in(&app, &client, "viewer@shop.example").await;
    let (status, _) = post_json(&app, &client, "save_settings", &viewer, &save(&viewer_csrf, json!({}))).await;
    assert_eq!(status, 403, "{db:?}");

    let changes = json!({"primary_color": "#0F766E", "launcher_position": "bottom_left", "launcher_label": "Perks",
        "allowed_origins": " https://shop.example \n\n", "time_zone": "Asia/Seoul", "redemption_points": "200",
        "redemption_amount": "3", "expiry": "after_inactivity", "expiry_days": "365", "points_name": "stars",
        "token_max_lifetime_minutes": "60", "api_requests_per_minute": "1200"});
    let (status, saved) = post_json(&app, &client, "save_settings", &owner, &save(&csrf, changes)).await;
    assert_eq!(status, 200, "{db:?}: {saved}");
    assert_eq!(
        (saved["allowed_origins"].as_str(), saved["redemption_amount"].as_str()),
        (Some("https://shop.example"), Some("3.00"))
    );
    let (_, rest) = app.api_get("/api/v1/settings", &secret).await;
    assert_eq!(rest["settings"]["expiry"], json!({"type": "after_inactivity", "days": 365}), "{db:?}: {rest}");
    assert_eq!(
        (rest["settings"]["widget"]["token_max_lifetime_minutes"].as_u64(), rest["settings"]["api_requests_per_minute"].as_u64()),
        (Some(60), Some(1200)),
        "{db:?}: the security settings from the console"
    );
    assert_eq!(
        (rest["points_name"].as_str(), rest["settings"]["time_zone"].as_str()),
        (Some("stars"), Some("Asia/Seoul"))
    );
    let summary: Value = app
        .client
        .get(app.url(&format!("/widget/v1/programs/{}", program.publishable_key)))
        .header("Origin", "https://shop.example")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let branding = &summary["branding"];
    assert_eq!(
        (branding["launcher_position"].as_str(), branding["launcher_label"].as_str()),
        (Some("bottom-left"), Some("Perks")),
        "{db:?}: {summary}"
    );
    let audit: Value = post_form(&app, &client, "audit_log", Some(&owner), &[]).await.json().await.unwrap();
    assert_eq!(audit["rows"].as_array().unwrap().len(), 1, "{db:?}: refused saves are not audited");
    assert_eq!(audit["rows"][0]["action"], "program.settings");
    assert!(audit["rows"][0]["before"].as_str().unwrap().contains(r#""points_name":"points""#));
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn earning_rules_preview_with_the_ledgers_arithmetic_and_save_like_the_rest_api(db: Db) {
    let ConsoleSetup { app, client, program, secret, owner, csrf } = console_setup(db).await;
    let ladder = json!({"basis": "points_earned", "window": "lifetime", "tiers": [
        {"id": "silver", "name": "Silver", "threshold": 100, "multiplier_percent": 110},
        {"id": "gold", "name": "Gold", "threshold": 300, "multiplier_percent": 150}]});
    assert_eq!(app.api_send(reqwest::Method::PUT, "/api/v1/tiers", &secret, &ladder).await.0, 200);
    let board: Value =
        post_fields(&app, &client, "earning", &owner, &[("program", &program.id)]).await.json().await.unwrap();
    let mut form = board["form"].clone();
    assert_eq!((form["points"].as_str(), form["per_amount"].as_str()), (Some("1"), Some("1.00")), "{db:?}");

    let preview = |form: &Value, sample: &str| json!({"program": program.id, "form": form, "sample": sample});
    let (status, lines) = post_json(&app, &client, "preview_earning", &owner, &preview(&form, "80")).await;
    assert_eq!(status, 200, "{db:?}: {lines}");
    assert_eq!(lines[0], "An order of USD 80.00 earns 80 points; 88 at Silver; 120 at Gold.", "{db:?}");
    form["points"] = json!("3");
    form["per_amount"] = json!("2");
    form["rounding"] = json!("round");
    form["minimum_order"] = json!("10");
    form["actions"] =
        json!([{"action": "review", "points": "50", "referred_points": "", "cap_count": "2", "cap_per": "month"}]);
    let (_, lines) = post_json(&app, &client, "preview_earning", &owner, &preview(&form, "80.99")).await;
    assert_eq!(
        lines,
        json!([
            "An order of USD 80.99 earns 121 points; 134 at Silver; 182 at Gold.",
            "Orders under USD 10.00 earn nothing.",
            "review: 50 points (at most 2 per month)."
        ]),
        "{db:?}"
    );

    let mut bad = form.clone();
    bad["product_multipliers"] = json!("sku-1 double");
    let (status, body) = post_json(
        &app,
        &client,
        "save_earning",
        &owner,
        &json!({"program": program.id, "csrf": csrf, "form": bad}),
    )
    .await;
    assert!(status == 422 && body.to_string().contains("product_multipliers: "), "{db:?}: {body}");
    let mut bad = form.clone();
    bad["actions"][0]["action"] = json!("dance");
    let (status, body) = post_json(
        &app,
        &client,
        "save_earning",
        &owner,
        &json!({"program": program.id, "csrf": csrf, "form": bad}),
    )
    .await;
    assert!(status == 422 && body.to_string().contains("actions[0]: unknown action"), "{db:?}: {body}");

    let (status, saved) = post_json(
        &app,
        &client,
        "save_earning",
        &owner,
        &json!({"program": program.id, "csrf": csrf, "form": form}),
    )
    .await;
    assert_eq!(status, 200, "{db:?}: {saved}");
    let (_, rest) = app.api_get("/api/v1/settings", &secret).await;
    let purchase = &rest["settings"]["purchase"];
    assert_eq!(
        (purchase["points"].as_i64(), purchase["per_amount"].as_i64(), purchase["rounding"].as_str()),
        (Some(3), Some(200), Some("round")),
        "{db:?}"
    );
    let order = json!({"event_id": "e1", "customer_id": "ana", "type": "order", "order_id": "o1", "currency": "USD", "subtotal": 8_099});
    let (status, result) = app.api_send(reqwest::Method::POST, "/api/v1/events", &secret, &order).await;
    assert_eq!(
        (status, result["entries"][0]["points"].as_i64()),
        (201, Some(121)),
        "{db:?}: the preview said 121: {result}"
    );
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn tiers_and_campaigns_are_saved_in_the_programs_time_zone_like_the_rest_api(db: Db) {
    let ConsoleSetup { app, client, program, secret, owner, csrf } = console_setup(db).await;
    let timezone = json!({"name": program.name, "points_name": "points", "allowed_origins": [],
        "settings": {"time_zone": "Asia/Seoul"}});
    assert_eq!(app.api_send(reqwest::Method::PUT, "/api/v1/settings", &secret, &timezone).await.0, 200);
    let form = json!({"basis": "amount_spent", "window": "calendar_year",
        "tiers": [
            {"id": "silver", "name": "Silver", "threshold": "100", "multiplier_percent": "110", "benefits": "Free shipping"},
            {"id": "gold", "name": "Gold", "threshold": "300.50", "multiplier_percent": "150", "benefits": ""}],
        "campaigns": [{"id": "bf", "name": "Black Friday", "multiplier_percent": "200",
            "first_day": "2026-11-27", "last_day": "2026-11-30", "applies_to": "purchases", "active": true}]});
    let save = |form: &Value| json!({"program": program.id, "csrf": csrf, "form": form});
    let mut bad = form.clone();
    bad["tiers"][1]["threshold"] = json!("50");
    let (status, body) = post_json(&app, &client, "save_loyalty", &owner, &save(&bad)).await;
    assert!(
        status == 422 && body.to_string().contains("tiers[1].threshold: thresholds must increase"),
        "{db:?}: {body}"
    );
    let mut bad = form.clone();
    bad["campaigns"][0]["last_day"] = json!("30 Nov");
    let (status, body) = post_json(&app, &client, "save_loyalty", &owner, &save(&bad)).await;
    assert!(status == 422 && body.to_string().contains("campaigns[0].last_day: a date"), "{db:?}: {body}");

    let (status, saved) = post_json(&app, &client, "save_loyalty", &owner, &save(&form)).await;
    assert_eq!(status, 200, "{db:?}: {saved}");
    assert_eq!(
        (saved["tiers"][1]["threshold"].as_str(), saved["campaigns"][0]["last_day"].as_str()),
        (Some("300.50"), Some("2026-11-30"))
    );
    let (_, tiers) = app.api_get("/api/v1/tiers", &secret).await;
    assert_eq!(
        (tiers["basis"].as_str(), tiers["tiers"][1]["threshold"].as_i64()),
        (Some("amount_spent"), Some(30_050)),
        "{db:?}"
    );
    let (_, campaigns) = app.api_get("/api/v1/campaigns", &secret).await;
    // Seoul is UTC+9: the first day starts at 15:00 UTC the day before; the last ends likewise.
    assert_eq!(campaigns[0]["starts_at"], "2026-11-26T15:00:00.000Z", "{db:?}: {campaigns}");
    assert_eq!(campaigns[0]["ends_at"], "2026-11-30T15:00:00.000Z");
    assert_eq!(audit_actions(&app, &client, &owner).await, ["program.tiers_campaigns"], "{db:?}");
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn owners_manage_users_grants_passwords_and_removal_and_one_owner_always_stays(db: Db) {
    let ConsoleSetup { app, client, program, owner, csrf, .. } = console_setup(db).await;
    let (other, _) = app.create_program("Other shop").await;
    let board: Value = post_form(&app, &client, "users", Some(&owner), &[]).await.json().await.unwrap();
    let emails: Vec<&str> =
        board["users"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
    assert_eq!(emails, [OWNER, "viewer@shop.example"], "{db:?}");
    assert_eq!(board["users"][0]["is_you"], true);

    // A new admin of one program signs in and sees that program only.
    let form = |user_id: Value, email: &str, password: &str, role: &str, programs: Value| json!({"csrf": csrf, "form": {"user_id": user_id, "email": email, "password": password, "role": role, "programs": programs}});
    let admin_form = form(Value::Null, "Ada@Shop.Example", PASSWORD, "admin", json!([program.id]));
    let (status, created) = post_json(&app, &client, "save_user", &owner, &admin_form).await;
    assert_eq!(status, 200, "{db:?}: {created}");
    assert_eq!(
        (created["email"].as_str(), created["programs"][0].as_str()),
        (Some("ada@shop.example"), Some(program.id.as_str()))
    );
    let (status, taken) = post_json(&app, &client, "save_user", &owner, &admin_form).await;
    assert_eq!(status, 422, "{db:?}: {taken}");
    assert!(failure(&taken).starts_with("email: "), "{taken}");
    let (status, weak) = post_json(
        &app,
        &client,
        "save_user",
        &owner,
        &form(Value::Null, "b@shop.example", "short", "viewer", json!([])),
    )
    .await;
    assert_eq!((status, failure(&weak)), (422, "password: at least 10 characters"), "{db:?}");
    let (status, stranger) = post_json(
        &app,
        &client,
        "save_user",
        &owner,
        &form(Value::Null, "c@shop.example", PASSWORD, "viewer", json!(["prg_nope"])),
    )
    .await;
    assert_eq!((status, failure(&stranger)), (422, "programs: programs of this console"), "{db:?}");

    let (ada, ada_csrf) = sign_in(&app, &client, "ada@shop.example").await;
    let programs: Value = post_form(&app, &client, "list_programs", Some(&ada), &[]).await.json().await.unwrap();
    assert_eq!(programs.as_array().unwrap().len(), 1, "{db:?}: only the granted program");
    let (status, _) = post_json(&app, &client, "save_user", &ada, &json!({"csrf": ada_csrf, "form": {"email": "x@y.z", "password": PASSWORD, "role": "owner", "programs": []}})).await;
    assert_eq!(status, 403, "{db:?}: admins do not manage users");
    assert_eq!(post_form(&app, &client, "users", Some(&ada), &[]).await.status(), 403);

    // Grants change; a new password ends her sessions.
    let ada_id = created["id"].as_str().unwrap().to_owned();
    let (status, changed) = post_json(
        &app,
        &client,
        "save_user",
        &owner,
        &form(json!(ada_id), "", "", "viewer", json!([program.id, other.id])),
    )
    .await;
    assert_eq!(
        (status, changed["role"].as_str(), changed["programs"].as_array().map(Vec::len)),
        (200, Some("viewer"), Some(2)),
        "{db:?}: {changed}"
    );
    let reset = post_fields(
        &app,
        &client,
        "set_user_password",
        &owner,
        &[("csrf", &csrf), ("user_id", &ada_id), ("password", "another long password")],
    )
    .await;
    assert_eq!(reset.status(), 200, "{db:?}");
    assert_eq!(post_form(&app, &client, "me", Some(&ada), &[]).await.status(), 401, "{db:?}: her session ended");
    let ada_signs_in = |password: &'static str| sign_in_status(&app, &client, "ada@shop.example", password);
    assert_eq!(ada_signs_in(PASSWORD).await, 422, "{db:?}: the old password no longer works");
    assert_eq!(ada_signs_in("another long password").await, 302, "{db:?}: signed in, sent to the console");

    // The console keeps an owner: the only owner can be neither demoted nor removed.
    let owner_id = board["users"][0]["id"].as_str().unwrap().to_owned();
    let (status, last) =
        post_json(&app, &client, "save_user", &owner, &form(json!(owner_id), "", "", "admin", json!([]))).await;
    assert_eq!(
        (status, failure(&last)),
        (422, "role: the console needs an owner: make another user an owner first"),
        "{db:?}"
    );
    let removed_self =
        post_fields(&app, &client, "remove_user", &owner, &[("csrf", &csrf), ("user_id", &owner_id)]).await;
    assert_eq!(removed_self.status(), 403, "{db:?}");
    let forged =
        post_fields(&app, &client, "remove_user", &owner, &[("csrf", "csrf_forged"), ("user_id", &ada_id)]).await;
    assert_eq!(forged.status(), 403, "{db:?}: CSRF checked");
    let removed = post_fields(&app, &client, "remove_user", &owner, &[("csrf", &csrf), ("user_id", &ada_id)]).await;
    assert_eq!(removed.status(), 200, "{db:?}");
    assert_eq!(ada_signs_in("another long password").await, 422, "{db:?}: a removed user cannot sign in");
    let again = post_fields(&app, &client, "remove_user", &owner, &[("csrf", &csrf), ("user_id", &ada_id)]).await;
    assert_eq!(again.status(), 404, "{db:?}");

    let actions = audit_actions(&app, &client, &owner).await;
    assert_eq!(actions[..4], ["user.remove", "user.password", "user.update", "user.create"], "{db:?}");
    let audit: Value = post_form(&app, &client, "audit_log", Some(&owner), &[]).await.json().await.unwrap();
    assert!(!audit.to_string().contains("argon2"), "{db:?}: no password hash in the audit log");
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn owners_demoting_each_other_all_at_once_leave_one_owner(db: Db) {
    const OWNERS: usize = 12;
    let (app, _) = spawn_app_at(db).await;
    for index in 0..OWNERS {
        add_user(&app, &format!("usr_{index}"), &format!("o{index}@shop.example"), Role::Owner, &[]).await;
    }
    let ids: Vec<String> = (0..OWNERS).map(|index| format!("usr_{index}")).collect();
    let outcomes =
        futures_util::future::join_all(ids.iter().map(|id| app.storage.update_user(id, Role::Admin, &[], None))).await;
    let refused = outcomes.iter().filter(|outcome| *outcome.as_ref().unwrap() == UserChange::LastOwner).count();
    let owners =
        app.storage.console_users().await.unwrap().into_iter().filter(|(user, _)| user.role == Role::Owner).count();
    assert_eq!((owners, refused), (1, 1), "{db:?}: exactly one demotion refused, one owner left");
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn the_console_speaks_the_browsers_language_or_the_one_chosen(db: Db) {
    let ConsoleSetup { app, client, owner, .. } = console_setup(db).await;
    let page = |accept: &'static str, cookie: String| {
        let request = client
            .get(app.url("/admin/login"))
            .header(header::ACCEPT_LANGUAGE, accept)
            .header(header::COOKIE, cookie);
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    let korean = page("ko-KR,ko;q=0.9,en;q=0.5", String::new()).await;
    assert!(korean.contains(r#"<html lang="ko""#) && korean.contains("Tally에 로그인"), "{db:?}");
    assert!(
        page("fr-FR", String::new()).await.contains("Sign in to Tally"),
        "{db:?}: English when nothing matches"
    );

    let chosen = client
        .post(app.url("/admin/language"))
        .header(header::ORIGIN, format!("http://{}", app.addr))
        .header(header::REFERER, format!("http://{}/admin/users?x=1", app.addr))
        .form(&[("lang", "ja")])
        .send()
        .await
        .unwrap();
    assert_eq!((chosen.status().as_u16(), location(&chosen)), (303, "/admin/users?x=1"), "{db:?}");
    let cookie = chosen.headers()[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
    assert_eq!(cookie, "tally_lang=ja");
    let japanese = page("ko", cookie.clone()).await;
    assert!(japanese.contains("Tally にサインイン"), "{db:?}: the cookie wins over the browser");

    // Server messages come in the page's language too.
    let both = format!("{cookie}; {owner}");
    let refused = client
        .post(app.url("/admin/fn/remove_user"))
        .header(header::ORIGIN, format!("http://{}", app.addr))
        .header(header::COOKIE, both)
        .form(&[("csrf", "csrf_forged"), ("user_id", "usr_viewer")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let message = Value::String(refused.text().await.unwrap());
    assert_eq!(failure(&message), "フォームが古くなっています（CSRF トークン）。ページを再読み込みしてください。");

    let elsewhere = client
        .post(app.url("/admin/language"))
        .header(header::ORIGIN, format!("http://{}", app.addr))
        .header(header::REFERER, "https://evil.example/admin")
        .form(&[("lang", "ko")])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&elsewhere), "/admin", "{db:?}: never back to another site");
    let bad = client
        .post(app.url("/admin/language"))
        .header(header::ORIGIN, format!("http://{}", app.addr))
        .form(&[("lang", "klingon")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        (bad.status().as_u16(), bad.headers()[header::CONTENT_TYPE].to_str().unwrap()),
        (422, "application/problem+json")
    );
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn every_user_changes_their_own_password_with_the_current_one(db: Db) {
    let ConsoleSetup { app, client, owner, .. } = console_setup(db).await;
    let (viewer, csrf) = sign_in(&app, &client, "viewer@shop.example").await;
    let (elsewhere, _) = sign_in(&app, &client, "viewer@shop.example").await;
    let change = |current: &'static str, password: &'static str, confirm: &'static str| {
        let form = [("csrf", csrf.as_str()), ("current", current), ("password", password), ("confirm", confirm)];
        let (client, app, viewer) = (&client, &app, &viewer);
        async move {
            let response = post_fields(app, client, "change_own_password", viewer, &form).await;
            let status = response.status().as_u16();
            (status, Value::String(response.text().await.unwrap()))
        }
    };
    let (status, wrong) = change("not my password", "a brand new password", "a brand new password").await;
    assert_eq!((status, failure(&wrong)), (422, "current: wrong password"), "{db:?}");
    let (status, differ) = change(PASSWORD, "a brand new password", "another one entirely").await;
    assert_eq!((status, failure(&differ)), (422, "confirm: the passwords differ"), "{db:?}");
    let (status, short) = change(PASSWORD, "short", "short").await;
    assert_eq!((status, failure(&short)), (422, "password: at least 10 characters"), "{db:?}");
    let (status, _) = change(PASSWORD, "a brand new password", "a brand new password").await;
    assert_eq!(status, 200, "{db:?}");

    assert_eq!(post_fields(&app, &client, "me", &viewer, &[]).await.status(), 200, "{db:?}: this session goes on");
    assert_eq!(post_form(&app, &client, "me", Some(&elsewhere), &[]).await.status(), 401, "{db:?}: the other ends");
    assert_eq!(sign_in_status(&app, &client, "viewer@shop.example", PASSWORD).await, 422, "{db:?}");
    assert_eq!(sign_in_status(&app, &client, "viewer@shop.example", "a brand new password").await, 302, "{db:?}");
    assert_eq!(audit_actions(&app, &client, &owner).await[0], "user.password", "{db:?}");
    app.stop().await;
}
}

each_db! {
/// The connections page: a writer connects a store and adds a webhook endpoint (both audited),
/// sends it a test event; a viewer sees the page without the secret and cannot change it; the
/// page speaks the chosen language.
#[tokio::test]
async fn the_connections_page_connects_stores_and_manages_webhooks(db: Db) {
    let ConsoleSetup { app, client, program, owner, csrf, .. } = console_setup(db).await;
    let connect = [("program", program.id.as_str()), ("csrf", csrf.as_str()), ("platform", "woocommerce")];
    assert_eq!(post_fields(&app, &client, "connect_store", &owner, &connect).await.status(), 200, "{db:?}");
    let bad = [("program", program.id.as_str()), ("csrf", csrf.as_str()), ("platform", "magento")];
    assert_eq!(post_fields(&app, &client, "connect_store", &owner, &bad).await.status(), 422, "{db:?}");
    let add = json!({"program": program.id, "csrf": csrf, "url": "https://crm.shop.example/tally",
        "event_types": ["points.earned", "tier.changed"]});
    let (status, body) = post_json(&app, &client, "add_endpoint", &owner, &add).await;
    assert_eq!(status, 200, "{db:?}: {body}");
    let private = json!({"program": program.id, "csrf": csrf, "url": "ftp://crm.shop.example/"});
    let (status, body) = post_json(&app, &client, "add_endpoint", &owner, &private).await;
    assert!(status == 422 && body.to_string().contains("url: an https:// URL"), "{db:?}: {status} {body}");

    let board: Value =
        post_form(&app, &client, "connections", Some(&owner), &[("program", &program.id)]).await.json().await.unwrap();
    let store = &board["stores"][0];
    assert_eq!(store["platform"], "woocommerce", "{db:?}: {board}");
    assert!(store["webhook_url"].as_str().unwrap().ends_with(&format!("/connections/woocommerce/{}", store["id"].as_str().unwrap())));
    assert_eq!(store["secret"].as_str().map(str::len), Some(48), "{db:?}: writers see the secret");
    let endpoint_id = board["endpoints"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(board["endpoints"][0]["event_types"], json!(["points.earned", "tier.changed"]));
    // The store's API for checkout-native coupons: saved (audited without its secret), refused
    // when the consumer key is missing.
    let store_id = store["id"].as_str().unwrap().to_owned();
    let mut api = vec![("program", program.id.as_str()), ("csrf", csrf.as_str()), ("connection_id", store_id.as_str()),
        ("action", "save"), ("url", "https://shop.example"), ("secret", "cs_console_secret")];
    assert_eq!(post_fields(&app, &client, "store_api", &owner, &api).await.status(), 422, "{db:?}: no consumer key");
    api.push(("key", "ck_console_key"));
    assert_eq!(post_fields(&app, &client, "store_api", &owner, &api).await.status(), 200, "{db:?}");
    let board: Value =
        post_form(&app, &client, "connections", Some(&owner), &[("program", &program.id)]).await.json().await.unwrap();
    assert_eq!((board["stores"][0]["api_url"].as_str(), board["stores"][0]["api_key"].as_str()),
        (Some("https://shop.example"), Some("ck_console_key")), "{db:?}: {board}");
    assert!(!board.to_string().contains("cs_console_secret"), "{db:?}: the secret is never shown back");
    let audit: String = crate::common::scalar(&app.database_url,
        "SELECT after_json FROM audit_log WHERE action = 'connection.store_api'").await;
    assert!(audit.contains("ck_console_key") && !audit.contains("cs_console_secret"), "{db:?}: {audit}");
    let test = [("program", program.id.as_str()), ("csrf", csrf.as_str()), ("endpoint_id", &endpoint_id), ("action", "test")];
    assert_eq!(post_fields(&app, &client, "endpoint_action", &owner, &test).await.status(), 200, "{db:?}");
    let worker = tally_server::connections::delivery::DeliveryWorker::new(
        app.storage.clone(),
        std::sync::Arc::new(tally_server::time::SystemClock),
        tally_server::connections::delivery::DeliveryConfig::default(),
    );
    // The endpoint's host does not resolve here: the test event's attempt fails and shows.
    worker.run_once().await.unwrap();
    let board: Value =
        post_form(&app, &client, "connections", Some(&owner), &[("program", &program.id)]).await.json().await.unwrap();
    let delivery = &board["endpoints"][0]["deliveries"][0];
    assert_eq!((delivery["event_type"].as_str(), delivery["attempts"].as_i64()), (Some("webhook.test"), Some(1)), "{db:?}: {board}");
    assert!(delivery["last_error"].is_string(), "{db:?}: {delivery}");

    let (viewer, viewer_csrf) = sign_in(&app, &client, "viewer@shop.example").await;
    let board: Value =
        post_form(&app, &client, "connections", Some(&viewer), &[("program", &program.id)]).await.json().await.unwrap();
    assert_eq!(board["stores"][0]["secret"], "", "{db:?}: viewers do not see secrets");
    let viewer_connect = [("program", program.id.as_str()), ("csrf", viewer_csrf.as_str()), ("platform", "shopify")];
    assert_eq!(post_fields(&app, &client, "connect_store", &viewer, &viewer_connect).await.status(), 403, "{db:?}");

    let page = client
        .get(app.url(&format!("/admin/programs/{}/connections", program.id)))
        .header(header::COOKIE, format!("{owner}; tally_lang=ko"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<h1>연결</h1>") && page.contains("WooCommerce 연결"), "{db:?}: the page in Korean");

    // An endpoint whose deliveries gave up: every program page tells the admin, until it recovers.
    let notice = "data-failing-endpoint=\"https://crm.shop.example/tally\"";
    let dashboard = format!("/admin/programs/{}", program.id);
    let customers = format!("/admin/programs/{}/customers", program.id);
    assert!(!get(&app, &client, &dashboard, Some(&owner)).await.text().await.unwrap().contains(notice), "{db:?}");
    crate::common::execute_sql(&app.database_url, "UPDATE webhook_endpoints SET failing_since_ms = 1796256000000").await;
    for path in [&dashboard, &customers] {
        let page = get(&app, &client, path, Some(&owner)).await.text().await.unwrap();
        assert!(page.contains(notice) && page.contains("have been failing since 2026-12-03 00:00"), "{db:?}: {path} warns");
    }
    crate::common::execute_sql(&app.database_url, "UPDATE webhook_endpoints SET failing_since_ms = NULL").await;
    assert!(!get(&app, &client, &customers, Some(&owner)).await.text().await.unwrap().contains(notice), "{db:?}");
    let actions = audit_actions(&app, &client, &owner).await;
    assert_eq!(actions[..3], ["connection.store_api", "webhook.create", "connection.create"], "{db:?}");
    app.stop().await;
}
}

each_db! {
#[tokio::test]
async fn a_customers_data_is_downloaded_and_erased_from_their_page(db: Db) {
    let ConsoleSetup { app, client, program, secret, owner, csrf } = console_setup(db).await;
    let profile = json!({"email": "ana@mail.example", "name": "Ana"});
    assert_eq!(app.api_send(reqwest::Method::PUT, "/api/v1/customers/ana", &secret, &profile).await.0, 200);
    let page = format!("/admin/programs/{}/customers/ana", program.id);
    let html = get(&app, &client, &page, Some(&owner)).await.text().await.unwrap();
    assert!(html.contains("export.json") && html.contains("Erase personal data"), "{db:?}");

    let file = get(&app, &client, &format!("{page}/export.json"), Some(&owner)).await;
    assert_eq!(file.status(), 200, "{db:?}");
    assert!(file.headers()[header::CONTENT_DISPOSITION].to_str().unwrap().starts_with("attachment"));
    let document: Value = file.json().await.unwrap();
    assert_eq!(document["customer"]["email"], "ana@mail.example", "{db:?}");
    assert_eq!(get(&app, &client, &format!("{page}/export.json"), None).await.status(), 303, "no session, no data");

    let (viewer, viewer_csrf) = sign_in(&app, &client, "viewer@shop.example").await;
    let fields = |csrf: &str, confirm: bool| {
        let mut form = vec![("program", program.id.clone()), ("customer", "ana".to_owned()), ("csrf", csrf.to_owned())];
        if confirm {
            form.push(("confirm", "on".to_owned()));
        }
        form
    };
    let as_refs = |form: &[(&'static str, String)]| form.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
    let send = |cookie: String, form: Vec<(&'static str, String)>| {
        let request = client
            .post(app.url("/admin/fn/erase_customer"))
            .header(header::ORIGIN, format!("http://{}", app.addr))
            .header(header::COOKIE, cookie)
            .form(&form);
        async move { request.send().await.unwrap() }
    };
    let refused = send(viewer.clone(), as_refs(&fields(&viewer_csrf, true))).await;
    assert_eq!(refused.status(), 403, "{db:?}: viewers cannot erase");
    let unconfirmed = send(owner.clone(), as_refs(&fields(&csrf, false))).await;
    assert_eq!(unconfirmed.status(), 422, "{db:?}: not without the confirmation");
    assert_eq!(app.api_get("/api/v1/customers/ana", &secret).await.0, 200);
    let erased = send(owner.clone(), as_refs(&fields(&csrf, true))).await;
    assert!(erased.status().is_success() || erased.status().is_redirection(), "{db:?}: {}", erased.status());
    assert_eq!(app.api_get("/api/v1/customers/ana", &secret).await.0, 404, "{db:?}: erased");
    let actions = audit_actions(&app, &client, &owner).await;
    assert_eq!(actions.first().map(String::as_str), Some("customer.erase"), "{db:?}: audited");
    app.stop().await;
}
}

//! Console access over real HTTP: first-owner set-up, sign-in, sessions, CSRF and origin
//! checks, rate limiting, program grants, sign-out and the CSV export.

mod common;

use common::{spawn_app_at, TestApp, ALL_DBS};
use reqwest::{header, redirect::Policy, Client, Response};
use serde_json::{json, Value};
use tally_server::admin::{AdminUser, Email, NewPassword, Role};

const OWNER: &str = "owner@shop.example";
const PASSWORD: &str = "a long enough password";

/// A browser-like client that shows redirects instead of following them.
fn browser() -> Client {
    Client::builder().redirect(Policy::none()).build().unwrap()
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

async fn get(app: &TestApp, client: &Client, path: &str, cookie: Option<&str>) -> Response {
    let mut request = client.get(app.url(path));
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    request.send().await.unwrap()
}

/// `tally_session=...` from a response's `Set-Cookie`.
fn session_cookie(response: &Response) -> String {
    let set_cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax") && set_cookie.contains("Path=/admin")
    );
    set_cookie.split(';').next().unwrap().to_owned()
}

fn location(response: &Response) -> &str {
    response.headers()[header::LOCATION].to_str().unwrap()
}

#[tokio::test]
async fn the_first_owner_sets_up_signs_in_and_out_with_csrf_checked() {
    for db in ALL_DBS {
        let (app, _) = spawn_app_at(db).await;
        let client = browser();
        let (program, _) = app.create_program("Shop").await;

        let response = get(&app, &client, "/admin", None).await;
        assert_eq!((response.status().as_u16(), location(&response)), (303, "/admin/setup"), "{db:?}");
        assert_eq!(get(&app, &client, "/admin/setup", None).await.status(), 200);

        let cross_site = client
            .post(app.url("/admin/fn/set_up"))
            .header(header::ORIGIN, "https://evil.example")
            .form(&[("email", OWNER), ("password", PASSWORD), ("confirm", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(cross_site.status(), 403, "{db:?}: a cross-site post is refused");
        assert_eq!(cross_site.headers()[header::CONTENT_TYPE], "application/problem+json");

        let short =
            post_form(&app, &client, "set_up", None, &[("email", OWNER), ("password", "short"), ("confirm", "short")])
                .await;
        assert_eq!(short.status(), 422, "{db:?}");
        assert!(short.text().await.unwrap().contains("at least 10 characters"));

        let created = post_form(
            &app,
            &client,
            "set_up",
            None,
            &[("email", OWNER), ("password", PASSWORD), ("confirm", PASSWORD)],
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
            &[("email", "x@y.z"), ("password", PASSWORD), ("confirm", PASSWORD)],
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

/// Six wrong passwords in a row for one address.
async fn futures_statuses(app: &TestApp, client: &Client) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let response =
            post_form(app, client, "sign_in", None, &[("email", OWNER), ("password", "guess guess guess")]).await;
        statuses.push(response.status().as_u16());
    }
    statuses
}

#[tokio::test]
async fn viewers_see_only_granted_programs_and_export_their_history() {
    for db in ALL_DBS {
        let (app, _) = spawn_app_at(db).await;
        let client = browser();
        let (granted, secret) = app.create_program("Granted Shop").await;
        let (hidden, _) = app.create_program("Hidden Shop").await;
        let viewer = AdminUser {
            id: "usr_viewer".into(),
            email: Email::parse("viewer@shop.example").unwrap(),
            role: Role::Viewer,
            created_at: common::T0,
        };
        let hash = NewPassword::parse(PASSWORD).unwrap().hash();
        assert!(app.storage.create_admin(&viewer, &hash, std::slice::from_ref(&granted.id)).await.unwrap());
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

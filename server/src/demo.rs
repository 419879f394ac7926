//! `tally demo`: a seeded demo program plus a sample storefront on a second port, so the widget
//! can be seen working across origins exactly as on a merchant's shop.

use std::{net::SocketAddr, sync::Arc};

use axum::{extract::Query, response::Html, routing::get, Router};
use serde_json::json;
use tokio::net::TcpListener;

use crate::{
    config::DemoArgs,
    console_users::{ConsoleUser, Email, NewPassword, Role},
    customer_token,
    customers::{CustomerId, CustomerProfile},
    points::{OrderEvent, PointsError, PointsService},
    programs::{ApiKeyRecord, Program, ProgramSettings},
    rewards::{new_reward_id, Reward, RewardDefinition, RewardKind},
    rules::Order,
    secrets, storage, telemetry,
    time::{Clock, SystemClock},
    Application, StartError,
};

pub const DEMO_PUBLISHABLE_KEY: &str = "pk_demo";
pub const DEMO_WIDGET_SECRET: &str = "whsec_demo_not_secret";
/// The demo program's secret API key: known on purpose, demo data only.
pub const DEMO_SECRET_KEY: &str = "sk_demo_not_secret";

pub async fn run(args: DemoArgs) -> Result<(), StartError> {
    let storefront_listener = TcpListener::bind(args.storefront_listen)
        .await
        .map_err(|source| StartError::Listen { addr: args.storefront_listen, source })?;
    let storefront_addr = storefront_listener.local_addr().map_err(StartError::Serve)?;

    let storage = storage::connect(&args.database_url).await?;
    let program = demo_program(storefront_addr);
    storage.upsert_program(&program).await?;
    let points = PointsService::new(storage.clone(), Arc::new(SystemClock));
    seed(&points, &program).await?;
    if args.customers > 0 {
        println!("Seeding Scale Store: {} customers, {} entries…", args.customers, args.entries);
        let started = std::time::Instant::now();
        let now = SystemClock.now();
        crate::scale::seed_scale_program(&points, &program, args.customers, args.entries, now)
            .await
            .map_err(|error| StartError::Config(format!("cannot seed the scale program: {error}")))?;
        println!("  seeded in {:.1} s (kept: later runs reuse it)", started.elapsed().as_secs_f64());
    }
    let mut serve_args = args.serve_args();
    // Emails link back here to unsubscribe: the demo's own address unless one is given.
    if serve_args.http.smtp_url.is_some() && serve_args.http.public_url.is_none() {
        serve_args.http.public_url = Some(format!("http://{}", browsable(args.http.listen)));
    }
    let app = Application::with_storage(&serve_args, storage).await?;
    crate::jobs::spawn_fold(app.storage());
    app.spawn_connection_workers();
    let tally_url = format!("http://{}", browsable(app.local_addr()));
    let storefront_url = format!("http://{}", browsable(storefront_addr));

    let page = include_str!("demo_storefront.html").replace("__TALLY_URL__", &tally_url);
    let signed_in = page.clone();
    let (buyer, shop) = (points.clone(), program.clone());
    let (joiner, joined_shop) = (points.clone(), program.clone());
    let storefront = Router::new()
        .route("/", get(move |query, headers| storefront_page(signed_in.clone(), query, headers, true)))
        .route("/buy", axum::routing::post(move |headers| buy(buyer.clone(), shop.clone(), headers)))
        .route("/guest", get(move |query, headers| storefront_page(page.clone(), query, headers, false)))
        .route(
            "/join",
            get(|| async { Html(include_str!("demo_join.html")) })
                .post(move |form| join(joiner.clone(), joined_shop.clone(), form)),
        );

    println!("Tally demo is running (Ctrl-C to stop)");
    println!("  Admin console:    {tally_url}/admin   (sign in as {DEMO_OWNER_EMAIL} / {DEMO_OWNER_PASSWORD})");
    println!("                    (read-only: {DEMO_VIEWER_EMAIL}, same password)");
    println!("  Demo storefront:  {storefront_url}/   (signed in as {DEMO_SHOPPER}; /guest for a visitor, ?locale=ko)");
    println!("  Merchant API key: {DEMO_SECRET_KEY}   (e.g. curl -H 'Authorization: Bearer {DEMO_SECRET_KEY}' {tally_url}/api/v1/customers/{DEMO_SHOPPER})");
    match (&args.http.smtp_url, &args.mail_inbox_url) {
        (Some(_), Some(inbox)) => println!("  Mail inbox:       {inbox}   (the demo shopper's emails arrive here)"),
        (Some(_), None) => println!("  Mail:             sent through --smtp-url"),
        (None, _) => println!("  Mail:             off (./dev.sh demo starts a mail catcher; or pass --smtp-url)"),
    }
    println!("  Database:         {}", args.database_url);

    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(());
    let mut storefront_shutdown = shutdown_rx.clone();
    let mut app_shutdown = shutdown_rx;
    let storefront_server = axum::serve(storefront_listener, storefront)
        .with_graceful_shutdown(async move { storefront_shutdown.changed().await.ok().unwrap_or(()) });
    let app_server = app.run_until(async move { app_shutdown.changed().await.ok().unwrap_or(()) });
    tokio::spawn(async move {
        telemetry::shutdown_signal().await;
        let _ = shutdown_tx.send(());
    });
    let (storefront_result, app_result) = tokio::join!(storefront_server, app_server);
    storefront_result.map_err(StartError::Serve)?;
    app_result
}

/// The demo console's owner: known on purpose, demo data only.
pub const DEMO_OWNER_EMAIL: &str = "owner@demo.test";
pub const DEMO_OWNER_PASSWORD: &str = "demo-password";
/// A read-only user of the demo program, with the owner's password.
pub const DEMO_VIEWER_EMAIL: &str = "viewer@demo.test";

/// The shopper the demo storefront signs in, and where their emails go.
pub const DEMO_SHOPPER: &str = "demo-shopper";
pub const DEMO_SHOPPER_EMAIL: &str = "shopper@demo.test";

#[derive(serde::Deserialize)]
struct PageQuery {
    locale: Option<String>,
    /// A referral link's code (`?ref=`): the loader keeps it; the page shows a new visitor.
    #[serde(rename = "ref")]
    referral: Option<String>,
}

/// The storefront's own sign-in: a shopper who joined on `/join` (their id and email in a
/// cookie of the storefront's origin, as a shop's session would be).
const SHOPPER_COOKIE: &str = "demo_shopper";

/// Who the storefront has signed in: a shopper who joined, else the demo shopper; a visitor
/// who arrives by a referral link and has not joined is a guest (someone new to the shop).
fn signed_in_shopper(headers: &axum::http::HeaderMap, query: &PageQuery) -> Option<(String, Option<String>)> {
    let joined = headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split("; "))
        .find_map(|cookie| cookie.strip_prefix(SHOPPER_COOKIE)?.strip_prefix('='))
        .and_then(|value| value.split_once('|'))
        .filter(|(id, _)| id.starts_with("friend-") && CustomerId::parse(id).is_ok())
        .map(|(id, email)| (id.to_owned(), Some(email.replace("%40", "@"))));
    match joined {
        Some(shopper) => Some(shopper),
        None if query.referral.is_some() => None,
        None => Some((DEMO_SHOPPER.to_owned(), None)),
    }
}

/// The storefront page, with a fresh customer token signed as the merchant's backend would.
async fn storefront_page(
    page: String,
    Query(query): Query<PageQuery>,
    headers: axum::http::HeaderMap,
    signed_in: bool,
) -> Html<String> {
    let shopper = if signed_in { signed_in_shopper(&headers, &query) } else { None };
    let token_attribute = match shopper {
        Some((id, email)) => {
            let expires = SystemClock.now().0 / 1_000 + 3_600;
            let name = if id == DEMO_SHOPPER { "Demo Shopper" } else { "Demo Friend" };
            let claims = json!({"sub": id, "exp": expires, "name": name, "email": email});
            format!(r#" data-customer-token="{}""#, customer_token::sign(&claims, DEMO_WIDGET_SECRET))
        }
        None => String::new(),
    };
    let locale_attribute = query
        .locale
        .filter(|locale| locale.len() <= 10 && locale.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(|locale| format!(r#" data-locale="{locale}""#))
        .unwrap_or_default();
    Html(page.replace("__WIDGET_ATTRIBUTES__", &format!("{token_attribute}{locale_attribute}")))
}

#[derive(serde::Deserialize)]
struct JoinForm {
    email: String,
}

/// The join form: a new shopper account in the storefront (a cookie), reported to Tally as
/// the shop's backend would (the profile, and the signup action), then the shop signed in.
async fn join(
    points: PointsService,
    program: Program,
    axum::Form(form): axum::Form<JoinForm>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let email = form.email.trim().to_lowercase();
    if !crate::customers::is_email(&email) || email.contains(['|', ';', ',']) {
        return (axum::http::StatusCode::UNPROCESSABLE_ENTITY, Html("An email like name@example.com, please.")).into_response();
    }
    let id = format!("friend-{}", secrets::random_token("", 6).to_lowercase());
    let customer = CustomerId::parse(&id).expect("a valid id");
    let profile = CustomerProfile { email: Some(email.clone()), name: Some("Demo Friend".into()), ..Default::default() };
    let signup = crate::points::ActionEvent {
        event_id: format!("demo-signup-{id}"),
        customer_id: id.clone(),
        action: "signup".into(),
        occurred_at: None,
    };
    let reported = async {
        points.storage().upsert_customer(&program.id, &customer, &profile, points.now()).await?;
        points.record_action(&program, &signup).await.map_err(|error| StartError::Config(error.to_string()))?;
        Ok::<_, StartError>(())
    };
    if let Err(error) = reported.await {
        return (axum::http::StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response();
    }
    let cookie = format!("{SHOPPER_COOKIE}={id}|{}; Path=/; HttpOnly; SameSite=Lax", email.replace('@', "%40"));
    ([(axum::http::header::SET_COOKIE, cookie)], axum::response::Redirect::to("/?tally=open")).into_response()
}

/// The storefront's "Buy" button: the shop's backend reports a $24.00 order for the signed-in
/// shopper, as a merchant's would, then shows the page with the widget open.
async fn buy(points: PointsService, program: Program, headers: axum::http::HeaderMap) -> axum::response::Response {
    use axum::response::IntoResponse;
    let id = format!("demo-buy-{}", secrets::random_token("", 8));
    let no_referral = PageQuery { locale: None, referral: None };
    let (shopper, _) = signed_in_shopper(&headers, &no_referral).unwrap_or_else(|| (DEMO_SHOPPER.to_owned(), None));
    let order = OrderEvent {
        event_id: id.clone(),
        customer_id: shopper,
        order_id: id,
        occurred_at: None,
        currency: program.currency.clone(),
        order: Order { subtotal: 2_400, shipping: 0, tax: 0, discount: 0, lines: Vec::new() },
    };
    match points.record_order(&program, &order).await {
        Ok(_) => axum::response::Redirect::to("/?tally=open").into_response(),
        Err(error) => (axum::http::StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response(),
    }
}

/// Demo data, written idempotently: a shopper with points, rewards to redeem.
async fn seed(points: &PointsService, program: &Program) -> Result<(), StartError> {
    let storage = points.storage();
    let now = points.now();
    let key_hash = secrets::hash_secret(DEMO_SECRET_KEY);
    if storage.program_for_api_key(&key_hash, now).await?.is_none() {
        let key = ApiKeyRecord { id: "key_demo".into(), key_hash, key_prefix: DEMO_SECRET_KEY[..10].into() };
        storage.add_api_key(&program.id, &key, now, None).await?;
    }
    // An owner, and a viewer of the demo program (to try the read-only console).
    let users = [
        ("usr_demo", DEMO_OWNER_EMAIL, Role::Owner, vec![]),
        ("usr_demo_viewer", DEMO_VIEWER_EMAIL, Role::Viewer, vec![program.id.clone()]),
    ];
    for (id, email, role, programs) in users {
        let email = Email::parse(email).expect("a valid email");
        if storage.user_by_email(&email).await?.is_none() {
            let user = ConsoleUser { id: id.into(), email, role, created_at: now };
            let password = NewPassword::parse(DEMO_OWNER_PASSWORD).expect("a valid password");
            storage.create_user(&user, &password.hash(), &programs, None).await?;
        }
    }
    let shopper = CustomerId::parse(DEMO_SHOPPER).expect("a valid id");
    let profile = CustomerProfile {
        name: Some("Demo Shopper".into()),
        email: Some(DEMO_SHOPPER_EMAIL.into()),
        marketing_consent: Some(true),
        ..CustomerProfile::default()
    };
    storage.upsert_customer(&program.id, &shopper, &profile, now).await?;
    // A past order of USD 1,200.00: 1,200 points, enough for the Silver tier.
    let order = OrderEvent {
        event_id: "demo-order-1".into(),
        customer_id: DEMO_SHOPPER.into(),
        order_id: "demo-order-1".into(),
        occurred_at: None,
        currency: program.currency.clone(),
        order: Order { subtotal: 120_000, shipping: 0, tax: 0, discount: 0, lines: Vec::new() },
    };
    match points.record_order(program, &order).await {
        // Seeded by an earlier run (by a version that hashed the request differently).
        Ok(_) | Err(PointsError::IdempotencyConflict { .. }) => {}
        Err(error) => return Err(StartError::Config(format!("cannot seed the demo order: {error}"))),
    }
    if storage.rewards(&program.id).await?.is_empty() {
        let rewards = [
            ("$5 off your order", RewardKind::AmountOff { amount: 500 }, 500),
            ("Free shipping", RewardKind::FreeShipping, 300),
            ("Canvas tote bag", RewardKind::FreeProduct { product_id: "tote".into() }, 2_000),
        ];
        for (name, reward, points) in rewards {
            let definition = RewardDefinition::new(name, reward, points);
            storage.create_reward(&program.id, &Reward { id: new_reward_id(), definition }, now, None).await?;
        }
    }
    Ok(())
}

/// The demo program, allowing the storefront's origin under both names a browser may use.
pub fn demo_program(storefront: SocketAddr) -> Program {
    let mut allowed_origins = vec![format!("http://{}", browsable(storefront))];
    if browsable(storefront).ip().is_loopback() {
        allowed_origins.push(format!("http://localhost:{}", storefront.port()));
    }
    Program {
        id: "prg_demo".to_owned(),
        name: "Demo Store".to_owned(),
        currency: "USD".to_owned(),
        points_name: "points".to_owned(),
        publishable_key: DEMO_PUBLISHABLE_KEY.to_owned(),
        allowed_origins,
        // Known on purpose, so the demo storefront can sign customer tokens: demo data only.
        widget_secret: DEMO_WIDGET_SECRET.to_owned(),
        settings: demo_settings(&format!("http://{}", browsable(storefront))),
    }
}

/// A listen address a browser can open: `0.0.0.0` becomes `127.0.0.1`.
fn browsable(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    }
}

fn demo_settings(storefront_url: &str) -> ProgramSettings {
    serde_json::from_value(json!({
        "notifications": {
            "sender_name": "Demo Store Rewards",
            "sender_address": "rewards@demo.test",
            "storefront_url": format!("{storefront_url}/"),
            "earned_batch_hours": 0
        },
        "widget": {
            "primary_color": "#0f766e",
            "join_url": format!("{storefront_url}/join"),
            "sign_in_url": format!("{storefront_url}/")
        },
        "actions": [
            {"action": "signup", "points": 100},
            {"action": "review", "points": 50, "cap": {"count": 3, "per": "month"}},
            {"action": "birthday", "points": 200},
            {"action": "referral", "points": 500, "referred_points": 250}
        ],
        "tiers": {"tiers": [
            {"id": "silver", "name": "Silver", "threshold": 500, "multiplier_percent": 110, "benefits": "1.1x points"},
            {"id": "gold", "name": "Gold", "threshold": 1500, "multiplier_percent": 150, "benefits": "1.5x points, free shipping"}
        ]}
    }))
    .expect("the demo settings are valid")
}

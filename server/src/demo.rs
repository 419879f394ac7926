//! `tally demo`: a seeded demo program plus a sample storefront on a second port, so the widget
//! can be seen working across origins exactly as on a merchant's shop.

use std::net::SocketAddr;

use axum::{response::Html, routing::get, Router};
use tokio::net::TcpListener;

use crate::{
    config::DemoArgs,
    programs::{Program, ProgramSettings},
    storage, telemetry, Application, StartError,
};

pub const DEMO_PUBLISHABLE_KEY: &str = "pk_demo";
pub const DEMO_WIDGET_SECRET: &str = "whsec_demo_not_secret";

pub async fn run(args: DemoArgs) -> Result<(), StartError> {
    let storefront_listener = TcpListener::bind(args.storefront_listen)
        .await
        .map_err(|source| StartError::Listen { addr: args.storefront_listen, source })?;
    let storefront_addr = storefront_listener.local_addr().map_err(StartError::Serve)?;

    let storage = storage::connect(&args.database_url).await?;
    storage.upsert_program(&demo_program(storefront_addr)).await?;
    let app = Application::with_storage(&args.serve_args(), storage).await?;
    let tally_url = format!("http://{}", browsable(app.local_addr()));
    let storefront_url = format!("http://{}", browsable(storefront_addr));

    let page = include_str!("demo_storefront.html").replace("__TALLY_URL__", &tally_url);
    let storefront = Router::new().route("/", get(move || async move { Html(page) }));

    println!("Tally demo is running (Ctrl-C to stop)");
    println!("  Admin console:    {tally_url}/admin");
    println!("  Demo storefront:  {storefront_url}/");
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
        settings: ProgramSettings::default(),
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

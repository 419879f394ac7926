//! The Tally server: storage, HTTP APIs, console rendering and the widget loader.

pub mod cli;
pub mod config;
pub mod connections;
pub mod console_users;
pub mod customer_token;
pub mod customers;
pub mod dashboard;
pub mod demo;
pub mod http;
pub mod imports;
pub mod jobs;
pub mod ledger;
pub mod message;
pub mod notifications;
pub mod points;
pub mod programs;
pub mod referrals;
pub mod rewards;
pub mod rules;
pub mod scale;
pub mod secrets;
pub mod storage;
pub mod telemetry;
pub mod tiers;
pub mod time;

use std::{future::Future, net::SocketAddr, sync::Arc};

use config::ServeArgs;
use storage::Storage;
use tokio::net::TcpListener;

/// Anything that stops the server from starting, with a message an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    #[error("server stopped with an I/O error: {0}")]
    Serve(std::io::Error),
    #[error("{0}")]
    Config(String),
}

/// A server bound to its port, ready to run. Tests build one on port 0 and read the address.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    storage: Arc<dyn Storage>,
    points: points::PointsService,
    clock: Arc<dyn time::Clock>,
    deliveries: connections::delivery::DeliveryConfig,
    setup_code: Option<String>,
    /// `--smtp-url` and `--public-url`: where emails go out, and where their links point.
    mail: Option<(notifications::mailer::Mailer, Arc<str>)>,
}

impl Application {
    pub async fn build(args: &ServeArgs) -> Result<Self, StartError> {
        let storage = storage::connect(&args.database_url).await?;
        Self::with_storage(args, storage).await
    }

    pub async fn with_storage(args: &ServeArgs, storage: Arc<dyn Storage>) -> Result<Self, StartError> {
        Self::with_storage_and_clock(args, storage, Arc::new(time::SystemClock)).await
    }

    /// With an injected clock: tests move time to check pending periods and expiry.
    pub async fn with_storage_and_clock(
        args: &ServeArgs,
        storage: Arc<dyn Storage>,
        clock: Arc<dyn time::Clock>,
    ) -> Result<Self, StartError> {
        storage::ReportStore::limit_report_cache(storage.as_ref(), args.report_cache_mb.saturating_mul(1 << 20));
        let addr = args.http.listen;
        let listener = TcpListener::bind(addr).await.map_err(|source| StartError::Listen { addr, source })?;
        let public_url = args.http.public_url.as_deref().map(config::parse_public_url).transpose();
        let public_url = public_url.map_err(StartError::Config)?;
        let mut state = http::AppState::new(storage.clone(), clock.clone(), &args.http.site_root, public_url);
        state.webhook_urls = connections::webhooks::UrlPolicy { allow_private: args.webhooks_allow_private };
        let proxies = http::client::TrustedProxies::parse(&args.http.trusted_proxies).map_err(StartError::Config)?;
        state.trusted_proxies = Arc::new(proxies);
        state.api_default_rate = args.http.api_requests_per_minute;
        let mut mail = None;
        if let Some(url) = &args.http.smtp_url {
            // The error never quotes the URL: it may hold the SMTP password.
            let mailer = notifications::mailer::Mailer::from_url(url)
                .map_err(|error| StartError::Config(format!("TALLY_SMTP_URL / --smtp-url: {error}")))?;
            let Some(public_url) = state.public_url.clone() else {
                return Err(StartError::Config(
                    "TALLY_SMTP_URL / --smtp-url needs TALLY_PUBLIC_URL / --public-url: every email links to this server to unsubscribe".into(),
                ));
            };
            state.mailer = Some(mailer.clone());
            mail = Some((mailer, public_url));
            tracing::info!("mail: an SMTP server is configured");
        }
        state.spawn_limit_upkeep();
        // Until an owner exists, set-up asks for a code that only the server's operator sees.
        let setup_code = console_users::new_setup_code(storage.as_ref(), clock.now()).await?;
        if let Some(code) = &setup_code {
            tracing::warn!(
                setup_code = %code,
                "the console has no owner yet: open /admin/setup and enter this one-time set-up code"
            );
        }
        let deliveries = connections::delivery::DeliveryConfig {
            poll: std::time::Duration::from_millis(args.webhook_poll_ms.max(10)),
            timeout: std::time::Duration::from_millis(args.webhook_timeout_ms.clamp(100, 60_000)),
            urls: state.webhook_urls,
            ..Default::default()
        };
        let points = state.points.clone();
        let router = http::router(state);
        Ok(Self { listener, router, storage, points, clock, deliveries, setup_code, mail })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    pub fn storage(&self) -> Arc<dyn Storage> {
        self.storage.clone()
    }

    /// The set-up code this start printed, while the console has no owner.
    pub fn setup_code(&self) -> Option<&str> {
        self.setup_code.as_deref()
    }

    /// Starts this process's workers: the connections' (the stores' inbox, webhook deliveries,
    /// coupons created in stores, emails), woken by the writes and deliveries this server
    /// takes, and the imports'.
    pub fn spawn_connection_workers(&self) -> tokio::task::JoinHandle<()> {
        let delivery = connections::delivery::DeliveryWorker::new(self.storage(), self.clock.clone(), self.deliveries);
        let inbox = connections::inbox::InboxWorker::new(self.points.clone());
        let checkout = connections::checkout::CheckoutWorker::new(self.storage(), self.clock.clone(), self.deliveries);
        let emails = self.mail.clone().map(|(mailer, public_url)| {
            notifications::worker::EmailWorker::new(self.storage(), self.clock.clone(), mailer, public_url)
        });
        jobs::spawn_imports(self.points.clone());
        connections::spawn_workers(inbox, delivery, checkout, emails, self.points.outbox_waker())
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), StartError> {
        // The peer address feeds the widget API's per-IP rate limit.
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, service).with_graceful_shutdown(shutdown).await.map_err(StartError::Serve)
    }
}

/// `tally serve`: runs until SIGTERM or Ctrl-C.
pub async fn serve(args: ServeArgs) -> Result<(), StartError> {
    let app = Application::build(&args).await?;
    jobs::spawn_fold(app.storage());
    app.spawn_connection_workers();
    if args.upkeep_interval > 0 {
        let interval = std::time::Duration::from_secs(args.upkeep_interval);
        let retention = std::time::Duration::from_secs(args.retention_days.saturating_mul(86_400));
        jobs::spawn(points::PointsService::new(app.storage(), Arc::new(time::SystemClock)), interval, retention);
    }
    tracing::info!(addr = %app.local_addr(), console = %format!("http://{}/admin", app.local_addr()), "tally is listening");
    app.run_until(telemetry::shutdown_signal()).await
}

//! The HTTP surface: one router, per-area handler modules, shared state.

pub(crate) mod api;
mod assets;
pub mod client;
mod connections;
mod console;
pub mod edge;
mod health;
pub mod problem;
mod rate_limit;
mod unsubscribe;
mod widget_api;

use std::{path::Path, sync::Arc, time::Duration};

use axum::{extract::DefaultBodyLimit, response::Redirect, routing::get, Router};
use leptos::config::LeptosOptions;
use tower_http::trace::TraceLayer;

use crate::{connections::webhooks::UrlPolicy, points::PointsService, storage::Storage, time::Clock};
use rate_limit::{FailureLimit, RateLimiter};

/// A storefront page makes a handful of widget calls; these leave room for busy shared IPs.
pub const WIDGET_CALLS_PER_IP_PER_MINUTE: u32 = 300;
pub const WIDGET_CALLS_PER_SHOPPER_PER_MINUTE: u32 = 60;
/// Merchant API requests per key a minute, unless the server or the program says otherwise.
pub const API_CALLS_PER_KEY_PER_MINUTE: u32 = 600;

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Clone, axum::extract::FromRef)]
pub struct AppState {
    pub storage: Arc<dyn Storage>,
    /// Every business operation on points goes through it.
    pub points: PointsService,
    pub clock: Arc<dyn Clock>,
    pub leptos_options: LeptosOptions,
    pub widget_limits: Arc<WidgetLimits>,
    pub console_limits: Arc<ConsoleLimits>,
    /// `--public-url`, validated: where browsers reach this server.
    pub public_url: Option<Arc<str>>,
    /// Which webhook URLs endpoints may have (`--webhooks-allow-private`).
    pub webhook_urls: UrlPolicy,
    /// Shoppers' emails go out through it (`--smtp-url`); none: mail is not configured.
    pub mailer: Option<crate::notifications::mailer::Mailer>,
    pub api_limits: Arc<rate_limit::LimitsByRate>,
    /// Merchant API requests per key a minute where the program does not say
    /// (`--api-requests-per-minute`).
    pub api_default_rate: u32,
    /// Whose `X-Forwarded-*` headers are believed (`--trusted-proxies`).
    pub trusted_proxies: Arc<client::TrustedProxies>,
    /// Signs the known-device cookie of console sign-ins.
    pub device_key: Arc<[u8; 32]>,
    /// Checks the unsubscribe links in emails (the email worker signs them with the same key).
    #[from_ref(skip)]
    pub unsubscribe_key: Arc<[u8; 32]>,
}

/// Sign-in limits. Guessing is bounded per client address and per account and address; an
/// account's attempts from browsers it never signed in on share one more allowance, so that
/// strangers spread over many addresses cannot lock its users out of the browsers they use.
pub struct ConsoleLimits {
    /// Sign-in and set-up attempts per client address: 20 a minute.
    pub sign_in_per_client: rate_limit::RateLimiter,
    /// Failed attempts per account (email) and client address: 10, then one a minute.
    pub sign_in_per_account_and_client: rate_limit::FailureLimit,
    /// Failed attempts per account from browsers without its known-device cookie: 20, then one
    /// every three minutes.
    pub sign_in_per_account_from_new_devices: rate_limit::FailureLimit,
}

/// Rate limits of the public widget API.
pub struct WidgetLimits {
    pub per_ip: rate_limit::RateLimiter,
    pub per_shopper: rate_limit::RateLimiter,
}

impl AppState {
    /// Forgets idle rate-limit keys every minute, away from the requests.
    pub fn spawn_limit_upkeep(&self) -> tokio::task::JoinHandle<()> {
        let state = self.clone();
        tokio::spawn(async move {
            let mut every_minute = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                every_minute.tick().await;
                let (widget, console) = (&state.widget_limits, &state.console_limits);
                for limiter in [&widget.per_ip, &widget.per_shopper, &console.sign_in_per_client] {
                    limiter.forget_idle();
                }
                console.sign_in_per_account_and_client.forget_idle();
                console.sign_in_per_account_from_new_devices.forget_idle();
                state.api_limits.forget_idle();
            }
        })
    }
}

impl AppState {
    pub fn new(storage: Arc<dyn Storage>, clock: Arc<dyn Clock>, site_root: &Path, public_url: Option<String>) -> Self {
        let leptos_options = LeptosOptions::builder()
            .output_name("tally")
            .site_root(site_root.to_string_lossy().into_owned())
            .site_pkg_dir("pkg")
            .build();
        Self {
            points: PointsService::new(storage.clone(), clock.clone()),
            widget_limits: Arc::new(WidgetLimits {
                per_ip: RateLimiter::per_minute(WIDGET_CALLS_PER_IP_PER_MINUTE, clock.clone()),
                per_shopper: RateLimiter::per_minute(WIDGET_CALLS_PER_SHOPPER_PER_MINUTE, clock.clone()),
            }),
            console_limits: Arc::new(ConsoleLimits {
                sign_in_per_client: RateLimiter::per_minute(20, clock.clone()),
                sign_in_per_account_and_client: FailureLimit::new(10, Duration::from_secs(60), clock.clone()),
                sign_in_per_account_from_new_devices: FailureLimit::new(20, Duration::from_secs(180), clock.clone()),
            }),
            api_limits: Arc::new(rate_limit::LimitsByRate::new(clock.clone())),
            api_default_rate: API_CALLS_PER_KEY_PER_MINUTE,
            public_url: public_url.map(Arc::from),
            webhook_urls: UrlPolicy::default(),
            mailer: None,
            trusted_proxies: Arc::default(),
            // The same on every replica: derived from the secret key they share.
            device_key: Arc::new(storage.secret_keys().derive("tally console known device v1")),
            unsubscribe_key: Arc::new(storage.secret_keys().derive(crate::notifications::unsubscribe::KEY_PURPOSE)),
            storage,
            clock,
            leptos_options,
        }
    }

    fn site_root(&self) -> &Path {
        Path::new(&*self.leptos_options.site_root)
    }
}

/// Puts the request's [`client::ClientInfo`] on it for everything after.
async fn identify_client(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let client = client::ClientInfo::of(&request, &state.trusted_proxies);
    request.extensions_mut().insert(client);
    next.run(request).await
}

pub fn router(state: AppState) -> Router {
    let router = Router::new()
        .route("/", get(|| async { Redirect::to("/admin") }))
        .merge(health::routes())
        .merge(api::routes(&state))
        .merge(connections::routes())
        .merge(unsubscribe::routes())
        .merge(widget_api::routes(&state))
        .merge(assets::routes(&state))
        .merge(console::routes(&state))
        .fallback(|| async { problem::Problem::not_found("No such page or endpoint.") })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(state.clone(), identify_client));
    edge::with_edge_layers(router).layer(TraceLayer::new_for_http()).with_state(state)
}

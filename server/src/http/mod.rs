//! The HTTP surface: one router, per-area handler modules, shared state.

pub(crate) mod api;
mod assets;
mod connections;
mod console;
pub mod edge;
mod health;
pub mod problem;
mod rate_limit;
mod widget_api;

use std::{path::Path, sync::Arc};

use axum::{extract::DefaultBodyLimit, response::Redirect, routing::get, Router};
use leptos::config::LeptosOptions;
use tower_http::trace::TraceLayer;

use crate::{connections::webhooks::UrlPolicy, points::PointsService, storage::Storage, time::Clock};

/// A storefront page makes a handful of widget calls; these leave room for busy shared IPs.
pub const WIDGET_CALLS_PER_IP_PER_MINUTE: u32 = 300;
pub const WIDGET_CALLS_PER_SHOPPER_PER_MINUTE: u32 = 60;

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
}

/// Sign-in attempts allowed per minute: per client IP (all), per email address (failed ones).
pub struct ConsoleLimits {
    pub sign_in_per_ip: rate_limit::RateLimiter,
    pub sign_in_per_email: rate_limit::RateLimiter,
}

/// Rate limits of the public widget API.
pub struct WidgetLimits {
    pub per_ip: rate_limit::RateLimiter,
    pub per_shopper: rate_limit::RateLimiter,
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
            storage,
            clock,
            leptos_options,
            widget_limits: Arc::new(WidgetLimits {
                per_ip: rate_limit::RateLimiter::per_minute(WIDGET_CALLS_PER_IP_PER_MINUTE),
                per_shopper: rate_limit::RateLimiter::per_minute(WIDGET_CALLS_PER_SHOPPER_PER_MINUTE),
            }),
            console_limits: Arc::new(ConsoleLimits {
                sign_in_per_ip: rate_limit::RateLimiter::per_minute(20),
                sign_in_per_email: rate_limit::RateLimiter::per_minute(5),
            }),
            public_url: public_url.map(Arc::from),
            webhook_urls: UrlPolicy::default(),
        }
    }

    fn site_root(&self) -> &Path {
        Path::new(&*self.leptos_options.site_root)
    }
}

pub fn router(state: AppState) -> Router {
    let router = Router::new()
        .route("/", get(|| async { Redirect::to("/admin") }))
        .merge(health::routes())
        .merge(api::routes(&state))
        .merge(connections::routes())
        .merge(widget_api::routes(&state))
        .merge(assets::routes(&state))
        .merge(console::routes(&state))
        .fallback(|| async { problem::Problem::not_found("No such page or endpoint.") })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    edge::with_edge_layers(router).layer(TraceLayer::new_for_http()).with_state(state)
}

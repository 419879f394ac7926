//! Built browser assets: the console's hydration bundle (`/pkg`), the widget bundle
//! (`/widget/assets`) and the widget loader (`/widget.js`).

use axum::{
    extract::{Request, State},
    http::{header, HeaderValue, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use serde::Deserialize;
use tower_http::{services::ServeDir, set_header::SetResponseHeaderLayer};

use super::{problem::Problem, AppState};

/// Written by `cargo xtask build` next to the content-hashed widget files.
pub const WIDGET_MANIFEST: &str = "widget/manifest.json";

#[derive(Deserialize)]
struct WidgetManifest {
    js: String,
    wasm: String,
}

pub fn routes(state: &AppState) -> Router<AppState> {
    let site_root = state.site_root();
    // Console bundle names are stable, so browsers revalidate them on each load.
    let console_bundle = Router::new()
        .nest_service("/pkg", precompressed(ServeDir::new(site_root.join("pkg"))))
        .layer(SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-cache")));
    // Widget bundle names carry a content hash, so they never change; storefronts on any
    // origin import them as ES modules, which requires CORS.
    let widget_bundle = Router::new()
        .nest_service("/widget/assets", precompressed(ServeDir::new(site_root.join("widget"))))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ))
        .layer(SetResponseHeaderLayer::overriding(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")))
        // Lets storefronts' performance tools see the widget's real transfer sizes.
        .layer(SetResponseHeaderLayer::overriding(
            header::HeaderName::from_static("timing-allow-origin"),
            HeaderValue::from_static("*"),
        ));
    Router::new()
        .route("/widget.js", get(widget_loader))
        .merge(console_bundle)
        .merge(widget_bundle)
        .layer(middleware::from_fn(plausible_file_names))
}

/// The longest file name our bundles have room for, in bytes (file systems allow 255).
const MAX_FILE_NAME: usize = 255;

/// A file name no file system allows is a 404, not the file system's error (which the file
/// service answers as a 500).
async fn plausible_file_names(request: Request, next: Next) -> Response {
    if request.uri().path().split('/').any(|segment| segment.len() > MAX_FILE_NAME) {
        return Problem::not_found("No such file.").into_response();
    }
    next.run(request).await
}

fn precompressed(dir: ServeDir) -> ServeDir {
    dir.precompressed_br().precompressed_gzip()
}

/// The small script storefronts embed. It points at the current hashed bundle and is cached
/// briefly, so a new Tally release reaches storefronts within minutes.
async fn widget_loader(State(state): State<AppState>) -> Response {
    let manifest_path = state.site_root().join(WIDGET_MANIFEST);
    let manifest = tokio::fs::read(&manifest_path)
        .await
        .ok()
        .and_then(|bytes| serde_json::from_slice::<WidgetManifest>(&bytes).ok());
    let javascript = |status, body: String, cache| {
        (
            status,
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8")),
                (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")),
            ],
            body,
        )
            .into_response()
    };
    match manifest {
        Some(manifest) => {
            let body = include_str!("widget_loader.js")
                .replace("__TALLY_WIDGET_JS__", &format!("/widget/assets/{}", manifest.js))
                .replace("__TALLY_WIDGET_WASM__", &format!("/widget/assets/{}", manifest.wasm));
            javascript(StatusCode::OK, body, "public, max-age=300")
        }
        None => {
            tracing::error!(path = %manifest_path.display(), "widget bundle missing: run `cargo xtask build`");
            let body = "console.error('[tally] The widget is not built on this server: run `cargo xtask build`.');";
            javascript(StatusCode::SERVICE_UNAVAILABLE, body.to_owned(), "no-store")
        }
    }
}

//! Built browser assets are served compressed, with the right types and cache headers.
//! Needs `cargo xtask build` first (the README's test command does it).

use crate::common::{spawn_app, Db};

fn widget_manifest() -> serde_json::Value {
    let path = "../target/site/widget/manifest.json";
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e}; build the bundles first with `cargo xtask build`"));
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn widget_wasm_is_application_wasm_precompressed_immutable_and_cors_open() {
    let app = spawn_app(Db::Sqlite).await;
    let wasm = widget_manifest()["wasm"].as_str().unwrap().to_owned();

    for encoding in ["br", "gzip"] {
        let response = app
            .client
            .get(app.url(&format!("/widget/assets/{wasm}")))
            .header("Accept-Encoding", encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], "application/wasm");
        assert_eq!(headers["content-encoding"], encoding);
        assert_eq!(headers["cache-control"], "public, max-age=31536000, immutable");
        assert_eq!(headers["access-control-allow-origin"], "*");
        assert_eq!(headers["timing-allow-origin"], "*");
        let compressed = response.bytes().await.unwrap();
        let raw = std::fs::read(format!("../target/site/widget/{wasm}")).unwrap();
        assert!(compressed.len() < raw.len() / 2, "{encoding}: {} of {} bytes", compressed.len(), raw.len());
    }
    app.stop().await;
}

#[tokio::test]
async fn widget_loader_points_at_the_current_hashed_bundle() {
    let app = spawn_app(Db::Sqlite).await;
    let manifest = widget_manifest();
    let response = app.get("/widget.js").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(response.headers()["cache-control"], "public, max-age=300");
    let body = response.text().await.unwrap();
    assert!(body.contains(&format!("/widget/assets/{}", manifest["js"].as_str().unwrap())));
    assert!(body.contains(&format!("/widget/assets/{}", manifest["wasm"].as_str().unwrap())));
    assert!(!body.contains("__TALLY_WIDGET"), "every placeholder is filled");
    app.stop().await;
}

#[tokio::test]
async fn console_bundle_is_served_compressed_and_revalidated() {
    let app = spawn_app(Db::Sqlite).await;
    let response =
        app.client.get(app.url("/pkg/tally_bg.wasm")).header("Accept-Encoding", "gzip").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/wasm");
    assert_eq!(response.headers()["content-encoding"], "gzip");
    assert_eq!(response.headers()["cache-control"], "no-cache");

    let page = app.get("/admin").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("/pkg/tally.js"), "the console page loads the hydration bundle");
    app.stop().await;
}

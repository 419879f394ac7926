//! The OpenAPI document covers every merchant endpoint and every schema it refers to exists.

use crate::common::{spawn_app, Db};
use serde_json::Value;

/// Every route of the merchant API (the router's, written out: axum cannot list them).
const ENDPOINTS: &[(&str, &str)] = &[
    ("get", "/api/v1/customers/{customer_id}"),
    ("put", "/api/v1/customers/{customer_id}"),
    ("get", "/api/v1/customers/{customer_id}/entries"),
    ("post", "/api/v1/customers/{customer_id}/adjustments"),
    ("get", "/api/v1/customers/{customer_id}/tier-history"),
    ("post", "/api/v1/customers/{customer_id}/redemptions"),
    ("post", "/api/v1/events"),
    ("post", "/api/v1/orders/{order_id}/refunds"),
    ("post", "/api/v1/orders/{order_id}/cancel"),
    ("get", "/api/v1/rewards"),
    ("post", "/api/v1/rewards"),
    ("get", "/api/v1/rewards/{reward_id}"),
    ("put", "/api/v1/rewards/{reward_id}"),
    ("delete", "/api/v1/rewards/{reward_id}"),
    ("get", "/api/v1/coupons/{code}"),
    ("post", "/api/v1/coupons/{code}/consume"),
    ("post", "/api/v1/coupons/{code}/cancel"),
    ("get", "/api/v1/settings"),
    ("put", "/api/v1/settings"),
    ("get", "/api/v1/tiers"),
    ("put", "/api/v1/tiers"),
    ("get", "/api/v1/campaigns"),
    ("put", "/api/v1/campaigns"),
];

fn refs(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                found.push(target.clone());
            }
            map.values().for_each(|v| refs(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_complete() {
    let app = spawn_app(Db::Sqlite).await;
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), 200, "public, no key needed");
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["components"]["securitySchemes"]["secret_key"]["scheme"], "bearer");

    let paths = document["paths"].as_object().unwrap();
    let mut documented: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |method| (method.clone(), path.clone())))
        .filter(|(method, _)| ["get", "put", "post", "delete", "patch"].contains(&method.as_str()))
        .collect();
    documented.sort();
    let mut expected: Vec<(String, String)> = ENDPOINTS.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    expected.sort();
    assert_eq!(documented, expected);

    for (method, path) in ENDPOINTS {
        let operation = &paths[*path][*method];
        assert!(operation["responses"]["401"].is_object(), "{method} {path} documents 401");
        let success = operation["responses"].as_object().unwrap().keys().any(|code| code.starts_with('2'));
        assert!(success, "{method} {path} documents its success");
    }

    let mut targets = Vec::new();
    refs(&document, &mut targets);
    assert!(targets.len() > 20);
    for target in targets {
        let name = target.trim_start_matches("#/components/schemas/");
        assert!(document["components"]["schemas"][name].is_object(), "{target} is defined");
    }
    let timestamp = &document["components"]["schemas"]["Timestamp"];
    assert_eq!((timestamp["type"].as_str(), timestamp["format"].as_str()), (Some("string"), Some("date-time")));
    let problem = &document["paths"]["/api/v1/events"]["post"]["responses"]["422"]["content"];
    assert!(problem["application/problem+json"].is_object(), "errors are documented as problem+json");
    app.stop().await;
}

//! The OpenAPI document and the router describe the same merchant API, and every schema the
//! document refers to exists.

use crate::common::{spawn_app, Db};
use serde_json::Value;

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
    assert_eq!(documented.len(), 46, "the merchant API's operations: {documented:?}");

    // The document and the router come from one list: every documented operation is routed
    // (it answers itself, not the router's 404 or 405).
    let (_, secret) = app.create_program("Shop").await;
    for (method, path) in &documented {
        let operation = &paths[path.as_str()][method.as_str()];
        assert!(operation["responses"]["401"].is_object(), "{method} {path} documents 401");
        let success = operation["responses"].as_object().unwrap().keys().any(|code| code.starts_with('2'));
        assert!(success, "{method} {path} documents its success");
        let concrete = path.replace(['{', '}'], "");
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = app.api(method.clone(), &concrete, &secret).json(&serde_json::json!({})).send().await.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_ne!(status, 405, "{method} {path} is routed");
        assert!(status != 404 || body["detail"] != "No such page or endpoint.", "{method} {path} is routed: {body}");
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

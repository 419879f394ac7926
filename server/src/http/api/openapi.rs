//! `GET /api/v1/openapi.json`: the merchant API described by OpenAPI 3.1, generated from the
//! handlers' annotations and the types they exchange; its paths are those the router mounts
//! (see [`super::routes`]).

use axum::{routing::get, Json, Router};
use utoipa::{
    openapi::security::{Http, HttpAuthScheme, SecurityScheme},
    Modify, OpenApi,
};

use crate::http::{problem::Problem, AppState};

#[derive(OpenApi)]
#[openapi(
    info(title = "Tally merchant API", description = "Loyalty points: customers, orders, actions, rewards and coupons. \
        Authenticate with `Authorization: Bearer sk_...`. Every write carries a client id: a replay returns the \
        original result (200), the same id with another body is 409. Errors are application/problem+json. \
        Each secret key may make `api_requests_per_minute` requests a minute (600 unless the program's settings \
        say otherwise; counted per server replica); every answer says what is left in `RateLimit-*` headers, \
        and a request over the limit is a 429 with `Retry-After`."),
    components(schemas(Problem)),
    modifiers(&SecretKey),
    security(("secret_key" = [])),
)]
pub struct ApiDoc;

/// What a read can answer besides success: `application/problem+json` bodies.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // describes responses; never built
pub enum ReadErrors {
    /// A path or query that cannot be read (not UTF-8, control characters)
    #[response(status = 400, content_type = "application/problem+json")]
    Malformed(Problem),
    /// Missing, unknown or revoked secret key
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// Not found in this program
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// An invalid path or query parameter (`field` names it)
    #[response(status = 422, content_type = "application/problem+json")]
    Invalid(Problem),
    /// Too many requests with this key: wait `Retry-After` seconds. Every answer carries the
    /// key's allowance (`RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`,
    /// `RateLimit-Policy`); the program's `api_requests_per_minute` sets it (600 by default).
    #[response(
        status = 429,
        content_type = "application/problem+json",
        headers(
            ("Retry-After" = u64, description = "Seconds until a request is allowed again"),
            ("RateLimit-Limit" = u32, description = "Requests allowed in a burst"),
            ("RateLimit-Remaining" = u32, description = "Requests left now (0)"),
            ("RateLimit-Reset" = u64, description = "Seconds until the allowance is back"),
        )
    )]
    RateLimited(Problem),
}

/// What a write can answer besides success: `application/problem+json` bodies.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // describes responses; never built
pub enum WriteErrors {
    /// Malformed JSON, or a path that cannot be read (not UTF-8, control characters)
    #[response(status = 400, content_type = "application/problem+json")]
    Malformed(Problem),
    /// Missing, unknown or revoked secret key
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// Not found in this program
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// The client id was used with another body, or the state forbids it (coupon used, ...)
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
    /// Body over 64 KiB
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(Problem),
    /// Not `application/json`
    #[response(status = 415, content_type = "application/problem+json")]
    NotJson(Problem),
    /// A field is missing, of the wrong type or out of range (`field` names it), or the ledger
    /// refused (insufficient points, cap reached, ...)
    #[response(status = 422, content_type = "application/problem+json")]
    Invalid(Problem),
    /// Too many requests with this key: wait `Retry-After` seconds. Every answer carries the
    /// key's allowance (`RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`,
    /// `RateLimit-Policy`); the program's `api_requests_per_minute` sets it (600 by default).
    #[response(
        status = 429,
        content_type = "application/problem+json",
        headers(
            ("Retry-After" = u64, description = "Seconds until a request is allowed again"),
            ("RateLimit-Limit" = u32, description = "Requests allowed in a burst"),
            ("RateLimit-Remaining" = u32, description = "Requests left now (0)"),
            ("RateLimit-Reset" = u64, description = "Seconds until the allowance is back"),
        )
    )]
    RateLimited(Problem),
}

/// The bearer scheme of the program's secret key.
struct SecretKey;

impl Modify for SecretKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.description = Some("The program's secret API key, sk_...".to_owned());
        components.add_security_scheme("secret_key", SecurityScheme::Http(scheme));
    }
}

/// Public: the document describes the API, it gives no access to it.
pub fn routes(document: utoipa::openapi::OpenApi) -> Router<AppState> {
    let document = served(document);
    Router::new().route("/api/v1/openapi.json", get(move || async move { Json(document.clone()) }))
}

/// The document as served. A type that refuses unknown fields (`deny_unknown_fields`) is
/// described with `additionalProperties: false`; where another type flattens it (a reward's
/// id beside its definition), JSON Schema's `allOf` would then refuse the other type's own
/// fields, so such flattened parts leave that rule to the request they describe.
fn served(document: utoipa::openapi::OpenApi) -> serde_json::Value {
    let mut document = serde_json::to_value(document).expect("the OpenAPI document serialises");
    let mut flattened = Vec::new();
    collect_all_of_refs(&document, &mut flattened);
    if let Some(schemas) = document.pointer_mut("/components/schemas").and_then(serde_json::Value::as_object_mut) {
        for name in flattened {
            if let Some(schema) = schemas.get_mut(&name).and_then(serde_json::Value::as_object_mut) {
                schema.remove("additionalProperties");
            }
        }
    }
    document
}

/// The component names referenced from inside any `allOf`.
fn collect_all_of_refs(value: &serde_json::Value, names: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(fields) => {
            if let Some(serde_json::Value::Array(parts)) = fields.get("allOf") {
                for part in parts {
                    if let Some(name) = part.get("$ref").and_then(|r| r.as_str()).and_then(|r| r.rsplit('/').next()) {
                        names.push(name.to_owned());
                    }
                }
            }
            fields.values().for_each(|field| collect_all_of_refs(field, names));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| collect_all_of_refs(item, names)),
        _ => {}
    }
}

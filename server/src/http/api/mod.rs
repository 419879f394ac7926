//! The merchant REST API, `/api/v1/...`, authenticated with a program's secret key
//! (`Authorization: Bearer sk_...`). Every handler sees only its own program's data.

mod connections;
pub(crate) mod customers;
mod events;
mod openapi;
mod orders;
pub(crate) mod referrals;
pub(crate) mod rewards;
mod settings;
mod webhooks;

use axum::{
    body::Bytes,
    extract::{FromRequest, Request, State},
    http::{header, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    Json, Router,
};
use serde::{de::DeserializeOwned, Serialize};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use super::{problem::Problem, AppState};
use crate::{points::Written, programs::Program, secrets, storage::WriteResult};

/// The routes and the OpenAPI document come from one list: each handler's `#[utoipa::path]`
/// names its method and path, and `routes!` mounts it from there.
pub fn routes(state: &AppState) -> Router<AppState> {
    let (router, document) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(connections::routes())
        .merge(customers::routes())
        .merge(events::routes())
        .merge(orders::routes())
        .merge(referrals::routes())
        .merge(rewards::routes())
        .merge(settings::routes())
        .merge(webhooks::routes())
        .split_for_parts();
    router.route_layer(middleware::from_fn_with_state(state.clone(), authenticate)).merge(openapi::routes(document))
}

/// Finds the program of the bearer key and hands it to the handler; 401 otherwise.
async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Result<Response, Problem> {
    let key = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|key| key.starts_with("sk_"))
        .ok_or_else(|| Problem::unauthorized("Send the program's secret key as `Authorization: Bearer sk_...`."))?;
    // Looked up by hash: the database compares digests, never the secret itself.
    let key_hash = secrets::hash_secret(key);
    let program = state
        .storage
        .program_for_api_key(&key_hash, state.clock.now())
        .await?
        .ok_or_else(|| Problem::unauthorized("This secret key is unknown or was revoked."))?;
    // Per key, at the program's rate: one busy integration cannot starve the server.
    let allowance = match state
        .api_limits
        .check(program.settings.api_requests_per_minute.unwrap_or(state.api_default_rate), &key_hash)
    {
        Ok(allowance) => allowance,
        Err(refusal) => return Ok(refusal.response()),
    };
    request.extensions_mut().insert(program);
    let mut response = next.run(request).await;
    allowance.add_to(response.headers_mut());
    Ok(response)
}

/// The HTTP answer to a write that went through: 201 when applied, 200 with the original
/// result on a replay. Failures are [`PointsError`](crate::points::PointsError)s, answered as
/// problems.
pub fn respond<T: Serialize>(written: Written, view: impl FnOnce(WriteResult) -> T) -> Response {
    let status = if written.replayed { StatusCode::OK } else { StatusCode::CREATED };
    (status, Json(view(written.result))).into_response()
}

/// The authenticated program, put there by [`authenticate`].
type CurrentProgram = axum::Extension<Program>;

/// A JSON body, parsed strictly: wrong types, missing or unknown fields are 422 naming the
/// field; a body that is not JSON is 400; too large is 413.
pub struct ApiJson<T> {
    pub value: T,
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json =
            request.headers().get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).is_some_and(|value| {
                value.split(';').next().is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
            });
        if !is_json {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
                "Send the body as JSON with `Content-Type: application/json`.",
            ));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "Body too large",
                    format!("Request bodies may be at most {} bytes.", super::MAX_BODY_BYTES),
                )
            } else {
                Problem::new(StatusCode::BAD_REQUEST, "bad_request", "Bad request", rejection.body_text())
            }
        })?;
        if let Some(field) = control_character_field(&bytes) {
            return Err(Problem::invalid_field(
                field,
                "text must not contain control characters (tab and newline aside)",
            ));
        }
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
            let path = error.path().to_string();
            let inner = error.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                Problem::new(StatusCode::BAD_REQUEST, "malformed_json", "Malformed JSON", inner.to_string())
            } else {
                // serde_path_to_error's path ends at an unknown field, except inside a flattened
                // struct; a missing field is named only in the message, under its parent.
                let message = inner.to_string();
                let field = match (named_field(&message), path.as_str()) {
                    (Some(name), ".") => name,
                    (Some(name), _) if message.starts_with("missing field") => format!("{path}.{name}"),
                    _ => path,
                };
                Problem::invalid_field(field, inner.to_string())
            }
        })?;
        deserializer.end().map_err(|error| {
            Problem::new(StatusCode::BAD_REQUEST, "malformed_json", "Malformed JSON", error.to_string())
        })?;
        Ok(Self { value })
    }
}

/// The field of a JSON string holding a control character other than tab, newline and
/// carriage return (PostgreSQL cannot store a NUL; no text of Tally's needs the others). JSON
/// can only carry them as `\u00XX` escapes, so bodies without one are not parsed twice.
pub(crate) fn control_character_field(bytes: &[u8]) -> Option<String> {
    let escaped = bytes.windows(6).any(|window| {
        window.starts_with(b"\\u00") && (matches!(window[4], b'0' | b'1') || window[4..].eq_ignore_ascii_case(b"7f"))
    });
    if !escaped {
        return None;
    }
    fn find(value: &serde_json::Value, path: &str) -> Option<String> {
        let bad = |text: &str| text.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'));
        match value {
            serde_json::Value::String(text) if bad(text) => Some(path.to_owned()),
            serde_json::Value::Array(items) => {
                items.iter().enumerate().find_map(|(index, item)| find(item, &format!("{path}[{index}]")))
            }
            serde_json::Value::Object(fields) => fields.iter().find_map(|(name, field)| {
                let path = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
                if bad(name) {
                    Some(path)
                } else {
                    find(field, &path)
                }
            }),
            _ => None,
        }
    }
    find(&serde_json::from_slice(bytes).ok()?, "")
}

/// The field serde names in "unknown field `x`" or "missing field `x`".
fn named_field(message: &str) -> Option<String> {
    if !(message.starts_with("unknown field") || message.starts_with("missing field")) {
        return None;
    }
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(message[start..end].to_owned())
}

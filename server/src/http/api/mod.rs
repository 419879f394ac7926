//! The merchant REST API, `/api/v1/...`, authenticated with a program's secret key
//! (`Authorization: Bearer sk_...`). Every handler sees only its own program's data.

pub(crate) mod customers;
mod events;
mod openapi;
mod orders;
pub(crate) mod rewards;
mod settings;

use axum::{
    body::Bytes,
    extract::{FromRequest, Request, State},
    http::{header, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    Json, Router,
};
use serde::{de::DeserializeOwned, Serialize};

use super::{problem::Problem, AppState};
use crate::{
    customers::CustomerId,
    ledger::LedgerError,
    programs::Program,
    secrets,
    storage::{Refusal, WriteOutcome, WriteResult},
};

pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(customers::routes())
        .merge(events::routes())
        .merge(orders::routes())
        .merge(rewards::routes())
        .merge(settings::routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .merge(openapi::routes())
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
    let program = state
        .storage
        .program_for_api_key(&secrets::hash_secret(key), state.clock.now())
        .await?
        .ok_or_else(|| Problem::unauthorized("This secret key is unknown or was revoked."))?;
    request.extensions_mut().insert(program);
    Ok(next.run(request).await)
}

pub use crate::ledger::MAX_POINTS_PER_WRITE;

pub fn customer_id(raw: &str) -> Result<CustomerId, Problem> {
    CustomerId::parse(raw).map_err(|error| Problem::invalid_field("customer_id", error.to_string()))
}

/// Client ids (I3): 1 to 128 printable characters.
pub fn client_id(field: &str, value: &str) -> Result<(), Problem> {
    let length = value.chars().count();
    if (1..=128).contains(&length) && !value.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(Problem::invalid_field(field, format!("{field} must be 1 to 128 characters")))
    }
}

/// The HTTP answer to a ledger write: 201 when applied, 200 with the original result on a
/// replay, 409 when the client id was used for another body, 422 when the ledger refused.
pub fn respond<T: Serialize>(
    outcome: WriteOutcome,
    (client_field, client_id): (&str, &str),
    view: impl FnOnce(WriteResult) -> T,
) -> Result<Response, Problem> {
    match outcome {
        WriteOutcome::Applied(result) => Ok((StatusCode::CREATED, Json(view(result))).into_response()),
        WriteOutcome::Replayed(result) => Ok((StatusCode::OK, Json(view(result))).into_response()),
        WriteOutcome::Conflict => Err(Problem::idempotency_conflict(client_field, client_id)),
        WriteOutcome::Refused(Refusal::Ledger(LedgerError::InsufficientPoints { available, requested })) => {
            Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "insufficient_points",
                "Insufficient points",
                format!("The customer has {available} points available; {requested} are needed."),
            ))
        }
        WriteOutcome::Refused(Refusal::Ledger(LedgerError::OrderAlreadyRecorded)) => Err(Problem::new(
            StatusCode::CONFLICT,
            "order_already_recorded",
            "Order already recorded",
            LedgerError::OrderAlreadyRecorded.to_string(),
        )),
        WriteOutcome::Refused(Refusal::Ledger(LedgerError::UnknownOrder)) => {
            Err(Problem::not_found(LedgerError::UnknownOrder.to_string()))
        }
        WriteOutcome::Refused(refusal @ (Refusal::RewardLimitReached | Refusal::OutOfStock)) => Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            if refusal == Refusal::OutOfStock { "out_of_stock" } else { "reward_limit_reached" },
            "Reward unavailable",
            refusal.to_string(),
        )),
        WriteOutcome::Refused(Refusal::CouponNotIssued) => Err(Problem::new(
            StatusCode::CONFLICT,
            "coupon_not_issued",
            "Coupon not cancellable",
            Refusal::CouponNotIssued.to_string(),
        )),
        WriteOutcome::Refused(Refusal::CapReached) => Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "cap_reached",
            "Cap reached",
            Refusal::CapReached.to_string(),
        )),
        WriteOutcome::Refused(Refusal::Ledger(other)) => Err(Problem::invalid_field("points", other.to_string())),
    }
}

/// The authenticated program, put there by [`authenticate`].
type CurrentProgram = axum::Extension<Program>;

/// A JSON body, parsed strictly: wrong types, missing or unknown fields are 422 naming the
/// field; a body that is not JSON is 400; too large is 413. Keeps the body's fingerprint so
/// writes can tell a replay from a different request (I3).
pub struct ApiJson<T> {
    pub value: T,
    pub fingerprint: String,
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.split(';').next().is_some_and(|mime| mime.trim() == "application/json"));
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
        Ok(Self { value, fingerprint: secrets::fingerprint(&bytes) })
    }
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

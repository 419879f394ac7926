//! Webhook endpoints: where the program's events are sent, signed (Standard Webhooks), and
//! what came of each delivery.

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::openapi::{ReadErrors, WriteErrors};
use super::{ApiJson, CurrentProgram};
use crate::{
    connections::{
        events::EventType,
        webhooks::{self, EndpointRequest, WebhookEndpoint},
    },
    http::{problem::Problem, AppState},
    ledger::Timestamp,
    storage::DeliveryRecord,
};

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, replace, remove))
        .routes(routes!(secret))
        .routes(routes!(rotate_secret))
        .routes(routes!(send_test))
        .routes(routes!(deliveries))
        .routes(routes!(resend))
}

/// An endpoint as the API shows it (its secret only where asked for).
#[derive(Serialize, utoipa::ToSchema)]
struct EndpointView {
    /// `whe_...`
    id: String,
    url: String,
    description: String,
    /// The types sent; empty means every type.
    event_types: Vec<EventType>,
    disabled: bool,
    /// Since when deliveries have been giving up (cleared by the next success).
    failing_since: Option<Timestamp>,
    created_at: Timestamp,
}

impl From<&WebhookEndpoint> for EndpointView {
    fn from(endpoint: &WebhookEndpoint) -> Self {
        Self {
            id: endpoint.id.clone(),
            url: endpoint.url.clone(),
            description: endpoint.description.clone(),
            event_types: endpoint.event_types.clone(),
            disabled: endpoint.disabled,
            failing_since: endpoint.failing_since,
            created_at: endpoint.created_at,
        }
    }
}

/// The signing secret, for the receiver's Standard Webhooks library.
#[derive(Serialize, utoipa::ToSchema)]
struct EndpointSecret {
    #[serde(flatten)]
    endpoint: EndpointView,
    /// `whsec_...`
    secret: String,
    /// After a rotation, the previous secret signs too until then.
    previous_secret_until: Option<Timestamp>,
}

impl From<&WebhookEndpoint> for EndpointSecret {
    fn from(endpoint: &WebhookEndpoint) -> Self {
        Self {
            endpoint: endpoint.into(),
            secret: endpoint.secret.clone(),
            previous_secret_until: endpoint.previous_secret.as_ref().map(|(_, until)| *until),
        }
    }
}

async fn load(state: &AppState, program: &CurrentProgram, endpoint_id: &str) -> Result<WebhookEndpoint, Problem> {
    state
        .storage
        .endpoint(&program.id, endpoint_id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("No webhook endpoint {endpoint_id:?} in this program.")))
}

#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    responses((status = 200, description = "The program's endpoints, oldest first", body = Vec<EndpointView>), ReadErrors))]
async fn list(State(state): State<AppState>, program: CurrentProgram) -> Result<Json<Vec<EndpointView>>, Problem> {
    let endpoints = state.storage.endpoints(&program.id).await?;
    Ok(Json(endpoints.iter().map(EndpointView::from).collect()))
}

#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = EndpointRequest,
    responses((status = 201, description = "Created, with its signing secret", body = EndpointSecret), WriteErrors))]
async fn create(
    State(state): State<AppState>,
    program: CurrentProgram,
    body: ApiJson<EndpointRequest>,
) -> Result<Response, Problem> {
    let endpoint = body.value.validated(&program.id, state.webhook_urls, state.clock.now()).map_err(Problem::from)?;
    state.storage.create_endpoint(&endpoint, None).await?;
    Ok((StatusCode::CREATED, Json(EndpointSecret::from(&endpoint))).into_response())
}

#[utoipa::path(get, path = "/api/v1/webhooks/{endpoint_id}", tag = "webhooks",
    params(("endpoint_id" = String, Path, description = "The endpoint id (whe_...)")),
    responses((status = 200, description = "The endpoint", body = EndpointView), ReadErrors))]
async fn show(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(endpoint_id): Path<String>,
) -> Result<Json<EndpointView>, Problem> {
    Ok(Json((&load(&state, &program, &endpoint_id).await?).into()))
}

#[utoipa::path(put, path = "/api/v1/webhooks/{endpoint_id}", tag = "webhooks",
    params(("endpoint_id" = String, Path, description = "The endpoint id (whe_...)")), request_body = EndpointRequest,
    responses((status = 200, description = "Replaced (the secret stays)", body = EndpointView), WriteErrors))]
async fn replace(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(endpoint_id): Path<String>,
    body: ApiJson<EndpointRequest>,
) -> Result<Json<EndpointView>, Problem> {
    let mut endpoint = load(&state, &program, &endpoint_id).await?;
    body.value.apply_to(&mut endpoint, state.webhook_urls).map_err(Problem::from)?;
    if !state.storage.update_endpoint(&endpoint, None).await? {
        return Err(Problem::not_found(format!("No webhook endpoint {endpoint_id:?} in this program.")));
    }
    Ok(Json((&endpoint).into()))
}

#[utoipa::path(delete, path = "/api/v1/webhooks/{endpoint_id}", tag = "webhooks",
    params(("endpoint_id" = String, Path, description = "The endpoint id (whe_...)")),
    responses((status = 204, description = "Removed, with its deliveries"), WriteErrors))]
async fn remove(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(endpoint_id): Path<String>,
) -> Result<StatusCode, Problem> {
    if !state.storage.delete_endpoint(&program.id, &endpoint_id, None).await? {
        return Err(Problem::not_found(format!("No webhook endpoint {endpoint_id:?} in this program.")));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/webhooks/{endpoint_id}/secret", tag = "webhooks",
    params(("endpoint_id" = String, Path, description = "The endpoint id (whe_...)")),
    responses((status = 200, description = "The endpoint with its signing secret", body = EndpointSecret), ReadErrors))]
async fn secret(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(endpoint_id): Path<String>,
) -> Result<Json<EndpointSecret>, Problem> {
    Ok(Json((&load(&state, &program, &endpoint_id).await?).into()))
}

/// The old secret keeps signing next to the new one for a day, so receivers can switch.
#[utoipa::path(post, path = "/api/v1/webhooks/{endpoint_id}/rotate-secret", tag = "webhooks",
    params(("endpoint_id" = String, Path, description = "The endpoint id (whe_...)")),
    responses((status = 200, description = "A new signing secret", body = EndpointSecret), WriteErrors))]
async fn rotate_secret(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(endpoint_id): Path<String>,
) -> Result<Json<EndpointSecret>, Problem> {
    let mut endpoint = load(&state, &program, &endpoint_id).await?;
    endpoint.rotate_secret(state.clock.now());
    if !state.storage.update_endpoint(&endpoint, None).await? {
        return Err(Problem::not_found(format!("No webhook endpoint {endpoint_id:?} in this program.")));
    }
    Ok(Json((&endpoint).into()))
}

#[derive(Serialize, utoipa::ToSchema)]
struct TestSent {
    /// The test event's id (`webhook-id`), to find it among the deliveries.
    event_id: String,
}

#[utoipa::path(post, path = "/api/v1/webhooks/{endpoint_id}/test", tag = "webhooks",
    params(("endpoint_id" = String, Path, description = "The endpoint id (whe_...)")),
    responses((status = 202, description = "A `webhook.test` event is on its way to this endpoint only", body = TestSent),
        WriteErrors))]
async fn send_test(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(endpoint_id): Path<String>,
) -> Result<Response, Problem> {
    let endpoint = load(&state, &program, &endpoint_id).await?;
    let event = webhooks::test_event(&program.id, &endpoint.id, state.clock.now());
    state.storage.append_test_event(&event, &endpoint.id).await?;
    state.points.wake_outbox();
    Ok((StatusCode::ACCEPTED, Json(TestSent { event_id: event.event_id })).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DeliveryQuery {
    /// 1 to 200 (default 50).
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct DeliveryPage {
    deliveries: Vec<DeliveryRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/webhooks/{endpoint_id}/deliveries", tag = "webhooks",
    params(("endpoint_id" = String, Path, description = "The endpoint id (whe_...)"), DeliveryQuery),
    responses((status = 200, description = "Deliveries, newest first", body = DeliveryPage), ReadErrors))]
async fn deliveries(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(endpoint_id): Path<String>,
    query: Result<Query<DeliveryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<DeliveryPage>, Problem> {
    let Query(query) = query.map_err(|rejection| Problem::invalid_field("query", rejection.body_text()))?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Problem::invalid_field("limit", format!("limit must be 1 to {MAX_PAGE}")));
    }
    let before = match query.cursor.as_deref() {
        None => None,
        Some(cursor) => Some(cursor.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
            Problem::invalid_field("cursor", "cursor must be a next_cursor value from a previous page")
        })?),
    };
    let endpoint = load(&state, &program, &endpoint_id).await?;
    let page = state.storage.deliveries(&program.id, &endpoint.id, before, limit).await?;
    let next_cursor = (page.len() == limit as usize).then(|| page.last().map(|row| row.id.to_string())).flatten();
    Ok(Json(DeliveryPage { deliveries: page, next_cursor }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ResendRequest {
    /// One failed delivery; absent for every failed delivery of the endpoint.
    #[serde(default)]
    delivery_id: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Resent {
    /// How many failed deliveries are queued again.
    queued: u64,
}

#[utoipa::path(post, path = "/api/v1/webhooks/{endpoint_id}/resend", tag = "webhooks",
    params(("endpoint_id" = String, Path, description = "The endpoint id (whe_...)")), request_body = ResendRequest,
    responses((status = 200, description = "Failed deliveries queued again", body = Resent), WriteErrors))]
async fn resend(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(endpoint_id): Path<String>,
    body: ApiJson<ResendRequest>,
) -> Result<Json<Resent>, Problem> {
    let endpoint = load(&state, &program, &endpoint_id).await?;
    let now = state.clock.now();
    let queued = state.storage.resend_deliveries(&program.id, &endpoint.id, body.value.delivery_id, now).await?;
    state.points.wake_outbox();
    Ok(Json(Resent { queued }))
}

//! Store connections: a WooCommerce store reports its orders, refunds and customers to the
//! program by its own webhooks, to the URL and with the secret a connection gives.

use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::openapi::{ReadErrors, WriteErrors};
use super::{ApiJson, CurrentProgram};
use crate::{
    connections::{self, checkout},
    http::{problem::Problem, AppState},
    ledger::Timestamp,
    storage::{StoreConnection, StoreCouponRecord, TopicStatus},
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, remove))
        .routes(routes!(set_secret))
        .routes(routes!(set_store_api, remove_store_api))
        .routes(routes!(retry_coupons))
}

/// Coupons listed per connection.
const SHOWN_COUPONS: u32 = 20;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ConnectionRequest {
    /// `woocommerce` or `shopify`.
    platform: String,
    /// The store's own signing key (Shopify shows one under Settings → Notifications →
    /// Webhooks); absent: Tally makes one to paste into the store (WooCommerce).
    #[serde(default)]
    secret: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SecretRequest {
    secret: String,
}

/// The store's own API, for checkout-native coupons.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct StoreApiRequest {
    /// The store's address: the WordPress site (`https://shop.example`) or the Shopify shop
    /// (`my-shop.myshopify.com`).
    url: String,
    /// WooCommerce: the REST API consumer key (`ck_...`, WooCommerce → Settings → Advanced →
    /// REST API, Read/Write). Shopify: absent.
    #[serde(default)]
    consumer_key: Option<String>,
    /// WooCommerce: the consumer secret (`cs_...`). Shopify: the Admin API access token
    /// (`shpat_...`) of a custom app with the `write_discounts` scope. Stored sealed, never
    /// shown again.
    secret: String,
}

/// The store API a connection uses (its secret is never shown).
#[derive(Serialize, utoipa::ToSchema)]
struct StoreApiView {
    url: String,
    consumer_key: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ConnectionView {
    /// `con_...`
    id: String,
    platform: String,
    /// Where the store posts its webhooks (Delivery URL).
    webhook_url: String,
    /// Pasted into each webhook's Secret field.
    secret: String,
    /// The webhooks to create in the store, one per topic (WooCommerce: Settings → Advanced →
    /// Webhooks, API version 3; Shopify: Settings → Notifications → Webhooks, JSON).
    topics: Vec<&'static str>,
    created_at: Timestamp,
    /// Each topic's deliveries so far, and the last one's state.
    deliveries: Vec<TopicStatus>,
    /// With it, each coupon Tally issues is created in the store too (works at its checkout).
    store_api: Option<StoreApiView>,
    /// The newest coupons created (or being created) in the store.
    coupons: Vec<StoreCouponRecord>,
}

/// This server as the store reaches it: `--public-url`, else the address the call came to.
fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    match &state.public_url {
        Some(url) => url.to_string(),
        None => {
            let host = headers.get(header::HOST).and_then(|value| value.to_str().ok()).unwrap_or("localhost");
            format!("http://{host}")
        }
    }
}

async fn view(state: &AppState, headers: &HeaderMap, connection: &StoreConnection) -> Result<ConnectionView, Problem> {
    Ok(ConnectionView {
        id: connection.id.clone(),
        platform: connection.platform.clone(),
        webhook_url: connections::store_webhook_url(&base_url(state, headers), connection),
        secret: connection.secret.clone(),
        topics: connections::store_topics(&connection.platform),
        created_at: connection.created_at,
        deliveries: state.storage.topic_statuses(&connection.id).await?,
        store_api: connection
            .api
            .as_ref()
            .map(|api| StoreApiView { url: api.url.clone(), consumer_key: api.key.clone() }),
        coupons: state.storage.store_coupons(&connection.program_id, &connection.id, SHOWN_COUPONS).await?,
    })
}

async fn load(state: &AppState, program: &CurrentProgram, connection_id: &str) -> Result<StoreConnection, Problem> {
    let not_found = || Problem::not_found(format!("No store connection {connection_id:?} in this program."));
    let connection = state.storage.connection(connection_id).await?.ok_or_else(not_found)?;
    if connection.program_id != program.id {
        return Err(not_found());
    }
    Ok(connection)
}

#[utoipa::path(get, path = "/api/v1/connections", tag = "connections",
    responses((status = 200, description = "The program's store connections", body = Vec<ConnectionView>), ReadErrors))]
async fn list(
    State(state): State<AppState>,
    program: CurrentProgram,
    headers: HeaderMap,
) -> Result<Json<Vec<ConnectionView>>, Problem> {
    let mut views = Vec::new();
    for connection in state.storage.connections(&program.id).await? {
        views.push(view(&state, &headers, &connection).await?);
    }
    Ok(Json(views))
}

#[utoipa::path(post, path = "/api/v1/connections", tag = "connections", request_body = ConnectionRequest,
    responses((status = 201, description = "Created: the webhook URL and secret to paste into the store", body = ConnectionView),
        WriteErrors))]
async fn create(
    State(state): State<AppState>,
    program: CurrentProgram,
    headers: HeaderMap,
    body: ApiJson<ConnectionRequest>,
) -> Result<Response, Problem> {
    let request = &body.value;
    let connection =
        connections::new_store_connection(&program.id, &request.platform, request.secret.as_deref(), state.clock.now())
            .map_err(Problem::from)?;
    state.storage.create_connection(&connection, None).await?;
    Ok((StatusCode::CREATED, Json(view(&state, &headers, &connection).await?)).into_response())
}

#[utoipa::path(get, path = "/api/v1/connections/{connection_id}", tag = "connections",
    params(("connection_id" = String, Path, description = "The connection id (con_...)")),
    responses((status = 200, description = "The connection and its deliveries per topic", body = ConnectionView), ReadErrors))]
async fn show(
    State(state): State<AppState>,
    program: CurrentProgram,
    headers: HeaderMap,
    Path(connection_id): Path<String>,
) -> Result<Json<ConnectionView>, Problem> {
    let connection = load(&state, &program, &connection_id).await?;
    Ok(Json(view(&state, &headers, &connection).await?))
}

#[utoipa::path(put, path = "/api/v1/connections/{connection_id}/secret", tag = "connections",
    params(("connection_id" = String, Path, description = "The connection id (con_...)")), request_body = SecretRequest,
    responses((status = 200, description = "Deliveries are verified with this secret from now on", body = ConnectionView),
        WriteErrors))]
async fn set_secret(
    State(state): State<AppState>,
    program: CurrentProgram,
    headers: HeaderMap,
    Path(connection_id): Path<String>,
    body: ApiJson<SecretRequest>,
) -> Result<Json<ConnectionView>, Problem> {
    let secret = connections::store_secret(&body.value.secret).map_err(Problem::from)?;
    let mut connection = load(&state, &program, &connection_id).await?;
    if !state.storage.set_connection_secret(&program.id, &connection.id, &secret, None).await? {
        return Err(Problem::not_found(format!("No store connection {connection_id:?} in this program.")));
    }
    connection.secret = secret;
    Ok(Json(view(&state, &headers, &connection).await?))
}

#[utoipa::path(delete, path = "/api/v1/connections/{connection_id}", tag = "connections",
    params(("connection_id" = String, Path, description = "The connection id (con_...)")),
    responses((status = 204, description = "Removed: the store's deliveries are refused from now on"), WriteErrors))]
async fn remove(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(connection_id): Path<String>,
) -> Result<StatusCode, Problem> {
    if !state.storage.delete_connection(&program.id, &connection_id, None).await? {
        return Err(Problem::not_found(format!("No store connection {connection_id:?} in this program.")));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/api/v1/connections/{connection_id}/store-api", tag = "connections",
    params(("connection_id" = String, Path, description = "The connection id (con_...)")), request_body = StoreApiRequest,
    responses((status = 200, description = "Coupons issued from now on are created in the store too", body = ConnectionView),
        WriteErrors))]
async fn set_store_api(
    State(state): State<AppState>,
    program: CurrentProgram,
    headers: HeaderMap,
    Path(connection_id): Path<String>,
    body: ApiJson<StoreApiRequest>,
) -> Result<Json<ConnectionView>, Problem> {
    let mut connection = load(&state, &program, &connection_id).await?;
    let request = &body.value;
    let api = checkout::store_api(
        &connection.platform,
        &request.url,
        request.consumer_key.as_deref(),
        &request.secret,
        state.webhook_urls,
    )
    .map_err(Problem::from)?;
    state.storage.set_store_api(&program.id, &connection.id, Some(&api), None).await?;
    connection.api = Some(api);
    Ok(Json(view(&state, &headers, &connection).await?))
}

#[utoipa::path(delete, path = "/api/v1/connections/{connection_id}/store-api", tag = "connections",
    params(("connection_id" = String, Path, description = "The connection id (con_...)")),
    responses((status = 200, description = "Coupons are no longer created in the store", body = ConnectionView), WriteErrors))]
async fn remove_store_api(
    State(state): State<AppState>,
    program: CurrentProgram,
    headers: HeaderMap,
    Path(connection_id): Path<String>,
) -> Result<Json<ConnectionView>, Problem> {
    let mut connection = load(&state, &program, &connection_id).await?;
    state.storage.set_store_api(&program.id, &connection.id, None, None).await?;
    connection.api = None;
    Ok(Json(view(&state, &headers, &connection).await?))
}

#[utoipa::path(post, path = "/api/v1/connections/{connection_id}/coupons/retry", tag = "connections",
    params(("connection_id" = String, Path, description = "The connection id (con_...)")),
    responses((status = 200, description = "The failed coupons are queued again", body = ConnectionView), WriteErrors))]
async fn retry_coupons(
    State(state): State<AppState>,
    program: CurrentProgram,
    headers: HeaderMap,
    Path(connection_id): Path<String>,
) -> Result<Json<ConnectionView>, Problem> {
    let connection = load(&state, &program, &connection_id).await?;
    state.storage.retry_store_coupons(&program.id, &connection.id, state.clock.now()).await?;
    state.points.outbox_waker().notify_one();
    Ok(Json(view(&state, &headers, &connection).await?))
}

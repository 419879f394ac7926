//! Customers, their balances, their ledger entries and manual adjustments.

use axum::{
    extract::{Path, Query, State},
    response::Response,
    routing::{get, post},
    Json, Router,
};
use serde::{Deserialize, Serialize};

use super::openapi::{ReadErrors, WriteErrors};
use super::{client_id, customer_id, respond, ApiJson, CurrentProgram};
use crate::{
    customers::{Adjustment, CustomerId, CustomerProfile},
    http::{problem::Problem, AppState},
    ledger::{Points, Timestamp},
    programs::Program,
    storage::{ClientId, CustomerRecord, EntryRecord, TierChange, WriteResult},
    tiers::Tier,
};

/// "Expiring soon" looks this far ahead.
pub(crate) const EXPIRING_SOON_DAYS: u32 = 30;
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/customers/{customer_id}", get(show).put(upsert))
        .route("/api/v1/customers/{customer_id}/entries", get(entries))
        .route("/api/v1/customers/{customer_id}/adjustments", post(adjust))
        .route("/api/v1/customers/{customer_id}/tier-history", get(tier_history))
}

#[utoipa::path(get, path = "/api/v1/customers/{customer_id}/tier-history", tag = "customers",
    params(("customer_id" = String, Path, description = "The merchant's customer id (1 to 128 characters)")),
    responses((status = 200, description = "Tier changes, newest first", body = Vec<TierChange>),
        ReadErrors))]
async fn tier_history(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(raw_id): Path<String>,
) -> Result<Json<Vec<TierChange>>, Problem> {
    let id = customer_id(&raw_id)?;
    load(&state, &program, &id).await?;
    Ok(Json(state.storage.tier_changes(&program.id, &id).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
struct CustomerView {
    customer_id: String,
    #[serde(flatten)]
    profile: CustomerProfile,
    available: Points,
    pending: Points,
    lifetime_earned: Points,
    lifetime_redeemed: Points,
    expiring_soon: ExpiringSoon,
    /// Present when the program has tiers.
    #[serde(skip_serializing_if = "Option::is_none")]
    tiers: Option<TierView>,
    created_at: Timestamp,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TierView {
    /// What counts toward tiers in the current window.
    pub qualifying: i64,
    pub tier: Option<Tier>,
    pub next_tier: Option<Tier>,
    pub to_next_tier: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ExpiringSoon {
    points: Points,
    within_days: u32,
}

impl CustomerView {
    fn new(record: CustomerRecord, tiers: Option<TierView>, now: Timestamp) -> Self {
        let balances = record.account.balances_at(now, EXPIRING_SOON_DAYS);
        Self {
            customer_id: record.customer_id,
            profile: record.profile,
            available: balances.available,
            pending: balances.pending,
            lifetime_earned: record.lifetime_earned,
            lifetime_redeemed: record.lifetime_redeemed,
            expiring_soon: ExpiringSoon { points: balances.expiring_soon, within_days: EXPIRING_SOON_DAYS },
            tiers,
            created_at: record.created_at,
        }
    }
}

/// The customer's tier as last recomputed, and how far the current window's total is from the
/// next tier up.
pub(crate) async fn tier_view(
    state: &AppState,
    program: &Program,
    record: &CustomerRecord,
    now: Timestamp,
) -> Result<Option<TierView>, Problem> {
    let ladder = &program.settings.tiers;
    if ladder.tiers.is_empty() {
        return Ok(None);
    }
    let id = customer_id(&record.customer_id)?;
    let qualifying = state.storage.tier_qualifying(&program.id, &id, ladder.basis, ladder.window_start(now)).await?;
    let tier = record.tier_id.as_deref().and_then(|tier_id| ladder.tier(tier_id)).cloned();
    let next_tier = match &tier {
        Some(current) => ladder.tiers.iter().find(|candidate| candidate.threshold > current.threshold).cloned(),
        None => ladder.tiers.first().cloned(),
    };
    let to_next_tier = next_tier.as_ref().map(|next| (next.threshold - qualifying).max(0));
    Ok(Some(TierView { qualifying, tier, next_tier, to_next_tier }))
}

async fn customer_view(state: &AppState, program: &Program, record: CustomerRecord) -> Result<CustomerView, Problem> {
    let now = state.clock.now();
    let tiers = tier_view(state, program, &record, now).await?;
    Ok(CustomerView::new(record, tiers, now))
}

async fn load(state: &AppState, program: &CurrentProgram, id: &CustomerId) -> Result<CustomerRecord, Problem> {
    state
        .storage
        .customer(&program.id, id, program.settings.expiry)
        .await?
        .ok_or_else(|| Problem::not_found(format!("No customer has the id {:?} in this program.", id.as_str())))
}

#[utoipa::path(get, path = "/api/v1/customers/{customer_id}", tag = "customers", params(("customer_id" = String, Path, description = "The merchant's customer id (1 to 128 characters)")),
    responses((status = 200, description = "Balances, tier and profile", body = CustomerView),
        ReadErrors))]
async fn show(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(raw_id): Path<String>,
) -> Result<Json<CustomerView>, Problem> {
    let id = customer_id(&raw_id)?;
    let record = load(&state, &program, &id).await?;
    Ok(Json(customer_view(&state, &program, record).await?))
}

#[utoipa::path(put, path = "/api/v1/customers/{customer_id}", tag = "customers", params(("customer_id" = String, Path, description = "The merchant's customer id (1 to 128 characters)")),
    request_body = CustomerProfile,
    responses((status = 200, description = "The customer as stored", body = CustomerView),
        WriteErrors))]
async fn upsert(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(raw_id): Path<String>,
    body: ApiJson<CustomerProfile>,
) -> Result<Json<CustomerView>, Problem> {
    let id = customer_id(&raw_id)?;
    body.value.validate().map_err(|error| Problem::invalid_field(error.field(), error.to_string()))?;
    state.storage.upsert_customer(&program.id, &id, &body.value, state.clock.now()).await?;
    let record = load(&state, &program, &id).await?;
    Ok(Json(customer_view(&state, &program, record).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct EntryPage {
    entries: Vec<EntryView>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// An entry as the API shows it: its status is derived from the time of the request.
#[derive(Serialize, utoipa::ToSchema)]
struct EntryView {
    #[serde(flatten)]
    entry: EntryRecord,
    status: &'static str,
}

impl EntryView {
    fn new(entry: EntryRecord, now: Timestamp) -> Self {
        let status = if entry.available_at > now { "pending" } else { "available" };
        Self { entry, status }
    }
}

#[utoipa::path(get, path = "/api/v1/customers/{customer_id}/entries", tag = "customers",
    params(("customer_id" = String, Path, description = "The merchant's customer id (1 to 128 characters)"), PageQuery),
    responses((status = 200, description = "Ledger entries, newest first", body = EntryPage),
        ReadErrors))]
async fn entries(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(raw_id): Path<String>,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<EntryPage>, Problem> {
    let id = customer_id(&raw_id)?;
    let Query(query) = query.map_err(|rejection| Problem::invalid_field("query", rejection.body_text()))?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Problem::invalid_field("limit", format!("limit must be 1 to {MAX_PAGE}")));
    }
    let before = match query.cursor.as_deref() {
        None => None,
        Some(cursor) => Some(cursor.parse::<u64>().map_err(|_| {
            Problem::invalid_field("cursor", "cursor must be a next_cursor value from a previous page")
        })?),
    };
    load(&state, &program, &id).await?;
    let page = state.storage.entries(&program.id, &id, before, limit).await?;
    let next_cursor = (page.len() == limit as usize).then(|| page.last().map(|entry| entry.seq.to_string())).flatten();
    let now = state.clock.now();
    Ok(Json(EntryPage { entries: page.into_iter().map(|entry| EntryView::new(entry, now)).collect(), next_cursor }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AdjustmentRequest {
    adjustment_id: String,
    points: Points,
    reason: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct AdjustmentResponse {
    adjustment_id: String,
    #[serde(flatten)]
    result: WriteResult,
}

#[utoipa::path(post, path = "/api/v1/customers/{customer_id}/adjustments", tag = "customers",
    params(("customer_id" = String, Path, description = "The merchant's customer id (1 to 128 characters)")), request_body = AdjustmentRequest,
    responses((status = 201, description = "Applied", body = AdjustmentResponse),
        (status = 200, description = "A replay: the original result", body = AdjustmentResponse),
        WriteErrors))]
async fn adjust(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(raw_id): Path<String>,
    body: ApiJson<AdjustmentRequest>,
) -> Result<Response, Problem> {
    let id = customer_id(&raw_id)?;
    let request = &body.value;
    client_id("adjustment_id", &request.adjustment_id)?;
    let adjustment = Adjustment::parse(request.points, &request.reason)
        .map_err(|error| Problem::invalid_field(error.field(), error.to_string()))?;
    load(&state, &program, &id).await?;
    let client =
        ClientId { kind: "adjustment", id: request.adjustment_id.clone(), request_hash: body.fingerprint.clone() };
    let outcome = state.storage.write_ledger(&adjustment.write(&program, id, client, state.clock.now())).await?;
    respond(outcome, ("adjustment_id", &request.adjustment_id), |result| AdjustmentResponse {
        adjustment_id: request.adjustment_id.clone(),
        result,
    })
}

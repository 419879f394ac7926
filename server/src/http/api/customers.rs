//! Customers, their balances, their ledger entries and manual adjustments.

use axum::{
    extract::{Path, Query, State},
    response::Response,
    Json,
};
use serde::{Deserialize, Serialize};

use utoipa_axum::{router::OpenApiRouter, routes};

use super::openapi::{ReadErrors, WriteErrors};
use super::{respond, ApiJson, CurrentProgram};
use crate::{
    customers::{CustomerId, CustomerProfile},
    http::{problem::Problem, AppState},
    ledger::{Points, Timestamp},
    points::{self, AccountView, AdjustmentRequest},
    programs::Program,
    storage::{EntryRecord, TierChange, WriteResult},
    tiers::TierStatus,
};

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(show, upsert))
        .routes(routes!(entries))
        .routes(routes!(adjust))
        .routes(routes!(tier_history))
        .routes(routes!(export))
        .routes(routes!(erase))
}

/// Everything Tally holds about one customer, as one document (a shopper's request for their data).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ExportDocument {
    /// `tally.customer-export.v1`.
    format: &'static str,
    program_id: String,
    exported_at: Timestamp,
    customer: CustomerView,
    /// Every ledger entry, newest first.
    entries: Vec<EntryView>,
    coupons: Vec<crate::rewards::Coupon>,
    tier_history: Vec<TierChange>,
    referred_by: Option<crate::storage::Referral>,
    referred: Vec<crate::storage::Referral>,
    /// Messages sent to the customer (none: Tally sends no messages yet).
    messages: Vec<serde_json::Value>,
}

impl ExportDocument {
    pub(crate) fn new(program: &Program, export: points::CustomerExport, now: Timestamp) -> Self {
        Self {
            format: "tally.customer-export.v1",
            program_id: program.id.clone(),
            exported_at: now,
            customer: export.account.into(),
            entries: export.entries.into_iter().map(|entry| EntryView::new(entry, now)).collect(),
            coupons: export.coupons,
            tier_history: export.tier_history,
            referred_by: export.referred_by,
            referred: export.referred,
            messages: Vec::new(),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/customers/{customer_id}/export", tag = "customers",
    params(("customer_id" = String, Path, description = "The merchant's customer id (1 to 128 characters)")),
    responses((status = 200, description = "Everything Tally holds about the customer", body = ExportDocument),
        ReadErrors))]
async fn export(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(raw_id): Path<String>,
) -> Result<Json<ExportDocument>, Problem> {
    let export = state.points.export_customer(&program, &raw_id).await?;
    Ok(Json(ExportDocument::new(&program, export, state.clock.now())))
}

/// A customer erased.
#[derive(Serialize, utoipa::ToSchema)]
struct ErasureView {
    /// The id the customer's ledger carries now; the id asked for is free again.
    pseudonym: String,
    erased_at: Timestamp,
    /// Erased by an earlier request: nothing changed.
    replayed: bool,
}

#[utoipa::path(post, path = "/api/v1/customers/{customer_id}/erase", tag = "customers",
    params(("customer_id" = String, Path, description = "The merchant's customer id (1 to 128 characters)")),
    responses((status = 200, description = "Erased (or erased before: `replayed`)", body = ErasureView),
        WriteErrors))]
async fn erase(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(raw_id): Path<String>,
) -> Result<Json<ErasureView>, Problem> {
    // Audited like a console change, by "the merchant API" (the key's holder).
    let now = state.clock.now();
    let audit = |pseudonym: &str| {
        Some(crate::console_users::AuditEntry {
            at: now,
            user_id: "api".into(),
            user_email: "merchant API".into(),
            program_id: Some(program.id.clone()),
            action: "customer.erase".into(),
            target: pseudonym.to_owned(),
            before: None,
            after: None,
            request_key: None,
        })
    };
    let erased = state.points.erase_customer(&program, &raw_id, audit).await?;
    Ok(Json(ErasureView { pseudonym: erased.pseudonym, erased_at: erased.erased_at, replayed: erased.replayed }))
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
    let (id, _) = load(&state, &program, &raw_id).await?;
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
    tiers: Option<TierStatus>,
    created_at: Timestamp,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ExpiringSoon {
    points: Points,
    within_days: u32,
}

impl From<AccountView> for CustomerView {
    fn from(view: AccountView) -> Self {
        let AccountView { record, balances, expiring_within_days, tiers } = view;
        Self {
            customer_id: record.customer_id,
            profile: record.profile,
            available: balances.available,
            pending: balances.pending,
            lifetime_earned: record.lifetime_earned,
            lifetime_redeemed: record.lifetime_redeemed,
            expiring_soon: ExpiringSoon { points: balances.expiring_soon, within_days: expiring_within_days },
            tiers,
            created_at: record.created_at,
        }
    }
}

/// The customer named by the path, who must exist.
async fn load(state: &AppState, program: &Program, raw_id: &str) -> Result<(CustomerId, AccountView), Problem> {
    let id = points::customer_id("customer_id", raw_id)?;
    let view = state.points.existing_account(program, &id).await?;
    Ok((id, view))
}

#[utoipa::path(get, path = "/api/v1/customers/{customer_id}", tag = "customers", params(("customer_id" = String, Path, description = "The merchant's customer id (1 to 128 characters)")),
    responses((status = 200, description = "Balances, tier and profile", body = CustomerView),
        ReadErrors))]
async fn show(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(raw_id): Path<String>,
) -> Result<Json<CustomerView>, Problem> {
    Ok(Json(load(&state, &program, &raw_id).await?.1.into()))
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
    let id = points::customer_id("customer_id", &raw_id)?;
    body.value.validate().map_err(|error| Problem::invalid_field(error.field(), error.to_string()))?;
    state.storage.upsert_customer(&program.id, &id, &body.value, state.clock.now()).await?;
    Ok(Json(load(&state, &program, &raw_id).await?.1.into()))
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
    let Query(query) = query.map_err(|rejection| Problem::invalid_field("query", rejection.body_text()))?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Problem::invalid_field("limit", format!("limit must be 1 to {MAX_PAGE}")));
    }
    let before = query.cursor.as_deref().map(parse_cursor).transpose()?;
    let (id, _) = load(&state, &program, &raw_id).await?;
    let page = state.storage.entries(&program.id, &id, before, limit).await?;
    let next_cursor = (page.len() == limit as usize).then(|| page.last().map(|entry| entry.seq.to_string())).flatten();
    let now = state.clock.now();
    Ok(Json(EntryPage { entries: page.into_iter().map(|entry| EntryView::new(entry, now)).collect(), next_cursor }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AdjustmentBody {
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
    params(("customer_id" = String, Path, description = "The merchant's customer id (1 to 128 characters)")), request_body = AdjustmentBody,
    responses((status = 201, description = "Applied", body = AdjustmentResponse),
        (status = 200, description = "A replay: the original result", body = AdjustmentResponse),
        WriteErrors))]
async fn adjust(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(customer_id): Path<String>,
    body: ApiJson<AdjustmentBody>,
) -> Result<Response, Problem> {
    let AdjustmentBody { adjustment_id, points, reason } = body.value;
    let request = AdjustmentRequest { adjustment_id, customer_id, points, reason };
    let written = state.points.adjust(&program, &request, None).await?;
    Ok(respond(written, |result| AdjustmentResponse { adjustment_id: request.adjustment_id, result }))
}

/// A page cursor: the `next_cursor` of the previous page (an entry's seq).
pub(crate) fn parse_cursor(cursor: &str) -> Result<u64, Problem> {
    cursor
        .parse::<u64>()
        .ok()
        .filter(|seq| i64::try_from(*seq).is_ok())
        .ok_or_else(|| Problem::invalid_field("cursor", "cursor must be a next_cursor value from a previous page"))
}

//! The rewards catalog, redemptions and coupons.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};

use utoipa_axum::{router::OpenApiRouter, routes};

use super::openapi::{ReadErrors, WriteErrors};
use super::{respond, ApiJson, CurrentProgram};
use crate::{
    http::{problem::Problem, AppState},
    ledger::Points,
    points::Redemption,
    programs::Program,
    rewards::{new_reward_id, Coupon, CouponStatus, Reward, RewardDefinition, RewardError},
    storage::WriteResult,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, replace, deactivate))
        .routes(routes!(redeem))
        .routes(routes!(coupon))
        .routes(routes!(consume))
        .routes(routes!(cancel))
}

fn invalid(error: RewardError) -> Problem {
    match error {
        RewardError::Invalid { field, message } => Problem::invalid_field(field, message),
        other => Problem::invalid_field("points", other.to_string()),
    }
}

fn validated(program: &Program, definition: RewardDefinition, id: String) -> Result<Reward, Problem> {
    Reward::validated(id, definition, &program.settings.tiers).map_err(invalid)
}

#[utoipa::path(get, path = "/api/v1/rewards", tag = "rewards",
    responses((status = 200, description = "The catalog, active or not", body = Vec<Reward>), ReadErrors))]
async fn list(State(state): State<AppState>, program: CurrentProgram) -> Result<Json<Vec<Reward>>, Problem> {
    Ok(Json(state.storage.rewards(&program.id).await?))
}

#[utoipa::path(post, path = "/api/v1/rewards", tag = "rewards", request_body = RewardDefinition,
    responses((status = 201, description = "Created", body = Reward), WriteErrors))]
async fn create(
    State(state): State<AppState>,
    program: CurrentProgram,
    body: ApiJson<RewardDefinition>,
) -> Result<Response, Problem> {
    let reward = validated(&program, body.value, new_reward_id())?;
    state.storage.create_reward(&program.id, &reward, state.clock.now(), None).await?;
    Ok((StatusCode::CREATED, Json(reward)).into_response())
}

async fn load(state: &AppState, program: &CurrentProgram, reward_id: &str) -> Result<Reward, Problem> {
    state
        .storage
        .reward(&program.id, reward_id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("No reward {reward_id:?} in this program.")))
}

#[utoipa::path(get, path = "/api/v1/rewards/{reward_id}", tag = "rewards", params(("reward_id" = String, Path, description = "The reward id (rwd_...)")),
    responses((status = 200, description = "The reward", body = Reward), ReadErrors))]
async fn show(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(reward_id): Path<String>,
) -> Result<Json<Reward>, Problem> {
    Ok(Json(load(&state, &program, &reward_id).await?))
}

#[utoipa::path(put, path = "/api/v1/rewards/{reward_id}", tag = "rewards", params(("reward_id" = String, Path, description = "The reward id (rwd_...)")),
    request_body = RewardDefinition,
    responses((status = 200, description = "Replaced", body = Reward), WriteErrors))]
async fn replace(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(reward_id): Path<String>,
    body: ApiJson<RewardDefinition>,
) -> Result<Json<Reward>, Problem> {
    let reward = validated(&program, body.value, reward_id)?;
    if !state.storage.update_reward(&program.id, &reward, state.clock.now(), None).await? {
        return Err(Problem::not_found(format!("No reward {:?} in this program.", reward.id)));
    }
    Ok(Json(reward))
}

/// Rewards are never deleted (coupons refer to them): they stop being offered.
#[utoipa::path(delete, path = "/api/v1/rewards/{reward_id}", tag = "rewards", params(("reward_id" = String, Path, description = "The reward id (rwd_...)")),
    responses((status = 200, description = "Deactivated (kept for its coupons)", body = Reward), WriteErrors))]
async fn deactivate(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(reward_id): Path<String>,
) -> Result<Json<Reward>, Problem> {
    let mut reward = load(&state, &program, &reward_id).await?;
    reward.definition.active = false;
    state.storage.update_reward(&program.id, &reward, state.clock.now(), None).await?;
    Ok(Json(reward))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RedemptionRequest {
    /// Chosen by the caller; a retry with the same id returns the same coupon.
    pub redemption_id: String,
    pub reward_id: String,
    /// For points-to-currency rewards: how many points to turn into money.
    #[serde(default)]
    pub points: Option<Points>,
}

impl RedemptionRequest {
    /// The redemption for `customer_id` (the path's, or the signed-in shopper's).
    pub(crate) fn for_customer(self, customer_id: String) -> Redemption {
        Redemption { redemption_id: self.redemption_id, customer_id, reward_id: self.reward_id, points: self.points }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct RedemptionResponse {
    redemption_id: String,
    #[serde(flatten)]
    result: WriteResult,
}

#[utoipa::path(post, path = "/api/v1/customers/{customer_id}/redemptions", tag = "rewards",
    params(("customer_id" = String, Path, description = "The merchant's customer id (1 to 128 characters)")), request_body = RedemptionRequest,
    responses((status = 201, description = "Points spent, coupon issued", body = RedemptionResponse),
        (status = 200, description = "A replay: the same coupon", body = RedemptionResponse),
        WriteErrors))]
async fn redeem(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(customer_id): Path<String>,
    body: ApiJson<RedemptionRequest>,
) -> Result<Response, Problem> {
    redeem_for(&state, &program, body.value.for_customer(customer_id)).await
}

/// Redeems and answers: the merchant API and the widget answer alike.
pub(crate) async fn redeem_for(
    state: &AppState,
    program: &Program,
    redemption: Redemption,
) -> Result<Response, Problem> {
    let written = state.points.redeem(program, &redemption).await?;
    Ok(respond(written, |result| RedemptionResponse { redemption_id: redemption.redemption_id, result }))
}

/// A coupon as it stands; an issued coupon past its expiry shows as `expired`.
#[derive(Serialize, utoipa::ToSchema)]
struct CouponView {
    #[serde(flatten)]
    coupon: Coupon,
    usable: bool,
}

fn view(coupon: Coupon, now: crate::ledger::Timestamp) -> CouponView {
    let usable = coupon.status == CouponStatus::Issued && coupon.expires_at > now;
    CouponView { coupon, usable }
}

#[utoipa::path(get, path = "/api/v1/coupons/{code}", tag = "coupons", params(("code" = String, Path, description = "The coupon code (TALLY-XXXX-XXXX-XXXX)")),
    responses((status = 200, description = "The coupon and whether it can be used now", body = CouponView), ReadErrors))]
async fn coupon(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(code): Path<String>,
) -> Result<Json<CouponView>, Problem> {
    Ok(Json(view(state.points.coupon(&program, &code).await?, state.clock.now())))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ConsumeRequest {
    order_id: String,
}

#[utoipa::path(post, path = "/api/v1/coupons/{code}/consume", tag = "coupons", params(("code" = String, Path, description = "The coupon code (TALLY-XXXX-XXXX-XXXX)")),
    request_body = ConsumeRequest,
    responses((status = 200, description = "Marked as used by the order", body = CouponView),
        WriteErrors))]
async fn consume(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(code): Path<String>,
    body: ApiJson<ConsumeRequest>,
) -> Result<Json<CouponView>, Problem> {
    let coupon = state.points.consume_coupon(&program, &code, &body.value.order_id).await?;
    Ok(Json(view(coupon, state.clock.now())))
}

#[derive(Serialize, utoipa::ToSchema)]
struct CancelResponse {
    code: String,
    #[serde(flatten)]
    result: WriteResult,
}

/// An unused coupon is cancelled and its points come back (I4). Cancelling twice answers the
/// first cancellation again.
#[utoipa::path(post, path = "/api/v1/coupons/{code}/cancel", tag = "coupons", params(("code" = String, Path, description = "The coupon code (TALLY-XXXX-XXXX-XXXX)")),
    responses((status = 201, description = "Cancelled; its points are back", body = CancelResponse),
        (status = 200, description = "Already cancelled: the original result", body = CancelResponse),
        WriteErrors))]
async fn cancel(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(code): Path<String>,
) -> Result<Response, Problem> {
    let written = state.points.cancel_coupon(&program, &code).await?;
    Ok(respond(written, |result| CancelResponse { code, result }))
}

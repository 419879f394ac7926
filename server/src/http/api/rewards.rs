//! The rewards catalog, redemptions and coupons.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde::{Deserialize, Serialize};

use super::openapi::{ReadErrors, WriteErrors};
use super::{client_id, customer_id, respond, ApiJson, CurrentProgram};
use crate::{
    customers::CustomerId,
    http::{problem::Problem, AppState},
    ledger::{Operation, Points},
    programs::Program,
    rewards::{generate_code, new_reward_id, Coupon, CouponStatus, Reward, RewardDefinition, RewardError},
    storage::{ClientId, ConsumeOutcome, Effect, LedgerWrite, WriteResult},
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/rewards", get(list).post(create))
        .route("/api/v1/rewards/{reward_id}", get(show).put(replace).delete(deactivate))
        .route("/api/v1/customers/{customer_id}/redemptions", post(redeem))
        .route("/api/v1/coupons/{code}", get(coupon))
        .route("/api/v1/coupons/{code}/consume", post(consume))
        .route("/api/v1/coupons/{code}/cancel", post(cancel))
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
    state.storage.create_reward(&program.id, &reward, state.clock.now()).await?;
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
    if !state.storage.update_reward(&program.id, &reward, state.clock.now()).await? {
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
    state.storage.update_reward(&program.id, &reward, state.clock.now()).await?;
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

#[derive(Serialize, utoipa::ToSchema)]
struct RedemptionResponse {
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
    Path(raw_id): Path<String>,
    body: ApiJson<RedemptionRequest>,
) -> Result<Response, Problem> {
    redeem_reward(&state, &program, customer_id(&raw_id)?, &body.value, &body.fingerprint).await
}

/// Spends a customer's points on a reward and issues its coupon: the one code path for the
/// merchant API and the widget.
pub(crate) async fn redeem_reward(
    state: &AppState,
    program: &Program,
    customer: CustomerId,
    request: &RedemptionRequest,
    fingerprint: &str,
) -> Result<Response, Problem> {
    client_id("redemption_id", &request.redemption_id)?;
    let now = state.clock.now();
    let reward = state.storage.reward(&program.id, &request.reward_id).await?.ok_or_else(|| {
        Problem::invalid_field("reward_id", format!("no reward {:?} in this program", request.reward_id))
    })?;
    if !reward.is_available(now) {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "reward_unavailable",
            "Reward unavailable",
            RewardError::NotAvailable.to_string(),
        ));
    }
    let points = reward.cost(request.points).map_err(|error| Problem::invalid_field("points", error.to_string()))?;
    let record = state.storage.customer(&program.id, &customer, program.settings.expiry).await?.ok_or_else(|| {
        Problem::not_found(format!("No customer has the id {:?} in this program.", customer.as_str()))
    })?;
    if let Some(minimum) = &reward.definition.min_tier {
        if !program.settings.tiers.reaches(record.tier_id.as_deref(), minimum) {
            return Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "tier_required",
                "Tier required",
                format!("This reward needs the {minimum:?} tier or above."),
            ));
        }
    }
    let coupon = Coupon {
        code: generate_code(),
        customer_id: customer.as_str().to_owned(),
        reward_id: reward.id.clone(),
        points,
        value: reward.coupon_value(points),
        status: CouponStatus::Issued,
        expires_at: now.plus_days(reward.definition.coupon_valid_days),
        created_at: now,
        order_id: None,
    };
    let client =
        ClientId { kind: "redemption", id: request.redemption_id.clone(), request_hash: fingerprint.to_owned() };
    let uses_stock = reward.definition.stock.is_some();
    let per_customer_limit = reward.definition.per_customer_limit;
    let mut write = LedgerWrite::new(program, customer, Some(client), Operation::Redeem { points }, "reward", now);
    write.reference = Some(reward.id.clone());
    write.effect = Effect::IssueCoupon { coupon, per_customer_limit, uses_stock };
    let outcome = state.storage.write_ledger(&write).await?;
    respond(outcome, ("redemption_id", &request.redemption_id), |result| RedemptionResponse {
        redemption_id: request.redemption_id.clone(),
        result,
    })
}

async fn find_coupon(state: &AppState, program: &CurrentProgram, code: &str) -> Result<Coupon, Problem> {
    state
        .storage
        .coupon(&program.id, code)
        .await?
        .ok_or_else(|| Problem::not_found(format!("No coupon {code:?} in this program.")))
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
    Ok(Json(view(find_coupon(&state, &program, &code).await?, state.clock.now())))
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
    client_id("order_id", &body.value.order_id)?;
    let now = state.clock.now();
    match state.storage.consume_coupon(&program.id, &code, &body.value.order_id, now).await? {
        ConsumeOutcome::Consumed(coupon) => Ok(Json(view(coupon, now))),
        ConsumeOutcome::NotFound => Err(Problem::not_found(format!("No coupon {code:?} in this program."))),
        ConsumeOutcome::Unusable(coupon) => {
            let (kind, detail) = match coupon.status {
                CouponStatus::Consumed => ("coupon_already_consumed", "This coupon was already used."),
                CouponStatus::Cancelled => ("coupon_cancelled", "This coupon was cancelled."),
                CouponStatus::Issued => ("coupon_expired", "This coupon has expired."),
            };
            Err(Problem::new(StatusCode::CONFLICT, kind, "Coupon not usable", detail))
        }
    }
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
    let coupon = find_coupon(&state, &program, &code).await?;
    let client = ClientId { kind: "coupon_cancel", id: code.clone(), request_hash: String::new() };
    let operation = Operation::Restore { points: coupon.points };
    let customer = customer_id(&coupon.customer_id)?;
    let mut write = LedgerWrite::new(&program, customer, Some(client), operation, "reward", state.clock.now());
    write.reference = Some(code.clone());
    write.effect = Effect::CancelCoupon { code: code.clone() };
    let outcome = state.storage.write_ledger(&write).await?;
    respond(outcome, ("code", &code), |result| CancelResponse { code: code.clone(), result })
}

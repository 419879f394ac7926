//! Refunds and cancellations of orders that earned points.

use axum::{
    extract::{Path, State},
    response::Response,
    routing::post,
    Router,
};
use serde::{Deserialize, Serialize};

use super::openapi::WriteErrors;
use super::{client_id, customer_id, respond, ApiJson, CurrentProgram};
use crate::{
    http::{problem::Problem, AppState},
    ledger::Operation,
    rules::Minor,
    storage::{ClientId, Effect, LedgerWrite, WriteOutcome, WriteResult},
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/orders/{order_id}/refunds", post(refund))
        .route("/api/v1/orders/{order_id}/cancel", post(cancel))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RefundRequest {
    refund_id: String,
    /// Money refunded, minor units.
    amount: Minor,
}

#[derive(Serialize, utoipa::ToSchema)]
struct OrderWriteResponse {
    order_id: String,
    #[serde(flatten)]
    result: WriteResult,
}

#[utoipa::path(post, path = "/api/v1/orders/{order_id}/refunds", tag = "orders", params(("order_id" = String, Path, description = "The order id reported with the order event")),
    request_body = RefundRequest,
    responses((status = 201, description = "Points taken back in proportion", body = OrderWriteResponse),
        (status = 200, description = "A replay: the original result", body = OrderWriteResponse),
        WriteErrors))]
async fn refund(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(order_id): Path<String>,
    body: ApiJson<RefundRequest>,
) -> Result<Response, Problem> {
    let request = &body.value;
    client_id("refund_id", &request.refund_id)?;
    if request.amount <= 0 {
        return Err(Problem::invalid_field("amount", "amount must be a positive number of minor units"));
    }
    let operation = Operation::Refund { order_id: order_id.clone(), amount: request.amount };
    let client = ClientId { kind: "refund", id: request.refund_id.clone(), request_hash: body.fingerprint.clone() };
    let outcome = write_for_order(&state, &program, &order_id, client, operation).await?;
    respond(outcome, ("refund_id", &request.refund_id), |result| OrderWriteResponse { order_id, result })
}

#[derive(Serialize, utoipa::ToSchema)]
struct CancelOrderResponse {
    order_id: String,
    #[serde(flatten)]
    result: WriteResult,
    /// Coupons the order had used: cancelled, their points back with their customers.
    restored_coupons: Vec<String>,
}

/// Cancelling twice is the same cancellation: the order id is its client id. Coupons the order
/// used are cancelled and their points restored, each once (its code is its client id).
#[utoipa::path(post, path = "/api/v1/orders/{order_id}/cancel", tag = "orders",
    params(("order_id" = String, Path, description = "The order id reported with the order event")),
    responses((status = 201, description = "Pending points voided, available ones taken back", body = CancelOrderResponse),
        (status = 200, description = "Already cancelled: the original result", body = CancelOrderResponse),
        WriteErrors))]
async fn cancel(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(order_id): Path<String>,
) -> Result<Response, Problem> {
    let operation = Operation::CancelOrder { order_id: order_id.clone() };
    let client = ClientId { kind: "cancel", id: order_id.clone(), request_hash: String::new() };
    let outcome = write_for_order(&state, &program, &order_id, client, operation).await?;
    let mut restored_coupons = Vec::new();
    if matches!(outcome, WriteOutcome::Applied(_) | WriteOutcome::Replayed(_)) {
        for coupon in state.storage.coupons_used_by(&program.id, &order_id).await? {
            let client = ClientId { kind: "coupon_release", id: coupon.code.clone(), request_hash: String::new() };
            let operation = Operation::Restore { points: coupon.points };
            let customer = customer_id(&coupon.customer_id)?;
            let mut write = LedgerWrite::new(&program, customer, Some(client), operation, "reward", state.clock.now());
            write.reference = Some(coupon.code.clone());
            write.effect = Effect::ReleaseUsedCoupon { code: coupon.code.clone() };
            if let WriteOutcome::Applied(_) | WriteOutcome::Replayed(_) = state.storage.write_ledger(&write).await? {
                restored_coupons.push(coupon.code);
            }
        }
    }
    respond(outcome, ("order_id", &order_id), |result| CancelOrderResponse {
        order_id: order_id.clone(),
        result,
        restored_coupons,
    })
}

/// Writes to the ledger of the customer the order earned for; 404 for an unknown order.
async fn write_for_order(
    state: &AppState,
    program: &CurrentProgram,
    order_id: &str,
    client_id: ClientId,
    operation: Operation,
) -> Result<crate::storage::WriteOutcome, Problem> {
    let customer = state
        .storage
        .order_customer(&program.id, order_id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("No order {order_id:?} was reported in this program.")))?;
    let mut write =
        LedgerWrite::new(program, customer_id(&customer)?, Some(client_id), operation, "purchase", state.clock.now());
    write.reference = Some(order_id.to_owned());
    Ok(state.storage.write_ledger(&write).await?)
}

//! Refunds and cancellations of orders that earned points.

use axum::{
    extract::{Path, State},
    response::Response,
};
use serde::{Deserialize, Serialize};

use utoipa_axum::{router::OpenApiRouter, routes};

use super::openapi::WriteErrors;
use super::{respond, ApiJson, CurrentProgram};
use crate::{
    http::{problem::Problem, AppState},
    points::Refund,
    rules::Minor,
    storage::WriteResult,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(refund)).routes(routes!(cancel))
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
    let request = body.value;
    let refund = Refund { refund_id: request.refund_id, order_id: order_id.clone(), amount: request.amount };
    let written = state.points.refund(&program, &refund).await?;
    Ok(respond(written, |result| OrderWriteResponse { order_id, result }))
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
/// used are cancelled and their points restored in the same transaction.
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
    let written = state.points.cancel_order(&program, &order_id).await?;
    Ok(respond(written, |mut result| CancelOrderResponse {
        restored_coupons: std::mem::take(&mut result.released_coupons),
        order_id,
        result,
    }))
}

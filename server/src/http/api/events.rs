//! `POST /api/v1/events`: what happened in the merchant's store. Orders earn points under the
//! program's purchase rule, actions (signup, review, birthday, ...) under its action rules and
//! their caps; the customer is created on their first event.

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};

use utoipa_axum::{router::OpenApiRouter, routes};

use super::openapi::WriteErrors;
use super::{respond, ApiJson, CurrentProgram};
use crate::{
    http::{problem::Problem, AppState},
    ledger::Timestamp,
    points::{ActionEvent, OrderEvent, ReferralEvent},
    rules::{Minor, Order, OrderLine},
    storage::{Referral, WriteResult},
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(record))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct EventRequest {
    event_id: String,
    customer_id: String,
    #[serde(rename = "type")]
    kind: String,
    occurred_at: Option<Timestamp>,
    order_id: Option<String>,
    currency: Option<String>,
    subtotal: Option<Minor>,
    #[serde(default)]
    shipping: Minor,
    #[serde(default)]
    tax: Minor,
    #[serde(default)]
    discount: Minor,
    #[serde(default)]
    lines: Vec<OrderLine>,
    /// For `referral` events: the customer who referred this one.
    referrer_id: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct EventResponse {
    event_id: String,
    #[serde(flatten)]
    result: WriteResult,
}

#[utoipa::path(post, path = "/api/v1/events", tag = "events", request_body = EventRequest,
    responses((status = 201, description = "Points earned (or, for `referral`, the referral recorded: ReferralResponse)", body = EventResponse),
        (status = 200, description = "A replay: the original result", body = EventResponse),
        WriteErrors))]
async fn record(
    State(state): State<AppState>,
    program: CurrentProgram,
    body: ApiJson<EventRequest>,
) -> Result<Response, Problem> {
    let event = body.value;
    let points = &state.points;
    let kind = event.kind.clone();
    let written = match kind.as_str() {
        "referral" => {
            let referrer_id = event
                .referrer_id
                .ok_or_else(|| Problem::invalid_field("referrer_id", "a referral needs referrer_id"))?;
            let referral = ReferralEvent { customer_id: event.customer_id, referrer_id };
            let (referral, replayed) = points.record_referral(&program, &referral).await?;
            let status = if replayed { StatusCode::OK } else { StatusCode::CREATED };
            return Ok((status, Json(ReferralResponse { event_id: event.event_id, referral })).into_response());
        }
        "order" => {
            fn required<T>(value: Option<T>, field: &str) -> Result<T, Problem> {
                value.ok_or_else(|| Problem::invalid_field(field, format!("an order event needs {field}")))
            }
            let order = Order {
                subtotal: required(event.subtotal, "subtotal")?,
                shipping: event.shipping,
                tax: event.tax,
                discount: event.discount,
                lines: event.lines,
            };
            let order = OrderEvent {
                order_id: required(event.order_id, "order_id")?,
                currency: required(event.currency, "currency")?,
                event_id: event.event_id.clone(),
                customer_id: event.customer_id,
                occurred_at: event.occurred_at,
                order,
            };
            points.record_order(&program, &order).await?
        }
        _ => {
            let action = ActionEvent {
                event_id: event.event_id.clone(),
                customer_id: event.customer_id,
                action: event.kind,
                occurred_at: event.occurred_at,
            };
            points.record_action(&program, &action).await?
        }
    };
    Ok(respond(written, |result| EventResponse { event_id: event.event_id, result }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct ReferralResponse {
    event_id: String,
    referral: Referral,
}

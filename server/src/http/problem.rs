//! The one error type of the HTTP APIs: RFC 9457 `application/problem+json` bodies with a
//! stable `type` (`/problems/<code>`) that clients can match on.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use crate::{
    ledger::LedgerError,
    points::PointsError,
    storage::{Refusal, StorageError},
};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    kind: String,
    title: &'static str,
    status: u16,
    detail: String,
    /// The stable machine-readable part of `type`, e.g. `not_found`.
    code: &'static str,
    /// The request field at fault, for validation errors (`lines[2].amount`).
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("/problems/{code}"),
            title,
            status: status.as_u16(),
            detail: detail.into(),
            code,
            field: None,
        }
    }

    /// A request field that is missing, of the wrong type or out of range: 422.
    pub fn invalid_field(field: impl Into<String>, detail: impl std::fmt::Display) -> Self {
        let detail = detail.to_string();
        let mut problem = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", "Invalid request", detail);
        problem.field = Some(field.into());
        problem
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized", detail)
    }

    /// The client id was used before with a different request body (I3).
    pub fn idempotency_conflict(field: &str, id: &str) -> Self {
        let detail = format!("{field} {id:?} was already used for a different request; use a new {field}");
        let mut problem = Self::new(StatusCode::CONFLICT, "idempotency_conflict", "Conflict", detail);
        problem.field = Some(field.to_owned());
        problem
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Not found", detail)
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable", detail)
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (status, axum::Json(&self)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        response
    }
}

/// Storage failures are logged in full and answered without internals.
impl From<StorageError> for Problem {
    fn from(error: StorageError) -> Self {
        tracing::error!(%error, "storage error");
        Self::unavailable("The database did not answer. Try again shortly.")
    }
}

/// A domain check's refusal: 422 naming the field.
impl From<crate::message::FieldError> for Problem {
    fn from(error: crate::message::FieldError) -> Self {
        Self::invalid_field(error.field, error.message)
    }
}

/// The HTTP answer to each way an operation can fail.
impl From<PointsError> for Problem {
    fn from(error: PointsError) -> Self {
        let detail = error.to_string();
        let refused = |status, code, title| Self::new(status, code, title, capitalised(&detail));
        let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
        match error {
            PointsError::Invalid { field, message } => Self::invalid_field(field, message),
            PointsError::NoCustomer(_)
            | PointsError::NoOrder(_)
            | PointsError::NoCoupon(_)
            | PointsError::NoImport(_)
            | PointsError::NoReferral(_) => Self::not_found(capitalised(&detail)),
            PointsError::IdempotencyConflict { field, id } => Self::idempotency_conflict(field, &id),
            PointsError::Refused(refusal) => match refusal {
                Refusal::Ledger(LedgerError::InsufficientPoints { available, requested }) => Self::new(
                    unprocessable,
                    "insufficient_points",
                    "Insufficient points",
                    format!("The customer has {available} points available; {requested} are needed."),
                ),
                Refusal::Ledger(LedgerError::OrderAlreadyRecorded) => {
                    refused(StatusCode::CONFLICT, "order_already_recorded", "Order already recorded")
                }
                Refusal::Ledger(LedgerError::UnknownOrder) => Self::not_found(capitalised(&detail)),
                Refusal::Ledger(LedgerError::RefundTooLarge { .. }) => {
                    let mut problem = refused(unprocessable, "refund_too_large", "Refund too large");
                    problem.field = Some("amount".into());
                    problem
                }
                Refusal::Ledger(_) => Self::invalid_field("points", capitalised(&detail)),
                Refusal::OutOfStock => refused(unprocessable, "out_of_stock", "Reward unavailable"),
                Refusal::RewardLimitReached => refused(unprocessable, "reward_limit_reached", "Reward unavailable"),
                Refusal::CouponNotIssued => {
                    refused(StatusCode::CONFLICT, "coupon_not_issued", "Coupon not cancellable")
                }
                Refusal::CapReached => refused(unprocessable, "cap_reached", "Cap reached"),
                Refusal::OrderOfAnotherCustomer => {
                    refused(StatusCode::CONFLICT, "order_of_another_customer", "Order of another customer")
                }
            },
            PointsError::AlreadyOrdered => refused(unprocessable, "already_ordered", "Already a customer"),
            PointsError::AlreadyReferred { .. } => {
                refused(StatusCode::CONFLICT, "already_referred", "Already referred")
            }
            PointsError::ReferralDecided(_) => refused(StatusCode::CONFLICT, "referral_decided", "Referral decided"),
            PointsError::RewardUnavailable => refused(unprocessable, "reward_unavailable", "Reward unavailable"),
            PointsError::TierRequired { .. } => refused(unprocessable, "tier_required", "Tier required"),
            PointsError::ImportStarted => refused(StatusCode::CONFLICT, "import_started", "Import started"),
            PointsError::CouponUnusable(status) => {
                let code = match status {
                    crate::rewards::CouponStatus::Consumed => "coupon_already_consumed",
                    crate::rewards::CouponStatus::Cancelled => "coupon_cancelled",
                    crate::rewards::CouponStatus::Issued => "coupon_expired",
                };
                refused(StatusCode::CONFLICT, code, "Coupon not usable")
            }
            PointsError::Storage(error) => error.into(),
        }
    }
}

/// A domain message as a sentence of an answer's detail.
fn capitalised(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

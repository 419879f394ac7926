//! The one error type of the HTTP APIs: RFC 9457 `application/problem+json` bodies with a
//! stable `type` (`/problems/<code>`) that clients can match on.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use crate::storage::StorageError;

#[derive(Debug, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    kind: String,
    title: &'static str,
    status: u16,
    detail: String,
    /// The stable machine-readable part of `type`, e.g. `not_found`.
    code: &'static str,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self { kind: format!("/problems/{code}"), title, status: status.as_u16(), detail: detail.into(), code }
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

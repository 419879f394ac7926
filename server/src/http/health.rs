//! Liveness and readiness probes for process supervisors and load balancers.

use axum::{extract::State, routing::get, Json, Router};
use serde_json::{json, Value};

use super::{problem::Problem, AppState};

pub fn routes() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz))
}

/// The process is up and serving HTTP.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers: only then should a load balancer send traffic here.
async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, Problem> {
    state.storage.ping().await?;
    Ok(Json(json!({ "status": "ready" })))
}

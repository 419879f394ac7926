//! The widget API (`/widget/v1/...`), called from shoppers' browsers on storefront origins.
//! CORS is answered per program: only the program's allowed origins get access.

use axum::{
    extract::{Path, Request, State},
    http::{header, HeaderValue, Method, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
    Extension, Json, Router,
};
use tally_app::api_types::ProgramSummary;

use super::{problem::Problem, AppState};
use crate::programs::Program;

pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/widget/v1/programs/{key}", get(program_summary).options(preflight))
        .route_layer(middleware::from_fn_with_state(state.clone(), load_program_with_cors))
}

async fn program_summary(Extension(program): Extension<Program>) -> Json<ProgramSummary> {
    Json(program.summary())
}

/// The CORS headers are added by the middleware; the preflight itself has no body.
async fn preflight() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// Loads the program named by the publishable key in the path (404 if unknown) and, when the
/// request's `Origin` is on the program's allowlist, adds the CORS headers to the answer.
async fn load_program_with_cors(
    State(state): State<AppState>,
    Path(key): Path<String>,
    mut request: Request,
    next: Next,
) -> Result<Response, Problem> {
    let program = state
        .storage
        .program_by_publishable_key(&key)
        .await?
        .ok_or_else(|| Problem::not_found(format!("No program has the publishable key {key:?}.")))?;
    let allowed_origin = request
        .headers()
        .get(header::ORIGIN)
        .filter(|origin| origin.to_str().is_ok_and(|origin| program.allows_origin(origin)))
        .cloned();
    let is_preflight = request.method() == Method::OPTIONS;
    request.extensions_mut().insert(program);

    let mut response = next.run(request).await.into_response();
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = allowed_origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if is_preflight {
            headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST"));
            headers
                .insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("authorization, content-type"));
            headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        }
    }
    Ok(response)
}

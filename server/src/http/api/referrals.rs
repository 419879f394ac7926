//! Referrals: the held queue (and the others), and the merchant's decision on a held one.

use axum::{
    extract::{Path, Query, State},
    Json,
};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::openapi::{ReadErrors, WriteErrors};
use super::CurrentProgram;
use crate::programs::Program;
use crate::{
    console_users::AuditEntry,
    http::{problem::Problem, AppState},
    referrals::ReferralStatus,
    storage::Referral,
};

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 500;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(approve)).routes(routes!(reject))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ReferralQuery {
    /// `held` (waiting for a decision), `approved` or `rejected`; all when absent.
    status: Option<ReferralStatus>,
    /// 1 to 500 (50 when absent).
    limit: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ReferralList {
    /// Newest first.
    referrals: Vec<Referral>,
}

#[utoipa::path(get, path = "/api/v1/referrals", tag = "referrals", params(ReferralQuery),
    responses((status = 200, description = "The program's referrals, newest first", body = ReferralList),
        ReadErrors))]
async fn list(
    State(state): State<AppState>,
    program: CurrentProgram,
    query: Result<Query<ReferralQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ReferralList>, Problem> {
    let Query(query) = query.map_err(|rejection| Problem::invalid_field("query", rejection.body_text()))?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Problem::invalid_field("limit", format!("limit must be 1 to {MAX_PAGE}")));
    }
    Ok(Json(ReferralList { referrals: state.storage.referrals_in(&program.id, query.status, limit).await? }))
}

#[utoipa::path(post, path = "/api/v1/referrals/{customer_id}/approve", tag = "referrals",
    params(("customer_id" = String, Path, description = "The referred customer's id")),
    responses((status = 200, description = "Approved: it pays on the customer's first order, or now if they have ordered",
        body = Referral), WriteErrors))]
async fn approve(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(customer_id): Path<String>,
) -> Result<Json<Referral>, Problem> {
    decide(&state, &program, &customer_id, true).await
}

#[utoipa::path(post, path = "/api/v1/referrals/{customer_id}/reject", tag = "referrals",
    params(("customer_id" = String, Path, description = "The referred customer's id")),
    responses((status = 200, description = "Rejected: it never pays", body = Referral), WriteErrors))]
async fn reject(
    State(state): State<AppState>,
    program: CurrentProgram,
    Path(customer_id): Path<String>,
) -> Result<Json<Referral>, Problem> {
    decide(&state, &program, &customer_id, false).await
}

/// Audited like a console change, by "the merchant API" (the key's holder).
async fn decide(state: &AppState, program: &Program, customer_id: &str, approve: bool) -> Result<Json<Referral>, Problem> {
    let audit = AuditEntry {
        at: state.clock.now(),
        user_id: "api".into(),
        user_email: "merchant API".into(),
        program_id: Some(program.id.clone()),
        action: if approve { "referral.approve" } else { "referral.reject" }.into(),
        target: customer_id.to_owned(),
        before: None,
        after: None,
        request_key: None,
    };
    Ok(Json(state.points.decide_referral(program, customer_id, approve, audit).await?))
}

//! The program's own settings: names, widget origins, and the earning and expiry rules.

use axum::{extract::State, Json};
use serde::{Deserialize, Serialize};

use utoipa_axum::{router::OpenApiRouter, routes};

use super::openapi::{ReadErrors, WriteErrors};
use super::{ApiJson, CurrentProgram};
use crate::{
    http::{problem::Problem, AppState},
    message::FieldError,
    programs::{Program, ProgramSettings},
    rules::Campaign,
    tiers::TierLadder,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(show, replace))
        .routes(routes!(tiers, replace_tiers))
        .routes(routes!(campaigns, replace_campaigns))
}

#[derive(Serialize, utoipa::ToSchema)]
struct SettingsView {
    program_id: String,
    name: String,
    currency: String,
    points_name: String,
    publishable_key: String,
    allowed_origins: Vec<String>,
    settings: ProgramSettings,
}

impl From<crate::programs::Program> for SettingsView {
    fn from(program: crate::programs::Program) -> Self {
        Self {
            program_id: program.id,
            name: program.name,
            currency: program.currency,
            points_name: program.points_name,
            publishable_key: program.publishable_key,
            allowed_origins: program.allowed_origins,
            settings: program.settings,
        }
    }
}

/// Everything `PUT /api/v1/settings` replaces. The currency stays as created.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SettingsRequest {
    name: String,
    points_name: String,
    #[serde(default)]
    allowed_origins: Vec<String>,
    settings: ProgramSettings,
}

#[utoipa::path(get, path = "/api/v1/settings", tag = "settings",
    responses((status = 200, description = "The program and its settings", body = SettingsView), ReadErrors))]
async fn show(program: CurrentProgram) -> Json<SettingsView> {
    Json(program.0.into())
}

#[utoipa::path(put, path = "/api/v1/settings", tag = "settings", request_body = SettingsRequest,
    responses((status = 200, description = "Replaced", body = SettingsView), WriteErrors))]
async fn replace(
    State(state): State<AppState>,
    program: CurrentProgram,
    body: ApiJson<SettingsRequest>,
) -> Result<Json<SettingsView>, Problem> {
    let request = body.value;
    let change = |program: &mut Program| {
        program.update(&request.name, &request.points_name, request.allowed_origins.clone(), request.settings.clone())
    };
    let program = state.points.change_program(&program.id, change, |_, _| None).await?.map_err(Problem::from)?;
    Ok(Json(program.into()))
}

#[utoipa::path(get, path = "/api/v1/tiers", tag = "settings",
    responses((status = 200, description = "The tier ladder", body = TierLadder), ReadErrors))]
async fn tiers(program: CurrentProgram) -> Json<TierLadder> {
    Json(program.0.settings.tiers)
}

#[utoipa::path(get, path = "/api/v1/campaigns", tag = "settings",
    responses((status = 200, description = "The campaigns", body = Vec<Campaign>), ReadErrors))]
async fn campaigns(program: CurrentProgram) -> Json<Vec<Campaign>> {
    Json(program.0.settings.campaigns)
}

/// Replaces one part of the settings through the same validation as `PUT /api/v1/settings`.
/// `part` is the settings field being replaced, so errors name fields of the request body.
/// Only that part changes: a concurrent save of another part is kept.
async fn save_settings(
    state: &AppState,
    program: Program,
    part: &str,
    change: impl Fn(&mut ProgramSettings),
) -> Result<Program, Problem> {
    let change = |program: &mut Program| {
        let mut settings = program.settings.clone();
        change(&mut settings);
        let (name, points_name, origins) =
            (program.name.clone(), program.points_name.clone(), program.allowed_origins.clone());
        program.update(&name, &points_name, origins, settings)
    };
    let changed = state.points.change_program(&program.id, change, |_, _| None).await?;
    changed.map_err(|FieldError { field, message }| {
        let prefix = format!("settings.{part}");
        let field = field.strip_prefix(&prefix).map_or(field.as_str(), |rest| rest.trim_start_matches('.'));
        Problem::invalid_field(field.to_owned(), message)
    })
}

#[utoipa::path(put, path = "/api/v1/tiers", tag = "settings", request_body = TierLadder,
    responses((status = 200, description = "Replaced", body = TierLadder), WriteErrors))]
async fn replace_tiers(
    State(state): State<AppState>,
    program: CurrentProgram,
    body: ApiJson<TierLadder>,
) -> Result<Json<TierLadder>, Problem> {
    let program = save_settings(&state, program.0, "tiers", |settings| settings.tiers = body.value.clone()).await?;
    Ok(Json(program.settings.tiers))
}

#[utoipa::path(put, path = "/api/v1/campaigns", tag = "settings", request_body = Vec<Campaign>,
    responses((status = 200, description = "Replaced", body = Vec<Campaign>), WriteErrors))]
async fn replace_campaigns(
    State(state): State<AppState>,
    program: CurrentProgram,
    body: ApiJson<Vec<Campaign>>,
) -> Result<Json<Vec<Campaign>>, Problem> {
    let program =
        save_settings(&state, program.0, "campaigns", |settings| settings.campaigns = body.value.clone()).await?;
    Ok(Json(program.settings.campaigns))
}

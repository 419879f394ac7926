//! The program's own settings: names, widget origins, and the earning and expiry rules.

use axum::{extract::State, routing::get, Json, Router};
use serde::{Deserialize, Serialize};

use super::{ApiJson, CurrentProgram};
use crate::{
    http::{problem::Problem, AppState},
    programs::ProgramSettings,
};

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/settings", get(show).put(replace))
}

#[derive(Serialize)]
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
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsRequest {
    name: String,
    points_name: String,
    #[serde(default)]
    allowed_origins: Vec<String>,
    settings: ProgramSettings,
}

async fn show(program: CurrentProgram) -> Json<SettingsView> {
    Json(program.0.into())
}

async fn replace(
    State(state): State<AppState>,
    program: CurrentProgram,
    body: ApiJson<SettingsRequest>,
) -> Result<Json<SettingsView>, Problem> {
    let request = body.value;
    let mut program = program.0;
    program
        .update(&request.name, &request.points_name, request.allowed_origins, request.settings)
        .map_err(|(field, message)| Problem::invalid_field(field, message))?;
    state.storage.upsert_program(&program).await?;
    Ok(Json(program.into()))
}

//! The console's imports: the upload (a multipart form post, so it works without script),
//! the dry run and the mapping through the points service, the start (audited) and the
//! progress the page polls. The run itself is the import worker's.

use axum::{
    extract::{Multipart, Path, State},
    http::HeaderMap,
    response::{IntoResponse, Redirect, Response},
};
use serde_json::json;
use tally_app::console::{
    i18n::{lang, trf},
    imports::ImportsConsole,
    model::{ConsoleError, ImportDetail, ImportError, ImportView, ImportsBoard},
    session_token,
};

use super::{customers::program_header, export::console_problem, invalid, signed_in_user, unavailable, ConsoleService};
use crate::{
    http::{problem::Problem, AppState},
    imports::{self, Field, Mode},
    points::{ImportUpload, PointsError, MAX_IMPORT_BYTES},
    programs::Program,
    storage::ImportRun,
};

/// How many imports the list shows.
const LISTED: u32 = 50;

fn detail(run: &ImportRun) -> ImportDetail {
    let lang = lang();
    ImportDetail {
        id: run.import_id.clone(),
        file_name: run.file_name.clone(),
        status: run.status.as_str().to_owned(),
        mode: run.mode.as_str().to_owned(),
        mapping: run.mapping.iter().map(|field| field.map_or("", Field::as_str).to_owned()).collect(),
        total_rows: run.total_rows,
        rejected_rows: run.rejected_rows,
        new_customers: run.new_customers,
        done_rows: run.done_rows,
        written: run.written,
        unchanged: run.unchanged,
        failed: run.failed,
        errors: run
            .errors
            .iter()
            .map(|error| ImportError {
                line: error.line,
                column: error.column.clone(),
                message: lang.fill_translated(&error.template, &error.values),
            })
            .collect(),
        created_at: run.created_at.to_string(),
        finished_at: run.finished_at.map(|at| at.to_string()),
    }
}

/// A points-service refusal as the page shows it.
fn refused(error: PointsError) -> ConsoleError {
    match error {
        PointsError::Invalid { field, message } => invalid(&field, message),
        PointsError::NoImport(id) => ConsoleError::NotFound(trf("No import {0} in this program.", &[&id])),
        PointsError::Storage(error) => unavailable(error),
        other => ConsoleError::Invalid { field: "import".into(), message: other.to_string() },
    }
}

impl ConsoleService {
    /// The program a writer changes, from a form's session and CSRF token.
    pub(super) async fn writable_program(&self, token: Option<&str>, csrf: &str, program_id: &str) -> Result<(crate::console_users::ConsoleUser, Program), ConsoleError> {
        let user = self.writer(token, csrf).await?;
        let program = self.program(&user, program_id).await?;
        Ok((user, program))
    }
}

#[async_trait::async_trait]
impl ImportsConsole for ConsoleService {
    async fn imports(&self, token: Option<&str>, program_id: &str) -> Result<ImportsBoard, ConsoleError> {
        let (session, user) = self.session(token).await?;
        let program = self.program(&user, program_id).await?;
        let runs = self.0.storage.import_runs(&program.id, LISTED).await.map_err(unavailable)?;
        Ok(ImportsBoard {
            user: signed_in_user(&session, &user),
            program: program_header(self.0.storage.as_ref(), &program).await?,
            imports: runs.iter().map(detail).collect(),
            max_mb: (MAX_IMPORT_BYTES / 1024 / 1024) as u64,
        })
    }

    async fn import_view(&self, token: Option<&str>, program_id: &str, import_id: &str) -> Result<ImportView, ConsoleError> {
        let (session, user) = self.session(token).await?;
        let program = self.program(&user, program_id).await?;
        let run = self.0.points.import(&program, import_id).await.map_err(refused)?;
        let content = self.0.storage.import_content(&run.import_id).await.map_err(unavailable)?.unwrap_or_default();
        let headers = imports::headers(&content).unwrap_or_default();
        let (preset, _) = imports::guess(&headers);
        Ok(ImportView {
            user: signed_in_user(&session, &user),
            program: program_header(self.0.storage.as_ref(), &program).await?,
            headers,
            preset: preset.as_str().to_owned(),
            import: detail(&run),
        })
    }

    async fn recheck_import(
        &self,
        token: Option<&str>,
        program_id: &str,
        csrf: &str,
        import_id: &str,
        mapping: Vec<String>,
        mode: String,
    ) -> Result<ImportDetail, ConsoleError> {
        let (_, program) = self.writable_program(token, csrf, program_id).await?;
        let mode = Mode::parse(&mode).ok_or_else(|| invalid("mode", crate::message::message!("add or set")))?;
        let mapping = mapping
            .iter()
            .map(|name| match name.as_str() {
                "" => Ok(None),
                name => Field::parse(name).map(Some).ok_or_else(|| invalid("mapping", crate::message::message!("no field {0}", name))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let run = self.0.points.recheck_import(&program, import_id, mapping, mode).await.map_err(refused)?;
        Ok(detail(&run))
    }

    async fn start_import(
        &self,
        token: Option<&str>,
        program_id: &str,
        csrf: &str,
        import_id: &str,
    ) -> Result<ImportDetail, ConsoleError> {
        let (user, program) = self.writable_program(token, csrf, program_id).await?;
        let run = self.0.points.start_import(&program, import_id).await.map_err(refused)?;
        let after = json!({ "file_name": run.file_name, "mode": run.mode.as_str(), "rows": run.total_rows });
        let audit = self.audit_entry(&user, Some(&program), "import.start", &run.import_id, None, Some(after));
        self.0.storage.append_audit(&audit).await.map_err(unavailable)?;
        Ok(detail(&run))
    }

    async fn import_progress(&self, token: Option<&str>, program_id: &str, import_id: &str) -> Result<ImportDetail, ConsoleError> {
        let (_, user) = self.session(token).await?;
        let program = self.program(&user, program_id).await?;
        let run = self.0.points.import(&program, import_id).await.map_err(refused)?;
        Ok(detail(&run))
    }
}

/// `POST /admin/programs/{program}/imports` (multipart: `csrf`, `file`, `mode`): keeps and
/// checks the file, then shows its page; a file that cannot be read goes back to the form
/// with the reason.
pub(super) async fn upload(
    State(state): State<AppState>,
    Path(program_id): Path<String>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    let back = |code: &str| Redirect::to(&format!("/admin/programs/{program_id}/imports?upload_error={code}")).into_response();
    let (mut csrf, mut mode, mut file) = (String::new(), None, None);
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) if error.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => return back("too_large"),
            Err(_) => return back("unreadable"),
        };
        match field.name().unwrap_or_default() {
            "csrf" => csrf = field.text().await.unwrap_or_default(),
            "mode" => mode = field.text().await.ok().and_then(|text| Mode::parse(&text)),
            "file" => {
                let name = field.file_name().unwrap_or_default().to_owned();
                match field.bytes().await {
                    Ok(bytes) => file = Some((name, bytes)),
                    Err(error) if error.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => return back("too_large"),
                    Err(_) => return back("unreadable"),
                }
            }
            _ => {}
        }
    }
    let service = ConsoleService(state.clone());
    let (user, program) = match service.writable_program(session_token(&headers), &csrf, &program_id).await {
        Ok(found) => found,
        Err(error) => return console_problem(error).into_response(),
    };
    let Some((file_name, bytes)) = file.filter(|(name, bytes)| !name.is_empty() && !bytes.is_empty()) else {
        return back("no_file");
    };
    let Ok(content) = std::str::from_utf8(&bytes) else { return back("not_text") };
    let upload = ImportUpload {
        file_name: &file_name,
        content,
        mapping: None,
        mode,
        created_by: Some(user.email.as_str().to_owned()),
    };
    match state.points.upload_import(&program, upload).await {
        Ok(uploaded) => Redirect::to(&format!("/admin/programs/{program_id}/imports/{}", uploaded.run.import_id)).into_response(),
        Err(PointsError::Invalid { field, .. }) if field == "file" => back("not_csv"),
        Err(PointsError::Invalid { field, .. }) if field == "file_name" => back("unreadable"),
        Err(error) => Problem::from(error).into_response(),
    }
}


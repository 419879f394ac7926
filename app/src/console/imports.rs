//! Imports of existing balances: a CSV file uploaded (a plain form, so it works without
//! script), checked on the server (the dry run: counts and line-numbered errors, nothing
//! written), its columns mapped, then run on the server with a live progress bar. The run goes
//! on when the browser closes; the page finds it again.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::{
    charts::format_number,
    forms::{self, ScriptNeeded},
    i18n::{t, tr, trf},
    loaded_page,
    model::{ImportDetail, ImportView, ImportsBoard},
    short_time, ProgramNav, TopBar,
};

#[cfg(feature = "ssr")]
use super::model::ConsoleError;

#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait ImportsConsole: Send + Sync {
    async fn imports(&self, session: Option<&str>, program_id: &str) -> Result<ImportsBoard, ConsoleError>;
    async fn import_view(&self, session: Option<&str>, program_id: &str, import_id: &str)
        -> Result<ImportView, ConsoleError>;
    /// Checks the file again under another mapping or mode (owners and admins).
    async fn recheck_import(
        &self,
        session: Option<&str>,
        program_id: &str,
        csrf: &str,
        import_id: &str,
        mapping: Vec<String>,
        mode: String,
    ) -> Result<ImportDetail, ConsoleError>;
    /// Starts writing the checked rows (owners and admins), audited.
    async fn start_import(
        &self,
        session: Option<&str>,
        program_id: &str,
        csrf: &str,
        import_id: &str,
    ) -> Result<ImportDetail, ConsoleError>;
    async fn import_progress(
        &self,
        session: Option<&str>,
        program_id: &str,
        import_id: &str,
    ) -> Result<ImportDetail, ConsoleError>;
}

#[server(prefix = "/admin/fn", endpoint = "imports")]
pub async fn load_imports(program: String) -> Result<ImportsBoard, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.imports(session.as_deref(), &program).await.map_err(super::fail)
}

#[server(prefix = "/admin/fn", endpoint = "import_view")]
pub async fn load_import(program: String, import: String) -> Result<ImportView, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.import_view(session.as_deref(), &program, &import).await.map_err(super::fail)
}

#[server(prefix = "/admin/fn", endpoint = "recheck_import", input = leptos::server_fn::codec::Json)]
pub async fn recheck_import(
    program: String,
    csrf: String,
    import: String,
    mapping: Vec<String>,
    mode: String,
) -> Result<ImportDetail, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.recheck_import(session.as_deref(), &program, &csrf, &import, mapping, mode).await.map_err(super::fail)
}

#[server(prefix = "/admin/fn", endpoint = "start_import", input = leptos::server_fn::codec::Json)]
pub async fn start_import(program: String, csrf: String, import: String) -> Result<ImportDetail, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.start_import(session.as_deref(), &program, &csrf, &import).await.map_err(super::fail)
}

#[server(prefix = "/admin/fn", endpoint = "import_progress")]
pub async fn import_progress(program: String, import: String) -> Result<ImportDetail, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.import_progress(session.as_deref(), &program, &import).await.map_err(super::fail)
}

/// The fields a column can fill, by key (empty: ignored), with their names.
pub const FIELDS: [(&str, &str); 11] = [
    ("", t("(ignore this column)")),
    ("customer_id", t("Customer id (the store's)")),
    ("email", t("Email")),
    ("name", t("Name")),
    ("first_name", t("First name")),
    ("last_name", t("Last name")),
    ("points", t("Points")),
    ("lifetime", t("Lifetime points or spend (for tiers)")),
    ("tier", t("Tier")),
    ("birthday", t("Birthday")),
    ("marketing_consent", t("Marketing consent")),
];

/// Why an upload went back to the form (`?upload_error=`), said in the page's language.
fn upload_error(code: &str) -> Option<&'static str> {
    Some(match code {
        "no_file" => tr("Choose a CSV file first."),
        "too_large" => tr("The file is too large."),
        "not_text" => tr("The file is not UTF-8 text: save it as CSV (UTF-8) and upload it again."),
        "not_csv" => tr("The file is not CSV with a header line naming its columns."),
        "" => return None,
        _ => tr("The file could not be uploaded; try again."),
    })
}

#[component]
pub fn ImportsPage() -> impl IntoView {
    let params = use_params_map();
    let data = Resource::new(move || params.get().get("program").unwrap_or_default(), load_imports);
    loaded_page(t("Loading imports…"), data, move |board| view! { <ImportsView board/> })
}

#[component]
fn ImportsView(board: ImportsBoard) -> impl IntoView {
    let ImportsBoard { user, program, imports, max_mb } = board;
    let can_write = user.role != "viewer";
    let query = leptos_router::hooks::use_query_map();
    let problem = move || query.with(|query| query.get("upload_error")).and_then(|code| upload_error(&code));
    let action = format!("/admin/programs/{}/imports", program.id);
    let base = action.clone();
    view! {
        <TopBar user=user.clone()/>
        <main class="page wide" data-program-id=program.id.clone()>
            <ProgramNav program=program.clone() current="imports"/>
            <h1>{tr("Import balances")}</h1>
            <p class="muted">{tr("Bring customers' points from Smile.io, LoyaltyLion, WooCommerce Points and Rewards or a spreadsheet: a CSV file with a header line and one row per customer. Tally checks every row first and writes nothing until you start the import.")}</p>
            {can_write.then(|| view! {
                <form class="form settings" method="post" enctype="multipart/form-data" action=action.clone() aria-label=tr("Upload a file")>
                    <input type="hidden" name="csrf" value=user.csrf.clone()/>
                    <label>{tr("CSV file")} " " <input type="file" name="file" accept=".csv,text/csv" required=true/></label>
                    <label>{tr("The points column")} " "
                        <select name="mode">
                            <option value="add" selected=true>{tr("adds to each balance")}</option>
                            <option value="set">{tr("becomes each balance")}</option>
                        </select>
                    </label>
                    <p class="muted">{trf("At most {0} MB. Rows need the store's customer id or an email Tally knows.", &[&max_mb])}</p>
                    <p class="error" role="alert">{problem}</p>
                    <button class="button primary" type="submit">{tr("Check the file")}</button>
                </form>
            })}
            <section class="section">
                <h2>{tr("Imports")}</h2>
                {if imports.is_empty() {
                    view! { <p class="muted" data-imports="empty">{tr("No imports yet: upload a file above.")}</p> }.into_any()
                } else {
                    view! {
                        <table class="table" data-imports="">
                            <thead><tr>
                                <th>{tr("When")}</th><th>{tr("File")}</th><th>{tr("Status")}</th>
                                <th>{tr("Rows")}</th><th>{tr("Written")}</th>
                            </tr></thead>
                            <tbody>
                                {imports.into_iter().map(|import| {
                                    let href = format!("{base}/{}", import.id);
                                    view! {
                                        <tr data-status=import.status.clone()>
                                            <td>{short_time(&import.created_at)}</td>
                                            <td><a href=href>{import.file_name.clone()}</a></td>
                                            <td>{status_name(&import.status)}</td>
                                            <td>{format_number(import.total_rows as i64)}</td>
                                            <td>{format_number(import.written as i64)}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }}
            </section>
        </main>
    }
}

fn status_name(status: &str) -> &'static str {
    match status {
        "checked" => tr("checked, not started"),
        "running" => tr("running"),
        "done" => tr("done"),
        _ => tr("stopped"),
    }
}

#[component]
pub fn ImportPage() -> impl IntoView {
    let params = use_params_map();
    let data = Resource::new(
        move || params.with(|params| (params.get("program").unwrap_or_default(), params.get("import").unwrap_or_default())),
        |(program, import)| load_import(program, import),
    );
    loaded_page(t("Loading the import…"), data, move |view| view! { <ImportRunView view/> })
}

#[component]
fn ImportRunView(view: ImportView) -> impl IntoView {
    let ImportView { user, program, headers, preset, import } = view;
    let can_write = user.role != "viewer";
    let detail = RwSignal::new(import);
    let (program_id, csrf, import_id) = (program.id.clone(), user.csrf.clone(), detail.with_untracked(|d| d.id.clone()));
    let recheck = ServerAction::<RecheckImport>::new();
    let start = ServerAction::<StartImport>::new();
    for action_value in [recheck.value(), start.value()] {
        Effect::new(move |_| {
            if let Some(Ok(updated)) = action_value.get() {
                detail.set(updated);
            }
        });
    }
    // While it runs, the page asks for the progress (the run itself is on the server).
    {
        let (program_id, import_id) = (program_id.clone(), import_id.clone());
        Effect::new(move |_| {
            if detail.with(|d| d.status == "running") {
                let (program, import) = (program_id.clone(), import_id.clone());
                set_timeout(
                    move || {
                        leptos::task::spawn_local(async move {
                            if let Ok(updated) = import_progress(program, import).await {
                                detail.set(updated);
                            }
                        })
                    },
                    std::time::Duration::from_millis(700),
                );
            }
        });
    }
    let failure = {
        let (recheck_failure, start_failure) = (forms::failure(recheck), forms::failure(start));
        move || recheck_failure().or_else(start_failure).map(|(_, text)| text)
    };
    let editable = move || can_write && detail.with(|d| d.status == "checked");
    let send_recheck = {
        let (program, csrf, import) = (program_id.clone(), csrf.clone(), import_id.clone());
        move |mapping: Vec<String>, mode: String| {
            recheck.dispatch(RecheckImport { program: program.clone(), csrf: csrf.clone(), import: import.clone(), mapping, mode });
        }
    };
    let column = {
        let send_recheck = send_recheck.clone();
        move |(index, header): (usize, String)| {
            let send_recheck = send_recheck.clone();
            let current = move || detail.with(|d| d.mapping.get(index).cloned().unwrap_or_default());
            view! {
                <tr>
                    <td><code>{header.clone()}</code></td>
                    <td>
                        <select name=format!("map-{index}") aria-label=header.clone() disabled=move || !editable()
                            on:change=move |event| {
                                let field = event_target_value(&event);
                                let (mut mapping, mode) = detail.with_untracked(|d| (d.mapping.clone(), d.mode.clone()));
                                if let Some(slot) = mapping.get_mut(index) { *slot = field; }
                                send_recheck(mapping, mode);
                            }>
                            {FIELDS.iter().map(|(key, name)| view! {
                                <option value=*key selected=move || current() == *key>{tr(name)}</option>
                            }).collect_view()}
                        </select>
                    </td>
                </tr>
            }
        }
    };
    let start_click = {
        let (program, csrf, import) = (program_id.clone(), csrf.clone(), import_id.clone());
        move |_| {
            start.dispatch(StartImport { program: program.clone(), csrf: csrf.clone(), import: import.clone() });
        }
    };
    let mode_change = move |event: leptos::ev::Event| {
        let mode = event_target_value(&event);
        let mapping = detail.with_untracked(|d| d.mapping.clone());
        send_recheck(mapping, mode);
    };
    let count = move |pick: fn(&ImportDetail) -> u64| move || format_number(detail.with(|d| pick(d)) as i64);
    let percent = move || detail.with(|d| if d.total_rows == 0 { 100 } else { d.done_rows * 100 / d.total_rows });
    let preset_name = match preset.as_str() {
        "smile_io" => "Smile.io",
        "loyaltylion" => "LoyaltyLion",
        "woocommerce" => "WooCommerce Points and Rewards",
        _ => "Tally",
    };
    view! {
        <TopBar user/>
        <main class="page wide" data-program-id=program.id.clone() data-import-id=import_id.clone()
            data-import-status=move || detail.with(|d| d.status.clone())>
            <ProgramNav program=program.clone() current="imports"/>
            <p><a href=format!("/admin/programs/{}/imports", program.id)>{tr("← Imports")}</a></p>
            <h1>{move || detail.with(|d| d.file_name.clone())}</h1>
            <section class="section" aria-label=tr("Dry run")>
                <h2>{tr("What the file holds")}</h2>
                <dl class="stats">
                    <div class="stat"><dt>{tr("Rows to import")}</dt><dd data-count="rows">{count(|d| d.total_rows)}</dd></div>
                    <div class="stat"><dt>{tr("New customers among them")}</dt><dd data-count="new">{count(|d| d.new_customers)}</dd></div>
                    <div class="stat"><dt>{tr("Rows with errors (left out)")}</dt><dd data-count="rejected">{count(|d| d.rejected_rows)}</dd></div>
                </dl>
                <p class="muted">{trf("Read as a {0} file. Nothing is written until you start the import; the same file imported again changes nothing.", &[&preset_name])}</p>
            </section>
            <section class="section">
                <h2>{tr("Columns")}</h2>
                <ScriptNeeded/>
                <label>{tr("The points column")} " "
                    <select name="mode" disabled=move || !editable() on:change=mode_change>
                        <option value="add" selected=move || detail.with(|d| d.mode == "add")>{tr("adds to each balance")}</option>
                        <option value="set" selected=move || detail.with(|d| d.mode == "set")>{tr("becomes each balance")}</option>
                    </select>
                </label>
                <table class="table" data-mapping="">
                    <thead><tr><th>{tr("Column")}</th><th>{tr("Fills")}</th></tr></thead>
                    <tbody>{headers.into_iter().enumerate().map(column).collect_view()}</tbody>
                </table>
                <p class="error" role="alert">{failure}</p>
            </section>
            <section class="section" aria-label=tr("Progress")>
                {move || match detail.with(|d| d.status.clone()).as_str() {
                    "checked" => can_write.then(|| view! {
                        <button class="button primary" type="button" data-start-import="" on:click=start_click.clone()
                            disabled=move || start.pending().get() || detail.with(|d| d.total_rows == 0)>
                            {move || match detail.with(|d| d.total_rows) {
                                1 => tr("Import 1 row").to_owned(),
                                _ => trf("Import {0} rows", &[&count(|d| d.total_rows)()]),
                            }}
                        </button>
                    }).into_any(),
                    status => view! {
                        <p><strong>{status_name(status)}</strong></p>
                        <progress max="100" value=percent aria-label=tr("Progress")></progress>
                        <p data-progress="">{move || trf("{0} of {1} rows", &[&count(|d| d.done_rows)(), &count(|d| d.total_rows)()])}</p>
                        <dl class="stats">
                            <div class="stat"><dt>{tr("Written")}</dt><dd data-count="written">{count(|d| d.written)}</dd></div>
                            <div class="stat"><dt>{tr("Already imported, unchanged")}</dt><dd data-count="unchanged">{count(|d| d.unchanged)}</dd></div>
                            <div class="stat"><dt>{tr("Refused")}</dt><dd data-count="failed">{count(|d| d.failed)}</dd></div>
                        </dl>
                        <p class="muted">{tr("The import runs on the server: you may close this page and come back.")}</p>
                    }.into_any(),
                }}
            </section>
            <section class="section">
                <h2>{tr("Errors")}</h2>
                {move || {
                    let errors = detail.with(|d| d.errors.clone());
                    if errors.is_empty() {
                        view! { <p class="muted" data-import-errors="none">{tr("No errors.")}</p> }.into_any()
                    } else {
                        view! {
                            <table class="table" data-import-errors="">
                                <thead><tr><th>{tr("Line")}</th><th>{tr("Column")}</th><th>{tr("Problem")}</th></tr></thead>
                                <tbody>
                                    {errors.into_iter().map(|error| view! {
                                        <tr data-line=error.line>
                                            <td>{error.line}</td>
                                            <td>{error.column.unwrap_or_default()}</td>
                                            <td>{error.message}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    }
                }}
            </section>
        </main>
    }
}

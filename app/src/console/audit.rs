//! The audit log: every console write, who made it and what changed (owners only).

use leptos::prelude::*;

use super::{i18n::tr, model::AuditLog, short_time, ErrorPanel, TopBar};

#[server(prefix = "/admin/fn", endpoint = "audit_log")]
pub async fn load_audit_log() -> Result<AuditLog, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.audit_log(session.as_deref()).await.map_err(super::fail)
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| load_audit_log());
    view! {
        <Suspense fallback=|| view! { <p class="muted page">{tr("Loading the audit log…")}</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(AuditLog { user, rows }) => view! {
                        <TopBar user/>
                        <main class="page wide">
                            <nav class="crumbs"><a href="/admin">{tr("Programs")}</a> " / " {tr("Audit log")}</nav>
                            <h1>{tr("Audit log")}</h1>
                            <p class="muted">{tr("The newest 200 console writes.")}</p>
                            <table class="table audit">
                                <thead><tr><th>{tr("When (UTC)")}</th><th>{tr("Who")}</th><th>{tr("Program")}</th><th>{tr("Action")}</th>
                                    <th>{tr("Target")}</th><th>{tr("Before")}</th><th>{tr("After")}</th></tr></thead>
                                <tbody>
                                    {rows.into_iter().map(|row| view! {
                                        <tr data-action=row.action.clone()>
                                            <td>{short_time(&row.at)}</td>
                                            <td>{row.user_email}</td>
                                            <td>{row.program_id.unwrap_or_default()}</td>
                                            <td>{row.action.clone()}</td>
                                            <td>{row.target}</td>
                                            <td><code>{row.before.unwrap_or_default()}</code></td>
                                            <td><code>{row.after.unwrap_or_default()}</code></td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </main>
                    }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

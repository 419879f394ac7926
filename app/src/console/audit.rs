//! The audit log: every console write, who made it and what changed (owners only).

use leptos::prelude::*;

use super::{model::AuditLog, short_time, ErrorPanel, TopBar};

#[server(prefix = "/admin/fn", endpoint = "audit_log")]
pub async fn load_audit_log() -> Result<AuditLog, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.audit_log(session.as_deref()).await.map_err(super::fail)
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| load_audit_log());
    view! {
        <Suspense fallback=|| view! { <p class="muted page">"Loading the audit log…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(AuditLog { user, rows }) => view! {
                        <TopBar user/>
                        <main class="page wide">
                            <nav class="crumbs"><a href="/admin">"Programs"</a> " / Audit log"</nav>
                            <h1>"Audit log"</h1>
                            <p class="muted">"The newest 200 console writes."</p>
                            <table class="table audit">
                                <thead><tr><th>"When (UTC)"</th><th>"Who"</th><th>"Program"</th><th>"Action"</th>
                                    <th>"Target"</th><th>"Before"</th><th>"After"</th></tr></thead>
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

//! The admin console, served under `/admin`: server-rendered, then hydrated.
//!
//! Pages call server functions (under `/admin/fn/`); those hand the session cookie to the
//! [`ConsoleBackend`] the server provides, which checks the session, the role and the CSRF token
//! and runs the same domain code as the REST API. The server's middleware sends visitors
//! without a session to the sign-in page before any of this renders.

mod audit;
mod auth;
mod charts;
pub mod connections;
pub mod customers;
mod dashboard;
pub mod earning;
pub mod emails;
mod forms;
pub mod i18n;
pub mod imports;
pub mod install;
pub mod loyalty;
pub mod model;
pub mod money;
pub mod referrals;
pub mod rewards;
pub mod settings;
pub mod users;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Title};
use leptos_router::{
    components::{Route, Router, Routes, A},
    path, SsrMode,
};

use crate::api_types::ProgramListItem;
use i18n::{lang, tr, trf, LanguageMenu};
use model::SignedInUser;
#[cfg(feature = "ssr")]
use model::{AuditLog, ConsoleError, HistoryQuery, ProgramBoard, RangeChoice};

/// The name of the session cookie (HttpOnly, SameSite=Lax; Secure behind https).
pub const SESSION_COOKIE: &str = "tally_session";

// The console's view of the server: the server crate implements these traits over its storage
// and provides the backend as context, so the console never talks to a database itself.
// `session` is the session cookie's value, if any.
/// Everything the console asks of the server: access and the dashboard here, each page's
/// calls in its own module's trait.
#[cfg(feature = "ssr")]
pub trait ConsoleBackend:
    ConsoleAccess
    + customers::CustomerConsole
    + rewards::RewardConsole
    + install::InstallConsole
    + connections::ConnectionsConsole
    + settings::SettingsConsole
    + emails::EmailsConsole
    + imports::ImportsConsole
    + referrals::ReferralsConsole
    + earning::EarningConsole
    + loyalty::LoyaltyConsole
    + users::UsersConsole
{
}

#[cfg(feature = "ssr")]
impl<T> ConsoleBackend for T where
    T: ConsoleAccess
        + customers::CustomerConsole
        + rewards::RewardConsole
        + install::InstallConsole
        + connections::ConnectionsConsole
        + settings::SettingsConsole
        + emails::EmailsConsole
        + imports::ImportsConsole
        + referrals::ReferralsConsole
        + earning::EarningConsole
        + loyalty::LoyaltyConsole
        + users::UsersConsole
{
}

/// Signing in and out, the user and their programs, the dashboard and the audit log.
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait ConsoleAccess: Send + Sync {
    /// Creates the first owner when `code` is a set-up code from the server's log, and signs
    /// them in; refused once the console has users. Returns the `Set-Cookie` values to send.
    async fn set_up(&self, code: &str, email: &str, password: &str) -> Result<Vec<String>, ConsoleError>;
    /// A new session for these credentials: the `Set-Cookie` values to send (the session's,
    /// the known-device cookie's).
    async fn sign_in(&self, email: &str, password: &str) -> Result<Vec<String>, ConsoleError>;
    /// Ends the session; returns the `Set-Cookie` value that clears the cookie.
    async fn sign_out(&self, session: Option<&str>, csrf: &str) -> Result<String, ConsoleError>;
    async fn me(&self, session: Option<&str>) -> Result<SignedInUser, ConsoleError>;
    async fn list_programs(&self, session: Option<&str>) -> Result<Vec<ProgramListItem>, ConsoleError>;
    /// The dashboard's sections for `range` and a page of its history filtered by `query`.
    async fn dashboard(
        &self,
        session: Option<&str>,
        program_id: &str,
        range: RangeChoice,
        query: HistoryQuery,
    ) -> Result<ProgramBoard, ConsoleError>;
    /// The newest audit entries (owners only).
    async fn audit_log(&self, session: Option<&str>) -> Result<AuditLog, ConsoleError>;
}

/// The backend and the session cookie of the request being served.
#[cfg(feature = "ssr")]
pub(crate) fn backend() -> Result<(std::sync::Arc<dyn ConsoleBackend>, Option<String>), ServerFnError> {
    let backend = use_context::<std::sync::Arc<dyn ConsoleBackend>>()
        .ok_or_else(|| ServerFnError::new("console backend missing"))?;
    let session =
        use_context::<http::request::Parts>().and_then(|parts| session_token(&parts.headers).map(str::to_owned));
    Ok((backend, session))
}

/// The session cookie's value in a request's headers, if any.
#[cfg(feature = "ssr")]
pub fn session_token(headers: &http::HeaderMap) -> Option<&str> {
    headers.get_all(http::header::COOKIE).iter().filter_map(|value| value.to_str().ok()).find_map(|cookie| {
        cookie.split(';').find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == SESSION_COOKIE).then_some(value)
        })
    })
}

/// Answers a failed call with its HTTP status and a message the page can show.
#[cfg(feature = "ssr")]
pub(crate) fn fail(error: ConsoleError) -> ServerFnError {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::from_u16(error.status()).unwrap_or(http::StatusCode::BAD_REQUEST));
    }
    // Already in the language of the page that called: made so where the error arose.
    ServerFnError::ServerError(error.message())
}

/// The Content-Security-Policy of a console page whose inline scripts carry `nonce`: scripts
/// only from this server or with the nonce (the hydration script), WebAssembly compiled from
/// them, no frames around the console, no plugins, forms and `<base>` kept to this server.
/// Styles may be inline: pages set `style` attributes (colours chosen in the settings).
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The HTML document around the console: rendered on the server only.
#[cfg(feature = "ssr")]
pub fn shell(options: LeptosOptions) -> impl IntoView {
    use leptos_meta::MetaTags;
    // leptos_axum gives every render a fresh nonce and puts it on the scripts it writes.
    if let (Some(nonce), Some(response)) = (leptos::nonce::use_nonce(), use_context::<leptos_axum::ResponseOptions>()) {
        if let Ok(value) = http::HeaderValue::from_str(&content_security_policy(&nonce)) {
            response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
    view! {
        <!DOCTYPE html>
        <html lang=lang().tag()>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="data:,"/>
                <link rel="stylesheet" href="/pkg/tally.css"/>
                // Live reload under `cargo leptos watch` only (it sets LEPTOS_WATCH).
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_context(lang());
    // Lets browser tests (and curious admins) know the page is interactive.
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Title text=tr("Tally console")/>
        <Router>
            <Routes fallback=|| view! { <p class="not-found">{tr("Page not found.")}</p> }>
                <Route path=path!("/admin") view=ConsoleHome ssr=SsrMode::Async/>
                <Route path=path!("/admin/setup") view=auth::SetUpPage/>
                <Route path=path!("/admin/login") view=auth::SignInPage/>
                <Route path=path!("/admin/programs/:program") view=dashboard::DashboardPage ssr=SsrMode::Async/>
                <Route path=path!("/admin/programs/:program/customers") view=customers::CustomersPage ssr=SsrMode::Async/>
                <Route path=path!("/admin/programs/:program/customers/:customer") view=customers::CustomerPage
                    ssr=SsrMode::Async/>
                <Route path=path!("/admin/programs/:program/rewards") view=rewards::RewardsPage ssr=SsrMode::Async/>
                <Route path=path!("/admin/programs/:program/install") view=install::InstallPage ssr=SsrMode::Async/>
                <Route path=path!("/admin/programs/:program/connections") view=connections::ConnectionsPage
                    ssr=SsrMode::Async/>
                <Route path=path!("/admin/programs/:program/settings") view=settings::SettingsPage ssr=SsrMode::Async/>
                <Route path=path!("/admin/programs/:program/emails") view=emails::EmailsPage ssr=SsrMode::Async/>
                <Route path=path!("/admin/programs/:program/imports") view=imports::ImportsPage ssr=SsrMode::Async/>
                <Route path=path!("/admin/programs/:program/imports/:import") view=imports::ImportPage
                    ssr=SsrMode::Async/>
                <Route path=path!("/admin/programs/:program/earning") view=earning::EarningPage ssr=SsrMode::Async/>
                <Route path=path!("/admin/programs/:program/referrals") view=referrals::ReferralsPage
                    ssr=SsrMode::Async/>
                <Route path=path!("/admin/programs/:program/loyalty") view=loyalty::LoyaltyPage ssr=SsrMode::Async/>
                <Route path=path!("/admin/audit") view=audit::AuditPage ssr=SsrMode::Async/>
                <Route path=path!("/admin/users") view=users::UsersPage ssr=SsrMode::Async/>
                <Route path=path!("/admin/account") view=users::AccountPage ssr=SsrMode::Async/>
            </Routes>
        </Router>
    }
}

/// The signed-in user.
#[server(prefix = "/admin/fn", endpoint = "me")]
pub async fn me() -> Result<SignedInUser, ServerFnError> {
    let (backend, session) = backend()?;
    backend.me(session.as_deref()).await.map_err(fail)
}

/// The programs this user may see.
#[server(prefix = "/admin/fn", endpoint = "list_programs")]
pub async fn list_programs() -> Result<Vec<ProgramListItem>, ServerFnError> {
    let (backend, session) = backend()?;
    backend.list_programs(session.as_deref()).await.map_err(fail)
}

/// The bar on every signed-in page: who is signed in, and the way out.
#[component]
pub(crate) fn TopBar(user: SignedInUser) -> impl IntoView {
    let sign_out = ServerAction::<auth::SignOut>::new();
    view! {
        <header class="topbar">
            <a class="brand" href="/admin">"Tally"</a>
            <span class="subtitle">{tr("Loyalty console")}</span>
            <span class="spacer"></span>
            {(user.role == "owner").then(|| view! {
                <a class="nav-link" href="/admin/users">{tr("Users")}</a>
                <a class="nav-link" href="/admin/audit">{tr("Audit log")}</a>
            })}
            <LanguageMenu/>
            <a class="user" href="/admin/account" data-role=user.role.clone() title=tr("Your account")>
                {user.email.clone()} " · " {role_name(&user.role)}
            </a>
            <ActionForm action=sign_out attr:class="inline">
                <input type="hidden" name="csrf" value=user.csrf.clone()/>
                <button class="button" type="submit">{tr("Sign out")}</button>
            </ActionForm>
        </header>
    }
}

#[component]
fn ConsoleHome() -> impl IntoView {
    let data = Resource::new(|| (), |_| async { Ok::<_, ServerFnError>((me().await?, list_programs().await?)) });
    view! {
        <Suspense fallback=|| view! { <p class="muted">{tr("Loading…")}</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok((user, programs)) => view! {
                        <TopBar user/>
                        <main class="page">
                            <h1>{tr("Programs")}</h1>
                            {if programs.is_empty() {
                                view! {
                                    <p class="muted">{tr("No programs yet. Create one with")} " " <code>"tally program create"</code></p>
                                }.into_any()
                            } else {
                                view! {
                                    <ul class="programs">
                                        {programs.into_iter().map(|program| view! { <ProgramCard program/> }).collect_view()}
                                    </ul>
                                }.into_any()
                            }}
                        </main>
                    }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The program's name and its pages, `current` marked.
#[component]
pub(crate) fn ProgramNav(program: model::ProgramHeader, current: &'static str) -> impl IntoView {
    let base = format!("/admin/programs/{}", program.id);
    let pages = [
        ("dashboard", tr("Dashboard"), base.clone()),
        ("customers", tr("Customers"), format!("{base}/customers")),
        ("rewards", tr("Rewards"), format!("{base}/rewards")),
        ("earning", tr("Earning rules"), format!("{base}/earning")),
        ("loyalty", tr("Tiers & campaigns"), format!("{base}/loyalty")),
        ("referrals", tr("Referrals"), format!("{base}/referrals")),
        ("settings", tr("Settings"), format!("{base}/settings")),
        ("emails", tr("Emails"), format!("{base}/emails")),
        ("imports", tr("Imports"), format!("{base}/imports")),
        ("install", tr("Install & API keys"), format!("{base}/install")),
        ("connections", tr("Connections"), format!("{base}/connections")),
    ];
    // The same page of another program; a switcher only when there is another to switch to.
    let suffix = pages.iter().find(|(key, ..)| *key == current).map(|(.., href)| href[base.len()..].to_owned());
    let others = Resource::new(|| (), |_| list_programs());
    let this_program = program.id.clone();
    // Awaited in a `Suspend`, not read with `.get()`: a resource read reactively inside nested
    // Suspense boundaries can leave a server render waiting forever (leptos #4578), which was
    // seen as a console page that sometimes never finished under the full test suite.
    let switcher = move || {
        let (suffix, this_program) = (suffix.clone().unwrap_or_default(), this_program.clone());
        let navigate = leptos_router::hooks::use_navigate();
        Suspend::new(async move {
            let programs = others.await.ok().filter(|programs| programs.len() > 1)?;
            Some(view! {
                <label class="switcher">" " {tr("Switch to")} " "
                    <select aria-label=tr("Switch program") on:change=move |event| {
                        navigate(&format!("/admin/programs/{}{suffix}", event_target_value(&event)), Default::default());
                    }>
                        {programs.into_iter().map(|item| view! {
                            <option value=item.id.clone() selected=item.id == this_program>{item.name}</option>
                        }).collect_view()}
                    </select>
                </label>
            })
        })
    };
    let failing = program.failing_endpoints.clone();
    let connections = format!("{base}/connections");
    view! {
        <nav class="crumbs" aria-label=tr("Program")>
            <a href="/admin">{tr("Programs")}</a> " / " <strong>{program.name}</strong>
            {pages.into_iter().map(|(key, label, href)| {
                let here = (key == current).then_some("page");
                view! { " · " <a href=href aria-current=here>{label}</a> }
            }).collect_view()}
            <Suspense fallback=|| ()>{switcher}</Suspense>
        </nav>
        {failing.into_iter().map(|endpoint| view! {
            <p class="notice error" role="alert" data-failing-endpoint=endpoint.url.clone()>
                {trf("Webhook deliveries to {0} have been failing since {1}: they gave up after three days of retries.",
                    &[&endpoint.url, &short_time(&endpoint.since)])}
                " " <a href=connections.clone()>{tr("See the deliveries and resend them")}</a>
            </p>
        }).collect_view()}
    }
    .into_any()
}

/// A form value, trimmed; empty is none.
pub(crate) fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|value| value.trim().to_owned()).filter(|value| !value.is_empty())
}

/// Percent-encodes a query value or path segment.
pub(crate) fn encode_query_value(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (byte as char).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// An RFC 3339 UTC time as `YYYY-MM-DD HH:MM:SS` for tables (the headers say UTC).
pub(crate) fn short_time(rfc3339: &str) -> String {
    rfc3339.replace('T', " ").trim_end_matches('Z').split('.').next().unwrap_or_default().to_owned()
}

/// A page's data: a loading line while it comes (`loading`, marked with `i18n::t`), then the
/// page, or the error panel.
pub(crate) fn loaded_page<T, V>(
    loading: &'static str,
    data: Resource<Result<T, ServerFnError>>,
    render: impl Fn(T) -> V + Clone + Send + Sync + 'static,
) -> impl IntoView
where
    T: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static,
    V: IntoView + 'static,
{
    view! {
        <Suspense fallback=move || view! { <p class="muted page">{tr(loading)}</p> }>
            {move || {
                let render = render.clone();
                Suspend::new(async move {
                    match data.await {
                        Ok(value) => render(value).into_any(),
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

/// The words of a failed server call (the server sent them in the page's language).
pub(crate) fn error_message(error: ServerFnError) -> String {
    match error {
        ServerFnError::ServerError(message) => message,
        other => other.to_string(),
    }
}

/// A role's name.
pub(crate) fn role_name(role: &str) -> &'static str {
    match role {
        "owner" => tr("Owner"),
        "admin" => tr("Admin"),
        _ => tr("Viewer"),
    }
}

/// An entry kind's name (`earn`, `redeem`…).
pub(crate) fn kind_name(kind: &str) -> String {
    match kind {
        "earn" => tr("earned"),
        "redeem" => tr("redeemed"),
        "adjust" => tr("adjusted"),
        "reverse" => tr("reversed"),
        "expire" => tr("expired"),
        "void" => tr("voided"),
        other => return other.to_owned(),
    }
    .to_owned()
}

/// Where points came from (`purchase`, an action, `admin`…), in words; an unknown source as is.
pub(crate) fn source_name(source: &str) -> String {
    match source {
        "purchase" => tr("Purchases"),
        "admin" => tr("Adjustments by hand"),
        "signup" => tr("Sign-ups"),
        "review" => tr("Reviews"),
        "birthday" => tr("Birthdays"),
        "social_follow" => tr("Social follows"),
        "newsletter" => tr("Newsletter sign-ups"),
        "comment" => tr("Comments"),
        "referral" => tr("Referrals made"),
        "referred" => tr("Joined by referral"),
        "import" => tr("Imports"),
        "expiry" => tr("Expiry"),
        other => return other.to_owned(),
    }
    .to_owned()
}

/// A failed page load, with the way back.
#[component]
pub(crate) fn ErrorPanel(error: ServerFnError) -> impl IntoView {
    let message = error_message(error);
    view! {
        <main class="page">
            <p class="error" role="alert">{message}</p>
            <p><a href="/admin">{tr("Back to the console")}</a> " · " <a href="/admin/login">{tr("Sign in")}</a></p>
        </main>
    }
}

/// A program with its dashboard link and a toggle that reveals its storefront snippet.
#[component]
fn ProgramCard(program: ProgramListItem) -> impl IntoView {
    let (snippet_open, set_snippet_open) = signal(false);
    let snippet = format!(
        r#"<script src="{origin}/widget.js" data-program="{key}" async></script>"#,
        origin = "https://YOUR-TALLY-HOST",
        key = program.publishable_key
    );
    let snippet_id = format!("snippet-{}", program.id);
    let dashboard = format!("/admin/programs/{}", program.id);
    view! {
        <li class="program-card" data-program-id=program.id.clone()>
            <div class="program-head">
                <A href=dashboard attr:class="program-name">{program.name}</A>
                <span class="pill">{program.currency}</span>
                <code class="key">{program.publishable_key}</code>
            </div>
            <button
                class="button"
                aria-expanded=move || snippet_open.get().to_string()
                aria-controls=snippet_id.clone()
                on:click=move |_| set_snippet_open.update(|open| *open = !*open)
            >
                {move || if snippet_open.get() { tr("Hide install snippet") } else { tr("Show install snippet") }}
            </button>
            <Show when=move || snippet_open.get()>
                <pre class="snippet" id=snippet_id.clone()>{snippet.clone()}</pre>
            </Show>
        </li>
    }
}

//! The admin console under `/admin`: server-rendered Leptos pages, their server functions
//! (`/admin/fn/…`) and the CSV export, behind a gate that sends visitors without a session to
//! the sign-in page (or, before the first owner exists, to the set-up page).

mod connections;
mod customers;
mod earning;
mod export;
mod install;
mod loyalty;
mod rewards;
mod settings;
mod users;

use std::{net::SocketAddr, sync::Arc};

use async_trait::async_trait;
use axum::{
    extract::{ConnectInfo, Request, State},
    http::{header, HeaderMap, Method, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Router,
};
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tally_app::{
    api_types::ProgramListItem,
    console::{
        i18n::{tr, trf, Lang, LANG_COOKIE},
        model::{AuditLog, AuditRow, ConsoleError, HistoryQuery, ProgramBoard, RangeChoice, SignedInUser},
        session_token, ConsoleAccess, ConsoleBackend, SESSION_COOKIE,
    },
};

use super::{problem::Problem, rate_limit::too_many_requests, AppState};
use crate::{
    console_users::{self, AuditEntry, ConsoleUser, Email, NewPassword, Role, Session},
    dashboard::{self, HistoryPage},
    message::{message, FieldError, Message},
    programs::Program,
    secrets,
    storage::StorageError,
};

pub fn routes(state: &AppState) -> Router<AppState> {
    let backend: Arc<dyn ConsoleBackend> = Arc::new(ConsoleService(state.clone()));
    let options = state.leptos_options.clone();
    Router::new()
        .route("/admin/programs/{program}/history.csv", get(export::history_csv))
        .route("/admin/programs/{program}/customers.csv", get(export::customers_csv))
        .route("/admin/language", post(choose_language))
        .leptos_routes_with_context(
            state,
            generate_route_list(tally_app::console::App),
            move || provide_context(backend.clone()),
            move || tally_app::shell(options.clone()),
        )
        // A page's edit form sent by a browser without script (or before hydration) posts to
        // the page itself.
        .method_not_allowed_fallback(|| async {
            Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "needs_javascript",
                "JavaScript needed",
                "This console page saves through its script: turn JavaScript on, reload and try again.",
            )
        })
        .layer(middleware::from_fn_with_state(state.clone(), gate))
}

/// Runs before every console request:
/// - writes (`POST`) must come from this server's own pages: a cross-site `Origin` is refused
///   (the CSRF token, checked by each write, is the second line);
/// - sign-in attempts are rate limited per client IP;
/// - pages need a session, else they redirect to the sign-in page (or the set-up page).
async fn gate(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    if request.method() == Method::POST {
        if !same_origin(request.headers()) {
            return Problem::new(
                StatusCode::FORBIDDEN,
                "cross_site",
                "Cross-site request",
                "Console writes must come from the console itself.",
            )
            .into_response();
        }
        if path == "/admin/fn/sign_in" || path == "/admin/fn/set_up" {
            if let Err(wait) = state.console_limits.sign_in_per_ip.check(&peer.ip().to_string(), state.clock.now()) {
                return too_many_requests(wait);
            }
        }
        return next.run(request).await;
    }
    if request.method() != Method::GET || path.starts_with("/admin/fn/") {
        return next.run(request).await;
    }
    let set_up = match state.storage.console_is_set_up().await {
        Ok(set_up) => set_up,
        Err(error) => return Problem::from(error).into_response(),
    };
    let public = matches!(path.as_str(), "/admin/login" | "/admin/setup");
    if !set_up {
        return if path == "/admin/setup" {
            next.run(request).await
        } else {
            Redirect::to("/admin/setup").into_response()
        };
    }
    if path == "/admin/setup" {
        return Redirect::to("/admin/login").into_response();
    }
    let signed_in = match session_token(request.headers()) {
        None => false,
        Some(token) => match state.storage.session(&secrets::hash_secret(token), state.clock.now()).await {
            Ok(found) => found.is_some(),
            Err(error) => return Problem::from(error).into_response(),
        },
    };
    match (signed_in, public) {
        (false, false) => Redirect::to("/admin/login").into_response(),
        (true, true) => Redirect::to("/admin").into_response(),
        _ => next.run(request).await,
    }
}

#[derive(serde::Deserialize)]
struct LanguageChoice {
    lang: String,
}

/// The language menu's form: keeps the choice in a cookie (a year, console paths only) and
/// sends the browser back to the console page it came from.
async fn choose_language(
    State(state): State<AppState>,
    headers: HeaderMap,
    choice: Result<axum::Form<LanguageChoice>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Some(lang) = choice.ok().and_then(|choice| Lang::from_tag(&choice.lang)) else {
        return Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "Invalid field",
            "lang: one of en, ko, ja, zh-CN, id",
        )
        .into_response();
    };
    let secure =
        if state.public_url.as_deref().is_some_and(|url| url.starts_with("https://")) { "; Secure" } else { "" };
    let cookie = format!("{LANG_COOKIE}={}; Path=/admin; SameSite=Lax; Max-Age=31536000{secure}", lang.tag());
    let back = console_page_referred(&headers).unwrap_or_else(|| "/admin".to_owned());
    (StatusCode::SEE_OTHER, [(header::LOCATION, back), (header::SET_COOKIE, cookie)]).into_response()
}

/// The console page (path and query) in `Referer`, when it is on this server.
fn console_page_referred(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let referer = headers.get(header::REFERER)?.to_str().ok()?;
    let (_, rest) = referer.split_once("://")?;
    let path = rest.strip_prefix(host)?;
    (path == "/admin" || path.starts_with("/admin/") || path.starts_with("/admin?")).then(|| path.to_owned())
}

/// `Origin` (or, without it, `Referer`) names this server, as `Host` does.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|host| host.to_str().ok()) else { return false };
    let claimed = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once("://").map(|(_, rest)| rest.split('/').next().unwrap_or_default()));
    claimed == Some(host)
}

/// The console's window onto the server: every call checks the session first.
struct ConsoleService(AppState);

fn unavailable(error: StorageError) -> ConsoleError {
    tracing::error!(%error, "console storage call failed");
    ConsoleError::Unavailable
}

/// A refused field, its message in the page's language.
fn invalid(field: &str, message: Message) -> ConsoleError {
    invalid_text(field, message.translated())
}

/// A refused field whose message is in the page's language already (`trf` where it arose).
fn invalid_text(field: &str, text: String) -> ConsoleError {
    ConsoleError::Invalid { field: field.to_owned(), message: text }
}

fn invalid_field(error: FieldError) -> ConsoleError {
    invalid(&error.field, error.message)
}

/// argon2 hashing, away from the async runtime (it takes a CPU for a while by design).
async fn hash_password(password: NewPassword) -> Result<String, ConsoleError> {
    tokio::task::spawn_blocking(move || password.hash()).await.map_err(|_| ConsoleError::Unavailable)
}

/// Whether `password` matches `stored`; runs argon2 even without a stored hash, so timing tells
/// nothing (see [`console_users::verify_password`]).
async fn password_matches(password: &str, stored: Option<String>) -> bool {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || console_users::verify_password(&password, stored.as_deref()))
        .await
        .unwrap_or(false)
}

/// The signed-in user as console pages see them.
fn signed_in_user(session: &Session, user: &ConsoleUser) -> SignedInUser {
    SignedInUser {
        email: user.email.as_str().to_owned(),
        role: user.role.as_str().to_owned(),
        csrf: session.csrf_token.clone(),
    }
}

/// The `Set-Cookie` value of a session: HttpOnly, SameSite=Lax, only under `/admin`; Secure when
/// the public URL is https.
fn session_cookie(token: &str, max_age_seconds: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={token}; Path=/admin; HttpOnly; SameSite=Lax; Max-Age={max_age_seconds}{secure}")
}

impl ConsoleService {
    async fn start_session(&self, user: &ConsoleUser) -> Result<String, ConsoleError> {
        let (token, session) = Session::start(&user.id, self.0.clock.now());
        self.0.storage.start_session(&session).await.map_err(unavailable)?;
        Ok(session_cookie(&token, console_users::SESSION_DAYS * 86_400, self.secure_cookies()))
    }

    fn secure_cookies(&self) -> bool {
        self.0.public_url.as_deref().is_some_and(|url| url.starts_with("https://"))
    }

    async fn session(&self, token: Option<&str>) -> Result<(Session, ConsoleUser), ConsoleError> {
        let token = token.ok_or(ConsoleError::SignedOut)?;
        let found =
            self.0.storage.session(&secrets::hash_secret(token), self.0.clock.now()).await.map_err(unavailable)?;
        found.ok_or(ConsoleError::SignedOut)
    }

    /// The session of a write: its CSRF token must match (else 403).
    async fn checked_session(&self, token: Option<&str>, csrf: &str) -> Result<(Session, ConsoleUser), ConsoleError> {
        let (session, user) = self.session(token).await?;
        if !session.csrf_matches(csrf) {
            return Err(ConsoleError::Forbidden(tr("The form is out of date (CSRF token): reload the page.").into()));
        }
        Ok((session, user))
    }

    /// The user making a change to a program: signed in, CSRF token matching, not a viewer.
    async fn writer(&self, token: Option<&str>, csrf: &str) -> Result<ConsoleUser, ConsoleError> {
        let (_, user) = self.checked_session(token, csrf).await?;
        if !user.role.can_write() {
            return Err(ConsoleError::Forbidden(tr("Viewers can look, not change anything.").into()));
        }
        Ok(user)
    }

    /// A console write as the audit log keeps it: who, in which program (none for console
    /// users), what, before and after.
    fn audit_entry(
        &self,
        user: &ConsoleUser,
        program: Option<&Program>,
        action: &str,
        target: &str,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> AuditEntry {
        AuditEntry {
            at: self.0.clock.now(),
            user_id: user.id.clone(),
            user_email: user.email.as_str().to_owned(),
            program_id: program.map(|program| program.id.clone()),
            action: action.to_owned(),
            target: target.to_owned(),
            before,
            after,
            request_key: None,
        }
    }

    /// Saves one page's part of a program: `change` applied to the program as stored (again if
    /// another save came in between), audited as `action` with `snapshot` of the program before
    /// and after, in the change's transaction.
    async fn save_program_part(
        &self,
        user: &ConsoleUser,
        program_id: &str,
        action: &str,
        snapshot: impl Fn(&Program) -> serde_json::Value,
        change: impl Fn(&mut Program) -> Result<(), ConsoleError>,
    ) -> Result<Program, ConsoleError> {
        let audit = |before: &Program, after: &Program| {
            let (was, now) = (Some(snapshot(before)), Some(snapshot(after)));
            Some(self.audit_entry(user, Some(after), action, &after.id, was, now))
        };
        self.0.points.change_program(program_id, change, audit).await.map_err(unavailable)?
    }

    /// The program, if this user may see it.
    async fn program(&self, user: &ConsoleUser, program_id: &str) -> Result<Program, ConsoleError> {
        let not_found = || ConsoleError::NotFound(trf("No program {0} here, or not yours to see.", &[&program_id]));
        if !user.role.sees_all_programs() {
            let granted = self.0.storage.granted_programs(&user.id).await.map_err(unavailable)?;
            if !granted.iter().any(|id| id == program_id) {
                return Err(not_found());
            }
        }
        self.0.storage.program_by_id(program_id).await.map_err(unavailable)?.ok_or_else(not_found)
    }
}

#[async_trait]
impl ConsoleAccess for ConsoleService {
    async fn set_up(&self, email: &str, password: &str) -> Result<String, ConsoleError> {
        let email = Email::parse(email).map_err(|message| invalid("email", message))?;
        let password = NewPassword::parse(password).map_err(|message| invalid("password", message))?;
        let owner = ConsoleUser {
            id: secrets::random_token("usr_", 8),
            email,
            role: Role::Owner,
            created_at: self.0.clock.now(),
        };
        let created =
            self.0.storage.create_first_owner(&owner, &hash_password(password).await?).await.map_err(unavailable)?;
        if !created {
            return Err(ConsoleError::Forbidden(tr("The console already has an owner: sign in instead.").into()));
        }
        self.start_session(&owner).await
    }

    async fn sign_in(&self, email: &str, password: &str) -> Result<String, ConsoleError> {
        let refused = || invalid("password", message!("wrong email or password"));
        let Ok(email) = Email::parse(email) else { return Err(refused()) };
        if let Err(wait) = self.0.console_limits.sign_in_per_email.check(email.as_str(), self.0.clock.now()) {
            return Err(ConsoleError::TooMany(trf(
                "Too many sign-in attempts for this address: try again in {0} seconds.",
                &[&wait.as_secs()],
            )));
        }
        let found = self.0.storage.user_by_email(&email).await.map_err(unavailable)?;
        // Runs argon2 even for unknown addresses, so timing tells nothing.
        let verified = password_matches(password, found.as_ref().map(|(_, hash)| hash.clone())).await;
        match found {
            Some((user, _)) if verified => {
                // The per-email limit counts failed attempts only.
                self.0.console_limits.sign_in_per_email.give_back(email.as_str(), self.0.clock.now());
                self.start_session(&user).await
            }
            _ => Err(refused()),
        }
    }

    async fn sign_out(&self, token: Option<&str>, csrf: &str) -> Result<String, ConsoleError> {
        let (session, _) = self.checked_session(token, csrf).await?;
        self.0.storage.end_session(&session.token_hash).await.map_err(unavailable)?;
        Ok(session_cookie("", 0, self.secure_cookies()))
    }

    async fn me(&self, token: Option<&str>) -> Result<SignedInUser, ConsoleError> {
        let (session, user) = self.session(token).await?;
        Ok(signed_in_user(&session, &user))
    }

    async fn list_programs(&self, token: Option<&str>) -> Result<Vec<ProgramListItem>, ConsoleError> {
        let (_, user) = self.session(token).await?;
        let mut programs = self.0.storage.list_programs().await.map_err(unavailable)?;
        if !user.role.sees_all_programs() {
            let granted = self.0.storage.granted_programs(&user.id).await.map_err(unavailable)?;
            programs.retain(|program| granted.contains(&program.id));
        }
        Ok(programs
            .into_iter()
            .map(|program| ProgramListItem {
                id: program.id,
                name: program.name,
                currency: program.currency,
                publishable_key: program.publishable_key,
            })
            .collect())
    }

    async fn dashboard(
        &self,
        token: Option<&str>,
        program_id: &str,
        choice: RangeChoice,
        query: HistoryQuery,
    ) -> Result<ProgramBoard, ConsoleError> {
        let (session, user) = self.session(token).await?;
        let program = self.program(&user, program_id).await?;
        let now = self.0.clock.now();
        let range = dashboard::resolve_range(&program, &choice, now).map_err(invalid_field)?;
        let filter = dashboard::history_filter(&query, None).map_err(invalid_field)?;
        let cursor = query
            .cursor
            .as_deref()
            .map(|cursor| {
                HistoryPage::parse_cursor(cursor)
                    .ok_or_else(|| invalid("cursor", message!("a cursor from a Next link")))
            })
            .transpose()?;
        let storage = self.0.storage.as_ref();
        Ok(ProgramBoard {
            user: signed_in_user(&session, &user),
            dashboard: dashboard::load(storage, &program, &range, now).await.map_err(unavailable)?,
            history: dashboard::history(storage, &program, &filter, cursor.as_ref(), now).await.map_err(unavailable)?,
        })
    }

    async fn audit_log(&self, token: Option<&str>) -> Result<AuditLog, ConsoleError> {
        const SHOWN: u32 = 200;
        let (session, user) = self.session(token).await?;
        if user.role != Role::Owner {
            return Err(ConsoleError::Forbidden(tr("Only owners read the audit log.").into()));
        }
        let entries = self.0.storage.audit_log(SHOWN).await.map_err(unavailable)?;
        let compact = |value: Option<serde_json::Value>| value.map(|value| value.to_string());
        Ok(AuditLog {
            user: signed_in_user(&session, &user),
            rows: entries
                .into_iter()
                .map(|entry| AuditRow {
                    at: entry.at.to_string(),
                    user_email: entry.user_email,
                    program_id: entry.program_id,
                    action: entry.action,
                    target: entry.target,
                    before: compact(entry.before),
                    after: compact(entry.after),
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_same_origin_posts_pass() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(*name, value.parse().unwrap());
            }
            map
        };
        assert!(same_origin(&headers(&[("host", "127.0.0.1:3000"), ("origin", "http://127.0.0.1:3000")])));
        assert!(!same_origin(&headers(&[("host", "127.0.0.1:3000"), ("origin", "https://evil.example")])));
        assert!(same_origin(&headers(&[("host", "t.example"), ("referer", "https://t.example/admin/login")])));
        assert!(!same_origin(&headers(&[("host", "t.example")])), "no Origin and no Referer");
    }
}

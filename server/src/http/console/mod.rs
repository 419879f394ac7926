//! The admin console under `/admin`: server-rendered Leptos pages, their server functions
//! (`/admin/fn/…`) and the CSV export, behind a gate that sends visitors without a session to
//! the sign-in page (or, before the first owner exists, to the set-up page).

mod connections;
mod customers;
mod earning;
mod emails;
mod export;
mod imports;
mod install;
mod loyalty;
mod referrals;
mod rewards;
mod settings;
mod users;

use std::sync::Arc;

use async_trait::async_trait;
use axum::{
    extract::{Request, State},
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

use super::{client::ClientInfo, problem::Problem, AppState};
use crate::{
    console_users::{self, AuditEntry, ConsoleUser, Email, NewPassword, Role, Session, SetupCode},
    dashboard::{self, HistoryPage},
    message::{message, FieldError, Message},
    programs::Program,
    secrets,
    storage::{FirstOwner, StorageError},
};

pub fn routes(state: &AppState) -> Router<AppState> {
    let backend: Arc<dyn ConsoleBackend> = Arc::new(ConsoleService(state.clone()));
    let options = state.leptos_options.clone();
    Router::new()
        .route("/admin/programs/{program}/history.csv", get(export::history_csv))
        .route("/admin/programs/{program}/customers.csv", get(export::customers_csv))
        .route("/admin/programs/{program}/customers/{customer}/export.json", get(export::customer_json))
        .route(
            "/admin/programs/{program}/imports",
            post(imports::upload).layer(axum::extract::DefaultBodyLimit::max(crate::points::MAX_IMPORT_BYTES + 64 * 1024)),
        )
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
        .layer(middleware::from_fn(security_headers))
}

/// Every console answer: not framed (clickjacking), not sniffed, its address not sent to other
/// sites. Pages carry their own Content-Security-Policy (with the nonce of their scripts, see
/// [`tally_app::console::content_security_policy`]); anything else gets one that allows
/// nothing.
async fn security_headers(request: Request, next: Next) -> Response {
    use axum::http::HeaderValue;
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
        );
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

/// Runs before every console request:
/// - writes (`POST`) must come from this server's own pages: a cross-site `Origin` is refused
///   (the CSRF token, checked by each write, is the second line);
/// - sign-in attempts are rate limited per client IP;
/// - pages need a session, else they redirect to the sign-in page (or the set-up page).
async fn gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
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
            let client =
                request.extensions().get::<ClientInfo>().map_or_else(String::new, |client| client.ip.to_string());
            return match state.console_limits.sign_in_per_client.check(&client) {
                Ok(allowance) => {
                    let mut response = next.run(request).await;
                    if !response.headers().contains_key("ratelimit-limit") {
                        allowance.add_to(response.headers_mut());
                    }
                    response
                }
                Err(refusal) => refusal.response(),
            };
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
    client: Option<axum::Extension<ClientInfo>>,
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
    let client = client.map(|axum::Extension(client)| client);
    let secure = if secure_cookies(state.public_url.as_deref(), client) { "; Secure" } else { "" };
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
/// the browser came over https.
fn session_cookie(token: &str, max_age_seconds: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={token}; Path=/admin; HttpOnly; SameSite=Lax; Max-Age={max_age_seconds}{secure}")
}

/// The known-device cookie (see [`console_users::device_token`]): a year, sign-in only.
const DEVICE_COOKIE: &str = "tally_device";

/// The request a console call came with: leptos gives server functions their request's parts.
fn calling_request() -> Option<axum::http::request::Parts> {
    leptos::prelude::use_context::<axum::http::request::Parts>()
}

/// The client of the console call being served (see [`ClientInfo`]).
fn calling_client() -> Option<ClientInfo> {
    calling_request()?.extensions.get::<ClientInfo>().copied()
}

/// A cookie's value in the calling request.
fn calling_cookie(name: &str) -> Option<String> {
    let parts = calling_request()?;
    let cookies = parts.headers.get_all(header::COOKIE);
    let found = cookies.iter().filter_map(|value| value.to_str().ok()).find_map(|cookie| {
        cookie.split(';').find_map(|pair| pair.trim().split_once('=').filter(|(key, _)| *key == name).map(|(_, v)| v))
    });
    found.map(str::to_owned)
}

/// Where the browser reached this server: `--public-url`, else the request's own origin (its
/// `Host`), https when a trusted proxy says the browser came that way.
fn browser_origin(public_url: Option<&str>, request_origin: Option<String>) -> Option<String> {
    if let Some(url) = public_url {
        return Some(url.to_owned());
    }
    let origin = request_origin?;
    match origin.strip_prefix("http://") {
        Some(host) if calling_client().is_some_and(|client| client.https) => Some(format!("https://{host}")),
        _ => Some(origin),
    }
}

/// Whether cookies must be `Secure`: the public URL is https, or a trusted proxy says the
/// browser came over https.
fn secure_cookies(public_url: Option<&str>, client: Option<ClientInfo>) -> bool {
    public_url.is_some_and(|url| url.starts_with("https://")) || client.is_some_and(|client| client.https)
}

impl ConsoleService {
    /// A new session for `user`: its cookie and the known-device cookie of their account.
    async fn start_session(&self, user: &ConsoleUser) -> Result<Vec<String>, ConsoleError> {
        let (token, session) = Session::start(&user.id, self.0.clock.now());
        self.0.storage.start_session(&session).await.map_err(unavailable)?;
        let secure = if self.secure_cookies() { "; Secure" } else { "" };
        let device = console_users::device_token(&self.0.device_key, &user.email);
        Ok(vec![
            session_cookie(&token, console_users::SESSION_DAYS * 86_400, self.secure_cookies()),
            format!(
                "{DEVICE_COOKIE}={device}; Path=/admin/fn/sign_in; HttpOnly; SameSite=Strict; Max-Age=31536000{secure}"
            ),
        ])
    }

    fn secure_cookies(&self) -> bool {
        secure_cookies(self.0.public_url.as_deref(), calling_client())
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
    async fn set_up(&self, code: &str, email: &str, password: &str) -> Result<Vec<String>, ConsoleError> {
        let email = Email::parse(email).map_err(|message| invalid("email", message))?;
        let password = NewPassword::parse(password).map_err(|message| invalid("password", message))?;
        let owner = ConsoleUser {
            id: secrets::random_token("usr_", 8),
            email,
            role: Role::Owner,
            created_at: self.0.clock.now(),
        };
        let code_hash = SetupCode::hash_of(code);
        let password_hash = hash_password(password).await?;
        match self.0.storage.create_first_owner(&owner, &password_hash, &code_hash).await.map_err(unavailable)? {
            FirstOwner::Created => self.start_session(&owner).await,
            FirstOwner::AlreadySetUp => {
                Err(ConsoleError::Forbidden(tr("The console already has an owner: sign in instead.").into()))
            }
            FirstOwner::WrongCode => Err(invalid("code", message!("not a current set-up code: see the server's log"))),
        }
    }

    /// Guessing is bounded per client address (the gate, every attempt), and by failures per
    /// account and address and per account from browsers it never signed in on; a browser that
    /// has signed in to the account before is not held up by strangers' failures elsewhere.
    async fn sign_in(&self, email: &str, password: &str) -> Result<Vec<String>, ConsoleError> {
        let refused = || invalid("password", message!("wrong email or password"));
        let Ok(email) = Email::parse(email) else { return Err(refused()) };
        let limits = &self.0.console_limits;
        let client = calling_client().map_or_else(String::new, |client| client.ip.to_string());
        let known_device =
            console_users::is_known_device(&self.0.device_key, &email, calling_cookie(DEVICE_COOKIE).as_deref());
        let account_and_client = format!("{}\0{client}", email.as_str());
        let mut checked = limits.sign_in_per_account_and_client.check(&account_and_client);
        if checked.is_ok() && !known_device {
            checked = limits.sign_in_per_account_from_new_devices.check(email.as_str());
        }
        if let Err(refusal) = checked {
            return Err(ConsoleError::TooMany(trf(
                "Too many sign-in attempts for this address: try again in {0} seconds.",
                &[&refusal.wait_seconds()],
            )));
        }
        let found = self.0.storage.user_by_email(&email).await.map_err(unavailable)?;
        // Runs argon2 even for unknown addresses, so timing tells nothing.
        let verified = password_matches(password, found.as_ref().map(|(_, hash)| hash.clone())).await;
        match found {
            Some((user, _)) if verified => self.start_session(&user).await,
            _ => {
                limits.sign_in_per_account_and_client.failed(&account_and_client);
                if !known_device {
                    limits.sign_in_per_account_from_new_devices.failed(email.as_str());
                }
                Err(refused())
            }
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
        // A range that cannot be (reversed, too long) is said beside the controls; the page
        // shows this month meanwhile.
        let (range, range_error) = match dashboard::resolve_range(&program, &choice, now) {
            Ok(range) => (range, None),
            Err(error) => {
                let fallback = dashboard::resolve_range(&program, &RangeChoice::default(), now).map_err(invalid_field)?;
                (fallback, Some(format!("{}: {}", error.field, error.message.translated())))
            }
        };
        // The history shows the range's entries, as its CSV does.
        let bounds = range.bounds(&dashboard::program_time_zone(&program));
        let filter = dashboard::history_filter(&query, Some(bounds)).map_err(invalid_field)?;
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
            program: customers::program_header(storage, &program).await?,
            dashboard: dashboard::load(storage, &program, &range, now).await.map_err(unavailable)?,
            range_error,
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

//! Setting up the first owner, signing in and out.

use leptos::prelude::*;

use super::i18n::{tr, LanguageMenu};

/// Sends the cookies (the session's first) and goes to `to`.
#[cfg(feature = "ssr")]
fn set_cookies_and_go(cookies: &[String], to: &str) -> Result<(), ServerFnError> {
    let response = expect_context::<leptos_axum::ResponseOptions>();
    for cookie in cookies {
        let value = http::HeaderValue::from_str(cookie).map_err(|_| ServerFnError::new("bad cookie"))?;
        response.append_header(http::header::SET_COOKIE, value);
    }
    leptos_axum::redirect(to);
    Ok(())
}

/// A refused form when the repeated password is not the password (422 on `confirm`).
#[cfg(feature = "ssr")]
pub(crate) fn same_passwords(password: &str, confirm: &str) -> Result<(), ServerFnError> {
    if password == confirm {
        return Ok(());
    }
    let message = super::i18n::tr("the passwords differ").into();
    Err(super::fail(super::model::ConsoleError::Invalid { field: "confirm".into(), message }))
}

/// Creates the owner (first start only, with the set-up code from the server's log) and signs
/// them in.
#[server(prefix = "/admin/fn", endpoint = "set_up")]
pub async fn set_up(code: String, email: String, password: String, confirm: String) -> Result<(), ServerFnError> {
    same_passwords(&password, &confirm)?;
    let (backend, _) = super::backend()?;
    let cookies = backend.set_up(&code, &email, &password).await.map_err(super::fail)?;
    set_cookies_and_go(&cookies, "/admin")
}

#[server(prefix = "/admin/fn", endpoint = "sign_in")]
pub async fn sign_in(email: String, password: String) -> Result<(), ServerFnError> {
    let (backend, _) = super::backend()?;
    let cookies = backend.sign_in(&email, &password).await.map_err(super::fail)?;
    set_cookies_and_go(&cookies, "/admin")
}

#[server(prefix = "/admin/fn", endpoint = "sign_out")]
pub async fn sign_out(csrf: String) -> Result<(), ServerFnError> {
    let (backend, session) = super::backend()?;
    let cookie = backend.sign_out(session.as_deref(), &csrf).await.map_err(super::fail)?;
    set_cookies_and_go(&[cookie], "/admin/login")
}

/// The message of a failed action, for the form's alert.
fn action_error<T>(action: ServerAction<T>) -> impl Fn() -> Option<String>
where
    T: leptos::server_fn::ServerFn<Output = (), Error = ServerFnError> + Clone + Send + Sync + 'static,
{
    move || match action.value().get() {
        Some(Err(error)) => Some(super::error_message(error)),
        _ => None,
    }
}

#[component]
pub fn SetUpPage() -> impl IntoView {
    let action = ServerAction::<SetUp>::new();
    let error = action_error(action);
    view! {
        <main class="page narrow">
            <LanguageMenu/>
            <h1>{tr("Welcome to Tally")}</h1>
            <p class="muted">{tr("Create the owner account. The owner manages every program and the other console users.")}</p>
            <ActionForm action attr:class="form">
                <label>{tr("Set-up code")}
                    <input type="text" name="code" autocomplete="one-time-code" spellcheck="false" required/>
                    <small class="muted">{tr("Printed in the server's log when it started (or run `tally admin setup-code`).")}</small>
                </label>
                <label>{tr("Email")} <input type="email" name="email" autocomplete="username" required/></label>
                <label>{tr("Password (at least 10 characters)")}
                    <input type="password" name="password" autocomplete="new-password" minlength="10" required/></label>
                <label>{tr("Repeat the password")}
                    <input type="password" name="confirm" autocomplete="new-password" minlength="10" required/></label>
                <p class="error" role="alert">{error}</p>
                <button class="button primary" type="submit">{tr("Create owner and sign in")}</button>
            </ActionForm>
        </main>
    }
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let error = action_error(action);
    view! {
        <main class="page narrow">
            <LanguageMenu/>
            <h1>{tr("Sign in to Tally")}</h1>
            <ActionForm action attr:class="form">
                <label>{tr("Email")} <input type="email" name="email" autocomplete="username" required/></label>
                <label>{tr("Password")} <input type="password" name="password" autocomplete="current-password" required/></label>
                <p class="error" role="alert">{error}</p>
                <button class="button primary" type="submit">{tr("Sign in")}</button>
            </ActionForm>
        </main>
    }
}

//! Install & API keys: the widget's script tag with this program's keys, customer-token
//! signing in Node, PHP and Python, a live preview of the widget, and the secret API keys
//! (created and shown once, revoked, last used).

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::{
    i18n::{t, tr, trf},
    loaded_page,
    model::{ApiKeyRow, InstallBoard},
    short_time, ProgramNav, TopBar,
};

#[cfg(feature = "ssr")]
use super::model::{ConsoleError, NewApiKey};

/// The install page and the secret API keys.
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait InstallConsole: Send + Sync {
    /// The install page; `request_origin` is where this request came to, for when no public
    /// URL is configured.
    async fn install(
        &self,
        session: Option<&str>,
        program_id: &str,
        request_origin: Option<String>,
    ) -> Result<InstallBoard, ConsoleError>;
    /// A new secret API key (owners and admins), audited; its secret is in the answer only.
    async fn create_api_key(
        &self,
        session: Option<&str>,
        program_id: &str,
        csrf: &str,
    ) -> Result<NewApiKey, ConsoleError>;
    async fn revoke_api_key(
        &self,
        session: Option<&str>,
        program_id: &str,
        csrf: &str,
        key_id: &str,
    ) -> Result<ApiKeyRow, ConsoleError>;
    /// The widget secret, for the merchant's backend (owners and admins), audited.
    async fn widget_secret(&self, session: Option<&str>, program_id: &str, csrf: &str) -> Result<String, ConsoleError>;
}

#[server(prefix = "/admin/fn", endpoint = "install")]
pub async fn load_install(program: String) -> Result<InstallBoard, ServerFnError> {
    let (backend, session) = super::backend()?;
    // Only a fallback: `--public-url` says where browsers reach Tally behind a proxy.
    let origin = use_context::<http::request::Parts>()
        .and_then(|parts| parts.headers.get(http::header::HOST)?.to_str().ok().map(|host| format!("http://{host}")));
    backend.install(session.as_deref(), &program, origin).await.map_err(super::fail)
}

#[server(prefix = "/admin/fn", endpoint = "create_api_key")]
pub async fn create_api_key(program: String, csrf: String) -> Result<super::model::NewApiKey, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.create_api_key(session.as_deref(), &program, &csrf).await.map_err(super::fail)
}

#[server(prefix = "/admin/fn", endpoint = "revoke_api_key")]
pub async fn revoke_api_key(program: String, csrf: String, key_id: String) -> Result<ApiKeyRow, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.revoke_api_key(session.as_deref(), &program, &csrf, &key_id).await.map_err(super::fail)
}

#[server(prefix = "/admin/fn", endpoint = "widget_secret")]
pub async fn reveal_widget_secret(program: String, csrf: String) -> Result<String, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.widget_secret(session.as_deref(), &program, &csrf).await.map_err(super::fail)
}

const NODE: &str = r#"// npm install jsonwebtoken
const jwt = require("jsonwebtoken");

// The signed-in shopper, for data-customer-token. TALLY_WIDGET_SECRET stays on the server.
function tallyCustomerToken(customer) {
  return jwt.sign(
    { sub: String(customer.id), email: customer.email, name: customer.name },
    process.env.TALLY_WIDGET_SECRET,
    { algorithm: "HS256", expiresIn: "1h" },
  );
}"#;

const PHP: &str = r#"<?php
// composer require firebase/php-jwt
use Firebase\JWT\JWT;

// The signed-in shopper, for data-customer-token. TALLY_WIDGET_SECRET stays on the server.
function tally_customer_token(array $customer): string {
    $claims = [
        'sub' => (string) $customer['id'],
        'email' => $customer['email'],
        'name' => $customer['name'],
        'exp' => time() + 3600,
    ];
    return JWT::encode($claims, getenv('TALLY_WIDGET_SECRET'), 'HS256');
}"#;

const PYTHON: &str = r#"# pip install PyJWT
import os, time
import jwt

# The signed-in shopper, for data-customer-token. TALLY_WIDGET_SECRET stays on the server.
def tally_customer_token(customer):
    claims = {
        "sub": str(customer["id"]),
        "email": customer["email"],
        "name": customer["name"],
        "exp": int(time.time()) + 3600,
    }
    return jwt.encode(claims, os.environ["TALLY_WIDGET_SECRET"], algorithm="HS256")"#;

#[component]
pub fn InstallPage() -> impl IntoView {
    let params = use_params_map();
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let request =
        move || (params.get().get("program").unwrap_or_default(), create.version().get(), revoke.version().get());
    let data = Resource::new(request, |(program, _, _)| load_install(program));
    loaded_page(t("Loading…"), data, move |board| view! { <InstallView board create revoke/> })
}

#[component]
fn InstallView(
    board: InstallBoard,
    create: ServerAction<CreateApiKey>,
    revoke: ServerAction<RevokeApiKey>,
) -> impl IntoView {
    let InstallBoard { user, program, tally_url, publishable_key, allowed_origins, keys } = board;
    let can_write = user.role != "viewer";
    let csrf = user.csrf.clone();
    let script_tag = format!(
        "<script src=\"{tally_url}/widget.js\" data-program=\"{publishable_key}\"\n        data-customer-token=\"TOKEN FROM YOUR BACKEND\" async></script>"
    );
    let spa = format!(
        "window.Tally.init({{ program: \"{publishable_key}\", customerToken: token, locale: \"en\" }});\n// later: Tally.setCustomerToken(newToken), Tally.logout(), Tally.open()"
    );
    let secret = RwSignal::new(None::<Result<String, String>>);
    let reveal = {
        let (program_id, csrf) = (program.id.clone(), csrf.clone());
        move |_| {
            let (program_id, csrf) = (program_id.clone(), csrf.clone());
            leptos::task::spawn_local(async move {
                let answer = reveal_widget_secret(program_id, csrf).await.map_err(super::error_message);
                secret.set(Some(answer));
            });
        }
    };
    // The widget itself, as a guest sees it, in the corner of this page.
    let preview_key = publishable_key.clone();
    Effect::new(move |_| {
        let document = document();
        if document.get_element_by_id("tally-preview-script").is_some() {
            return;
        }
        if let Ok(script) = document.create_element("script") {
            let _ = script.set_attribute("id", "tally-preview-script");
            let _ = script.set_attribute("src", "/widget.js");
            let _ = script.set_attribute("data-program", &preview_key);
            if let Some(body) = document.body() {
                let _ = body.append_child(&script);
            }
        }
    });
    let origins = if allowed_origins.is_empty() {
        tr("none yet: the widget answers no storefront until you add its origin in the settings").to_owned()
    } else {
        allowed_origins.join(", ")
    };
    let new_key = move || match create.value().get() {
        Some(Ok(key)) => Some(Ok(key.secret)),
        Some(Err(error)) => Some(Err(super::error_message(error))),
        None => None,
    };
    let program_id = program.id.clone();
    view! {
        <TopBar user/>
        <main class="page wide" data-program-id=program.id.clone()>
            <ProgramNav program=program.clone() current="install"/>
            <h1>{tr("Install & API keys")}</h1>

            <section class="section" aria-labelledby="stores-title">
                <h2 id="stores-title">{tr("A WooCommerce or Shopify store: no code")}</h2>
                <h3>"WooCommerce"</h3>
                <ol class="steps">
                    <li>{tr("Install the Tally Loyalty plugin (integrations/woocommerce/tally-loyalty in Tally's source) under Plugins → Add New → Upload Plugin, and activate it.")}</li>
                    <li>{tr("Below, create a secret API key and show the widget secret; add the store's address to the allowed origins in Settings.")}</li>
                    <li>{tr("In WordPress, WooCommerce → Tally Loyalty: enter this Tally's address, the key and the widget secret, save, and press Connect.")}</li>
                </ol>
                <p class="muted">{trf("Tally's address: {0}. The plugin creates WooCommerce's webhooks and shows the widget, signed in, on every page.", &[&tally_url])}</p>
                <h3>"Shopify"</h3>
                <ol class="steps">
                    <li>{tr("On the Connections page, press Connect Shopify.")}</li>
                    <li>{tr("In Shopify, Settings → Notifications → Webhooks: create a webhook for each topic shown, format JSON, with the delivery URL shown, and paste the key Shopify signs with into Tally.")}</li>
                    <li>{tr("Add the widget's script tag below to the theme (theme.liquid, before </body>), signing in customers as in step 2.")}</li>
                </ol>
                <p><a class="button" href=format!("/admin/programs/{}/connections", program.id)>{tr("Open Connections")}</a></p>
            </section>

            <section class="section" aria-labelledby="tag-title">
                <h2 id="tag-title">{tr("1. Add the widget to every page of the shop")}</h2>
                <pre class="snippet" data-snippet="script">{script_tag}</pre>
                <p class="muted">{tr("Without data-customer-token shoppers see the guest view. Single-page shops:")}</p>
                <pre class="snippet" data-snippet="spa">{spa}</pre>
                <p class="muted">{trf("Storefront origins allowed to show it: {0}", &[&origins])}</p>
            </section>

            <section class="section" aria-labelledby="token-title">
                <h2 id="token-title">{tr("2. Sign the shopper's identity in your backend")}</h2>
                <p class="muted">{tr("A JWT signed with HS256 and this program's widget secret: sub is your customer id, exp is required (an hour is plenty).")}</p>
                {can_write.then(|| view! {
                    <p>
                        <button class="button" on:click=reveal.clone()>{tr("Show the widget secret")}</button>
                        " "
                        {move || secret.get().map(|answer| match answer {
                            Ok(secret) => view! { <code class="secret" data-secret="widget">{secret}</code> }.into_any(),
                            Err(message) => view! { <span class="error" role="alert">{message}</span> }.into_any(),
                        })}
                    </p>
                })}
                <h3>"Node.js"</h3>
                <pre class="snippet" data-snippet="node">{NODE}</pre>
                <h3>"PHP"</h3>
                <pre class="snippet" data-snippet="php">{PHP}</pre>
                <h3>"Python"</h3>
                <pre class="snippet" data-snippet="python">{PYTHON}</pre>
            </section>

            <section class="section" aria-labelledby="preview-title">
                <h2 id="preview-title">{tr("Live preview")}</h2>
                <p class="muted">{tr("The launcher in the corner of this page is the widget as a visitor sees it, with this program's settings.")}</p>
            </section>

            <section class="section" aria-labelledby="keys-title">
                <h2 id="keys-title">{tr("Secret API keys")}</h2>
                <p class="muted">{trf("For your backend's calls to {0} (orders, refunds, actions). Tally keeps only a hash: a key is shown once, when it is created.", &[&format!("{tally_url}/api/v1")])}</p>
                {can_write.then(|| {
                    let (program_id, csrf) = (program_id.clone(), csrf.clone());
                    view! {
                        <p><button class="button primary" on:click=move |_| {
                            create.dispatch(CreateApiKey { program: program_id.clone(), csrf: csrf.clone() });
                        }>{tr("Create a key")}</button></p>
                    }
                })}
                {move || new_key().map(|answer| match answer {
                    Ok(secret) => view! {
                        <p class="notice" role="status">{tr("Your new key (copy it now, it will not be shown again):")} " "
                            <code class="secret" data-secret="api-key">{secret}</code></p>
                    }.into_any(),
                    Err(message) => view! { <p class="error" role="alert">{message}</p> }.into_any(),
                })}
                <table class="table keys">
                    <thead><tr><th>{tr("Key")}</th><th>{tr("Created (UTC)")}</th><th>{tr("Last used (UTC)")}</th><th>{tr("Status")}</th><th></th></tr></thead>
                    <tbody>
                        {keys.into_iter().map(|key| {
                            let live = key.revoked_at.is_none();
                            let (program_id, csrf, key_id) = (program.id.clone(), csrf.clone(), key.id.clone());
                            view! {
                                <tr data-key=key.id.clone() data-live=live.to_string()>
                                    <td><code>{format!("{}…", key.prefix)}</code></td>
                                    <td>{short_time(&key.created_at)}</td>
                                    <td>{key.last_used_at.as_deref().map(short_time).unwrap_or_else(|| tr("never").into())}</td>
                                    <td>{key.revoked_at.as_deref().map(|at| trf("revoked {0}", &[&short_time(at)])).unwrap_or_else(|| tr("live").into())}</td>
                                    <td>{(can_write && live).then(|| view! {
                                        <button class="button" on:click=move |_| {
                                            let confirmed = window()
                                                .confirm_with_message(tr("Revoke this key? Calls made with it will fail at once."))
                                                .unwrap_or(false);
                                            if confirmed {
                                                revoke.dispatch(RevokeApiKey {
                                                    program: program_id.clone(),
                                                    csrf: csrf.clone(),
                                                    key_id: key_id.clone(),
                                                });
                                            }
                                        }>{tr("Revoke")}</button>
                                    })}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
        </main>
    }
}

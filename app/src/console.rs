//! The admin console, served under `/admin`.

use crate::api_types::ProgramListItem;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path,
};

/// The console's view of the server. The server crate implements it over its storage and
/// provides it as context, so the console never talks to a database itself.
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait ConsoleBackend: Send + Sync {
    async fn list_programs(&self) -> Result<Vec<ProgramListItem>, String>;
}

/// The HTML document around the console: rendered on the server only.
#[cfg(feature = "ssr")]
pub fn shell(options: LeptosOptions) -> impl IntoView {
    use leptos_meta::MetaTags;
    view! {
        <!DOCTYPE html>
        <html lang="en">
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
    // Lets browser tests (and curious admins) know the page is interactive.
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Title text="Tally console"/>
        <Router>
            <Routes fallback=|| view! { <p class="not-found">"Page not found."</p> }>
                <Route path=path!("/admin") view=ConsoleHome/>
            </Routes>
        </Router>
    }
}

/// Lists the programs hosted on this server.
#[server(prefix = "/admin/fn", endpoint = "list_programs")]
pub async fn list_programs() -> Result<Vec<ProgramListItem>, ServerFnError> {
    let backend = use_context::<std::sync::Arc<dyn ConsoleBackend>>()
        .ok_or_else(|| ServerFnError::new("console backend missing"))?;
    backend.list_programs().await.map_err(ServerFnError::new)
}

#[component]
fn ConsoleHome() -> impl IntoView {
    let programs = Resource::new(|| (), |_| list_programs());
    view! {
        <header class="topbar">
            <span class="brand">"Tally"</span>
            <span class="subtitle">"Loyalty console"</span>
        </header>
        <main class="page">
            <h1>"Programs"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading programs…"</p> }>
                {move || Suspend::new(async move {
                    match programs.await {
                        Ok(list) if list.is_empty() => view! {
                            <p class="muted">"No programs yet. Create one with " <code>"tally program create"</code> "."</p>
                        }.into_any(),
                        Ok(list) => view! {
                            <ul class="programs">
                                {list.into_iter().map(|program| view! { <ProgramCard program/> }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(error) => view! {
                            <p class="error" role="alert">"Could not load programs: " {error.to_string()}</p>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}

/// A program with a toggle that reveals its storefront snippet.
#[component]
fn ProgramCard(program: ProgramListItem) -> impl IntoView {
    let (snippet_open, set_snippet_open) = signal(false);
    let snippet = format!(
        r#"<script src="{origin}/widget.js" data-program="{key}" async></script>"#,
        origin = "https://YOUR-TALLY-HOST",
        key = program.publishable_key
    );
    let snippet_id = format!("snippet-{}", program.id);
    view! {
        <li class="program-card" data-program-id=program.id.clone()>
            <div class="program-head">
                <strong class="program-name">{program.name}</strong>
                <span class="pill">{program.currency}</span>
                <code class="key">{program.publishable_key}</code>
            </div>
            <button
                class="button"
                aria-expanded=move || snippet_open.get().to_string()
                aria-controls=snippet_id.clone()
                on:click=move |_| set_snippet_open.update(|open| *open = !*open)
            >
                {move || if snippet_open.get() { "Hide install snippet" } else { "Show install snippet" }}
            </button>
            <Show when=move || snippet_open.get()>
                <pre class="snippet" id=snippet_id.clone()>{snippet.clone()}</pre>
            </Show>
        </li>
    }
}

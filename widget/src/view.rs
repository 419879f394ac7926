use gloo_net::http::Request;
use leptos::prelude::*;
use tally_app::api_types::ProgramSummary;
use wasm_bindgen::{prelude::wasm_bindgen, JsCast};
use web_sys::{HtmlElement, ShadowRoot};

/// Styles live inside the shadow root: the host page's CSS cannot reach them, nor they it.
const STYLES: &str = include_str!("../../style/widget.css");

/// Called by `/widget.js` once the WASM is instantiated.
/// `api_base` is the Tally server's origin, `program` the publishable key.
#[wasm_bindgen]
pub fn mount(root: ShadowRoot, program: String, api_base: String) {
    let document = document();
    let Ok(style) = document.create_element("style") else { return };
    style.set_text_content(Some(STYLES));
    let Ok(container) = document.create_element("div") else { return };
    container.set_class_name("tally-root");
    if root.append_child(&style).is_err() || root.append_child(&container).is_err() {
        web_sys::console::error_1(&"[tally] could not attach the widget to its shadow root".into());
        return;
    }
    let container: HtmlElement = container.unchecked_into();
    // The widget lives as long as the page: keep it mounted.
    leptos::mount::mount_to(container, move || view! { <Widget program api_base/> }).forget();
}

/// What the panel shows while and after loading the program.
#[derive(Clone)]
enum Load<T> {
    Loading,
    Ready(T),
    Failed,
}

/// Fetches the program summary. Failures are reported in the browser console, not as text:
/// formatting JSON and network errors would pull their formatting code into the bundle.
async fn fetch_summary(api_base: &str, program: &str) -> Option<ProgramSummary> {
    let url = format!("{api_base}/widget/v1/programs/{program}");
    let response = match Request::get(&url).send().await {
        Ok(response) => response,
        Err(_) => {
            web_sys::console::warn_1(&"[tally] the Tally server could not be reached".into());
            return None;
        }
    };
    if !response.ok() {
        web_sys::console::warn_2(&"[tally] the Tally server answered".into(), &response.status().into());
        return None;
    }
    let summary = response.json::<ProgramSummary>().await.ok();
    if summary.is_none() {
        web_sys::console::warn_1(&"[tally] the Tally server sent an unexpected answer".into());
    }
    summary
}

#[component]
fn Widget(program: String, api_base: String) -> impl IntoView {
    // A plain signal fed by a task keeps Suspense and async-derived machinery out of the bundle.
    let summary = RwSignal::new(Load::Loading);
    let load = move || {
        summary.set(Load::Loading);
        let (api_base, program) = (api_base.clone(), program.clone());
        leptos::task::spawn_local(async move {
            summary.set(match fetch_summary(&api_base, &program).await {
                Some(loaded) => Load::Ready(loaded),
                None => Load::Failed,
            });
        });
    };
    load();

    view! {
        <section class="panel" role="region" aria-label="Rewards">
            {move || match summary.get() {
                Load::Loading => view! { <div class="skeleton" aria-busy="true"></div> }.into_any(),
                Load::Ready(summary) => view! {
                    <h2 class="title">{summary.name} " Rewards"</h2>
                    <p class="lead">"Join to earn " {summary.points_name} " on every order."</p>
                }.into_any(),
                Load::Failed => {
                    let retry = load.clone();
                    view! {
                        <p class="error" role="alert">"Rewards are unavailable right now."</p>
                        <button class="button" on:click=move |_| retry()>"Try again"</button>
                    }.into_any()
                }
            }}
        </section>
    }
}

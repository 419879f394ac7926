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

async fn fetch_summary(api_base: &str, program: &str) -> Result<ProgramSummary, String> {
    let url = format!("{api_base}/widget/v1/programs/{program}");
    let response = Request::get(&url).send().await.map_err(|error| error.to_string())?;
    if !response.ok() {
        return Err(format!("the server answered {}", response.status()));
    }
    response.json::<ProgramSummary>().await.map_err(|error| error.to_string())
}

#[component]
fn Widget(program: String, api_base: String) -> impl IntoView {
    let (reload, set_reload) = signal(0u32);
    let summary = LocalResource::new(move || {
        reload.track();
        let (api_base, program) = (api_base.clone(), program.clone());
        async move { fetch_summary(&api_base, &program).await }
    });

    view! {
        <section class="panel" role="region" aria-label="Rewards">
            <Suspense fallback=|| view! { <div class="skeleton" aria-busy="true"></div> }>
                {move || Suspend::new(async move {
                    match summary.await {
                        Ok(summary) => view! {
                            <h2 class="title">{summary.name.clone()} " Rewards"</h2>
                            <p class="lead">"Join to earn " {summary.points_name.clone()} " on every order."</p>
                        }.into_any(),
                        Err(error) => {
                            web_sys::console::warn_1(&format!("[tally] could not load the program: {error}").into());
                            view! {
                                <p class="error" role="alert">"Rewards are unavailable right now."</p>
                                <button class="button" on:click=move |_| set_reload.update(|n| *n += 1)>"Try again"</button>
                            }.into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}

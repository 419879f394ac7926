//! Tally's Leptos console and the serde types shared by the server and browser code.
//!
//! Built twice: with `ssr` into the server (renders HTML, runs server functions) and with
//! `hydrate` into `target/site/pkg/tally.wasm` (makes that HTML interactive).

pub mod api_types;
pub mod lang;
// The widget uses only `api_types` (and neither feature): it must not carry the console's code.
#[cfg(any(feature = "ssr", feature = "hydrate"))]
pub mod console;

#[cfg(feature = "ssr")]
pub use console::shell;

/// Browser entry point: attaches the console's reactivity to the server-rendered HTML.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(console::App);
}

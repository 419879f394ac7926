//! The shopper widget: a Leptos CSR app that `/widget.js` mounts inside a Shadow DOM on the
//! merchant's storefront. Compiled for wasm32 only; on the host this crate is empty.

#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
mod decode;
#[cfg(target_arch = "wasm32")]
mod i18n;
#[cfg(target_arch = "wasm32")]
mod view;

#[cfg(target_arch = "wasm32")]
pub use view::{close, mount, open, set_customer_token};

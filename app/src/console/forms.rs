//! Pieces the console's edit forms share: text fields bound to a draft, and the server's
//! field messages placed on the field they name.

use leptos::prelude::*;

/// A failed save's message, split into the field it names (when it does) and the text:
/// the server answers `field: message` for a field it refused.
pub fn field_error(message: &str) -> (Option<String>, String) {
    match message.split_once(": ") {
        Some((field, text)) if !field.contains(' ') => (Some(field.to_owned()), text.to_owned()),
        _ => (None, message.to_owned()),
    }
}

/// The failure of a save action, as `(field, message)`.
pub fn failure<I, O>(action: ServerAction<I>) -> impl Fn() -> Option<(Option<String>, String)> + Copy
where
    I: leptos::server_fn::ServerFn<Output = O, Error = ServerFnError> + Clone + Send + Sync + 'static,
    O: Clone + Send + Sync + 'static,
{
    move || match action.value().get() {
        Some(Err(ServerFnError::ServerError(message))) => Some(field_error(&message)),
        Some(Err(other)) => Some((None, other.to_string())),
        _ => None,
    }
}

/// The text field of a draft with a given name.
pub type FieldOf<T> = for<'a, 'b> fn(&'a mut T, &'b str) -> &'a mut String;

/// A copy of a draft's text field (drafts are small).
pub fn read<T: Clone>(draft: &T, slot: FieldOf<T>, field: &str) -> String {
    let mut copy = draft.clone();
    std::mem::take(slot(&mut copy, field))
}

/// A labelled text input bound to `field` of `draft`, with the server's message for it.
#[component]
pub fn TextField<T>(
    #[prop(into)] label: String,
    field: &'static str,
    draft: RwSignal<T>,
    /// The draft's text field of each name.
    field_of: FieldOf<T>,
    message: Signal<Option<String>>,
    #[prop(optional)] disabled: bool,
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
{
    let message_id = format!("{field}-message");
    view! {
        <label>{label}
            <input name=field disabled=disabled prop:value=move || draft.with(|form| read(form, field_of, field))
                aria-invalid=move || message.get().is_some().to_string() aria-describedby=message_id.clone()
                on:input=move |event| { let value = event_target_value(&event); draft.update(|form| *field_of(form, field) = value) }/>
            <span class="error field-error" id=message_id>{move || message.get()}</span>
        </label>
    }
}

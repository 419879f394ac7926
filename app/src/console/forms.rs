//! Pieces the console's edit forms share: text fields bound to a draft, and the server's
//! field messages placed on the field they name.

use leptos::prelude::*;

use super::i18n::tr;

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

/// Said inside an edit form when the browser runs no script: these forms save through the
/// hydrated page. Their `method="post"` keeps a submit before hydration from becoming a GET
/// with the fields (a password) in the address.
#[component]
pub fn ScriptNeeded() -> impl IntoView {
    view! { <noscript><p class="notice-inline" role="note">{tr("Saving this form needs JavaScript.")}</p></noscript> }
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

/// A column of an editable row: a text input, or a choice when `choices` is not empty. Its
/// texts are English, marked with `i18n::t`, and shown in the page's language.
pub struct Column<R> {
    pub header: &'static str,
    /// The input's accessible name (the header when empty).
    pub label: &'static str,
    pub field: fn(&mut R) -> &mut String,
    /// `(value, text)` of a select.
    pub choices: &'static [(&'static str, &'static str)],
    /// Values a text input suggests (a datalist).
    pub suggestions: &'static [&'static str],
}

impl<R> Column<R> {
    /// A plain text column.
    pub const fn text(header: &'static str, field: fn(&mut R) -> &mut String) -> Self {
        Self { header, label: "", field, choices: &[], suggestions: &[] }
    }
}

/// The rows of a draft a table edits, read and written.
pub struct RowsOf<T, R> {
    pub read: fn(&T) -> &Vec<R>,
    pub write: fn(&mut T) -> &mut Vec<R>,
}

/// One editable row per item of `rows`, one cell per column, with add and remove. Rows are
/// rebuilt when one is added or removed, not on every keystroke (that would lose focus).
#[component]
pub fn EditableRows<T, R>(
    draft: RwSignal<T>,
    rows: RowsOf<T, R>,
    columns: &'static [Column<R>],
    add: &'static str,
    can_write: bool,
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    R: Clone + Default + Send + Sync + 'static,
{
    let RowsOf { read, write } = rows;
    let count = Memo::new(move |_| draft.with(|form| read(form).len()));
    view! {
        <table class="table actions">
            <thead><tr>{columns.iter().map(|column| view! { <th>{tr(column.header)}</th> }).collect_view()}<th></th></tr></thead>
            <tbody>
                {move || (0..count.get()).map(|index| {
                    let mut row = draft.with_untracked(|form| read(form)[index].clone());
                    view! {
                        <tr>
                            {columns.iter().enumerate().map(|(at, column)| {
                                let field = column.field;
                                let value = field(&mut row).clone();
                                let label = tr(if column.label.is_empty() { column.header } else { column.label });
                                let edit = move |event: leptos::ev::Event| {
                                    let value = event_target_value(&event);
                                    draft.update(|form| {
                                        if let Some(row) = write(form).get_mut(index) {
                                            *field(row) = value;
                                        }
                                    });
                                };
                                let cell = if column.choices.is_empty() {
                                    let list = (!column.suggestions.is_empty()).then(|| format!("suggestions-{at}"));
                                    view! { <input aria-label=label list=list value=value disabled=!can_write on:input=edit/> }.into_any()
                                } else {
                                    view! {
                                        <select aria-label=label disabled=!can_write on:change=edit>
                                            {column.choices.iter().map(|(choice, text)| view! {
                                                <option value=*choice selected=value == *choice>{tr(text)}</option>
                                            }).collect_view()}
                                        </select>
                                    }.into_any()
                                };
                                view! { <td>{cell}</td> }
                            }).collect_view()}
                            <td>{can_write.then(|| view! {
                                <button class="button" type="button" on:click=move |_| draft.update(|form| { write(form).remove(index); })>{tr("Remove")}</button>
                            })}</td>
                        </tr>
                    }
                    .into_any()
                }).collect_view()}
            </tbody>
        </table>
        {columns.iter().enumerate().filter(|(_, column)| !column.suggestions.is_empty()).map(|(at, column)| view! {
            <datalist id=format!("suggestions-{at}")>
                {column.suggestions.iter().map(|value| view! { <option value=*value></option> }).collect_view()}
            </datalist>
        }).collect_view()}
        {can_write.then(|| view! {
            <button class="button" type="button" on:click=move |_| draft.update(|form| write(form).push(R::default()))>{tr(add)}</button>
        })}
    }
}

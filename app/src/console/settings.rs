//! Program settings: names, widget origins, pending days, expiry and clawback, redemption
//! value, time zone, and the widget's branding and links, with a live preview. The server
//! checks them with the same rules as `PUT /api/v1/settings`.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::{
    forms::{self, ScriptNeeded, TextField},
    i18n::{t, tr, trf},
    loaded_page,
    model::{SettingsBoard, SettingsForm},
    ProgramNav, TopBar,
};

#[cfg(feature = "ssr")]
use super::model::ConsoleError;

/// The program settings.
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait SettingsConsole: Send + Sync {
    async fn settings(&self, session: Option<&str>, program_id: &str) -> Result<SettingsBoard, ConsoleError>;
    /// Replaces the program's settings (owners and admins), audited; returns them as stored.
    async fn save_settings(
        &self,
        session: Option<&str>,
        program_id: &str,
        csrf: &str,
        form: SettingsForm,
    ) -> Result<SettingsForm, ConsoleError>;
}

#[server(prefix = "/admin/fn", endpoint = "settings")]
pub async fn load_settings(program: String) -> Result<SettingsBoard, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.settings(session.as_deref(), &program).await.map_err(super::fail)
}

#[server(prefix = "/admin/fn", endpoint = "save_settings", input = leptos::server_fn::codec::Json)]
pub async fn save_settings(program: String, csrf: String, form: SettingsForm) -> Result<SettingsForm, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.save_settings(session.as_deref(), &program, &csrf, form).await.map_err(super::fail)
}

/// Form field of each field the server may name (`settings.widget.join_url` is `join_url`).
pub fn form_field(server_field: &str) -> &str {
    let field = server_field.trim_start_matches("settings.").trim_start_matches("widget.");
    match field {
        "expiry.days" => "expiry_days",
        "redemption_value" => "redemption_amount",
        other if other.starts_with("allowed_origins") => "allowed_origins",
        other => other,
    }
}

#[component]
pub fn SettingsPage() -> impl IntoView {
    let params = use_params_map();
    let data = Resource::new(move || params.get().get("program").unwrap_or_default(), load_settings);
    loaded_page(t("Loading settings…"), data, move |board| view! { <SettingsView board/> })
}

#[component]
fn SettingsView(board: SettingsBoard) -> impl IntoView {
    let SettingsBoard { user, program, currency, form } = board;
    let can_write = user.role != "viewer";
    let draft = RwSignal::new(form);
    let save = ServerAction::<SaveSettings>::new();
    // A saved form is what the server stored (trimmed, normalised): show that.
    Effect::new(move |_| {
        if let Some(Ok(saved)) = save.value().get() {
            draft.set(saved);
        }
    });
    let failure = forms::failure(save);
    let message_for = move |field: &'static str| {
        Signal::derive(move || {
            failure().and_then(|(on, text)| (on.as_deref().map(form_field) == Some(field)).then_some(text))
        })
    };
    let saved_note = move || matches!(save.value().get(), Some(Ok(_))).then(|| tr("Saved."));
    let general_error = move || failure().and_then(|(on, text)| on.is_none().then_some(text));
    let (program_id, csrf) = (program.id.clone(), user.csrf.clone());
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        save.dispatch(SaveSettings { program: program_id.clone(), csrf: csrf.clone(), form: draft.get_untracked() });
    };
    let text = move |label: &'static str, field: &'static str| {
        view! { <TextField label=tr(label) field draft field_of=slot message=message_for(field) disabled=!can_write/> }
    };
    let select = move |label: &'static str, field: &'static str, options: &'static [(&'static str, &'static str)]| {
        view! {
            <label>{tr(label)} " "
                <select name=field disabled=!can_write
                    on:change=move |event| { let value = event_target_value(&event); draft.update(|form| *slot(form, field) = value) }>
                    {options.iter().map(|(value, label)| view! {
                        <option value=*value selected=draft.with_untracked(|form| forms::read(form, slot, field) == *value)>{tr(label)}</option>
                    }).collect_view()}
                </select>
            </label>
        }
    };
    let preview_currency = currency.clone();
    let preview = move || {
        let currency = &preview_currency;
        draft.with(|form| {
            let expiry = match form.expiry.as_str() {
                "after_earning" => trf("expire {0} days after they are earned", &[&form.expiry_days.trim()]),
                "after_inactivity" => trf("expire after {0} days without activity", &[&form.expiry_days.trim()]),
                _ => tr("never expire").to_owned(),
            };
            trf(
                "{0} {1} are worth {2} {3}. New {1} become available after {4} days and {5}.",
                &[
                    &form.redemption_points.trim(),
                    &form.points_name.trim(),
                    currency,
                    &form.redemption_amount.trim(),
                    &form.pending_days.trim(),
                    &expiry,
                ],
            )
        })
    };
    let launcher_style = move || {
        draft.with(|form| {
            let color = if form.primary_color.trim().is_empty() { "#4f46e5" } else { form.primary_color.trim() };
            format!("background: {color}")
        })
    };
    let launcher_label = move || {
        draft.with(|form| {
            if form.launcher_label.trim().is_empty() {
                tr("Rewards").to_owned()
            } else {
                form.launcher_label.clone()
            }
        })
    };
    let launcher_side = move || draft.with(|form| form.launcher_position.replace('_', "-"));
    view! {
        <TopBar user/>
        <main class="page wide" data-program-id=program.id.clone()>
            <ProgramNav program=program.clone() current="settings"/>
            <h1>{tr("Settings")}</h1>
            {(!can_write).then(|| view! { <p class="muted" data-read-only="true">{tr("Viewers can look, not change settings.")}</p> })}
            <form class="form settings" method="post" on:submit=submit aria-label=tr("Program settings")>
                <ScriptNeeded/>
                <section class="section">
                    <h2>{tr("Program")}</h2>
                    {text(t("Name"), "name")}
                    {text(t("What points are called"), "points_name")}
                    <p class="muted">{trf("Currency: {0} (fixed: past orders are in it)", &[&currency])}</p>
                    <label>{tr("Storefront origins allowed to show the widget (one per line)")}
                        <textarea name="allowed_origins" rows="3" disabled=!can_write
                            prop:value=move || draft.with(|form| form.allowed_origins.clone())
                            on:input=move |event| { let value = event_target_value(&event); draft.update(|form| form.allowed_origins = value) }/>
                        <span class="error field-error">{message_for("allowed_origins")}</span>
                    </label>
                    {text(t("Time zone (IANA, e.g. Asia/Seoul; empty for UTC)"), "time_zone")}
                </section>
                <section class="section">
                    <h2>{tr("Points")}</h2>
                    {text(t("Days before new points become available"), "pending_days")}
                    {select(t("Points expire"), "expiry", &EXPIRY)}
                    {text(t("Expiry days"), "expiry_days")}
                    {select(t("When a refund takes back points already spent"), "clawback", &CLAWBACK)}
                    {text(t("Redemption value: points"), "redemption_points")}
                    {text(t("… are worth (in the program currency)"), "redemption_amount")}
                    <p class="preview" aria-live="polite">{preview}</p>
                </section>
                <section class="section">
                    <h2>{tr("Widget")}</h2>
                    {text(t("Colour (#rrggbb; empty for the default)"), "primary_color")}
                    {select(t("Launcher corner"), "launcher_position", &CORNERS)}
                    {text(t("Launcher label (empty: “Rewards” in the shopper's language)"), "launcher_label")}
                    {text(t("Join page (guests)"), "join_url")}
                    {text(t("Sign-in page (guests)"), "sign_in_url")}
                    <div class="launcher-preview" data-side=launcher_side>
                        <span class="muted">{tr("Preview:")} " "</span>
                        <span class="launcher-sample" style=launcher_style>{launcher_label}</span>
                    </div>
                </section>
                <section class="section">
                    <h2>{tr("Security")}</h2>
                    {text(t("Customer tokens live at most (minutes; empty: a day)"), "token_max_lifetime_minutes")}
                    {text(t("API requests per secret key a minute (empty: the server's default)"), "api_requests_per_minute")}
                </section>
                <p class="error" role="alert">{general_error}</p>
                <p class="notice-inline" role="status">{saved_note}</p>
                {can_write.then(|| view! {
                    <button class="button primary" type="submit" disabled=move || save.pending().get()>{tr("Save settings")}</button>
                })}
            </form>
        </main>
    }
}

const EXPIRY: [(&str, &str); 3] = [
    ("never", t("Never")),
    ("after_earning", t("Days after they are earned")),
    ("after_inactivity", t("After days without activity")),
];
const CLAWBACK: [(&str, &str); 2] = [
    ("cap_at_zero", t("Take what is left (balance stays at 0 or more)")),
    ("allow_negative", t("Take it all (balance may go below 0)")),
];
const CORNERS: [(&str, &str); 2] = [("bottom_right", t("Bottom right")), ("bottom_left", t("Bottom left"))];

/// The text field named `field` (the sign-in URL for any other name).
fn slot<'a>(form: &'a mut SettingsForm, field: &str) -> &'a mut String {
    match field {
        "name" => &mut form.name,
        "points_name" => &mut form.points_name,
        "allowed_origins" => &mut form.allowed_origins,
        "pending_days" => &mut form.pending_days,
        "expiry" => &mut form.expiry,
        "expiry_days" => &mut form.expiry_days,
        "clawback" => &mut form.clawback,
        "redemption_points" => &mut form.redemption_points,
        "redemption_amount" => &mut form.redemption_amount,
        "time_zone" => &mut form.time_zone,
        "primary_color" => &mut form.primary_color,
        "launcher_position" => &mut form.launcher_position,
        "launcher_label" => &mut form.launcher_label,
        "join_url" => &mut form.join_url,
        "token_max_lifetime_minutes" => &mut form.token_max_lifetime_minutes,
        "api_requests_per_minute" => &mut form.api_requests_per_minute,
        _ => &mut form.sign_in_url,
    }
}

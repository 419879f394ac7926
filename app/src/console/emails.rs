//! The program's emails to shoppers: the sender, which messages go out and when, each
//! message's words in each language with a live preview and a test send, and the delivery log.
//! The server checks the settings with the same rules as `PUT /api/v1/settings`.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::{
    forms::{self, ScriptNeeded, TextField},
    i18n::{t, tr, trf},
    loaded_page,
    model::{EmailLogRow, EmailPreview, EmailText, EmailsBoard, EmailsForm},
    short_time, ProgramNav, TopBar,
};

#[cfg(feature = "ssr")]
use super::model::ConsoleError;

#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait EmailsConsole: Send + Sync {
    async fn emails(&self, session: Option<&str>, program_id: &str) -> Result<EmailsBoard, ConsoleError>;
    /// Replaces the program's email settings and texts (owners and admins), audited.
    async fn save_emails(
        &self,
        session: Option<&str>,
        program_id: &str,
        csrf: &str,
        form: EmailsForm,
    ) -> Result<EmailsForm, ConsoleError>;
    /// The message of `text` with sample values, as it would be sent.
    async fn preview_email(
        &self,
        session: Option<&str>,
        program_id: &str,
        text: EmailText,
    ) -> Result<EmailPreview, ConsoleError>;
    /// Sends the message of `text`, with sample values, to the signed-in user; their address.
    async fn send_test_email(
        &self,
        session: Option<&str>,
        program_id: &str,
        csrf: &str,
        text: EmailText,
    ) -> Result<String, ConsoleError>;
}

#[server(prefix = "/admin/fn", endpoint = "emails")]
pub async fn load_emails(program: String) -> Result<EmailsBoard, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.emails(session.as_deref(), &program).await.map_err(super::fail)
}

#[server(prefix = "/admin/fn", endpoint = "save_emails", input = leptos::server_fn::codec::Json)]
pub async fn save_emails(program: String, csrf: String, form: EmailsForm) -> Result<EmailsForm, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.save_emails(session.as_deref(), &program, &csrf, form).await.map_err(super::fail)
}

#[server(prefix = "/admin/fn", endpoint = "preview_email", input = leptos::server_fn::codec::Json)]
pub async fn preview_email(program: String, text: EmailText) -> Result<EmailPreview, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.preview_email(session.as_deref(), &program, text).await.map_err(super::fail)
}

#[server(prefix = "/admin/fn", endpoint = "send_test_email", input = leptos::server_fn::codec::Json)]
pub async fn send_test_email(program: String, csrf: String, text: EmailText) -> Result<String, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.send_test_email(session.as_deref(), &program, &csrf, text).await.map_err(super::fail)
}

/// Every message, by kind: its name and when it is sent.
pub const KINDS: [(&str, &str, &str); 8] = [
    ("welcome", t("Welcome"), t("When a customer joins (needs their marketing consent).")),
    ("points_earned", t("Points earned"), t("After an order or action; at most one per period, summing what came in.")),
    ("reward_unlocked", t("Reward unlocked"), t("When the balance first reaches the cost of a reward they can redeem.")),
    ("points_expiring", t("Points expiring"), t("Days before a batch of points expires, once per batch.")),
    ("last_chance", t("Last chance"), t("A second reminder shortly before points expire (set its days).")),
    ("tier_up", t("Tier up"), t("When a customer moves up a tier.")),
    ("tier_at_risk", t("Tier at risk"), t("Before a rolling 12-month window would take a customer's tier, once until they are safe again (off unless switched on).")),
    ("birthday", t("Birthday"), t("When the birthday action awards points (needs their marketing consent).")),
];

/// The languages messages are written in, by tag.
pub const LANGUAGES: [(&str, &str); 5] =
    [("en", "English"), ("ko", "한국어"), ("ja", "日本語"), ("zh-CN", "简体中文"), ("id", "Bahasa Indonesia")];

/// Form field of each field the server may name (`settings.notifications.sender_address`).
pub fn form_field(server_field: &str) -> &str {
    let field = server_field.trim_start_matches("settings.").trim_start_matches("notifications.");
    if field.starts_with("texts") {
        "texts"
    } else {
        field
    }
}

#[component]
pub fn EmailsPage() -> impl IntoView {
    let params = use_params_map();
    let data = Resource::new(move || params.get().get("program").unwrap_or_default(), load_emails);
    loaded_page(t("Loading emails…"), data, move |board| view! { <EmailsView board/> })
}

fn kind_name(kind: &str) -> &'static str {
    KINDS.iter().find(|(key, ..)| *key == kind).map_or("", |(_, name, _)| tr(name))
}

#[component]
fn EmailsView(board: EmailsBoard) -> impl IntoView {
    let EmailsBoard { user, program, mail_configured, form, values, log } = board;
    let can_write = user.role != "viewer";
    let draft = RwSignal::new(form);
    let save = ServerAction::<SaveEmails>::new();
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
    let submit = {
        let (program_id, csrf) = (program_id.clone(), csrf.clone());
        move |event: leptos::ev::SubmitEvent| {
            event.prevent_default();
            save.dispatch(SaveEmails { program: program_id.clone(), csrf: csrf.clone(), form: draft.get_untracked() });
        }
    };
    let text = move |label: &'static str, field: &'static str| {
        view! { <TextField label=tr(label) field draft field_of=slot message=message_for(field) disabled=!can_write/> }
    };
    let switch = move |kind: &'static str, name: &'static str, when: &'static str| {
        let checked = move || draft.with(|form| form.enabled.iter().any(|on| on == kind));
        view! {
            <label class="check">
                <input type="checkbox" name=format!("enabled-{kind}") disabled=!can_write prop:checked=checked
                    on:change=move |event| {
                        let on = event_target_checked(&event);
                        draft.update(|form| {
                            form.enabled.retain(|other| other != kind);
                            if on { form.enabled.push(kind.to_owned()); }
                        });
                    }/>
                " " <strong>{tr(name)}</strong> " " <span class="muted">{tr(when)}</span>
            </label>
        }
    };

    // The text being edited: one message in one language.
    let kind = RwSignal::new("points_earned".to_owned());
    let language = RwSignal::new(draft.with_untracked(|form| form.default_language.clone()));
    let editing = move || {
        let (kind, language) = (kind.get(), language.get());
        draft
            .with(|form| form.texts.iter().find(|text| text.kind == kind && text.language == language).cloned())
            .unwrap_or(EmailText { kind, language, ..EmailText::default() })
    };
    let edit = move |change: &dyn Fn(&mut EmailText)| {
        let (kind, language) = (kind.get_untracked(), language.get_untracked());
        draft.update(|form| {
            if let Some(text) = form.texts.iter_mut().find(|text| text.kind == kind && text.language == language) {
                change(text);
            }
        });
    };
    let preview_program = program_id.clone();
    let preview = Resource::new(editing, move |text| preview_email(preview_program.clone(), text));
    let test = ServerAction::<SendTestEmail>::new();
    let test_note = move || match test.value().get() {
        Some(Ok(address)) => Some(trf("A test message went to {0}.", &[&address])),
        Some(Err(ServerFnError::ServerError(message))) => Some(forms::field_error(&message).1),
        Some(Err(other)) => Some(other.to_string()),
        None => None,
    };
    let send_test = {
        let (program_id, csrf) = (program_id.clone(), csrf.clone());
        move |_| {
            test.dispatch(SendTestEmail { program: program_id.clone(), csrf: csrf.clone(), text: editing() });
        }
    };
    let language_select = move |field: &'static str, value: RwSignal<String>| {
        view! {
            <select name=field disabled=!can_write on:change=move |event| value.set(event_target_value(&event))>
                {LANGUAGES.iter().map(|(tag, name)| view! {
                    <option value=*tag selected=value.get_untracked() == *tag>{*name}</option>
                }).collect_view()}
            </select>
        }
    };
    let default_language = RwSignal::new(draft.with_untracked(|form| form.default_language.clone()));
    Effect::new(move |_| {
        let tag = default_language.get();
        draft.update(|form| form.default_language = tag);
    });
    view! {
        <TopBar user/>
        <main class="page wide" data-program-id=program.id.clone()>
            <ProgramNav program=program.clone() current="emails"/>
            <h1>{tr("Emails")}</h1>
            {if mail_configured {
                view! { <p class="notice-inline" data-mail="configured">{tr("This server sends email: set a sender below and the messages switched on go out.")}</p> }.into_any()
            } else {
                view! { <p class="notice error" data-mail="off">{tr("This server sends no email yet: its operator sets TALLY_SMTP_URL (and TALLY_PUBLIC_URL). You can prepare everything here meanwhile.")}</p> }.into_any()
            }}
            {(!can_write).then(|| view! { <p class="muted" data-read-only="true">{tr("Viewers can look, not change settings.")}</p> })}
            <form class="form settings" method="post" on:submit=submit aria-label=tr("Email settings")>
                <ScriptNeeded/>
                <section class="section">
                    <h2>{tr("Sender")}</h2>
                    {text(t("From address (no email is sent without one)"), "sender_address")}
                    {text(t("From name (empty: the program's name)"), "sender_name")}
                    {text(t("Reply-to address (optional)"), "reply_to")}
                    {text(t("Storefront address (every message links there with the widget open)"), "storefront_url")}
                    <label>{tr("Language for customers whose profile names none")} " " {language_select("default_language", default_language)}</label>
                </section>
                <section class="section">
                    <h2>{tr("Messages")}</h2>
                    {KINDS.iter().filter(|(kind, ..)| *kind != "last_chance").map(|(kind, name, when)| switch(kind, name, when)).collect_view()}
                    {text(t("Points earned: at most one email per customer in this many hours (0: one per earn)"), "earned_batch_hours")}
                    {text(t("Points expiring: days before they expire (also the widget's “expiring soon”)"), "expiry_warning_days")}
                    {text(t("Last chance: days before they expire (empty: none)"), "last_chance_days")}
                    {text(t("Tier at risk: days before the tier would end"), "tier_at_risk_days")}
                    <p class="muted">{tr("Welcome and birthday messages are marketing: they go only to customers who gave marketing consent. The others are about the customer's own points. Every message has a one-click unsubscribe link.")}</p>
                </section>
                <section class="section">
                    <h2>{tr("Words")}</h2>
                    <div class="row">
                        <label>{tr("Message")} " "
                            <select name="edit_kind" on:change=move |event| kind.set(event_target_value(&event))>
                                {KINDS.iter().map(|(key, name, _)| view! {
                                    <option value=*key selected=*key == "points_earned">{tr(name)}</option>
                                }).collect_view()}
                            </select>
                        </label>
                        <label>{tr("Language")} " " {language_select("edit_language", language)}</label>
                    </div>
                    <label>{tr("Subject")}
                        <input name="subject" disabled=!can_write prop:value=move || editing().subject
                            on:input=move |event| { let value = event_target_value(&event); edit(&|text| text.subject = value.clone()) }/>
                    </label>
                    <label>{tr("Body (plain text; a blank line starts a paragraph)")}
                        <textarea name="body" rows="8" disabled=!can_write prop:value=move || editing().body
                            on:input=move |event| { let value = event_target_value(&event); edit(&|text| text.body = value.clone()) }/>
                    </label>
                    <span class="error field-error">{message_for("texts")}</span>
                    <p class="muted">{tr("Values you can use:")} " "
                        {values.iter().map(|value| view! { <code>{format!("{{{{ {value} }}}}")}</code> " " }).collect_view()}
                    </p>
                    <h3>{tr("Preview")}</h3>
                    <Transition fallback=|| view! { <p class="muted">{tr("Loading…")}</p> }>
                        {move || preview.get().map(|answer| match answer {
                            Ok(EmailPreview { of, subject, html }) => view! {
                                <p class="email-subject" data-preview-of=of data-preview-subject=subject.clone()><strong>{tr("Subject:")}</strong> " " {subject.clone()}</p>
                                <iframe class="email-preview" title=tr("Preview") sandbox="" srcdoc=html></iframe>
                            }.into_any(),
                            Err(error) => view! { <p class="error" role="alert">{forms::field_error(&error.to_string()).1}</p> }.into_any(),
                        })}
                    </Transition>
                    {can_write.then(|| view! {
                        <p>
                            <button class="button" type="button" on:click=send_test.clone() disabled=move || test.pending().get() || !mail_configured>
                                {tr("Send me a test")}
                            </button>
                            " " <span role="status" data-test-note="">{test_note}</span>
                        </p>
                    })}
                </section>
                <p class="error" role="alert">{general_error}</p>
                <p class="notice-inline" role="status">{saved_note}</p>
                {can_write.then(|| view! {
                    <button class="button primary" type="submit" disabled=move || save.pending().get()>{tr("Save emails")}</button>
                })}
            </form>
            <section class="section">
                <h2>{tr("Delivery log")}</h2>
                <EmailLog log program_id=program.id.clone()/>
            </section>
        </main>
    }
}

/// A table of messages, newest first (the program's log, or one customer's).
#[component]
pub fn EmailLog(log: Vec<EmailLogRow>, program_id: String) -> impl IntoView {
    if log.is_empty() {
        return view! { <p class="muted" data-email-log="empty">{tr("No messages yet.")}</p> }.into_any();
    }
    view! {
        <table class="table" data-email-log="">
            <thead><tr>
                <th>{tr("When")}</th><th>{tr("Customer")}</th><th>{tr("Message")}</th><th>{tr("Status")}</th>
                <th>{tr("To")}</th><th>{tr("Subject or reason")}</th>
            </tr></thead>
            <tbody>
                {log.into_iter().map(|row| {
                    let href = super::customers::customer_path(&program_id, &row.customer_id);
                    let when = short_time(row.sent_at.as_deref().unwrap_or(&row.created_at));
                    let detail = row.error.clone().or(row.subject.clone()).unwrap_or_default();
                    view! {
                        <tr data-status=row.status.clone() data-kind=row.kind.clone()>
                            <td>{when}</td>
                            <td><a href=href>{row.customer_id.clone()}</a></td>
                            <td>{kind_name(&row.kind)}</td>
                            <td>{status_name(&row.status)}</td>
                            <td>{row.to_address.clone().unwrap_or_default()}</td>
                            <td>{detail}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

fn status_name(status: &str) -> &'static str {
    match status {
        "pending" => tr("waiting"),
        "sent" => tr("sent"),
        "failed" => tr("failed"),
        "bounced" => tr("bounced"),
        _ => tr("not sent"),
    }
}

/// The text field named `field` (the storefront address for any other name).
fn slot<'a>(form: &'a mut EmailsForm, field: &str) -> &'a mut String {
    match field {
        "sender_name" => &mut form.sender_name,
        "sender_address" => &mut form.sender_address,
        "reply_to" => &mut form.reply_to,
        "earned_batch_hours" => &mut form.earned_batch_hours,
        "expiry_warning_days" => &mut form.expiry_warning_days,
        "last_chance_days" => &mut form.last_chance_days,
        "tier_at_risk_days" => &mut form.tier_at_risk_days,
        _ => &mut form.storefront_url,
    }
}

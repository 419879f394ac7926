//! Referrals: how the links work (their parameter, how long a storefront keeps a code, the
//! fraud window), the claims the checks held for a decision (approve or reject, audited), and
//! the latest referrals. Decisions are plain form posts: they work without script.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::{
    error_message,
    forms::{self, TextField},
    i18n::{t, tr},
    loaded_page,
    model::{ReferralRow, ReferralSettingsForm, ReferralsBoard},
    short_time, ProgramNav, TopBar,
};

#[cfg(feature = "ssr")]
use super::model::ConsoleError;

#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait ReferralsConsole: Send + Sync {
    async fn referrals(&self, session: Option<&str>, program_id: &str) -> Result<ReferralsBoard, ConsoleError>;
    /// Approves (`approve`) or rejects a held referral (owners and admins), audited.
    async fn decide_referral(
        &self,
        session: Option<&str>,
        program_id: &str,
        csrf: &str,
        customer_id: &str,
        approve: bool,
    ) -> Result<(), ConsoleError>;
    /// Saves the links' settings (owners and admins), audited; returns them as stored.
    async fn save_referral_settings(
        &self,
        session: Option<&str>,
        program_id: &str,
        csrf: &str,
        form: ReferralSettingsForm,
    ) -> Result<ReferralSettingsForm, ConsoleError>;
}

#[server(prefix = "/admin/fn", endpoint = "referrals")]
pub async fn load_referrals(program: String) -> Result<ReferralsBoard, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.referrals(session.as_deref(), &program).await.map_err(super::fail)
}

#[server(prefix = "/admin/fn", endpoint = "decide_referral")]
pub async fn decide_referral(
    program: String,
    csrf: String,
    customer: String,
    decision: String,
) -> Result<(), ServerFnError> {
    let (backend, session) = super::backend()?;
    let approve = decision == "approve";
    backend.decide_referral(session.as_deref(), &program, &csrf, &customer, approve).await.map_err(super::fail)
}

#[server(prefix = "/admin/fn", endpoint = "save_referral_settings", input = leptos::server_fn::codec::Json)]
pub async fn save_referral_settings(
    program: String,
    csrf: String,
    form: ReferralSettingsForm,
) -> Result<ReferralSettingsForm, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.save_referral_settings(session.as_deref(), &program, &csrf, form).await.map_err(super::fail)
}

#[component]
pub fn ReferralsPage() -> impl IntoView {
    let params = use_params_map();
    let decide = ServerAction::<DecideReferral>::new();
    let data = Resource::new(
        move || (params.get().get("program").unwrap_or_default(), decide.version().get()),
        |(program, _)| load_referrals(program),
    );
    loaded_page(t("Loading referrals…"), data, move |board| view! { <ReferralsView board decide/> })
}

#[component]
fn ReferralsView(board: ReferralsBoard, decide: ServerAction<DecideReferral>) -> impl IntoView {
    let ReferralsBoard { user, program, rewarded, form, held, recent } = board;
    let can_write = user.role != "viewer";
    let decided = move || decide.value().get().and_then(Result::err).map(error_message);
    let earning = format!("/admin/programs/{}/earning", program.id);
    let (program_id, csrf) = (program.id.clone(), user.csrf.clone());
    view! {
        <TopBar user=user.clone()/>
        <main class="page wide" data-program-id=program.id.clone()>
            <ProgramNav program=program.clone() current="referrals"/>
            <h1>{tr("Referrals")}</h1>
            <p class="muted">{tr("Each signed-in shopper gets a link to share in the widget. A friend who comes by it and signs up or orders is recorded as referred; both earn on the friend's first order. Claims that look wrong wait here for your decision.")}</p>
            {(!rewarded).then(|| view! {
                <p class="notice" data-referrals="unrewarded">
                    {tr("No earning rule pays for referrals yet, so the widget offers no link.")} " "
                    <a href=earning>{tr("Add a “referral” rule on the earning rules page.")}</a>
                </p>
            })}
            <section class="section">
                <h2>{tr("Waiting for a decision")}</h2>
                <p class="error" role="alert">{decided}</p>
                {if held.is_empty() {
                    view! { <p class="muted" data-held="empty">{tr("No referral waits for a decision.")}</p> }.into_any()
                } else {
                    view! {
                        <table class="table" data-held="">
                            <thead><tr>
                                <th>{tr("Customer")}</th><th>{tr("Referred by")}</th><th>{tr("Why it waits")}</th>
                                <th>{tr("Claimed")}</th><th>{tr("Came through")}</th><th></th>
                            </tr></thead>
                            <tbody>
                                {held.into_iter().map(|row| {
                                    let buttons = can_write.then(|| view! {
                                        <DecisionButtons row=row.clone() program=program_id.clone() csrf=csrf.clone() decide/>
                                    });
                                    view! {
                                        <tr data-referred=row.referred_id.clone()>
                                            <td>{row.referred_id.clone()}</td>
                                            <td>{row.referrer_id.clone()}</td>
                                            <td>{row.reasons.join("; ")}</td>
                                            <td>{short_time(&row.created_at)}</td>
                                            <td>{channel_name(&row.channel)}</td>
                                            <td>{buttons}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }}
            </section>
            <ReferralSettings form program=program_id.clone() csrf=csrf.clone() can_write/>
            <section class="section">
                <h2>{tr("Latest referrals")}</h2>
                {if recent.is_empty() {
                    view! { <p class="muted" data-recent="empty">{tr("No referrals yet.")}</p> }.into_any()
                } else {
                    view! {
                        <table class="table" data-recent="">
                            <thead><tr>
                                <th>{tr("Customer")}</th><th>{tr("Referred by")}</th><th>{tr("Status")}</th>
                                <th>{tr("Claimed")}</th><th>{tr("Came through")}</th><th>{tr("Rewarded")}</th>
                            </tr></thead>
                            <tbody>
                                {recent.into_iter().map(|row| view! {
                                    <tr data-referred=row.referred_id.clone() data-status=row.status.clone()>
                                        <td>{row.referred_id.clone()}</td>
                                        <td>{row.referrer_id.clone()}</td>
                                        <td>{status_name(&row.status)} {row.reviewed_by.clone().map(|by| format!(" ({by})"))}</td>
                                        <td>{short_time(&row.created_at)}</td>
                                        <td>{channel_name(&row.channel)}</td>
                                        <td>{row.rewarded_at.as_deref().map_or_else(|| tr("not yet").to_owned(), short_time)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }}
            </section>
        </main>
    }
}

/// Approve and Reject of one held referral: two small forms, so they work without script.
#[component]
fn DecisionButtons(row: ReferralRow, program: String, csrf: String, decide: ServerAction<DecideReferral>) -> impl IntoView {
    let form = move |decision: &'static str, label: &'static str, class: &'static str| {
        let (program, csrf, customer) = (program.clone(), csrf.clone(), row.referred_id.clone());
        view! {
            <ActionForm action=decide attr:class="inline-form">
                <input type="hidden" name="program" value=program/>
                <input type="hidden" name="csrf" value=csrf/>
                <input type="hidden" name="customer" value=customer/>
                <input type="hidden" name="decision" value=decision/>
                <button class=class type="submit" data-decision=decision>{tr(label)}</button>
            </ActionForm>
        }
    };
    let approve = form("approve", t("Approve"), "button primary");
    let reject = form("reject", t("Reject"), "button secondary");
    view! { {approve} " " {reject} }
}

#[component]
fn ReferralSettings(form: ReferralSettingsForm, program: String, csrf: String, can_write: bool) -> impl IntoView {
    let draft = RwSignal::new(form);
    let save = ServerAction::<SaveReferralSettings>::new();
    Effect::new(move |_| {
        if let Some(Ok(saved)) = save.value().get() {
            draft.set(saved);
        }
    });
    let failure = forms::failure(save);
    let message_for = move |field: &'static str| {
        Signal::derive(move || failure().and_then(|(on, text)| (on.as_deref() == Some(field)).then_some(text)))
    };
    let general_error = move || failure().and_then(|(on, text)| on.is_none().then_some(text));
    let saved_note = move || matches!(save.value().get(), Some(Ok(_))).then(|| tr("Saved."));
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        save.dispatch(SaveReferralSettings { program: program.clone(), csrf: csrf.clone(), form: draft.get_untracked() });
    };
    let text = move |label: &'static str, field: &'static str| {
        view! { <TextField label=tr(label) field draft field_of=slot message=message_for(field) disabled=!can_write/> }
    };
    view! {
        <section class="section">
            <h2>{tr("Links and checks")}</h2>
            <form class="form settings" method="post" on:submit=submit aria-label=tr("Referral settings")>
                <forms::ScriptNeeded/>
                {text(t("Link parameter (https://your-shop.example/?ref=CODE)"), "parameter")}
                {text(t("Days the storefront remembers a code"), "keep_days")}
                {text(t("Claims from one network or browser before the next waits for review"), "max_claims")}
                {text(t("… within this many hours"), "window_hours")}
                <p class="error" role="alert">{general_error}</p>
                <p class="notice-inline" role="status">{saved_note}</p>
                {can_write.then(|| view! {
                    <button class="button primary" type="submit" disabled=move || save.pending().get()>{tr("Save settings")}</button>
                })}
            </form>
        </section>
    }
}

fn slot<'a>(form: &'a mut ReferralSettingsForm, field: &str) -> &'a mut String {
    match field {
        "parameter" => &mut form.parameter,
        "keep_days" => &mut form.keep_days,
        "max_claims" => &mut form.max_claims,
        _ => &mut form.window_hours,
    }
}

fn status_name(status: &str) -> &'static str {
    match status {
        "approved" => tr("approved"),
        "held" => tr("waiting"),
        _ => tr("rejected"),
    }
}

fn channel_name(channel: &str) -> &'static str {
    match channel {
        "widget" => tr("the widget"),
        "shopify" => "Shopify",
        "woocommerce" => "WooCommerce",
        _ => tr("the API"),
    }
}

/// Why a referral waits, in the page's language (the server's `hold_reasons`).
pub fn hold_reason(reason: &str) -> &'static str {
    match reason {
        "same_mailbox" => tr("the same mailbox as the referrer's"),
        "already_ordered" => tr("had ordered before the referral"),
        "many_from_address" => tr("many claims from one network"),
        _ => tr("many claims from one browser"),
    }
}

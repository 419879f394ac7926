//! Tiers and campaigns: the ladder (what qualifies, over which window, each tier's threshold,
//! multiplier and benefits) and the time-boxed point multipliers, with a plain-words preview.
//! The server checks them with the same rules as `PUT /api/v1/tiers` and `/campaigns`.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[cfg(feature = "ssr")]
use super::model::ConsoleError;
use super::{
    forms::{self, Column, EditableRows, RowsOf, ScriptNeeded},
    i18n::{t, tr, trf},
    loaded_page,
    model::{CampaignForm, LoyaltyBoard, LoyaltyForm, TierForm},
    ProgramNav, TopBar,
};

/// The tier ladder and the campaigns.
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait LoyaltyConsole: Send + Sync {
    async fn loyalty(&self, session: Option<&str>, program_id: &str) -> Result<LoyaltyBoard, ConsoleError>;
    /// Replaces the ladder and the campaigns (owners and admins), audited.
    async fn save_loyalty(
        &self,
        session: Option<&str>,
        program_id: &str,
        csrf: &str,
        form: LoyaltyForm,
    ) -> Result<LoyaltyForm, ConsoleError>;
}

#[server(prefix = "/admin/fn", endpoint = "loyalty")]
pub async fn load_loyalty(program: String) -> Result<LoyaltyBoard, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.loyalty(session.as_deref(), &program).await.map_err(super::fail)
}

#[server(prefix = "/admin/fn", endpoint = "save_loyalty", input = leptos::server_fn::codec::Json)]
pub async fn save_loyalty(program: String, csrf: String, form: LoyaltyForm) -> Result<LoyaltyForm, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.save_loyalty(session.as_deref(), &program, &csrf, form).await.map_err(super::fail)
}

#[component]
pub fn LoyaltyPage() -> impl IntoView {
    let params = use_params_map();
    let data = Resource::new(move || params.get().get("program").unwrap_or_default(), load_loyalty);
    loaded_page(t("Loading tiers and campaigns…"), data, move |board| view! { <LoyaltyView board/> })
}

/// The ladder and campaigns in words, as shoppers and support staff would say them.
fn preview(form: &LoyaltyForm, points_name: &str, currency: &str) -> Vec<String> {
    let window = match form.window.as_str() {
        "rolling12_months" => tr("in the last 12 months"),
        "calendar_year" => tr("this calendar year"),
        _ => tr("since they joined"),
    };
    let mut lines: Vec<String> = form
        .tiers
        .iter()
        .map(|tier| {
            let threshold = if form.basis == "amount_spent" {
                trf("{0} {1} spent", &[&currency, &tier.threshold.trim()])
            } else {
                trf("{0} {1} earned", &[&tier.threshold.trim(), &points_name])
            };
            let multiplier = tier
                .multiplier_percent
                .trim()
                .parse::<f64>()
                .map_or(String::new(), |percent| trf(", purchases earn {0}x", &[&(percent / 100.0)]));
            let benefits =
                if tier.benefits.trim().is_empty() { String::new() } else { format!(": {}", tier.benefits.trim()) };
            trf("{0} from {1} {2}{3}{4}.", &[&tier.name.trim(), &threshold, &window, &multiplier, &benefits])
        })
        .collect();
    lines.extend(form.campaigns.iter().map(|campaign| {
        let multiplier = campaign
            .multiplier_percent
            .trim()
            .parse::<f64>()
            .map_or(String::new(), |percent| format!("{}x ", percent / 100.0));
        let target = match campaign.applies_to.as_str() {
            "actions" => tr("actions"),
            "all" => tr("purchases and actions"),
            _ => tr("purchases"),
        };
        let off = if campaign.active { "" } else { tr(" (switched off)") };
        trf(
            "{0}: {1}{2} on {3}, {4} to {5}{6}.",
            &[&campaign.name.trim(), &multiplier, &points_name, &target, &campaign.first_day, &campaign.last_day, &off],
        )
    }));
    lines
}

#[component]
fn LoyaltyView(board: LoyaltyBoard) -> impl IntoView {
    let LoyaltyBoard { user, program, currency, time_zone, form } = board;
    let can_write = user.role != "viewer";
    let draft = RwSignal::new(form);
    let save = ServerAction::<SaveLoyalty>::new();
    Effect::new(move |_| {
        if let Some(Ok(saved)) = save.value().get() {
            draft.set(saved);
        }
    });
    let failure = forms::failure(save);
    let error = move || failure().map(|(field, text)| field.map_or(text.clone(), |field| format!("{field}: {text}")));
    let (program_id, csrf) = (program.id.clone(), user.csrf.clone());
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        save.dispatch(SaveLoyalty { program: program_id.clone(), csrf: csrf.clone(), form: draft.get_untracked() });
    };
    let (points_name, preview_currency) = (program.points_name.clone(), currency.clone());
    let lines = move || draft.with(|form| preview(form, &points_name, &preview_currency));
    let choose = move |label: &'static str,
                       options: &'static [(&'static str, &'static str)],
                       get: fn(&LoyaltyForm) -> &String,
                       set: fn(&mut LoyaltyForm, String)| {
        view! {
            <label>{tr(label)} " "
                <select disabled=!can_write on:change=move |event| { let value = event_target_value(&event); draft.update(|form| set(form, value)) }>
                    {options.iter().map(|(value, text)| view! {
                        <option value=*value selected=draft.with_untracked(|form| get(form) == value)>{tr(text)}</option>
                    }).collect_view()}
                </select>
            </label>
        }
    };
    let ladder = view! {
        <section class="section">
            <h2>{tr("Tiers")}</h2>
            {choose(t("Customers qualify by"), &BASES, |form| &form.basis, |form, value| form.basis = value)}
            {choose(t("counted"), &WINDOWS, |form| &form.window, |form, value| form.window = value)}
            <p class="muted">{trf("Thresholds in {0} when customers qualify by money spent; lowest tier first.", &[&currency])}</p>
            <EditableRows draft can_write columns=&TIER_COLUMNS add=t("Add a tier")
                rows=RowsOf { read: |form: &LoyaltyForm| &form.tiers, write: |form| &mut form.tiers }/>
        </section>
    }
    .into_any();
    let campaigns = view! {
        <section class="section">
            <h2>{tr("Campaigns")}</h2>
            <p class="muted">{trf("Days are in the program's time zone ({0}), first and last included. Applies to: purchases, actions or all.", &[&time_zone])}</p>
            <EditableRows draft can_write columns=&CAMPAIGN_COLUMNS add=t("Add a campaign")
                rows=RowsOf { read: |form: &LoyaltyForm| &form.campaigns, write: |form| &mut form.campaigns }/>
        </section>
    }
    .into_any();
    view! {
        <TopBar user/>
        <main class="page wide" data-program-id=program.id.clone()>
            <ProgramNav program=program.clone() current="loyalty"/>
            <h1>{tr("Tiers & campaigns")}</h1>
            <form class="form settings" method="post" on:submit=submit aria-label=tr("Tiers and campaigns")>
                <ScriptNeeded/>
                {ladder}
                {campaigns}
                <section class="section">
                    <h2>{tr("Preview")}</h2>
                    <ul class="preview-lines" aria-live="polite">
                        {move || lines().into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}
                    </ul>
                </section>
                <p class="error" role="alert">{error}</p>
                <p class="notice-inline" role="status">{move || matches!(save.value().get(), Some(Ok(_))).then(|| tr("Saved."))}</p>
                {can_write.then(|| view! {
                    <button class="button primary" type="submit" disabled=move || save.pending().get()>{tr("Save tiers and campaigns")}</button>
                })}
            </form>
        </main>
    }
}

const BASES: [(&str, &str); 2] = [("points_earned", t("points earned")), ("amount_spent", t("money spent"))];
const WINDOWS: [(&str, &str); 3] = [
    ("lifetime", t("since they joined")),
    ("rolling12_months", t("over the last 12 months")),
    ("calendar_year", t("in the calendar year")),
];

const TIER_COLUMNS: [Column<TierForm>; 5] = [
    Column::text(t("Id"), |tier| &mut tier.id),
    Column::text(t("Name"), |tier| &mut tier.name),
    Column::text(t("Threshold"), |tier| &mut tier.threshold),
    Column::text(t("Multiplier %"), |tier| &mut tier.multiplier_percent),
    Column::text(t("Benefits"), |tier| &mut tier.benefits),
];

const CAMPAIGN_COLUMNS: [Column<CampaignForm>; 6] = [
    Column::text(t("Id"), |campaign| &mut campaign.id),
    Column::text(t("Name"), |campaign| &mut campaign.name),
    Column::text(t("Multiplier %"), |campaign| &mut campaign.multiplier_percent),
    Column::text(t("First day"), |campaign| &mut campaign.first_day),
    Column::text(t("Last day"), |campaign| &mut campaign.last_day),
    Column::text(t("Applies to"), |campaign| &mut campaign.applies_to),
];

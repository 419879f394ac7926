//! Earning rules: the purchase rate and rounding, product and category multipliers, and the
//! action rules with their caps. The live preview is computed by the server with the ledger's
//! own rules ("an order of USD 80.00 earns 80 points; 120 at Gold"), never re-implemented here.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::{
    forms::{self, Column, EditableRows, RowsOf, ScriptNeeded, TextField},
    i18n::{t, tr, trf},
    loaded_page,
    model::{ActionRuleForm, EarningBoard, EarningForm},
    ProgramNav, TopBar,
};

#[cfg(feature = "ssr")]
use super::model::ConsoleError;

/// The earning rules.
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait EarningConsole: Send + Sync {
    async fn earning(&self, session: Option<&str>, program_id: &str) -> Result<EarningBoard, ConsoleError>;
    /// Replaces the purchase rule and the action rules (owners and admins), audited.
    async fn save_earning(
        &self,
        session: Option<&str>,
        program_id: &str,
        csrf: &str,
        form: EarningForm,
    ) -> Result<EarningForm, ConsoleError>;
    /// What draft rules would give: lines for an order of `sample` (major units), per tier,
    /// and per action. Nothing is saved.
    async fn preview_earning(
        &self,
        session: Option<&str>,
        program_id: &str,
        form: EarningForm,
        sample: &str,
    ) -> Result<Vec<String>, ConsoleError>;
}

const ACTIONS: [&str; 7] = ["signup", "review", "birthday", "social_follow", "newsletter", "comment", "referral"];
const PERIODS: [(&str, &str); 6] = [
    ("", t("No cap")),
    ("day", t("per day")),
    ("week", t("per week")),
    ("month", t("per month")),
    ("year", t("per year")),
    ("lifetime", t("ever")),
];

#[server(prefix = "/admin/fn", endpoint = "earning")]
pub async fn load_earning(program: String) -> Result<EarningBoard, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.earning(session.as_deref(), &program).await.map_err(super::fail)
}

#[server(prefix = "/admin/fn", endpoint = "save_earning", input = leptos::server_fn::codec::Json)]
pub async fn save_earning(program: String, csrf: String, form: EarningForm) -> Result<EarningForm, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.save_earning(session.as_deref(), &program, &csrf, form).await.map_err(super::fail)
}

/// What the draft rules give for an order of `sample` (major units), per tier, and per action.
#[server(prefix = "/admin/fn", endpoint = "preview_earning", input = leptos::server_fn::codec::Json)]
pub async fn preview_earning(program: String, form: EarningForm, sample: String) -> Result<Vec<String>, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.preview_earning(session.as_deref(), &program, form, &sample).await.map_err(super::fail)
}

#[component]
pub fn EarningPage() -> impl IntoView {
    let params = use_params_map();
    let data = Resource::new(move || params.get().get("program").unwrap_or_default(), load_earning);
    loaded_page(t("Loading the earning rules…"), data, move |board| view! { <EarningView board/> })
}

#[component]
fn EarningView(board: EarningBoard) -> impl IntoView {
    let EarningBoard { user, program, currency, form } = board;
    let can_write = user.role != "viewer";
    let draft = RwSignal::new(form);
    let sample = RwSignal::new("80".to_owned());
    let save = ServerAction::<SaveEarning>::new();
    Effect::new(move |_| {
        if let Some(Ok(saved)) = save.value().get() {
            draft.set(saved);
        }
    });
    let failure = forms::failure(save);
    let message_for = move |field: &'static str| {
        Signal::derive(move || failure().and_then(|(on, text)| (on.as_deref() == Some(field)).then_some(text)))
    };
    // Any message that is not about one of the purchase fields (action rows, multipliers…).
    let other_error = move || {
        failure().and_then(|(on, text)| match on {
            Some(field) if PURCHASE_FIELDS.contains(&field.as_str()) => None,
            Some(field) => Some(format!("{field}: {text}")),
            None => Some(text),
        })
    };
    let preview_program = program.id.clone();
    let preview = Resource::new(
        move || (preview_program.clone(), draft.get(), sample.get()),
        |(program, form, sample)| preview_earning(program, form, sample),
    );
    let (program_id, csrf) = (program.id.clone(), user.csrf.clone());
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        save.dispatch(SaveEarning { program: program_id.clone(), csrf: csrf.clone(), form: draft.get_untracked() });
    };
    let text = move |label: String, field: &'static str| {
        view! { <TextField label field draft field_of=purchase_field message=message_for(field) disabled=!can_write/> }
    };
    let check = move |label: &'static str, get: fn(&EarningForm) -> bool, set: fn(&mut EarningForm, bool)| {
        view! {
            <label class="check">
                <input type="checkbox" disabled=!can_write prop:checked=move || draft.with(get)
                    on:change=move |event| { let checked = event_target_checked(&event); draft.update(|form| set(form, checked)) }/>
                " " {tr(label)}
            </label>
        }
    };
    // Built apart and type-erased: one view type this deep overflows the compiler's limits.
    let purchase = view! {
        <section class="section">
            <h2>{tr("Purchases")}</h2>
            {text(tr("Points").into(), "points")}
            {text(trf("… for every (in {0})", &[&currency]), "per_amount")}
            <label>{tr("Rounding")} " "
                <select name="rounding" disabled=!can_write
                    on:change=move |event| { let value = event_target_value(&event); draft.update(|form| form.rounding = value) }>
                    {[("floor", tr("Down")), ("round", tr("To the nearest")), ("ceil", tr("Up"))].into_iter().map(|(value, label)| view! {
                        <option value=value selected=draft.with_untracked(|form| form.rounding == value)>{label}</option>
                    }).collect_view()}
                </select>
            </label>
            {check(t("Shipping earns points"), |form| form.include_shipping, |form, on| form.include_shipping = on)}
            {check(t("Tax earns points"), |form| form.include_tax, |form, on| form.include_tax = on)}
            {check(t("Discounts reduce the amount that earns"), |form| form.subtract_discount, |form, on| form.subtract_discount = on)}
            {text(trf("Orders below this amount earn nothing (in {0})", &[&currency]), "minimum_order")}
            <Multipliers label=tr("Product multipliers (one “product-id = percent” per line; 200 doubles)") field="product_multipliers" draft can_write/>
            <Multipliers label=tr("Category multipliers (one “category-id = percent” per line)") field="category_multipliers" draft can_write/>
        </section>
    }
    .into_any();
    let actions = view! {
        <section class="section">
            <h2>{tr("Actions")}</h2>
            <EditableRows draft can_write columns=&ACTION_COLUMNS add=t("Add an action")
                rows=RowsOf { read: |form: &EarningForm| &form.actions, write: |form| &mut form.actions }/>
        </section>
    }
    .into_any();
    let preview_section = view! {
        <section class="section">
            <h2>{tr("Preview")}</h2>
            <label>{trf("An order of (in {0})", &[&currency])} " "
                <input name="sample" prop:value=move || sample.get()
                    on:input=move |event| sample.set(event_target_value(&event))/>
            </label>
            <Transition fallback=|| view! { <p class="muted">"…"</p> }>
                <ul class="preview-lines" aria-live="polite">
                    {move || preview.get().map(|lines| match lines {
                        Ok(lines) => lines.into_iter().map(|line| view! { <li>{line}</li> }).collect_view().into_any(),
                        Err(error) => view! { <li class="error">{forms::field_error(&error.to_string()).1}</li> }.into_any(),
                    })}
                </ul>
            </Transition>
        </section>
    }
    .into_any();
    view! {
        <TopBar user/>
        <main class="page wide" data-program-id=program.id.clone()>
            <ProgramNav program=program.clone() current="earning"/>
            <h1>{tr("Earning rules")}</h1>
            <form class="form settings" method="post" on:submit=submit aria-label=tr("Earning rules")>
                <ScriptNeeded/>
                {purchase}
                {actions}
                {preview_section}
                <p class="error" role="alert">{other_error}</p>
                <p class="notice-inline" role="status">{move || matches!(save.value().get(), Some(Ok(_))).then(|| tr("Saved."))}</p>
                {can_write.then(|| view! {
                    <button class="button primary" type="submit" disabled=move || save.pending().get()>{tr("Save earning rules")}</button>
                })}
            </form>
        </main>
    }
}

const PURCHASE_FIELDS: [&str; 3] = ["points", "per_amount", "minimum_order"];

#[component]
fn Multipliers(
    label: &'static str,
    field: &'static str,
    draft: RwSignal<EarningForm>,
    can_write: bool,
) -> impl IntoView {
    view! {
        <label>{label}
            <textarea name=field rows="3" disabled=!can_write
                prop:value=move || draft.with(|form| forms::read(form, purchase_field, field))
                on:input=move |event| { let value = event_target_value(&event); draft.update(|form| *purchase_field(form, field) = value) }/>
        </label>
    }
}

const ACTION_COLUMNS: [Column<ActionRuleForm>; 5] = [
    Column { header: t("Action"), label: "", field: |rule| &mut rule.action, choices: &[], suggestions: &ACTIONS },
    Column::text(t("Points"), |rule| &mut rule.points),
    Column::text(t("Referred customer gets"), |rule| &mut rule.referred_points),
    Column {
        header: t("At most"),
        label: t("Cap count"),
        field: |rule| &mut rule.cap_count,
        choices: &[],
        suggestions: &[],
    },
    Column { header: "", label: t("Cap period"), field: |rule| &mut rule.cap_per, choices: &PERIODS, suggestions: &[] },
];

/// The purchase rule's text field of each name (the category multipliers for any other).
fn purchase_field<'a>(form: &'a mut EarningForm, field: &str) -> &'a mut String {
    match field {
        "points" => &mut form.points,
        "per_amount" => &mut form.per_amount,
        "rounding" => &mut form.rounding,
        "minimum_order" => &mut form.minimum_order,
        "product_multipliers" => &mut form.product_multipliers,
        _ => &mut form.category_multipliers,
    }
}

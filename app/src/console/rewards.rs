//! The rewards catalog: list, create, edit, deactivate, with field-level messages and a live
//! preview of what the shopper will get. The server validates with the same domain rules as
//! the REST API.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::{
    charts::format_number,
    forms::{self, TextField},
    i18n::{t, tr, trf},
    loaded_page,
    model::{RewardForm, RewardRow, RewardsBoard},
    money::{format_money, parse_amount},
    ProgramNav, TopBar,
};

#[cfg(feature = "ssr")]
use super::model::ConsoleError;

/// The rewards catalog.
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait RewardConsole: Send + Sync {
    async fn rewards(&self, session: Option<&str>, program_id: &str) -> Result<RewardsBoard, ConsoleError>;
    /// Creates or replaces a reward (owners and admins), audited.
    async fn save_reward(
        &self,
        session: Option<&str>,
        program_id: &str,
        csrf: &str,
        form: RewardForm,
    ) -> Result<RewardRow, ConsoleError>;
    async fn set_reward_active(
        &self,
        session: Option<&str>,
        program_id: &str,
        csrf: &str,
        reward_id: &str,
        active: bool,
    ) -> Result<RewardRow, ConsoleError>;
}

const KINDS: [(&str, &str); 5] = [
    ("amount_off", t("Amount off")),
    ("percent_off", t("Percent off")),
    ("free_shipping", t("Free shipping")),
    ("free_product", t("Free product")),
    ("points_to_currency", t("Points to money (shopper picks the amount)")),
];

#[server(prefix = "/admin/fn", endpoint = "rewards")]
pub async fn load_rewards(program: String) -> Result<RewardsBoard, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.rewards(session.as_deref(), &program).await.map_err(super::fail)
}

/// Creates (`form.reward_id` empty) or replaces a reward.
#[server(prefix = "/admin/fn", endpoint = "save_reward", input = leptos::server_fn::codec::Json)]
pub async fn save_reward(program: String, csrf: String, form: RewardForm) -> Result<RewardRow, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.save_reward(session.as_deref(), &program, &csrf, form).await.map_err(super::fail)
}

/// Offers a reward again, or stops offering it (rewards are never deleted: coupons refer to them).
#[server(prefix = "/admin/fn", endpoint = "set_reward_active")]
pub async fn set_reward_active(
    program: String,
    csrf: String,
    reward_id: String,
    active: bool,
) -> Result<RewardRow, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.set_reward_active(session.as_deref(), &program, &csrf, &reward_id, active).await.map_err(super::fail)
}

/// What the shopper gets, in words, or the first field that is not right yet (`field`, message).
pub fn describe_reward(form: &RewardForm, currency: &str) -> Result<String, (&'static str, String)> {
    let whole = |field: &'static str, text: &str| -> Result<i64, (&'static str, String)> {
        text.trim().replace(',', "").parse::<i64>().map_err(|_| (field, tr("a whole number").to_owned()))
    };
    let money = |field: &'static str, text: &str| parse_amount(text, currency).map_err(|message| (field, message));
    Ok(match form.kind.as_str() {
        "amount_off" => trf("{0} off the order", &[&format_money(money("amount", &form.amount)?, currency)]),
        "percent_off" => trf("{0}% off the order", &[&whole("percent", &form.percent)?]),
        "free_shipping" => tr("Free shipping").to_owned(),
        "free_product" if form.product_id.trim().is_empty() => {
            return Err(("product_id", tr("the product's id in your shop").to_owned()))
        }
        "free_product" => trf("Product {0} for free", &[&form.product_id.trim()]),
        "points_to_currency" => trf(
            "{0} off for every {1} points, {2} to {3} points in steps of {4}",
            &[
                &format_money(money("unit_value", &form.unit_value)?, currency),
                &format_number(whole("points_per_unit", &form.points_per_unit)?),
                &format_number(whole("min_points", &form.min_points)?),
                &format_number(whole("max_points", &form.max_points)?),
                &format_number(whole("step", &form.step)?),
            ],
        ),
        _ => return Err(("kind", tr("choose what the reward gives").to_owned())),
    })
}

/// The live preview line: what it gives, for how many points, to whom, for how long.
fn preview(form: &RewardForm, currency: &str, points_name: &str, tiers: &[(String, String)]) -> String {
    let gives = match describe_reward(form, currency) {
        Ok(gives) => gives,
        Err((field, message)) => return trf("Not ready: {0}: {1}", &[&field, &message]),
    };
    let mut line = if form.kind == "points_to_currency" {
        gives
    } else {
        let cost = form.points.trim().replace(',', "").parse::<i64>().unwrap_or(0);
        trf("{0} for {1} {2}", &[&gives, &format_number(cost), &points_name])
    };
    if let Some((_, tier)) = tiers.iter().find(|(id, _)| *id == form.min_tier) {
        line.push_str(&trf(", {0} and above", &[tier]));
    }
    let days = form.coupon_valid_days.trim();
    line.push_str(&trf("; the coupon is valid {0} days", &[&if days.is_empty() { "30" } else { days }]));
    match form.stock.trim() {
        "" => {}
        stock => line.push_str(&trf("; {0} left", &[&stock])),
    }
    if !form.active {
        line.push_str(tr(" (not offered yet)"));
    }
    line.push_str(tr("."));
    line
}

#[component]
pub fn RewardsPage() -> impl IntoView {
    let params = use_params_map();
    let save = ServerAction::<SaveReward>::new();
    let toggle = ServerAction::<SetRewardActive>::new();
    // The form being edited (`None` while none is open): kept here, outside what reloads, so that a
    // refused save leaves the form and its messages as they are.
    let editing = RwSignal::new(None::<RewardForm>);
    let saved = RwSignal::new(0_u32);
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            editing.set(None);
            saved.update(|count| *count += 1);
        }
    });
    let request = move || (params.get().get("program").unwrap_or_default(), saved.get(), toggle.version().get());
    let data = Resource::new(request, |(program, _, _)| load_rewards(program));
    loaded_page(t("Loading rewards…"), data, move |board| view! { <RewardsView board save toggle editing/> })
}

#[component]
fn RewardsView(
    board: RewardsBoard,
    save: ServerAction<SaveReward>,
    toggle: ServerAction<SetRewardActive>,
    editing: RwSignal<Option<RewardForm>>,
) -> impl IntoView {
    let RewardsBoard { user, program, currency, tiers, rewards } = board;
    let can_write = user.role != "viewer";
    let new_reward =
        RewardForm { kind: "amount_off".into(), coupon_valid_days: "30".into(), active: true, ..RewardForm::default() };
    let toggle_error = move || match toggle.value().get() {
        Some(Err(error)) => Some(super::error_message(error)),
        _ => None,
    };
    let (program_id, csrf) = (program.id.clone(), user.csrf.clone());
    let row_csrf = user.csrf.clone();
    view! {
        <TopBar user/>
        <main class="page wide" data-program-id=program.id.clone()>
            <ProgramNav program=program.clone() current="rewards"/>
            <h1>{tr("Rewards")}</h1>
            <p class="error" role="alert">{toggle_error}</p>
            {can_write.then(|| view! {
                <button class="button primary" on:click=move |_| {
                    // A fresh form: no messages from an earlier save.
                    save.clear();
                    editing.set(Some(new_reward.clone()))
                }>{tr("New reward")}</button>
            })}
            {move || editing.get().map(|form| view! {
                <RewardEditor form program_id=program_id.clone() csrf=csrf.clone() currency=currency.clone()
                    points_name=program.points_name.clone() tiers=tiers.clone() save editing/>
            })}
            <table class="table rewards">
                <thead><tr><th>{tr("Reward")}</th><th>{tr("Gives")}</th><th class="num">{tr("Points")}</th><th class="num">{tr("Stock")}</th>
                    <th>{tr("Status")}</th><th></th></tr></thead>
                <tbody>
                    {rewards.into_iter().map(|row| view! {
                        <RewardTableRow row can_write program_id=program.id.clone() csrf=row_csrf.clone() editing toggle save/>
                    }).collect_view()}
                </tbody>
            </table>
        </main>
    }
}

#[component]
fn RewardTableRow(
    row: RewardRow,
    can_write: bool,
    program_id: String,
    csrf: String,
    editing: RwSignal<Option<RewardForm>>,
    toggle: ServerAction<SetRewardActive>,
    save: ServerAction<SaveReward>,
) -> impl IntoView {
    let RewardRow { id, gives, cost, stock, active, form } = row;
    let name = form.name.clone();
    let switch = {
        let id = id.clone();
        move |_| {
            toggle.dispatch(SetRewardActive {
                program: program_id.clone(),
                csrf: csrf.clone(),
                reward_id: id.clone(),
                active: !active,
            });
        }
    };
    view! {
        <tr data-reward=id.clone() data-active=active.to_string()>
            <td>{name.clone()} <div class="muted">{form.description.clone()}</div></td>
            <td>{gives}</td>
            <td class="num">{cost}</td>
            <td class="num">{stock.map(format_number).unwrap_or_else(|| "∞".into())}</td>
            <td>{if active { tr("Offered") } else { tr("Not offered") }}</td>
            <td class="actions">
                {can_write.then(|| view! {
                    <button class="button" aria-label=trf("Edit {0}", &[&name]) on:click=move |_| { save.clear(); editing.set(Some(form.clone())) }>{tr("Edit")}</button>
                    <button class="button" on:click=switch>{if active { tr("Deactivate") } else { tr("Activate") }}</button>
                })}
            </td>
        </tr>
    }
}

#[component]
fn RewardEditor(
    form: RewardForm,
    program_id: String,
    csrf: String,
    currency: String,
    points_name: String,
    tiers: Vec<(String, String)>,
    save: ServerAction<SaveReward>,
    editing: RwSignal<Option<RewardForm>>,
) -> impl IntoView {
    let title = if form.reward_id.is_some() { tr("Edit reward") } else { tr("New reward") };
    let draft = RwSignal::new(form);
    // Messages of the last failed save, by field.
    let failure = forms::failure(save);
    let message_for = move |field: &'static str| {
        Signal::derive(move || failure().and_then(|(on, text)| (on.as_deref() == Some(field)).then_some(text)))
    };
    let general_error = move || failure().and_then(|(on, text)| on.is_none().then_some(text));
    let preview_line = {
        let (currency, points_name, tiers) = (currency.clone(), points_name.clone(), tiers.clone());
        move || preview(&draft.get(), &currency, &points_name, &tiers)
    };
    let kind = move || draft.with(|form| form.kind.clone());
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        save.dispatch(SaveReward { program: program_id.clone(), csrf: csrf.clone(), form: draft.get_untracked() });
    };
    let money_hint = trf("in {0}", &[&currency]);
    view! {
        <form class="form editor" method="post" on:submit=submit aria-label=title>
            <h2>{title}</h2>
            <p class="preview" aria-live="polite">{preview_line}</p>
            <TextField field_of=slot label=tr("Name") field="name" draft message=message_for("name")/>
            <TextField field_of=slot label=tr("Description (optional)") field="description" draft message=message_for("description")/>
            <label>{tr("Gives")} " "
                <select name="kind" on:change=move |event| { let value = event_target_value(&event); draft.update(|form| form.kind = value) }>
                    {KINDS.iter().map(|(value, label)| view! {
                        <option value=*value selected=draft.with_untracked(|form| form.kind == *value)>{tr(label)}</option>
                    }).collect_view()}
                </select>
            </label>
            <Show when=move || kind() == "amount_off">
                <TextField field_of=slot label=trf("Amount off ({0})", &[&money_hint]) field="amount" draft message=message_for("amount")/>
            </Show>
            <Show when=move || kind() == "percent_off">
                <TextField field_of=slot label=tr("Percent off") field="percent" draft message=message_for("percent")/>
            </Show>
            <Show when=move || kind() == "free_product">
                <TextField field_of=slot label=tr("Product id") field="product_id" draft message=message_for("product_id")/>
            </Show>
            <Show
                when=move || kind() == "points_to_currency"
                fallback=move || view! { <TextField field_of=slot label=tr("Points it costs") field="points" draft message=message_for("points")/> }
            >
                <TextField field_of=slot label=tr("Points per unit") field="points_per_unit" draft message=message_for("points_per_unit")/>
                <TextField field_of=slot label=tr("Unit value") field="unit_value" draft message=message_for("unit_value")/>
                <TextField field_of=slot label=tr("Fewest points") field="min_points" draft message=message_for("min_points")/>
                <TextField field_of=slot label=tr("Most points") field="max_points" draft message=message_for("max_points")/>
                <TextField field_of=slot label=tr("Step") field="step" draft message=message_for("step")/>
            </Show>
            <label>{tr("Tier")} " "
                <select name="min_tier" on:change=move |event| { let value = event_target_value(&event); draft.update(|form| form.min_tier = value) }>
                    <option value="" selected=draft.with_untracked(|form| form.min_tier.is_empty())>{tr("Everyone")}</option>
                    {tiers.iter().map(|(id, name)| view! {
                        <option value=id.clone() selected=draft.with_untracked(|form| form.min_tier == *id)>{trf("{0} and above", &[name])}</option>
                    }).collect_view()}
                </select>
            </label>
            <TextField field_of=slot label=tr("Limit per customer (empty: none)") field="per_customer_limit" draft message=message_for("per_customer_limit")/>
            <TextField field_of=slot label=tr("Coupon valid (days)") field="coupon_valid_days" draft message=message_for("coupon_valid_days")/>
            <TextField field_of=slot label=tr("Stock (empty: unlimited)") field="stock" draft message=message_for("stock")/>
            <label class="check">
                <input type="checkbox" name="active" prop:checked=move || draft.with(|form| form.active)
                    on:change=move |event| { let checked = event_target_checked(&event); draft.update(|form| form.active = checked) }/>
                " " {tr("Offered to shoppers")}
            </label>
            <p class="error" role="alert">{general_error}</p>
            <p>
                <button class="button primary" type="submit" disabled=move || save.pending().get()>{tr("Save reward")}</button>
                " "
                <button class="button" type="button" on:click=move |_| editing.set(None)>{tr("Cancel")}</button>
            </p>
        </form>
    }
}

/// The text field named `field` (the stock for any other name).
fn slot<'a>(form: &'a mut RewardForm, field: &str) -> &'a mut String {
    match field {
        "name" => &mut form.name,
        "description" => &mut form.description,
        "amount" => &mut form.amount,
        "percent" => &mut form.percent,
        "product_id" => &mut form.product_id,
        "points" => &mut form.points,
        "points_per_unit" => &mut form.points_per_unit,
        "unit_value" => &mut form.unit_value,
        "min_points" => &mut form.min_points,
        "max_points" => &mut form.max_points,
        "step" => &mut form.step,
        "per_customer_limit" => &mut form.per_customer_limit,
        "coupon_valid_days" => &mut form.coupon_valid_days,
        _ => &mut form.stock,
    }
}

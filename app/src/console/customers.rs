//! Customers: the searchable list (with CSV export) and a customer's page, where admins adjust
//! points. The search, order and page are in the URL, so every view can be bookmarked.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::{
    charts::format_number,
    encode_query_value,
    i18n::{t, tr, trf},
    kind_name, loaded_page,
    model::{Adjusted, CustomerCard, CustomerDetail, CustomerList, CustomerQuery, CustomerRow, EntryRow},
    non_empty, short_time, ProgramNav, TopBar,
};

#[cfg(feature = "ssr")]
use super::model::{AdjustmentForm, ConsoleError};

/// A page of the program's customers, a customer's page, manual adjustments.
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait CustomerConsole: Send + Sync {
    /// A page of the program's customers.
    async fn customers(
        &self,
        session: Option<&str>,
        program_id: &str,
        query: CustomerQuery,
    ) -> Result<CustomerList, ConsoleError>;
    /// A customer's page; `before` pages through older ledger entries.
    async fn customer(
        &self,
        session: Option<&str>,
        program_id: &str,
        customer_id: &str,
        before: Option<u64>,
    ) -> Result<CustomerDetail, ConsoleError>;
    /// Adds or takes points by hand (owners and admins), audited.
    async fn adjust(
        &self,
        session: Option<&str>,
        program_id: &str,
        customer_id: &str,
        form: AdjustmentForm,
    ) -> Result<Adjusted, ConsoleError>;
    /// Erases the customer's personal data (owners and admins), audited; returns the
    /// pseudonym their ledger carries now.
    async fn erase(
        &self,
        session: Option<&str>,
        program_id: &str,
        customer_id: &str,
        csrf: &str,
    ) -> Result<String, ConsoleError>;
}

const SORTS: [(&str, &str); 6] = [
    ("joined", t("Newest first")),
    ("activity", t("Recently active")),
    ("points", t("Most points first")),
    ("id", t("Customer id")),
    ("name", t("Name")),
    ("email", t("Email")),
];

// JSON: a form encoding drops a struct argument whose fields are all empty.
#[server(prefix = "/admin/fn", endpoint = "customers", input = leptos::server_fn::codec::Json)]
pub async fn load_customers(program: String, query: CustomerQuery) -> Result<CustomerList, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.customers(session.as_deref(), &program, query).await.map_err(super::fail)
}

#[server(prefix = "/admin/fn", endpoint = "customer")]
pub async fn load_customer(
    program: String,
    customer: String,
    before: Option<u64>,
) -> Result<CustomerDetail, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.customer(session.as_deref(), &program, &customer, before).await.map_err(super::fail)
}

/// A manual adjustment through the same ledger write as the REST API's, audited.
#[server(prefix = "/admin/fn", endpoint = "adjust_points")]
pub async fn adjust_points(
    program: String,
    customer: String,
    csrf: String,
    adjustment_id: String,
    points: String,
    reason: String,
) -> Result<Adjusted, ServerFnError> {
    use super::model::AdjustmentForm;
    let (backend, session) = super::backend()?;
    let form = AdjustmentForm { csrf, adjustment_id, points, reason };
    backend.adjust(session.as_deref(), &program, &customer, form).await.map_err(super::fail)
}

/// Erases a customer's personal data, then shows their ledger under its pseudonym.
#[server(prefix = "/admin/fn", endpoint = "erase_customer")]
pub async fn erase_customer(
    program: String,
    customer: String,
    csrf: String,
    confirm: Option<String>,
) -> Result<(), ServerFnError> {
    if confirm.is_none() {
        let message = super::i18n::tr("tick the box to confirm: erasure cannot be undone").into();
        return Err(super::fail(ConsoleError::Invalid { field: "confirm".into(), message }));
    }
    let (backend, session) = super::backend()?;
    let pseudonym = backend.erase(session.as_deref(), &program, &customer, &csrf).await.map_err(super::fail)?;
    leptos_axum::redirect(&customer_path(&program, &pseudonym));
    Ok(())
}

/// The path of a customer's page.
pub fn customer_path(program_id: &str, customer_id: &str) -> String {
    format!("/admin/programs/{program_id}/customers/{}", encode_query_value(customer_id))
}

#[component]
pub fn CustomersPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let request = move || {
        let query = query.get();
        let program = params.get().get("program").unwrap_or_default();
        let search = CustomerQuery {
            q: non_empty(query.get("q")),
            sort: non_empty(query.get("sort")),
            page: query.get("page").and_then(|page| page.parse().ok()),
        };
        (program, search)
    };
    let data = Resource::new(request, |(program, search)| async move {
        Ok::<_, ServerFnError>((load_customers(program, search.clone()).await?, search))
    });
    loaded_page(t("Loading customers…"), data, move |(list, search)| view! { <CustomersView list search/> })
}

#[component]
fn CustomersView(list: CustomerList, search: CustomerQuery) -> impl IntoView {
    let CustomerList { user, program, rows, total, page, page_size } = list;
    let base = format!("/admin/programs/{}/customers", program.id);
    let sort = search.sort.clone().unwrap_or_else(|| "joined".into());
    let text = search.q.clone().unwrap_or_default();
    let query_string = {
        let (sort, text) = (sort.clone(), text.clone());
        move |page: Option<u64>| {
            let mut query = format!("sort={sort}");
            if !text.is_empty() {
                query.push_str(&format!("&q={}", encode_query_value(&text)));
            }
            if let Some(page) = page {
                query.push_str(&format!("&page={page}"));
            }
            query
        }
    };
    let pages = total.div_ceil(u64::from(page_size)).max(1);
    let previous = (page > 1).then(|| format!("{base}?{}", query_string(Some(page - 1))));
    let next = (page < pages).then(|| format!("{base}?{}", query_string(Some(page + 1))));
    let csv = format!("{base}.csv?{}", query_string(None));
    let program_id = program.id.clone();
    view! {
        <TopBar user/>
        <main class="page wide" data-program-id=program.id.clone()>
            <ProgramNav program=program.clone() current="customers"/>
            <h1>{tr("Customers")}</h1>
            <form class="filters" method="get" action=base.clone() role="search">
                <label>{tr("Search")} " "
                    <input type="search" name="q" value=text.clone() placeholder=tr("Customer id, email or name")/>
                </label>
                <label>{tr("Order")} " "
                    <select name="sort">
                        {SORTS.iter().map(|(value, label)| view! {
                            <option value=*value selected=sort == *value>{tr(label)}</option>
                        }).collect_view()}
                    </select>
                </label>
                <button class="button" type="submit">{tr("Search")}</button>
                <a class="button" href=csv download>{tr("Export CSV")}</a>
            </form>
            <p class="muted result-count">{trf("{0} customers", &[&format_number(total as i64)])}
                {(pages > 1).then(|| trf(" · page {0} of {1}", &[&page, &pages]))}</p>
            <table class="table customers">
                <thead><tr>
                    <th>{tr("Customer")}</th><th>{tr("Name")}</th><th>{tr("Email")}</th><th>{tr("Tier")}</th>
                    <th class="num">{tr("Available")}</th><th class="num">{tr("Pending")}</th><th>{tr("Joined")}</th><th>{tr("Last active")}</th>
                </tr></thead>
                <tbody>
                    {rows.into_iter().map(|row: CustomerRow| view! {
                        <tr data-customer=row.customer_id.clone()>
                            <td><a href=customer_path(&program_id, &row.customer_id)>{row.customer_id.clone()}</a></td>
                            <td>{row.name.unwrap_or_default()}</td>
                            <td>{row.email.unwrap_or_default()}</td>
                            <td>{row.tier.unwrap_or_else(|| "—".into())}</td>
                            <td class="num">{format_number(row.available)}</td>
                            <td class="num">{format_number(row.pending)}</td>
                            <td>{short_time(&row.joined_at)}</td>
                            <td>{row.last_activity_at.as_deref().map(short_time).unwrap_or_else(|| "—".into())}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            <p class="pager">
                {previous.map(|link| view! { <a class="button" href=link rel="prev">{tr("Previous")}</a> })}
                {next.map(|link| view! { <a class="button" href=link rel="next">{tr("Next")}</a> })}
            </p>
        </main>
    }
}

#[component]
pub fn CustomerPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let adjust = ServerAction::<AdjustPoints>::new();
    let request = move || {
        let params = params.get();
        let before = query.get().get("before").and_then(|before| before.parse().ok());
        // A finished adjustment reloads the page's data.
        (
            params.get("program").unwrap_or_default(),
            params.get("customer").unwrap_or_default(),
            before,
            adjust.version().get(),
        )
    };
    let data = Resource::new(request, |(program, customer, before, _)| load_customer(program, customer, before));
    loaded_page(t("Loading the customer…"), data, move |detail| view! { <CustomerView detail adjust/> })
}

#[component]
fn CustomerView(detail: CustomerDetail, adjust: ServerAction<AdjustPoints>) -> impl IntoView {
    let CustomerDetail { user, program, customer, entries, older, coupons, emails, next_adjustment_id } = detail;
    let emails_program = program.id.clone();
    let can_write = user.role != "viewer";
    let older_link =
        older.map(|before| format!("{}?before={before}", customer_path(&program.id, &customer.customer_id)));
    let csrf = user.csrf.clone();
    let erase_csrf = user.csrf.clone();
    view! {
        <TopBar user/>
        <main class="page wide" data-program-id=program.id.clone() data-customer=customer.customer_id.clone()>
            <ProgramNav program=program.clone() current="customers"/>
            <h1>{customer.customer_id.clone()} " " <span class="muted">{customer.name.clone().unwrap_or_default()}</span></h1>
            <CustomerSummary customer=customer.clone() points_name=program.points_name.clone()/>
            {if can_write {
                view! { <AdjustPointsForm program_id=program.id.clone() customer=customer.clone() csrf
                    adjustment_id=next_adjustment_id.clone() adjust/> }.into_any()
            } else {
                view! { <p class="muted" data-read-only="true">{tr("Viewers can look, not change points.")}</p> }.into_any()
            }}
            <section class="section" aria-labelledby="ledger-title">
                <h2 id="ledger-title">{tr("Ledger")}</h2>
                <table class="table ledger">
                    <thead><tr><th>{tr("When (UTC)")}</th><th>{tr("Kind")}</th><th>{tr("Source")}</th><th class="num">{program.points_name.clone()}</th>
                        <th class="num">{tr("Balance after")}</th><th>{tr("Reference")}</th><th>{tr("Pending until")}</th></tr></thead>
                    <tbody>
                        {entries.into_iter().map(|row: EntryRow| view! {
                            <tr data-seq=row.seq.to_string() data-kind=row.kind.clone()>
                                <td>{short_time(&row.created_at)}</td>
                                <td>{kind_name(&row.kind)}</td>
                                <td>{row.source.clone()}</td>
                                <td class="num">{format_number(row.points)}</td>
                                <td class="num">{format_number(row.balance_after)}</td>
                                <td>{row.reference.clone().unwrap_or_default()}</td>
                                <td>{row.pending_until.as_deref().map(short_time).unwrap_or_default()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
                {older_link.map(|link| view! { <p><a class="button" href=link rel="next">{tr("Older entries")}</a></p> })}
            </section>
            <PersonalData program_id=program.id.clone() customer_id=customer.customer_id.clone() csrf=erase_csrf
                can_write/>
            <section class="section" aria-labelledby="coupons-title">
                <h2 id="coupons-title">{tr("Coupons")}</h2>
                {if coupons.is_empty() {
                    view! { <p class="muted">{tr("No coupons yet.")}</p> }.into_any()
                } else {
                    view! {
                        <table class="table coupons">
                            <thead><tr><th>{tr("Code")}</th><th>{tr("Reward")}</th><th class="num">{program.points_name.clone()}</th><th>{tr("Status")}</th><th>{tr("Expires (UTC)")}</th></tr></thead>
                            <tbody>
                                {coupons.into_iter().map(|coupon| view! {
                                    <tr data-status=coupon.status.clone()>
                                        <td><code>{coupon.code}</code></td>
                                        <td>{coupon.reward_id}</td>
                                        <td class="num">{format_number(coupon.points)}</td>
                                        <td>{coupon_status(&coupon.status)}</td>
                                        <td>{short_time(&coupon.expires_at)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }}
            </section>
            <section class="section" aria-labelledby="emails-title">
                <h2 id="emails-title">{tr("Emails")}</h2>
                <super::emails::EmailLog log=emails program_id=emails_program/>
            </section>
        </main>
    }
}

/// The customer's data on request: the whole of it as a JSON file, and (owners and admins) its
/// erasure, confirmed first.
#[component]
fn PersonalData(program_id: String, customer_id: String, csrf: String, can_write: bool) -> impl IntoView {
    let export = format!("{}/export.json", customer_path(&program_id, &customer_id));
    let erase = ServerAction::<EraseCustomer>::new();
    let error = move || match erase.value().get() {
        Some(Err(error)) => Some(super::error_message(error)),
        _ => None,
    };
    view! {
        <section class="section" aria-labelledby="privacy-title">
            <h2 id="privacy-title">{tr("Personal data")}</h2>
            <p><a class="button" href=export download>{tr("Download everything held about this customer (JSON)")}</a></p>
            {can_write.then(|| view! {
                <ActionForm action=erase attr:class="form erase">
                    <input type="hidden" name="program" value=program_id.clone()/>
                    <input type="hidden" name="customer" value=customer_id.clone()/>
                    <input type="hidden" name="csrf" value=csrf.clone()/>
                    <label class="check"><input type="checkbox" name="confirm" required/>
                        {tr("I understand: the email, name, birthday and tags are deleted for good; the points stay, under a pseudonym.")}</label>
                    <p class="error" role="alert">{error}</p>
                    <button class="button danger" type="submit">{tr("Erase personal data")}</button>
                </ActionForm>
            })}
        </section>
    }
    .into_any()
}

#[component]
fn CustomerSummary(customer: CustomerCard, points_name: String) -> impl IntoView {
    let stats = [
        ("available", tr("Available"), customer.available),
        ("pending", tr("Pending"), customer.pending),
        ("expiring", tr("Expiring in 30 days"), customer.expiring_soon),
        ("earned", tr("Earned, all time"), customer.lifetime_earned),
        ("redeemed", tr("Redeemed, all time"), customer.lifetime_redeemed),
    ];
    let tier_line = match (&customer.tier, &customer.next_tier, customer.to_next_tier) {
        (tier, Some(next), Some(missing)) => trf(
            "{0} · {1} {2} to {3}",
            &[&tier.clone().unwrap_or_else(|| tr("No tier yet").into()), &format_number(missing), &points_name, next],
        ),
        (Some(tier), _, _) => trf("{0} (the top tier)", &[tier]),
        _ => tr("No tiers in this program").into(),
    };
    let profile_line = [
        customer.email.clone(),
        customer.birthday.as_ref().map(|birthday| trf("birthday {0}", &[birthday])),
        (!customer.tags.is_empty()).then(|| trf("tags: {0}", &[&customer.tags.join(", ")])),
        Some(trf("joined {0}", &[&short_time(&customer.joined_at)])),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    view! {
        <section class="section" aria-label=tr("Balances")>
            <dl class="stats">
                {stats.into_iter().map(|(key, label, value)| view! {
                    <div class="stat" data-stat=key><dt>{label}</dt><dd>{format_number(value)}</dd></div>
                }).collect_view()}
            </dl>
            <p class="tier-line" data-tier=customer.tier.clone().unwrap_or_default()>{tier_line}</p>
            {customer.progress_percent.map(|percent| view! {
                <div class="progress" role="progressbar" aria-label=tr("Progress to the next tier")
                    aria-valuemin="0" aria-valuemax="100" aria-valuenow=percent.to_string()>
                    <div class="progress-fill" style=format!("width: {percent}%")></div>
                </div>
            })}
            <p class="muted">{profile_line}</p>
        </section>
    }
}

/// A coupon status's name.
fn coupon_status(status: &str) -> String {
    match status {
        "issued" => tr("issued"),
        "consumed" => tr("used"),
        "cancelled" => tr("cancelled"),
        other => return other.to_owned(),
    }
    .to_owned()
}

/// Points and a reason, reviewed before they are applied: a second step shows what will
/// happen and only its button writes.
#[component]
fn AdjustPointsForm(
    program_id: String,
    customer: CustomerCard,
    csrf: String,
    adjustment_id: String,
    adjust: ServerAction<AdjustPoints>,
) -> impl IntoView {
    let points = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let reviewing = RwSignal::new(false);
    let problem = RwSignal::new(None::<String>);
    let available = customer.available;
    let review = move |_| {
        let parsed = points.get_untracked().trim().parse::<i64>();
        problem.set(match parsed {
            Ok(0) | Err(_) => Some(tr("Points: a whole number other than 0, e.g. 50 or -20.").into()),
            Ok(value) if value < 0 && -value > available => {
                Some(trf("Points: the customer has only {0} available to take.", &[&format_number(available)]))
            }
            _ if reason.get_untracked().trim().is_empty() => Some(tr("Reason: say why (the customer may ask).").into()),
            _ => None,
        });
        reviewing.set(problem.get_untracked().is_none());
    };
    let summary = move || {
        let value = points.get().trim().parse::<i64>().unwrap_or(0);
        let template = if value > 0 {
            t("Add {0} points: the balance goes from {1} to {2}. Reason: {3}")
        } else {
            t("Take away {0} points: the balance goes from {1} to {2}. Reason: {3}")
        };
        let (amount, from, to) =
            (format_number(value.abs()), format_number(available), format_number(available + value));
        trf(template, &[&amount, &from, &to, &reason.get().trim()])
    };
    let result = move || match adjust.value().get() {
        Some(Ok(done)) => Some((
            "notice",
            trf(
                match (done.points > 0, done.replay) {
                    (true, false) => t("Added {0} points. Balance now {1}."),
                    (false, false) => t("Took away {0} points. Balance now {1}."),
                    (true, true) => t("Added {0} points (already applied before). Balance now {1}."),
                    (false, true) => t("Took away {0} points (already applied before). Balance now {1}."),
                },
                &[&format_number(done.points.abs()), &format_number(done.balance_after)],
            ),
        )),
        Some(Err(error)) => Some(("error", super::error_message(error))),
        None => None,
    };
    view! {
        <section class="section adjust" aria-labelledby="adjust-title">
            <h2 id="adjust-title">{tr("Adjust points")}</h2>
            {move || result().map(|(class, message)| view! { <p class=class role="status">{message}</p> })}
            <ActionForm action=adjust attr:class="form inline-form">
                <input type="hidden" name="program" value=program_id/>
                <input type="hidden" name="customer" value=customer.customer_id.clone()/>
                <input type="hidden" name="csrf" value=csrf/>
                <input type="hidden" name="adjustment_id" value=adjustment_id/>
                <label>{tr("Points (negative to take away)")}
                    <input name="points" inputmode="numeric" required bind:value=points
                        prop:readonly=move || reviewing.get()/></label>
                <label>{tr("Reason (shown in the ledger)")}
                    <input name="reason" maxlength="500" required bind:value=reason
                        prop:readonly=move || reviewing.get()/></label>
                <p class="error" role="alert">{move || problem.get()}</p>
                <Show
                    when=move || reviewing.get()
                    fallback=move || view! { <button class="button" type="button" on:click=review>{tr("Review")}</button> }
                >
                    <p class="confirm-summary">{summary}</p>
                    <button class="button primary" type="submit">{tr("Confirm adjustment")}</button>
                    <button class="button" type="button" on:click=move |_| reviewing.set(false)>{tr("Back")}</button>
                </Show>
            </ActionForm>
        </section>
    }
}

//! The program dashboard: Points Status, Point Sources, Top Earning Customers, Points History.
//! Everything is in the URL (`?range=…&from=…&to=…&customer=…&source=…&kind=…&cursor=…`), so
//! every view can be bookmarked, and the forms work without JavaScript.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::{
    charts::{format_number, BarChart, HorizontalBars},
    customers::customer_path,
    encode_query_value,
    forms,
    i18n::{t, tr, trf},
    kind_name, loaded_page,
    source_name,
    model::{Dashboard, HistoryQuery, HistoryView, ProgramBoard, ProgramHeader, RangeChoice, SignedInUser},
    money::format_money,
    non_empty, short_time, ProgramNav, TopBar,
};

/// Presets in the order the picker lists them.
const PRESETS: [(&str, &str); 8] = [
    ("week_to_date", t("Week to date")),
    ("month_to_date", t("Month to date")),
    ("quarter_to_date", t("Quarter to date")),
    ("year_to_date", t("Year to date")),
    ("last_week", t("Last week")),
    ("last_month", t("Last month")),
    ("last_quarter", t("Last quarter")),
    ("last_year", t("Last year")),
];

const KINDS: [&str; 6] = ["earn", "redeem", "adjust", "reverse", "expire", "void"];

// JSON: a form encoding drops a struct argument whose fields are all empty.
#[server(prefix = "/admin/fn", endpoint = "dashboard", input = leptos::server_fn::codec::Json)]
pub async fn load_dashboard(
    program: String,
    choice: RangeChoice,
    filter: HistoryQuery,
) -> Result<ProgramBoard, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.dashboard(session.as_deref(), &program, choice, filter).await.map_err(super::fail)
}

#[component]
pub fn DashboardPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let request = move || {
        let query = query.get();
        let program = params.get().get("program").unwrap_or_default();
        let choice = RangeChoice {
            range: non_empty(query.get("range")),
            from: non_empty(query.get("from")),
            to: non_empty(query.get("to")),
        };
        let filter = HistoryQuery {
            customer: non_empty(query.get("customer")),
            source: non_empty(query.get("source")),
            kind: non_empty(query.get("kind")),
            cursor: non_empty(query.get("cursor")),
        };
        (program, choice, filter)
    };
    let data = Resource::new(request, |(program, choice, filter)| async move {
        let board = load_dashboard(program, choice.clone(), filter.clone()).await?;
        Ok::<_, ServerFnError>((board, choice, filter))
    });
    loaded_page(
        t("Loading the dashboard…"),
        data,
        move |(ProgramBoard { user, program, dashboard, history, range_error }, choice, filter)| view! { <DashboardView user program dashboard history choice filter range_error/> },
    )
}

#[component]
fn DashboardView(
    user: SignedInUser,
    program: ProgramHeader,
    dashboard: Dashboard,
    history: HistoryView,
    choice: RangeChoice,
    filter: HistoryQuery,
    range_error: Option<String>,
) -> impl IntoView {
    let Dashboard {
        program_id,
        program_name,
        currency,
        points_name,
        time_zone,
        range,
        first_day,
        last_day,
        status,
        series,
        sources,
        top_earners,
    } = dashboard;
    let base = format!("/admin/programs/{program_id}");
    let (asked_from, asked_to) = match &range_error {
        Some(_) => (choice.from.clone().unwrap_or_default(), choice.to.clone().unwrap_or_default()),
        None => (first_day.clone(), last_day.clone()),
    };
    let labels: Vec<String> = series.iter().map(|point| point.label.clone()).collect();
    let earned: Vec<i64> = series.iter().map(|point| point.earned).collect();
    let redeemed: Vec<i64> = series.iter().map(|point| point.redeemed).collect();
    let liability = format_money(status.liability, &currency);
    let stats = [
        ("issued", tr("Issued"), status.issued),
        ("redeemed", tr("Redeemed"), status.redeemed),
        ("expired", tr("Expired"), status.expired),
        ("reversed", tr("Reversed by refunds"), status.reversed),
        ("adjusted", tr("Adjusted (net)"), status.adjusted),
        ("outstanding", tr("Outstanding now"), status.outstanding),
        ("pending", tr("Pending now"), status.pending),
    ];
    // The range travels with every history link, so paging keeps the dashboard as it is.
    let range_query = match (&choice.from, &choice.to) {
        (Some(from), Some(to)) if range == "custom" => format!("range=custom&from={from}&to={to}"),
        _ => format!("range={range}"),
    };
    // The range and the filters, as a query string.
    let query_of = move |filter: &HistoryQuery| {
        let mut query = range_query.clone();
        for (name, value) in [
            ("customer", &filter.customer),
            ("source", &filter.source),
            ("kind", &filter.kind),
            ("cursor", &filter.cursor),
        ] {
            if let Some(value) = value {
                query.push_str(&format!("&{name}={}", encode_query_value(value)));
            }
        }
        query
    };
    let history_link = {
        let base = base.clone();
        let query_of = query_of.clone();
        move |filter: &HistoryQuery| format!("{base}?{}#history", query_of(filter))
    };
    let next_page = history
        .next_cursor
        .clone()
        .map(|cursor| history_link(&HistoryQuery { cursor: Some(cursor), ..filter.clone() }));
    // The export is every page: no cursor.
    let csv = format!("{base}/history.csv?{}", query_of(&HistoryQuery { cursor: None, ..filter.clone() }));
    let source_rows: Vec<(String, i64)> = sources.iter().map(|total| (source_name(&total.source), total.points)).collect();
    let sources_total: i64 = sources.iter().map(|total| total.points).sum();
    view! {
        <TopBar user/>
        <main class="page wide" data-program-id=program_id.clone()>
            <ProgramNav program current="dashboard"/>
            <h1>{program_name.clone()}</h1>
            <form class="range" method="get" action=base.clone()>
                <label>{tr("Range")} " "
                    <select name="range">
                        {PRESETS.iter().map(|(value, label)| view! {
                            <option value=*value selected=range == *value>{tr(label)}</option>
                        }).collect_view()}
                        <option value="custom" selected=range == "custom">{tr("Custom dates")}</option>
                    </select>
                </label>
                // What was asked for stays in the fields when it could not be shown.
                <label>{tr("From")} " " <input type="date" name="from" value=asked_from/></label>
                <label>{tr("To")} " " <input type="date" name="to" value=asked_to/></label>
                <button class="button" type="submit">{tr("Apply")}</button>
                <span class="muted range-note">{first_day.clone()} " – " {last_day.clone()} " · " {time_zone.clone()}</span>
                {range_error.map(|error| {
                    let (field, text) = forms::field_error(&error);
                    view! { <p class="error range-error" role="alert" data-range-error=field.unwrap_or_default()>{text}</p> }
                })}
            </form>

            <section class="section" id="status" aria-labelledby="status-title">
                <h2 id="status-title">{tr("Points status")}</h2>
                <dl class="stats">
                    {stats.into_iter().map(|(key, label, value)| view! {
                        <div class="stat" data-stat=key><dt>{label}</dt><dd>{format_number(value)}</dd></div>
                    }).collect_view()}
                    <div class="stat" data-stat="liability"><dt>{tr("Liability")}</dt><dd>{liability}</dd></div>
                </dl>
                <BarChart title=trf("{0} earned and redeemed, {1} to {2}", &[&points_name, &first_day, &last_day])
                    labels series=vec![(tr("earned"), "bar-earned", earned), (tr("redeemed"), "bar-redeemed", redeemed)]/>
            </section>

            <section class="section" id="sources" aria-labelledby="sources-title">
                <h2 id="sources-title">{tr("Point sources")}</h2>
                <p class="muted">{tr("Points earned in the range by where they came from: together they are “Issued”. Points added or taken by hand are “Adjusted”, apart.")}</p>
                {if source_rows.is_empty() {
                    view! { <p class="muted">{tr("Nothing earned in this range.")}</p> }.into_any()
                } else {
                    view! {
                        <HorizontalBars title=trf("{0} earned by source", &[&points_name]) rows=source_rows.clone()/>
                        <table class="table sources">
                            <thead><tr><th>{tr("Source")}</th><th class="num">{points_name.clone()}</th><th class="num">{tr("Share")}</th></tr></thead>
                            <tbody>
                                {sources.iter().map(|total| (total.source.clone(), total.points)).map(|(source, points)| view! {
                                    <tr data-source=source.clone()>
                                        <td>{source_name(&source)}</td>
                                        <td class="num">{format_number(points)}</td>
                                        <td class="num">{format!("{:.1} %", 100.0 * points as f64 / sources_total.max(1) as f64)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                            <tfoot><tr data-source-total=""><th>{tr("Total (Issued)")}</th><td class="num">{format_number(sources_total)}</td><td class="num">"100 %"</td></tr></tfoot>
                        </table>
                    }.into_any()
                }}
            </section>

            <section class="section" id="top" aria-labelledby="top-title">
                <h2 id="top-title">{tr("Top earning customers")}</h2>
                <table class="table top-earners">
                    <thead><tr><th>"#"</th><th>{tr("Customer")}</th><th class="num">{tr("Earned in range")}</th><th class="num">{tr("Balance")}</th><th>{tr("Tier")}</th></tr></thead>
                    <tbody>
                        {top_earners.into_iter().enumerate().map(|(index, row)| {
                            let link = customer_path(&program_id, &row.customer_id);
                            let who = row.name.clone().or(row.email.clone()).unwrap_or_default();
                            view! {
                                <tr data-customer=row.customer_id.clone()>
                                    <td>{index + 1}</td>
                                    <td><a href=link>{row.customer_id.clone()}</a> " " <span class="muted">{who}</span></td>
                                    <td class="num">{format_number(row.earned)}</td>
                                    <td class="num">{format_number(row.balance)}</td>
                                    <td>{row.tier.unwrap_or_else(|| "—".into())}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </section>

            <section class="section" id="history" aria-labelledby="history-title">
                <h2 id="history-title">{tr("Points history")}</h2>
                <form class="filters" method="get" action=format!("{base}#history")>
                    <input type="hidden" name="range" value=range.clone()/>
                    <input type="hidden" name="from" value=first_day.clone()/>
                    <input type="hidden" name="to" value=last_day.clone()/>
                    <label>{tr("Customer")} " " <input name="customer" value=filter.customer.clone().unwrap_or_default()/></label>
                    <label>{tr("Source")} " " <input name="source" value=filter.source.clone().unwrap_or_default()/></label>
                    <label>{tr("Kind")} " "
                        <select name="kind">
                            <option value="" selected=filter.kind.is_none()>{tr("Any")}</option>
                            {KINDS.iter().map(|kind| view! {
                                <option value=*kind selected=filter.kind.as_deref() == Some(*kind)>{kind_name(kind)}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    <button class="button" type="submit">{tr("Filter")}</button>
                    <a class="button" href=csv download>{tr("Export CSV")}</a>
                </form>
                <table class="table history">
                    <thead><tr><th>{tr("When (UTC)")}</th><th>{tr("Customer")}</th><th>{tr("Kind")}</th><th>{tr("Source")}</th><th class="num">{points_name.clone()}</th><th class="num">{tr("Balance after")}</th><th>{tr("Reference")}</th></tr></thead>
                    <tbody>
                        {history.rows.into_iter().map(|row| view! {
                            <tr data-kind=row.kind.clone() data-customer=row.customer_id.clone()>
                                <td>{short_time(&row.created_at)}</td>
                                <td><a href=customer_path(&program_id, &row.customer_id)>{row.customer_id.clone()}</a></td>
                                <td>{kind_name(&row.kind)}</td>
                                <td data-source=row.source.clone()>{source_name(&row.source)}</td>
                                <td class="num">{format_number(row.points)}</td>
                                <td class="num">{format_number(row.balance_after)}</td>
                                <td>{row.reference.clone().unwrap_or_default()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
                {next_page.map(|link| view! { <p><a class="button" href=link rel="next">{tr("Next page")}</a></p> })}
            </section>
        </main>
    }
}

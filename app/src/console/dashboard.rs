//! The program dashboard: Points Status, Point Sources, Top Earning Customers, Points History.
//! Everything is in the URL (`?range=…&from=…&to=…&customer=…&source=…&kind=…&cursor=…`), so
//! every view can be bookmarked, and the forms work without JavaScript.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::{
    charts::{format_number, BarChart, HorizontalBars},
    customers::customer_path,
    encode_query_value, loaded_page,
    model::{ConsoleUser, Dashboard, HistoryQuery, HistoryView, ProgramBoard, ProgramHeader, RangeChoice},
    money::format_money,
    non_empty, short_time, ProgramNav, TopBar,
};

/// Presets in the order the picker lists them.
const PRESETS: [(&str, &str); 8] = [
    ("week_to_date", "Week to date"),
    ("month_to_date", "Month to date"),
    ("quarter_to_date", "Quarter to date"),
    ("year_to_date", "Year to date"),
    ("last_week", "Last week"),
    ("last_month", "Last month"),
    ("last_quarter", "Last quarter"),
    ("last_year", "Last year"),
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
        "Loading the dashboard…",
        data,
        move |(ProgramBoard { user, dashboard, history }, choice, filter)| view! { <DashboardView user dashboard history choice filter/> },
    )
}

#[component]
fn DashboardView(
    user: ConsoleUser,
    dashboard: Dashboard,
    history: HistoryView,
    choice: RangeChoice,
    filter: HistoryQuery,
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
    let labels: Vec<String> = series.iter().map(|point| point.label.clone()).collect();
    let earned: Vec<i64> = series.iter().map(|point| point.earned).collect();
    let redeemed: Vec<i64> = series.iter().map(|point| point.redeemed).collect();
    let liability = format_money(status.liability, &currency);
    let stats = [
        ("issued", "Issued", status.issued),
        ("redeemed", "Redeemed", status.redeemed),
        ("expired", "Expired", status.expired),
        ("reversed", "Reversed by refunds", status.reversed),
        ("adjusted", "Adjusted (net)", status.adjusted),
        ("outstanding", "Outstanding now", status.outstanding),
        ("pending", "Pending now", status.pending),
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
    let source_rows: Vec<(String, i64)> = sources.iter().map(|total| (total.source.clone(), total.points)).collect();
    let sources_total: i64 = sources.iter().map(|total| total.points).sum();
    view! {
        <TopBar user/>
        <main class="page wide" data-program-id=program_id.clone()>
            <ProgramNav program=ProgramHeader { id: program_id.clone(), name: program_name.clone(), points_name: points_name.clone() }
                current="dashboard"/>
            <h1>{program_name.clone()}</h1>
            <form class="range" method="get" action=base.clone()>
                <label>"Range "
                    <select name="range">
                        {PRESETS.iter().map(|(value, label)| view! {
                            <option value=*value selected=range == *value>{*label}</option>
                        }).collect_view()}
                        <option value="custom" selected=range == "custom">"Custom dates"</option>
                    </select>
                </label>
                <label>"From " <input type="date" name="from" value=first_day.clone()/></label>
                <label>"To " <input type="date" name="to" value=last_day.clone()/></label>
                <button class="button" type="submit">"Apply"</button>
                <span class="muted range-note">{first_day.clone()} " – " {last_day.clone()} " · " {time_zone.clone()}</span>
            </form>

            <section class="section" id="status" aria-labelledby="status-title">
                <h2 id="status-title">"Points status"</h2>
                <dl class="stats">
                    {stats.into_iter().map(|(key, label, value)| view! {
                        <div class="stat" data-stat=key><dt>{label}</dt><dd>{format_number(value)}</dd></div>
                    }).collect_view()}
                    <div class="stat" data-stat="liability"><dt>"Liability"</dt><dd>{liability}</dd></div>
                </dl>
                <BarChart title=format!("{points_name} earned and redeemed, {first_day} to {last_day}")
                    labels series=vec![("earned", "bar-earned", earned), ("redeemed", "bar-redeemed", redeemed)]/>
            </section>

            <section class="section" id="sources" aria-labelledby="sources-title">
                <h2 id="sources-title">"Point sources"</h2>
                {if source_rows.is_empty() {
                    view! { <p class="muted">"Nothing earned in this range."</p> }.into_any()
                } else {
                    view! {
                        <HorizontalBars title=format!("{points_name} earned by source") rows=source_rows.clone()/>
                        <table class="table sources">
                            <thead><tr><th>"Source"</th><th class="num">{points_name.clone()}</th><th class="num">"Share"</th></tr></thead>
                            <tbody>
                                {source_rows.into_iter().map(|(source, points)| view! {
                                    <tr data-source=source.clone()>
                                        <td>{source.clone()}</td>
                                        <td class="num">{format_number(points)}</td>
                                        <td class="num">{format!("{:.1} %", 100.0 * points as f64 / sources_total.max(1) as f64)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }}
            </section>

            <section class="section" id="top" aria-labelledby="top-title">
                <h2 id="top-title">"Top earning customers"</h2>
                <table class="table top-earners">
                    <thead><tr><th>"#"</th><th>"Customer"</th><th class="num">"Earned in range"</th><th class="num">"Balance"</th><th>"Tier"</th></tr></thead>
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
                <h2 id="history-title">"Points history"</h2>
                <form class="filters" method="get" action=format!("{base}#history")>
                    <input type="hidden" name="range" value=range.clone()/>
                    <input type="hidden" name="from" value=first_day.clone()/>
                    <input type="hidden" name="to" value=last_day.clone()/>
                    <label>"Customer " <input name="customer" value=filter.customer.clone().unwrap_or_default()/></label>
                    <label>"Source " <input name="source" value=filter.source.clone().unwrap_or_default()/></label>
                    <label>"Kind "
                        <select name="kind">
                            <option value="" selected=filter.kind.is_none()>"Any"</option>
                            {KINDS.iter().map(|kind| view! {
                                <option value=*kind selected=filter.kind.as_deref() == Some(*kind)>{*kind}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    <button class="button" type="submit">"Filter"</button>
                    <a class="button" href=csv download>"Export CSV"</a>
                </form>
                <table class="table history">
                    <thead><tr><th>"When (UTC)"</th><th>"Customer"</th><th>"Kind"</th><th>"Source"</th><th class="num">{points_name.clone()}</th><th class="num">"Balance after"</th><th>"Reference"</th></tr></thead>
                    <tbody>
                        {history.rows.into_iter().map(|row| view! {
                            <tr data-kind=row.kind.clone() data-customer=row.customer_id.clone()>
                                <td>{short_time(&row.created_at)}</td>
                                <td><a href=customer_path(&program_id, &row.customer_id)>{row.customer_id.clone()}</a></td>
                                <td>{row.kind.clone()}</td>
                                <td>{row.source.clone()}</td>
                                <td class="num">{format_number(row.points)}</td>
                                <td class="num">{format_number(row.balance_after)}</td>
                                <td>{row.reference.clone().unwrap_or_default()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
                {next_page.map(|link| view! { <p><a class="button" href=link rel="next">"Next page"</a></p> })}
            </section>
        </main>
    }
}

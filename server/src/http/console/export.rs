//! CSV exports of the console: the Points History and the customer list, streamed page by
//! page so memory stays flat for any size.

use std::{fmt::Write as _, sync::Arc};

use axum::{
    body::Body,
    extract::{Path, Query, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use futures_util::{stream, StreamExt};
use tally_app::console::{
    model::{ConsoleError, CustomerQuery, HistoryQuery, RangeChoice},
    session_token,
};

use super::{customers::customer_search, invalid_field, ConsoleService};
use crate::{
    dashboard,
    http::{problem::Problem, AppState},
    programs::Program,
    storage::{CustomerSearch, HistoryCursor, HistoryFilter, Storage},
};

#[derive(serde::Deserialize)]
pub(super) struct CsvQuery {
    range: Option<String>,
    from: Option<String>,
    to: Option<String>,
    customer: Option<String>,
    source: Option<String>,
    kind: Option<String>,
}

/// The Points History of the range and filters as CSV, streamed page by page.
pub(super) async fn history_csv(
    State(state): State<AppState>,
    Path(program_id): Path<String>,
    Query(query): Query<CsvQuery>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let program = readable_program(&state, &headers, &program_id).await?;
    let choice = RangeChoice { range: query.range, from: query.from, to: query.to };
    let now = state.clock.now();
    let range =
        dashboard::resolve_range(&program, &choice, now).map_err(|error| console_problem(invalid_field(error)))?;
    let filter = dashboard::history_filter(
        &HistoryQuery { customer: query.customer, source: query.source, kind: query.kind, cursor: None },
        Some(range.bounds(&dashboard::program_time_zone(&program))),
    )
    .map_err(|error| console_problem(invalid_field(error)))?;
    let storage = state.storage.clone();
    let stream = csv_lines(storage, program, filter);
    let file_name = format!("tally-{program_id}-history-{}-{}.csv", range.first, range.last);
    Ok(csv_response(&file_name, stream))
}

/// The CSV: its header, then a chunk per page of entries, so memory stays flat for any size.
fn csv_lines(
    storage: Arc<dyn Storage>,
    program: Program,
    filter: HistoryFilter,
) -> impl futures_core::Stream<Item = Result<String, std::io::Error>> {
    const PAGE: u32 = 5_000;
    const HEADER: &str = "created_at,customer_id,kind,points,source,reference,order_id,balance_after\n";
    // The state is where the next page starts; `None` once a short page said there is no more.
    let pages = stream::unfold(Some(None::<HistoryCursor>), move |after| {
        let (storage, program_id, filter) = (storage.clone(), program.id.clone(), filter.clone());
        async move {
            let after = after?;
            let rows = match storage.program_history(&program_id, &filter, after.as_ref(), PAGE).await {
                Ok(rows) if rows.is_empty() => return None,
                Ok(rows) => rows,
                Err(error) => {
                    tracing::error!(%error, "CSV export stopped");
                    return Some((Err(std::io::Error::other(error.to_string())), None));
                }
            };
            let mut chunk = String::new();
            for row in &rows {
                let _ = writeln!(
                    chunk,
                    "{},{},{},{},{},{},{},{}",
                    row.created_at,
                    csv_field(&row.customer_id),
                    row.kind.as_str(),
                    row.points,
                    csv_field(&row.source),
                    csv_field(row.reference.as_deref().unwrap_or_default()),
                    csv_field(row.order_id.as_deref().unwrap_or_default()),
                    row.balance_after
                );
            }
            let next = (rows.len() == PAGE as usize).then(|| rows.last().map(|row| row.cursor()));
            Some((Ok(chunk), next))
        }
    });
    stream::once(async { Ok(HEADER.to_owned()) }).chain(pages)
}

/// What makes a spreadsheet read a cell as a formula when it is the first character that is not
/// blank, full-width forms included (spreadsheets in CJK locales fold them to ASCII).
const FORMULA_STARTS: [char; 9] = ['=', '+', '-', '@', '|', '\u{ff1d}', '\u{ff0b}', '\u{ff0d}', '\u{ff20}'];

/// Quotes a field when it needs it, and defuses spreadsheet formulas: a cell whose first
/// non-blank character starts one gets a leading `'`.
fn csv_field(value: &str) -> String {
    let formula = value.trim_start().starts_with(FORMULA_STARTS);
    let value = if formula { format!("'{value}") } else { value.to_owned() };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[derive(serde::Deserialize)]
pub(super) struct CustomerCsvQuery {
    q: Option<String>,
    sort: Option<String>,
}

/// The customers a search matches, every page of them, with their balances now.
pub(super) async fn customers_csv(
    State(state): State<AppState>,
    Path(program_id): Path<String>,
    Query(query): Query<CustomerCsvQuery>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    const PAGE: u32 = 1_000;
    let program = readable_program(&state, &headers, &program_id).await?;
    let search =
        customer_search(&CustomerQuery { q: query.q, sort: query.sort, page: None }, PAGE).map_err(console_problem)?;
    let file_name = format!("tally-{program_id}-customers.csv");
    Ok(csv_response(&file_name, customer_lines(state, program, search)))
}

fn customer_lines(
    state: AppState,
    program: Program,
    search: CustomerSearch,
) -> impl futures_core::Stream<Item = Result<String, std::io::Error>> {
    const HEADER: &str = "customer_id,email,name,tier,available,pending,joined_at,last_activity_at\n";
    let pages = stream::unfold(Some(search), move |search| {
        let (state, program) = (state.clone(), program.clone());
        async move {
            let search = search?;
            let expiry = program.settings.expiry;
            let listings = match state.storage.search_customers(&program.id, &search, expiry).await {
                Ok((listings, _)) if listings.is_empty() => return None,
                Ok((listings, _)) => listings,
                Err(error) => {
                    tracing::error!(%error, "CSV export stopped");
                    return Some((Err(std::io::Error::other(error.to_string())), None));
                }
            };
            let now = state.clock.now();
            let mut chunk = String::new();
            for listing in &listings {
                let balances = listing.account.balances_at(now, program.settings.notifications.expiry_warning_days);
                let tier = listing.tier_id.as_deref().and_then(|id| program.settings.tiers.tier(id));
                let _ = writeln!(
                    chunk,
                    "{},{},{},{},{},{},{},{}",
                    csv_field(&listing.customer_id),
                    csv_field(listing.profile.email.as_deref().unwrap_or_default()),
                    csv_field(listing.profile.name.as_deref().unwrap_or_default()),
                    csv_field(tier.map(|tier| tier.name.as_str()).unwrap_or_default()),
                    balances.available,
                    balances.pending,
                    listing.created_at,
                    listing.account.last_activity_at.map(|at| at.to_string()).unwrap_or_default(),
                );
            }
            let next = (listings.len() == search.limit as usize)
                .then(|| CustomerSearch { offset: search.offset + u64::from(search.limit), ..search });
            Some((Ok(chunk), next))
        }
    });
    stream::once(async { Ok(HEADER.to_owned()) }).chain(pages)
}

/// The program, if the request's session may read it.
async fn readable_program(state: &AppState, headers: &HeaderMap, program_id: &str) -> Result<Program, Problem> {
    let service = ConsoleService(state.clone());
    let (_, user) = service.session(session_token(headers)).await.map_err(console_problem)?;
    service.program(&user, program_id).await.map_err(console_problem)
}

/// Everything held about one customer, as the API's export document, as a file to keep.
pub(super) async fn customer_json(
    State(state): State<AppState>,
    Path((program_id, customer_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let program = readable_program(&state, &headers, &program_id).await?;
    let export = state.points.export_customer(&program, &customer_id).await?;
    let document = crate::http::api::customers::ExportDocument::new(&program, export, state.clock.now());
    let file_name = format!("tally-{program_id}-customer-export.json");
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file_name}\"")),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        axum::Json(document),
    )
        .into_response())
}

/// A refused console call as a problem answer with its status.
pub(super) fn console_problem(error: ConsoleError) -> Problem {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    Problem::new(status, "console", "Console request refused", error.message())
}

/// A CSV download that is never cached.
fn csv_response(
    file_name: &str,
    lines: impl futures_core::Stream<Item = Result<String, std::io::Error>> + Send + 'static,
) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file_name}\"")),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        Body::from_stream(lines),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("-12"), "'-12");
        assert_eq!(csv_field("  =1+1"), "'  =1+1", "after leading spaces");
        assert_eq!(csv_field("\t@SUM(A1)"), "'\t@SUM(A1)", "after a tab");
        assert_eq!(csv_field("\n\r+cmd"), "\"'\n\r+cmd\"", "after newlines (quoted: they end a row)");
        assert_eq!(csv_field("\u{3000}\u{ff1d}1+1"), "'\u{3000}\u{ff1d}1+1", "full-width = after an ideographic space");
        for full_width in ["\u{ff0b}1", "\u{ff0d}1", "\u{ff20}A1"] {
            assert_eq!(csv_field(full_width), format!("'{full_width}"));
        }
        assert_eq!(csv_field("Ana = B"), "Ana = B", "only the first character counts");
    }
}

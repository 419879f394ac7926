//! The console dashboard: the four sections, computed from the ledger for a program and a
//! date range in the program's time zone.

pub mod calendar;

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use tally_app::console::model::{
    Dashboard, EntryRow, HistoryQuery, HistoryView, PointsStatus, RangeChoice, SeriesPoint, SourceTotal, TopEarnerRow,
};

use crate::{
    customers::CustomerId,
    ledger::{EntryKind, Points, Timestamp},
    message::{message, FieldError},
    programs::Program,
    storage::{EntryRecord, Flow, HistoryCursor, HistoryFilter, Storage, StorageError},
};
use calendar::{bucket_index, DateRange, RangePreset};

/// Customers in the Top Earning Customers table.
pub const TOP_EARNERS: u32 = 10;
/// Entries per page of the Points History.
pub const HISTORY_PAGE: u32 = 50;

pub fn program_time_zone(program: &Program) -> TimeZone {
    program.settings.time_zone.as_deref().and_then(calendar::time_zone).unwrap_or(TimeZone::UTC)
}

/// The range an admin chose: a preset (month to date when none), or custom dates.
pub fn resolve_range(program: &Program, choice: &RangeChoice, now: Timestamp) -> Result<DateRange, FieldError> {
    let today = calendar::today(now, &program_time_zone(program));
    match choice.range.as_deref() {
        None => Ok(DateRange::preset(RangePreset::MonthToDate, today)),
        Some("custom") => match (&choice.from, &choice.to) {
            (Some(from), Some(to)) => DateRange::custom(from, to),
            _ => Err(FieldError::new("from", message!("a start and an end date for a custom range"))),
        },
        Some(name) => {
            let preset = RangePreset::parse(name)
                .map(|preset| DateRange::preset(preset, today))
                .ok_or_else(|| FieldError::new("range", message!("one of the presets, or custom")))?;
            // The form sends the preset's days with it: other days were typed, and mean them.
            match (&choice.from, &choice.to) {
                (Some(from), Some(to)) if (from.as_str(), to.as_str()) != (&*preset.first.to_string(), &*preset.last.to_string()) => {
                    DateRange::custom(from, to)
                }
                _ => Ok(preset),
            }
        }
    }
}

/// The history filters; `bounds` limits the entries to a time range (the CSV export does).
pub fn history_filter(
    query: &HistoryQuery,
    bounds: Option<(Timestamp, Timestamp)>,
) -> Result<HistoryFilter, FieldError> {
    let customer_id = match query.customer.as_deref() {
        None => None,
        Some(id) => Some(
            CustomerId::parse(id)
                .map_err(|_| FieldError::new("customer", message!("a customer id")))?
                .as_str()
                .to_owned(),
        ),
    };
    let kind = match query.kind.as_deref() {
        None => None,
        Some(kind) => Some(
            EntryKind::parse(kind)
                .ok_or_else(|| FieldError::new("kind", message!("earn, redeem, adjust, reverse, expire or void")))?,
        ),
    };
    Ok(HistoryFilter {
        customer_id,
        source: query.source.clone(),
        kind,
        from: bounds.map(|(from, _)| from),
        to: bounds.map(|(_, to)| to),
    })
}

/// Sections 1 to 3.
pub async fn load(
    storage: &dyn Storage,
    program: &Program,
    range: &DateRange,
    now: Timestamp,
) -> Result<Dashboard, StorageError> {
    let tz = program_time_zone(program);
    // Sections 1 and 2 share one read: the chart's cuts span the whole range.
    let flows = storage.flows(&program.id, &chart_cuts(range, &tz)).await?;
    let (status, series) = status_of(storage, program, range, now, &flows).await?;
    Ok(Dashboard {
        program_id: program.id.clone(),
        program_name: program.name.clone(),
        currency: program.currency.clone(),
        points_name: program.points_name.clone(),
        time_zone: tz.iana_name().unwrap_or("UTC").to_owned(),
        range: range.preset.map_or("custom", RangePreset::as_str).to_owned(),
        first_day: range.first.to_string(),
        last_day: range.last.to_string(),
        status,
        series,
        sources: sources_of(&flows),
        top_earners: top_earners(storage, program, range, now).await?,
    })
}

/// The chart buckets' starts and the range's end: they cut the range (the first bucket starts
/// it), so one read of the flows gives both the range's totals and the chart.
fn chart_cuts(range: &DateRange, tz: &TimeZone) -> Vec<Timestamp> {
    let (_, to) = range.bounds(tz);
    range.buckets(tz).iter().map(|bucket| bucket.start).chain([to]).collect()
}

/// Section 1: the range's flows, the balances now, and earned vs redeemed per bucket.
pub async fn points_status(
    storage: &dyn Storage,
    program: &Program,
    range: &DateRange,
    now: Timestamp,
) -> Result<(PointsStatus, Vec<SeriesPoint>), StorageError> {
    let flows = storage.flows(&program.id, &chart_cuts(range, &program_time_zone(program))).await?;
    status_of(storage, program, range, now, &flows).await
}

/// Section 1 from the flows between `chart_cuts`.
async fn status_of(
    storage: &dyn Storage,
    program: &Program,
    range: &DateRange,
    now: Timestamp,
    flows: &[Flow],
) -> Result<(PointsStatus, Vec<SeriesPoint>), StorageError> {
    let buckets = range.buckets(&program_time_zone(program));
    let total = |kind: EntryKind| flows.iter().filter(|flow| flow.kind == kind).map(Flow::net).sum::<i64>();
    let (outstanding, pending) = storage.outstanding(&program.id, now, program.settings.expiry).await?;
    let value = program.settings.redemption_value;
    let status = PointsStatus {
        issued: total(EntryKind::Earn),
        redeemed: -total(EntryKind::Redeem),
        expired: -total(EntryKind::Expire),
        reversed: -(total(EntryKind::Reverse) + total(EntryKind::Void)),
        adjusted: total(EntryKind::Adjust),
        outstanding,
        pending,
        liability: value.worth(outstanding),
    };
    let mut series: Vec<SeriesPoint> =
        buckets.iter().map(|bucket| SeriesPoint { label: bucket.first.to_string(), earned: 0, redeemed: 0 }).collect();
    for flow in flows {
        if let Some(point) = bucket_index(&buckets, flow.start).and_then(|index| series.get_mut(index)) {
            match flow.kind {
                EntryKind::Earn => point.earned += flow.net(),
                EntryKind::Redeem => point.redeemed -= flow.net(),
                _ => {}
            }
        }
    }
    Ok((status, series))
}

/// Section 2: points earned in the range by source, largest first.
pub async fn point_sources(
    storage: &dyn Storage,
    program: &Program,
    range: &DateRange,
) -> Result<Vec<SourceTotal>, StorageError> {
    let (from, to) = range.bounds(&program_time_zone(program));
    Ok(sources_of(&storage.flows(&program.id, &[from, to]).await?))
}

/// Section 2 from any flows that cover the range.
fn sources_of(flows: &[Flow]) -> Vec<SourceTotal> {
    // What each source earned: the sources add up to "Issued" (adjustments by hand are
    // "Adjusted", apart).
    let mut by_source: BTreeMap<&str, Points> = BTreeMap::new();
    for flow in flows {
        if flow.kind == EntryKind::Earn {
            *by_source.entry(&flow.source).or_default() += flow.gained;
        }
    }
    let mut sources: Vec<SourceTotal> = by_source
        .into_iter()
        .filter(|(_, points)| *points > 0)
        .map(|(source, points)| SourceTotal { source: source.to_owned(), points })
        .collect();
    sources.sort_by(|a, b| b.points.cmp(&a.points).then_with(|| a.source.cmp(&b.source)));
    sources
}

/// Section 3: who earned most in the range, with their balance and tier now.
pub async fn top_earners(
    storage: &dyn Storage,
    program: &Program,
    range: &DateRange,
    now: Timestamp,
) -> Result<Vec<TopEarnerRow>, StorageError> {
    let (from, to) = range.bounds(&program_time_zone(program));
    let mut top_earners = Vec::new();
    for earner in storage.top_earners(&program.id, from, to, now, TOP_EARNERS).await? {
        let balance = match CustomerId::parse(&earner.customer_id) {
            Ok(id) => storage
                .customer(&program.id, &id, program.settings.expiry)
                .await?
                .map_or(0, |customer| customer.account.available(now)),
            Err(_) => 0,
        };
        let tier = earner
            .tier_id
            .as_ref()
            .map(|id| program.settings.tiers.tier(id).map_or_else(|| id.clone(), |tier| tier.name.clone()));
        top_earners.push(TopEarnerRow {
            customer_id: earner.customer_id,
            name: earner.name,
            email: earner.email,
            earned: earner.earned,
            balance,
            tier,
        });
    }

    Ok(top_earners)
}

/// One page of section 4, newest first.
pub async fn history(
    storage: &dyn Storage,
    program: &Program,
    filter: &HistoryFilter,
    after: Option<&HistoryCursor>,
    now: Timestamp,
) -> Result<HistoryView, StorageError> {
    let rows = storage.program_history(&program.id, filter, after, HISTORY_PAGE).await?;
    let next_cursor = (rows.len() == HISTORY_PAGE as usize)
        .then(|| rows.last().map(|row| HistoryPage::cursor(&row.cursor())))
        .flatten();
    Ok(HistoryView { rows: rows.into_iter().map(|entry| entry_row(entry, now)).collect(), next_cursor })
}

/// An entry as the console lists it, pending or not at `now`.
pub fn entry_row(entry: EntryRecord, now: Timestamp) -> EntryRow {
    EntryRow {
        customer_id: entry.customer_id,
        seq: entry.seq,
        kind: entry.kind.as_str().to_owned(),
        points: entry.points,
        source: entry.source,
        reference: entry.reference,
        created_at: entry.created_at.to_string(),
        pending_until: (entry.available_at > now).then(|| entry.available_at.to_string()),
        balance_after: entry.balance_after,
    }
}

/// How a history cursor travels in a URL: `created_at_ms.seq.customer_id`.
pub struct HistoryPage;

impl HistoryPage {
    pub fn cursor(cursor: &HistoryCursor) -> String {
        format!("{}.{}.{}", cursor.created_at.0, cursor.seq, cursor.customer_id)
    }

    pub fn parse_cursor(text: &str) -> Option<HistoryCursor> {
        let mut parts = text.splitn(3, '.');
        let created_at = Timestamp(parts.next()?.parse().ok()?);
        let seq = parts.next()?.parse().ok()?;
        let customer_id = parts.next()?.to_owned();
        Some(HistoryCursor { created_at, customer_id, seq })
    }
}

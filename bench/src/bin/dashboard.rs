//! `cargo xtask bench-dashboard`: the admin dashboard at scale. Seeds "Scale Store" with
//! SCALE_CUSTOMERS customers (default 100,000) and about SCALE_ENTRIES entries (default
//! 1,000,000) on SQLite and on PostgreSQL (TALLY_TEST_POSTGRES_URL), then times each dashboard
//! section as the server computes it (median of BENCH_RUNS, default 7, after one warm-up), for
//! last month and for the year to date, in the program time zone BENCH_TIME_ZONE (default
//! America/New_York). The baseline, measured in the same run: reading one customer's
//! account. Not a test: nothing here asserts a speed.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tally_bench::{create_database, env_number, ms};
use tally_server::{
    customers::CustomerId,
    dashboard::{
        self,
        calendar::{DateRange, RangePreset},
    },
    demo::demo_program,
    ledger::{ManualClock, Timestamp},
    points::PointsService,
    programs::Program,
    scale::seed_scale_program,
    storage::{self, HistoryFilter, Storage},
};

#[tokio::main]
async fn main() {
    let customers: u64 = env_number("SCALE_CUSTOMERS", 100_000);
    let entries: u64 = env_number("SCALE_ENTRIES", 1_000_000);
    let runs: usize = env_number("BENCH_RUNS", 7);
    // A zone off UTC by hours, with daylight saving time: its days, months and years are
    // not the totals' own.
    let time_zone = std::env::var("BENCH_TIME_ZONE").unwrap_or_else(|_| "America/New_York".to_owned());
    let admin = std::env::var("TALLY_TEST_POSTGRES_URL").expect("TALLY_TEST_POSTGRES_URL: a PostgreSQL server");
    let now = Timestamp(1_795_000_000_000);
    let sqlite_file = std::env::temp_dir().join(format!("tally-bench-dashboard-{}.db", std::process::id()));
    let postgres = create_database(&admin, &format!("tally_bench_dashboard_{}", std::process::id())).await;
    println!("dashboard at scale: {customers} customers, {entries} entries, {time_zone}; median of {runs} runs (ms)");
    for (name, url) in [("SQLite", format!("sqlite://{}", sqlite_file.display())), ("PostgreSQL", postgres)] {
        let keys = tally_server::secrets::SecretKeys::new([0x42; 32]);
        let storage = storage::connect_with_keys(&url, keys).await.expect("the database opens");
        let mut template = demo_program("127.0.0.1:3100".parse().unwrap());
        template.settings.time_zone = Some(time_zone.clone());
        let started = Instant::now();
        let points = PointsService::new(storage.clone(), Arc::new(ManualClock::at(now)));
        let program = seed_scale_program(&points, &template, customers, entries, now).await.expect("seeded");
        println!("\n{name}: seeded in {:.1} s", started.elapsed().as_secs_f64());
        report(storage.as_ref(), &program, now, runs).await;
    }
    let _ = std::fs::remove_file(&sqlite_file);
}

async fn report(storage: &dyn Storage, program: &Program, now: Timestamp, runs: usize) {
    let baseline = median(runs, || async {
        let id = CustomerId::parse("c0004242").unwrap();
        storage.customer(&program.id, &id, program.settings.expiry).await.unwrap();
    })
    .await;
    println!("  baseline, one customer's account: {:.2} ms", ms(baseline));
    println!(
        "  {:<28} {:>10} {:>6} {:>12} {:>6} {:>10} {:>6}",
        "section", "last month", "ratio", "year to date", "ratio", "100 days", "ratio"
    );
    let today = dashboard::calendar::today(now, &dashboard::program_time_zone(program));
    let month = DateRange::preset(RangePreset::LastMonth, today);
    // The seeded history is the past 365 days: year to date holds most of it.
    let year = DateRange::preset(RangePreset::YearToDate, today);
    // A custom range far from any calendar period (mid-June to late September).
    let custom = DateRange::custom("2026-06-15", "2026-09-22").unwrap();
    let row = |label: &str, times: [Duration; 3]| {
        let [month, year, custom] = times.map(|time| (ms(time), ms(time) / ms(baseline)));
        println!(
            "  {label:<28} {:>10.1} {:>6.0} {:>12.1} {:>6.0} {:>10.1} {:>6.0}",
            month.0, month.1, year.0, year.1, custom.0, custom.1
        );
    };
    let status = |range| {
        median(runs, move || async move {
            dashboard::points_status(storage, program, &range, now).await.unwrap();
        })
    };
    row("1. points status + chart", [status(month).await, status(year).await, status(custom).await]);
    let sources = |range| {
        median(runs, move || async move {
            dashboard::point_sources(storage, program, &range).await.unwrap();
        })
    };
    row("2. point sources", [sources(month).await, sources(year).await, sources(custom).await]);
    let top = |range| {
        median(runs, move || async move {
            dashboard::top_earners(storage, program, &range, now).await.unwrap();
        })
    };
    let before = resident_bytes();
    row("3. top earning customers", [top(month).await, top(year).await, top(custom).await]);
    // The custom range built this program's copy of its earnings per day: its estimate (what
    // the cache budget counts) beside what the process grew by.
    println!(
        "  earnings-per-day copy: {:.1} MiB estimated, process resident memory +{:.1} MiB",
        storage.report_cache_bytes() as f64 / 1_048_576.0,
        resident_bytes().saturating_sub(before) as f64 / 1_048_576.0
    );
    let history = |range: DateRange| {
        let bounds = range.bounds(&dashboard::program_time_zone(program));
        median(runs, move || async move {
            let filter = HistoryFilter { from: Some(bounds.0), to: Some(bounds.1), ..HistoryFilter::default() };
            dashboard::history(storage, program, &filter, None, now).await.unwrap();
        })
    };
    row("4. points history, 1st page", [history(month).await, history(year).await, history(custom).await]);
}

/// This process's resident memory (Linux `/proc/self/statm`, 4 KiB pages), 0 elsewhere.
fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm.split_whitespace().nth(1).and_then(|pages| pages.parse::<usize>().ok()).unwrap_or(0) * 4096
}

/// The median time of `runs` calls, after one unmeasured call.
async fn median<F, Fut>(runs: usize, call: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    call().await;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        call().await;
        times.push(started.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

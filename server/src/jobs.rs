//! Background upkeep: writes the expiry entries of lots past their expiry and recomputes tiers
//! whose window moved on (demotions). Reads are already correct without it; the job makes the
//! ledger say so. Safe to run on several replicas at once: each customer's upkeep is one locked,
//! idempotent write.

use std::{sync::Arc, time::Duration};

use crate::{
    customers::CustomerId,
    ledger::ExpiryPolicy,
    points::PointsService,
    storage::{Pruned, Storage, StorageError},
    tiers::TierWindow,
};

const PAGE: u32 = 500;

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UpkeepReport {
    pub customers: u64,
    pub entries_written: u64,
    /// Customers (or pages of them) whose upkeep failed: logged, retried at the next pass.
    pub failures: u64,
}

/// One pass over every customer of every program that has something time-dependent. One
/// customer's or one program's failure is logged and counted; the pass goes on.
pub async fn run_upkeep(points: &PointsService) -> Result<UpkeepReport, StorageError> {
    let mut report = UpkeepReport::default();
    let storage = points.storage();
    for program in storage.list_programs().await? {
        let settings = &program.settings;
        let expires = settings.expiry != ExpiryPolicy::Never;
        let tiers_move = !settings.tiers.tiers.is_empty() && settings.tiers.window != TierWindow::Lifetime;
        if !expires && !tiers_move {
            continue;
        }
        let mut after: Option<String> = None;
        loop {
            let ids = match storage.customer_ids(&program.id, after.as_deref(), PAGE).await {
                Ok(ids) => ids,
                Err(error) => {
                    tracing::error!(program = %program.id, %error, "upkeep could not list customers; next program");
                    report.failures += 1;
                    break;
                }
            };
            for id in &ids {
                let Ok(customer) = CustomerId::parse(id) else { continue };
                match points.settle(&program, customer).await {
                    Ok(entries) => report.entries_written += entries as u64,
                    Err(error) => {
                        tracing::error!(program = %program.id, customer = %id, %error, "upkeep failed for a customer");
                        report.failures += 1;
                    }
                }
                report.customers += 1;
            }
            match ids.last() {
                Some(last) if ids.len() == PAGE as usize => after = Some(last.clone()),
                _ => break,
            }
        }
    }
    Ok(report)
}

/// How often a process looks for imports another replica started (its own wake it at once).
const IMPORT_POLL: Duration = Duration::from_secs(5);

/// Runs started imports to their end, one at a time: woken when this process starts one, else
/// every [`IMPORT_POLL`]. Safe on several replicas: an import is leased to one.
pub fn spawn_imports(points: PointsService) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let waker = points.import_waker();
        loop {
            match points.run_next_import().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(error) => tracing::error!(%error, "the import worker failed; retrying"),
            }
            tokio::select! {
                _ = waker.notified() => {}
                _ = tokio::time::sleep(IMPORT_POLL) => {}
            }
        }
    })
}

/// How often the writes' recorded changes are folded into the dashboard's running totals.
pub const FOLD_INTERVAL: Duration = Duration::from_secs(5);
/// Changes folded per transaction.
const FOLD_BATCH: u32 = 5_000;

/// Folds every change waiting, a batch per transaction; returns how many.
pub async fn fold_totals(storage: &dyn Storage) -> Result<u64, StorageError> {
    let mut folded = 0;
    loop {
        let batch = storage.fold_totals(FOLD_BATCH).await?;
        folded += batch;
        if batch < u64::from(FOLD_BATCH) {
            return Ok(folded);
        }
    }
}

/// Runs [`fold_totals`] every [`FOLD_INTERVAL`]: readers add the changes not folded yet, so
/// this only keeps them few. Safe on several replicas at once.
pub fn spawn_fold(storage: Arc<dyn Storage>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(FOLD_INTERVAL).await;
            if let Err(error) = fold_totals(storage.as_ref()).await {
                tracing::error!(%error, "folding the running totals failed; retrying");
            }
        }
    })
}

/// Removes what is kept only for `retention` (idempotency records, finished deliveries and
/// their events) once older, and expired console sessions. Safe on several replicas at once.
pub async fn prune(points: &PointsService, retention: Duration) -> Result<Pruned, StorageError> {
    let now = points.now();
    let retention_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    let cutoff = crate::ledger::Timestamp(now.0.saturating_sub(retention_ms));
    points.storage().prune(cutoff, now).await
}

/// Runs [`run_upkeep`] and [`prune`] every `interval`, the first time shortly after start.
pub fn spawn(points: PointsService, interval: Duration, retention: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(30).min(interval)).await;
        loop {
            match prune(&points, retention).await {
                Ok(pruned) => tracing::info!(?pruned, "retention pass done"),
                Err(error) => tracing::error!(%error, "the retention pass failed; retrying at the next interval"),
            }
            match run_upkeep(&points).await {
                Ok(report) => tracing::info!(
                    customers = report.customers,
                    entries = report.entries_written,
                    failures = report.failures,
                    "upkeep done"
                ),
                Err(error) => tracing::error!(%error, "upkeep failed; retrying at the next interval"),
            }
            tokio::time::sleep(interval).await;
        }
    })
}

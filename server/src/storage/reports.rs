//! The dashboard's reads over a program's ledger and running totals.

use async_trait::async_trait;

use super::{EntryRecord, StorageError};
use crate::ledger::{EntryKind, ExpiryPolicy, Points, Timestamp};

/// Filters of the program-wide points history (dashboard section 4 and its CSV export).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistoryFilter {
    pub customer_id: Option<String>,
    pub source: Option<String>,
    pub kind: Option<EntryKind>,
    /// Created at or after.
    pub from: Option<Timestamp>,
    /// Created before.
    pub to: Option<Timestamp>,
}

/// Where a page of the program-wide history ended: its last entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryCursor {
    pub created_at: Timestamp,
    pub customer_id: String,
    pub seq: u64,
}

impl EntryRecord {
    /// The cursor of a history page that ends with this entry.
    pub fn cursor(&self) -> HistoryCursor {
        HistoryCursor { created_at: self.created_at, customer_id: self.customer_id.clone(), seq: self.seq }
    }
}

/// Points of one kind and source that moved in a span of time starting at `start`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flow {
    pub start: Timestamp,
    pub kind: EntryKind,
    pub source: String,
    pub gained: Points,
    pub lost: Points,
}

impl Flow {
    /// Gains less losses.
    pub fn net(&self) -> Points {
        self.gained + self.lost
    }
}

/// A customer and what they earned in a range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopEarner {
    pub customer_id: String,
    pub earned: Points,
    pub name: Option<String>,
    pub email: Option<String>,
    pub tier_id: Option<String>,
}

/// The dashboard's sums over a program's ledger. Ranges are `[from, to)`.
#[async_trait]
pub trait ReportStore: Send + Sync {
    /// Bytes this server's in-memory report copies hold (an estimate; see `--report-cache-mb`).
    fn report_cache_bytes(&self) -> usize;
    /// Caps what the in-memory report copies may hold; the least recently used go first.
    fn limit_report_cache(&self, bytes: usize);
    /// The points that moved between consecutive `cuts` (sorted instants), as totals that
    /// each lie between two of them (T1): a range's sums, or a chart's buckets.
    async fn flows(&self, program_id: &str, cuts: &[Timestamp]) -> Result<Vec<Flow>, StorageError>;
    /// Who earned most in the range (earn entries), most first; `now` tells which part of
    /// the range can hold entries yet.
    async fn top_earners(
        &self,
        program_id: &str,
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<TopEarner>, StorageError>;
    /// Points in open lots now: `(available, pending)`, leaving out lots past their expiry.
    async fn outstanding(
        &self,
        program_id: &str,
        now: Timestamp,
        expiry: ExpiryPolicy,
    ) -> Result<(Points, Points), StorageError>;
    /// Moves up to `limit` of the writes' recorded changes into the running totals; returns
    /// how many it moved (0: none were waiting). Reads are right before and after.
    async fn fold_totals(&self, limit: u32) -> Result<u64, StorageError>;
    /// Newest first, after `after`.
    async fn program_history(
        &self,
        program_id: &str,
        filter: &HistoryFilter,
        after: Option<&HistoryCursor>,
        limit: u32,
    ) -> Result<Vec<EntryRecord>, StorageError>;
}

//! Storage behind one trait. `SqlStorage` implements it for SQLite (embedded, one file) and
//! PostgreSQL (production, several replicas). Every query binds its parameters; none is built
//! from user input. Queries are written once with `$N` placeholders, which both databases accept.

mod sql;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{
    admin::{AdminUser, AuditEntry, Email, Role, Session},
    customers::{CustomerId, CustomerProfile},
    ledger::{Account, ClawbackPolicy, EntryKind, ExpiryPolicy, LedgerError, Operation, Points, Timestamp},
    programs::{ApiKeyRecord, Program},
    rewards::{Coupon, Reward},
    tiers::TierLadder,
};
pub use sql::SqlStorage;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("unsupported database URL {0:?}: use sqlite://FILE or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    #[error("cannot open the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// A customer as stored, with their ledger state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerRecord {
    pub customer_id: String,
    pub profile: CustomerProfile,
    pub created_at: Timestamp,
    pub account: Account,
    pub lifetime_earned: Points,
    pub lifetime_redeemed: Points,
    /// The tier as last recomputed (on earning, or by the daily job).
    pub tier_id: Option<String>,
}

/// A secret API key as admins see it: its prefix and its dates, never the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyInfo {
    pub id: String,
    /// The first characters (`sk_AbCdEfG`), to tell keys apart.
    pub prefix: String,
    pub created_at: Timestamp,
    /// Recorded at most once a minute.
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// Which customers, in which order, which page (the console's customer list and export).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomerSearch {
    /// Matches the customer id exactly, or a part of the email or name (any case).
    pub text: Option<String>,
    pub sort: CustomerSort,
    pub offset: u64,
    pub limit: u32,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CustomerSort {
    /// Newest first.
    #[default]
    Joined,
    Id,
    Name,
    Email,
    /// Most recently active first.
    Activity,
    /// Most points held first (available and pending, less any debt).
    Points,
}

impl CustomerSort {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "joined" => Self::Joined,
            "id" => Self::Id,
            "name" => Self::Name,
            "email" => Self::Email,
            "activity" => Self::Activity,
            "points" => Self::Points,
            _ => return None,
        })
    }
}

/// A customer in a list: profile, tier and the account to compute balances from.
#[derive(Clone, Debug)]
pub struct CustomerListing {
    pub customer_id: String,
    pub profile: CustomerProfile,
    pub created_at: Timestamp,
    pub account: Account,
    pub tier_id: Option<String>,
}

/// A change of a customer's tier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TierChange {
    pub changed_at: Timestamp,
    pub from_tier: Option<String>,
    pub to_tier: Option<String>,
    /// The qualifying total that caused it.
    pub qualifying: i64,
}

/// One ledger entry as stored and shown through the API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EntryRecord {
    pub seq: u64,
    pub kind: EntryKind,
    pub points: Points,
    pub source: String,
    pub reference: Option<String>,
    pub order_id: Option<String>,
    pub available_at: Timestamp,
    pub created_at: Timestamp,
    pub balance_after: Points,
    pub shortfall: Points,
    pub rule_snapshot: Option<serde_json::Value>,
    pub client_id: String,
}

/// A write's client id (I3): `kind` is its namespace (`event`, `refund`, `redemption`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientId {
    pub kind: &'static str,
    pub id: String,
    /// Fingerprint of the request body: a replay must carry the same one.
    pub request_hash: String,
}

/// One ledger write: the operation and everything storage records with its entries.
#[derive(Clone, Debug)]
pub struct LedgerWrite {
    pub program_id: String,
    pub customer_id: CustomerId,
    /// `None` only for Tally's own upkeep writes (expiry, tiers), which are naturally idempotent.
    pub client_id: Option<ClientId>,
    pub operation: Operation,
    pub source: String,
    pub reference: Option<String>,
    pub rule_snapshot: Option<serde_json::Value>,
    pub expiry: ExpiryPolicy,
    pub clawback: ClawbackPolicy,
    /// Recomputed after the write; a change is recorded in the customer's tier history.
    pub tiers: TierLadder,
    /// What else the write does, in the same transaction.
    pub effect: Effect,
    /// Refuse the write when the customer already has `max` entries from this write's source
    /// since `since` (action caps), counted under the customer's lock.
    pub cap: Option<CapCheck>,
    /// What the write causes elsewhere, committed in the same transaction once it applies
    /// (a referral's awards, the coupons a cancelled order had used).
    pub follow_ups: Vec<FollowUp>,
    /// The console's record of the change, committed with it; an object `after` gains the
    /// `available` balance the write left.
    pub audit: Option<AuditEntry>,
    pub now: Timestamp,
}

/// A consequence of a write, applied in its transaction after it. A follow-up write that is
/// refused (a cap reached, a coupon already released) or was applied before (its client id)
/// is skipped alone; the write and the other follow-ups still commit.
#[derive(Clone, Debug)]
pub enum FollowUp {
    Write(LedgerWrite),
    /// The referral of this customer has been rewarded: later orders award nothing.
    MarkReferralRewarded {
        referred: CustomerId,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapCheck {
    pub since: Timestamp,
    pub max: u32,
}

impl LedgerWrite {
    /// A write under `program`'s policies (expiry, clawback, tiers), with no reference,
    /// snapshot, effect or cap; set those fields as needed.
    pub fn new(
        program: &Program,
        customer_id: CustomerId,
        client_id: Option<ClientId>,
        operation: Operation,
        source: &str,
        now: Timestamp,
    ) -> Self {
        Self {
            program_id: program.id.clone(),
            customer_id,
            client_id,
            operation,
            source: source.to_owned(),
            reference: None,
            rule_snapshot: None,
            expiry: program.settings.expiry,
            clawback: program.settings.clawback,
            tiers: program.settings.tiers.clone(),
            effect: Effect::None,
            cap: None,
            follow_ups: Vec::new(),
            audit: None,
            now,
        }
    }
}

/// A write's work besides the ledger, committed with it or not at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    None,
    /// A redemption: checks the reward's per-customer limit, takes one from its stock and
    /// issues `coupon`.
    IssueCoupon {
        coupon: Coupon,
        per_customer_limit: Option<u32>,
        uses_stock: bool,
    },
    /// Cancels an issued (unused) coupon; the operation restores its points.
    CancelCoupon {
        code: String,
    },
    /// Cancels a coupon consumed by an order that was then cancelled; the operation restores
    /// its points.
    ReleaseUsedCoupon {
        code: String,
    },
}

/// What a write committed, stored with its client id and returned again on a replay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WriteResult {
    pub customer_id: String,
    pub entries: Vec<EntryRecord>,
    pub available: Points,
    pub pending: Points,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coupon: Option<Coupon>,
    /// Coupons that follow-up writes released, their points back with their customers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub released_coupons: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    Applied(WriteResult),
    /// The same client id and body again: the original result, nothing applied.
    Replayed(WriteResult),
    /// The same client id with a different body.
    Conflict,
    /// Refused (nothing was written).
    Refused(Refusal),
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("this customer has redeemed this reward as many times as allowed")]
    RewardLimitReached,
    #[error("this reward is out of stock")]
    OutOfStock,
    #[error("this coupon was already used or cancelled")]
    CouponNotIssued,
    #[error("the customer already earned the most this action gives in its period")]
    CapReached,
    /// An order id belongs to the customer of its first event.
    #[error("this order was reported for another customer")]
    OrderOfAnotherCustomer,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Referral {
    pub referrer_id: String,
    pub referred_id: String,
    pub created_at: Timestamp,
    pub rewarded_at: Option<Timestamp>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReferralOutcome {
    Recorded(Referral),
    AlreadyRecorded(Referral),
    /// The customer was already referred by someone else.
    Conflict(Referral),
}

/// Why a coupon could not be consumed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsumeOutcome {
    Consumed(Coupon),
    NotFound,
    /// Already consumed, cancelled or expired: the coupon as it is.
    Unusable(Coupon),
}

/// Programs and their API keys.
#[async_trait]
pub trait ProgramStore: Send + Sync {
    /// Succeeds when the database answers a query.
    async fn ping(&self) -> Result<(), StorageError>;
    async fn list_programs(&self) -> Result<Vec<Program>, StorageError>;
    async fn program_by_id(&self, id: &str) -> Result<Option<Program>, StorageError>;
    async fn program_by_publishable_key(&self, key: &str) -> Result<Option<Program>, StorageError>;
    /// Creates the program or updates its fields and allowed origins, in one transaction.
    async fn upsert_program(&self, program: &Program) -> Result<(), StorageError>;
    /// Creates a program with its first secret API key.
    async fn create_program(&self, program: &Program, key: &ApiKeyRecord, now: Timestamp) -> Result<(), StorageError>;
    /// Revokes every API key of the program, adds `key` and replaces the widget secret.
    /// `false` when there is no such program.
    async fn rotate_keys(
        &self,
        program_id: &str,
        key: &ApiKeyRecord,
        widget_secret: &str,
        now: Timestamp,
    ) -> Result<bool, StorageError>;
    /// Adds a secret API key to a program (keeping the others).
    async fn add_api_key(&self, program_id: &str, key: &ApiKeyRecord, now: Timestamp) -> Result<(), StorageError>;
    /// The program's secret API keys (never the keys themselves), newest first.
    async fn api_keys(&self, program_id: &str) -> Result<Vec<ApiKeyInfo>, StorageError>;
    /// Revokes one live key; `false` when the program has no such live key.
    async fn revoke_api_key(&self, program_id: &str, key_id: &str, now: Timestamp) -> Result<bool, StorageError>;
    /// The program of a live (unrevoked) API key, found by the key's hash; records its use.
    async fn program_for_api_key(&self, key_hash: &str, now: Timestamp) -> Result<Option<Program>, StorageError>;
}

/// Customers, their entries, orders and tiers (reads).
#[async_trait]
pub trait CustomerStore: Send + Sync {
    async fn upsert_customer(
        &self,
        program_id: &str,
        customer_id: &CustomerId,
        profile: &CustomerProfile,
        now: Timestamp,
    ) -> Result<(), StorageError>;
    async fn customer(
        &self,
        program_id: &str,
        customer_id: &CustomerId,
        expiry: ExpiryPolicy,
    ) -> Result<Option<CustomerRecord>, StorageError>;
    /// Newest first; `before` is a seq to page from.
    async fn entries(
        &self,
        program_id: &str,
        customer_id: &CustomerId,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<EntryRecord>, StorageError>;
    /// What counts toward tiers since `since`: points earned less order reversals, or money
    /// spent less refunds.
    async fn tier_qualifying(
        &self,
        program_id: &str,
        customer_id: &CustomerId,
        basis: crate::tiers::TierBasis,
        since: Timestamp,
    ) -> Result<i64, StorageError>;
    /// Newest first.
    async fn tier_changes(&self, program_id: &str, customer_id: &CustomerId) -> Result<Vec<TierChange>, StorageError>;
    /// Customer ids of a program, in pages (`after` the last id of the previous page).
    async fn customer_ids(
        &self,
        program_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StorageError>;
    /// A page of the customers matching `search`, in its order, with their ledger state (for
    /// balances), and how many match in all.
    async fn search_customers(
        &self,
        program_id: &str,
        search: &CustomerSearch,
        expiry: ExpiryPolicy,
    ) -> Result<(Vec<CustomerListing>, u64), StorageError>;
    /// The customer an order's points went to.
    async fn order_customer(&self, program_id: &str, order_id: &str) -> Result<Option<String>, StorageError>;
    /// How many orders earned for the customer.
    async fn order_count(&self, program_id: &str, customer_id: &CustomerId) -> Result<u64, StorageError>;
}

/// The one way points move.
#[async_trait]
pub trait LedgerStore: Send + Sync {
    /// Applies one ledger write atomically: locks the customer (creating them if new), checks
    /// the client id (I3), applies the operation to the loaded account, appends the entries,
    /// updates lots, order totals and the customer, stores the result under the client id, and
    /// commits. Acknowledged only once committed.
    async fn write_ledger(&self, write: &LedgerWrite) -> Result<WriteOutcome, StorageError>;
}

/// A customer's settled history, computed by the ledger core, to write in bulk.
#[derive(Clone, Debug)]
pub struct ImportedCustomer {
    pub customer_id: String,
    pub profile: CustomerProfile,
    pub created_at: Timestamp,
    pub tier_id: Option<String>,
    /// Oldest first, as the ledger produced them.
    pub entries: Vec<ImportedEntry>,
    /// The account after the last entry: its lots are written as the lots projection.
    pub account: Account,
}

#[derive(Clone, Debug)]
pub struct ImportedEntry {
    pub entry: crate::ledger::NewEntry,
    pub source: String,
    pub created_at: Timestamp,
}

/// Bulk writes of histories that the ledger core computed (seeding a large demo program).
#[async_trait]
pub trait ImportStore: Send + Sync {
    /// Writes new customers with their entries, consumptions and lots in one transaction.
    /// The customers must not exist yet.
    async fn import_history(&self, program_id: &str, customers: &[ImportedCustomer]) -> Result<(), StorageError>;
    /// Recomputes the program's running totals from its ledger, after an import (which leaves
    /// them alone). Writes to the program must not run meanwhile.
    async fn rebuild_totals(&self, program_id: &str) -> Result<(), StorageError>;
    /// Refreshes the query planner's statistics (and, on PostgreSQL, the visibility map) after
    /// a bulk import changed the tables' sizes (autovacuum would, a while later; SQLite keeps
    /// no statistics until asked).
    async fn refresh_statistics(&self) -> Result<(), StorageError>;
}

/// The rewards catalog and coupons.
#[async_trait]
pub trait RewardStore: Send + Sync {
    async fn create_reward(&self, program_id: &str, reward: &Reward, now: Timestamp) -> Result<(), StorageError>;
    /// Replaces a reward's definition, stock and active flag; `false` if there is no such reward.
    async fn update_reward(&self, program_id: &str, reward: &Reward, now: Timestamp) -> Result<bool, StorageError>;
    async fn reward(&self, program_id: &str, reward_id: &str) -> Result<Option<Reward>, StorageError>;
    async fn rewards(&self, program_id: &str) -> Result<Vec<Reward>, StorageError>;
    async fn coupon(&self, program_id: &str, code: &str) -> Result<Option<Coupon>, StorageError>;
    /// A customer's coupons, newest first (at most `limit`).
    async fn customer_coupons(
        &self,
        program_id: &str,
        customer_id: &CustomerId,
        limit: u32,
    ) -> Result<Vec<Coupon>, StorageError>;
    /// Coupons consumed by `order_id` (and those since released by its cancellation).
    async fn coupons_used_by(&self, program_id: &str, order_id: &str) -> Result<Vec<Coupon>, StorageError>;
    /// Marks an issued, unexpired coupon as used by `order_id`, exactly once.
    async fn consume_coupon(
        &self,
        program_id: &str,
        code: &str,
        order_id: &str,
        now: Timestamp,
    ) -> Result<ConsumeOutcome, StorageError>;
}

/// Who referred whom.
#[async_trait]
pub trait ReferralStore: Send + Sync {
    /// Records that `referrer` referred `referred`. A repeat with the same referrer is
    /// `AlreadyRecorded`; another referrer is `Conflict`.
    async fn record_referral(
        &self,
        program_id: &str,
        referred: &CustomerId,
        referrer: &CustomerId,
        now: Timestamp,
    ) -> Result<ReferralOutcome, StorageError>;
    async fn referral(&self, program_id: &str, referred: &CustomerId) -> Result<Option<Referral>, StorageError>;
}

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

/// A ledger entry with its customer, as the program-wide history lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramEntry {
    pub customer_id: String,
    pub seq: u64,
    pub kind: EntryKind,
    pub points: Points,
    pub source: String,
    pub reference: Option<String>,
    pub order_id: Option<String>,
    pub created_at: Timestamp,
    pub available_at: Timestamp,
    pub balance_after: Points,
}

impl ProgramEntry {
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
    ) -> Result<Vec<ProgramEntry>, StorageError>;
}

/// What a change to a console user came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminChange {
    Done,
    NoSuchUser,
    /// Refused: the console would have no owner left.
    LastOwner,
}

/// Console users, their grants and sessions, and the audit log.
#[async_trait]
pub trait AdminStore: Send + Sync {
    async fn console_is_set_up(&self) -> Result<bool, StorageError>;
    /// Creates the first owner, unless the console has been set up already (then `false`).
    async fn create_first_owner(&self, user: &AdminUser, password_hash: &str) -> Result<bool, StorageError>;
    /// `false` when the email is taken.
    async fn create_admin(
        &self,
        user: &AdminUser,
        password_hash: &str,
        program_ids: &[String],
    ) -> Result<bool, StorageError>;
    /// The user and their password hash.
    async fn admin_by_email(&self, email: &Email) -> Result<Option<(AdminUser, String)>, StorageError>;
    async fn start_session(&self, session: &Session) -> Result<(), StorageError>;
    /// The unexpired session with this token hash, and its user.
    async fn session(&self, token_hash: &str, now: Timestamp) -> Result<Option<(Session, AdminUser)>, StorageError>;
    async fn end_session(&self, token_hash: &str) -> Result<(), StorageError>;
    async fn granted_programs(&self, user_id: &str) -> Result<Vec<String>, StorageError>;
    /// Every console user with the programs granted to them, by email.
    async fn admin_users(&self) -> Result<Vec<(AdminUser, Vec<String>)>, StorageError>;
    /// A user's new role and grants, unless that leaves no owner.
    async fn update_admin(
        &self,
        user_id: &str,
        role: Role,
        program_ids: &[String],
    ) -> Result<AdminChange, StorageError>;
    /// Removes a user with their grants and sessions, unless that leaves no owner.
    async fn remove_admin(&self, user_id: &str) -> Result<AdminChange, StorageError>;
    /// A new password hash; every session of the user ends but `keep` (a token hash).
    async fn set_admin_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep: Option<&str>,
    ) -> Result<AdminChange, StorageError>;
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StorageError>;
    /// Newest first.
    async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, StorageError>;
}

/// Everything Tally stores, as one object: `Arc<dyn Storage>`. Each concern is its own trait,
/// implemented in its own module; bring the one you call into scope.
pub trait Storage:
    ProgramStore
    + CustomerStore
    + LedgerStore
    + ImportStore
    + RewardStore
    + ReferralStore
    + ReportStore
    + AdminStore
    + 'static
{
}

impl<T> Storage for T where
    T: ProgramStore
        + CustomerStore
        + LedgerStore
        + ImportStore
        + RewardStore
        + ReferralStore
        + ReportStore
        + AdminStore
        + 'static
{
}

/// Opens the database named by `url`, creating a SQLite file if needed, and runs migrations.
pub async fn connect(url: &str) -> Result<Arc<dyn Storage>, StorageError> {
    Ok(Arc::new(SqlStorage::connect(url).await?))
}

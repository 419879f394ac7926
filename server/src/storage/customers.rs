//! Customers as stored: profiles, ledger state, entries, tier changes, and the console's search.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StorageError;
use crate::{
    customers::{CustomerId, CustomerProfile},
    ledger::{Account, EntryKind, ExpiryPolicy, Points, Timestamp},
};

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

/// One ledger entry as stored, listed (a customer's entries, the program-wide history) and
/// shown through the API. Entries are written as `ledger::NewEntry` (what the pure ledger
/// decides) and imported as `ImportedEntry` (a row of the bulk load); the widget shows a
/// shopper's own entries as `HistoryEntry`, without the ids and snapshots meant for merchants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EntryRecord {
    pub customer_id: String,
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

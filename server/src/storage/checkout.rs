//! Checkout-native coupons: each coupon Tally issues is created in the stores whose connection
//! has API credentials, so the code works at the store's own checkout. The rows are queued when
//! the redemption's event is relayed and worked off by the checkout worker with retries.

use std::collections::HashMap;

use async_trait::async_trait;

use super::{StorageError, StoreConnection};
use crate::{console_users::AuditEntry, ledger::Timestamp};

/// How Tally reaches a store's own API to create coupons there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreApi {
    /// The store's base URL: the WordPress site (`https://shop.example`) or the Shopify shop
    /// (`https://my-shop.myshopify.com`).
    pub url: String,
    /// WooCommerce's consumer key (`ck_...`); Shopify has none.
    pub key: Option<String>,
    /// WooCommerce's consumer secret (`cs_...`) or Shopify's Admin API access token
    /// (`shpat_...`). Sealed at rest, never shown back.
    pub secret: String,
}

/// Where a coupon stands in one store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckoutState {
    /// Not created in the store yet (queued, or being retried).
    Pending,
    /// The store knows the code.
    Created,
    /// The store refused it after every retry: visible in the console, retried from there.
    Failed,
}

impl CheckoutState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Created => "created",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Created, Self::Failed].into_iter().find(|state| state.as_str() == text)
    }
}

/// A coupon the worker has claimed to create in a store (leased until it reports back).
#[derive(Clone, Debug)]
pub struct StoreCouponTask {
    pub id: i64,
    pub attempts: u32,
    pub connection: StoreConnection,
    /// The `reward.redeemed` event's payload: the coupon as issued.
    pub payload: String,
    /// The customer's email when Tally knows it (WooCommerce restricts the coupon to it).
    pub email: Option<String>,
    /// The program's currency: the store's amounts are decimals of it.
    pub currency: String,
}

/// What one attempt came to.
#[derive(Clone, Debug)]
pub struct StoreCouponAttempt {
    pub at: Timestamp,
    /// The store's id of the coupon, when created (or found already there).
    pub store_ref: Option<String>,
    pub error: Option<String>,
    /// When to try again; `None` with an error: failed for good.
    pub retry_at: Option<Timestamp>,
}

/// One coupon's row, for the console and the API.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct StoreCouponRecord {
    pub coupon_code: String,
    pub state: CheckoutState,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub store_ref: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[async_trait]
pub trait CheckoutStore: Send + Sync {
    /// Sets (or with `None` removes) the connection's store API; `false` if the program has no
    /// such connection.
    async fn set_store_api(
        &self,
        program_id: &str,
        connection_id: &str,
        api: Option<&StoreApi>,
        audit: Option<&AuditEntry>,
    ) -> Result<bool, StorageError>;
    /// Claims up to `limit` due coupons to create.
    async fn claim_store_coupons(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<StoreCouponTask>, StorageError>;
    async fn record_store_coupons(&self, attempts: &[(i64, StoreCouponAttempt)]) -> Result<(), StorageError>;
    /// Each code's state, over the program's connections with a store API: the least ready
    /// wins (a code pending in one store is pending). Codes without a row are absent; `None`
    /// when no connection of the program has a store API (the store is not asked).
    async fn checkout_states(
        &self,
        program_id: &str,
        codes: &[String],
    ) -> Result<Option<HashMap<String, CheckoutState>>, StorageError>;
    /// The connection's newest coupons, newest first.
    async fn store_coupons(
        &self,
        program_id: &str,
        connection_id: &str,
        limit: u32,
    ) -> Result<Vec<StoreCouponRecord>, StorageError>;
    /// Queues the connection's failed coupons again; how many.
    async fn retry_store_coupons(
        &self,
        program_id: &str,
        connection_id: &str,
        now: Timestamp,
    ) -> Result<u64, StorageError>;
}

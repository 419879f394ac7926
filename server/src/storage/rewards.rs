//! The rewards catalog and coupons.

use async_trait::async_trait;

use super::StorageError;
use crate::{
    console_users::AuditEntry,
    customers::CustomerId,
    ledger::Timestamp,
    rewards::{Coupon, Reward},
};

/// Why a coupon could not be consumed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsumeOutcome {
    Consumed(Coupon),
    NotFound,
    /// Already consumed, cancelled or expired: the coupon as it is.
    Unusable(Coupon),
}

/// The rewards catalog and coupons.
#[async_trait]
pub trait RewardStore: Send + Sync {
    /// Adds a reward, and the audit entry of a console change, in one transaction.
    async fn create_reward(
        &self,
        program_id: &str,
        reward: &Reward,
        now: Timestamp,
        audit: Option<&AuditEntry>,
    ) -> Result<(), StorageError>;
    /// Replaces a reward's definition, stock and active flag, with the audit entry of a console
    /// change in the same transaction; `false` (nothing written) if there is no such reward.
    async fn update_reward(
        &self,
        program_id: &str,
        reward: &Reward,
        now: Timestamp,
        audit: Option<&AuditEntry>,
    ) -> Result<bool, StorageError>;
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

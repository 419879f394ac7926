//! Programs and their API keys.

use async_trait::async_trait;

use super::StorageError;
use crate::{
    console_users::AuditEntry,
    ledger::Timestamp,
    programs::{ApiKeyRecord, Program},
};

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

/// Programs and their API keys.
#[async_trait]
pub trait ProgramStore: Send + Sync {
    /// The keys this storage seals secrets with (other keys derive from them).
    fn secret_keys(&self) -> &crate::secrets::SecretKeys;
    /// Succeeds when the database answers a query.
    async fn ping(&self) -> Result<(), StorageError>;
    async fn list_programs(&self) -> Result<Vec<Program>, StorageError>;
    async fn program_by_id(&self, id: &str) -> Result<Option<Program>, StorageError>;
    async fn program_by_publishable_key(&self, key: &str) -> Result<Option<Program>, StorageError>;
    /// Creates the program, or updates its names, settings and allowed origins (never its
    /// keys or currency), in one transaction. For set-up (the demo, tests); admins' changes go
    /// through [`Self::update_program`].
    async fn upsert_program(&self, program: &Program) -> Result<(), StorageError>;
    /// Saves `after`'s names, settings and allowed origins (never its keys or currency) and
    /// the audit entry, in one transaction, if the program as stored is still `before`;
    /// `false` when someone saved in between (nothing written: apply the change again).
    async fn update_program(
        &self,
        before: &Program,
        after: &Program,
        audit: Option<&AuditEntry>,
    ) -> Result<bool, StorageError>;
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
    /// Adds a secret API key to a program (keeping the others), with the audit entry of a
    /// console change in the same transaction.
    async fn add_api_key(
        &self,
        program_id: &str,
        key: &ApiKeyRecord,
        now: Timestamp,
        audit: Option<&AuditEntry>,
    ) -> Result<(), StorageError>;
    /// The program's secret API keys (never the keys themselves), newest first.
    async fn api_keys(&self, program_id: &str) -> Result<Vec<ApiKeyInfo>, StorageError>;
    /// Revokes one live key, with the audit entry in the same transaction; `false` (nothing
    /// written) when the program has no such live key.
    async fn revoke_api_key(
        &self,
        program_id: &str,
        key_id: &str,
        now: Timestamp,
        audit: Option<&AuditEntry>,
    ) -> Result<bool, StorageError>;
    /// The program of a live (unrevoked) API key, found by the key's hash; records its use.
    async fn program_for_api_key(&self, key_hash: &str, now: Timestamp) -> Result<Option<Program>, StorageError>;
}

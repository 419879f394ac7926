//! Console users, their grants and sessions, and the audit log.

use async_trait::async_trait;

use super::StorageError;
use crate::{
    console_users::{AuditEntry, ConsoleUser, Email, Role, Session},
    ledger::Timestamp,
};

/// What a change to a console user came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserChange {
    Done,
    NoSuchUser,
    /// Refused: the console would have no owner left.
    LastOwner,
}

/// What became of a first-run set-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirstOwner {
    Created,
    AlreadySetUp,
    WrongCode,
}

/// Console users, their grants and sessions, and the audit log.
#[async_trait]
pub trait ConsoleUserStore: Send + Sync {
    async fn console_is_set_up(&self) -> Result<bool, StorageError>;
    /// Keeps the hash of a one-time set-up code (printed in the log, asked for by set-up).
    async fn add_setup_code(&self, code_hash: &str, at: Timestamp) -> Result<(), StorageError>;
    /// Creates the first owner when `code_hash` is a set-up code's, in one transaction that
    /// uses up every code; unless the console has been set up already.
    async fn create_first_owner(
        &self,
        user: &ConsoleUser,
        password_hash: &str,
        code_hash: &str,
    ) -> Result<FirstOwner, StorageError>;
    /// Creates a user with their grants and the audit entry, in one transaction; `false`
    /// (nothing written) when the email is taken.
    async fn create_user(
        &self,
        user: &ConsoleUser,
        password_hash: &str,
        program_ids: &[String],
        audit: Option<&AuditEntry>,
    ) -> Result<bool, StorageError>;
    /// The user and their password hash.
    async fn user_by_email(&self, email: &Email) -> Result<Option<(ConsoleUser, String)>, StorageError>;
    async fn start_session(&self, session: &Session) -> Result<(), StorageError>;
    /// The unexpired session with this token hash, and its user.
    async fn session(&self, token_hash: &str, now: Timestamp) -> Result<Option<(Session, ConsoleUser)>, StorageError>;
    async fn end_session(&self, token_hash: &str) -> Result<(), StorageError>;
    async fn granted_programs(&self, user_id: &str) -> Result<Vec<String>, StorageError>;
    /// Every console user with the programs granted to them, by email.
    async fn console_users(&self) -> Result<Vec<(ConsoleUser, Vec<String>)>, StorageError>;
    // Each change below commits with its audit entry, or neither is written.
    /// A user's new role and grants, unless that leaves no owner.
    async fn update_user(
        &self,
        user_id: &str,
        role: Role,
        program_ids: &[String],
        audit: Option<&AuditEntry>,
    ) -> Result<UserChange, StorageError>;
    /// Removes a user with their grants and sessions, unless that leaves no owner.
    async fn remove_user(&self, user_id: &str, audit: Option<&AuditEntry>) -> Result<UserChange, StorageError>;
    /// A new password hash; every session of the user ends but `keep` (a token hash).
    async fn set_user_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep: Option<&str>,
        audit: Option<&AuditEntry>,
    ) -> Result<UserChange, StorageError>;
    /// An audit entry of its own: for what writes nothing else (revealing a secret).
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StorageError>;
    /// Newest first.
    async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, StorageError>;
}

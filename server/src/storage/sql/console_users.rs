//! Console users, grants, sessions and the audit log.

use async_trait::async_trait;

use super::{on_pool, Dialect, Pool, SqlStorage};
use crate::{
    console_users::{AuditEntry, ConsoleUser, Email, Role, Session},
    ledger::Timestamp,
    storage::{ConsoleUserStore, FirstOwner, StorageError, UserChange},
};

type UserRow = (String, String, String, i64);

fn to_user((id, email, role, created_at_ms): UserRow) -> Result<ConsoleUser, StorageError> {
    Ok(ConsoleUser {
        id,
        email: Email::parse(&email).map_err(|_| StorageError::Corrupt(format!("console user email {email:?}")))?,
        role: Role::parse(&role).ok_or_else(|| StorageError::Corrupt(format!("console user role {role:?}")))?,
        created_at: Timestamp(created_at_ms),
    })
}

const INSERT_USER: &str = "INSERT INTO console_users (id, email, password_hash, role, created_at_ms)
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (email) DO NOTHING";
/// Marks the console as set up; a no-op (0 rows) when it already is.
const CLAIM_SETUP: &str = "INSERT INTO console_setup (id, created_at_ms) VALUES (1, $1) ON CONFLICT (id) DO NOTHING";
/// Changes to users and roles run one at a time with the owners locked, so two owners demoting
/// or removing each other at once cannot leave the console without one.
const BEGIN_SQLITE: &str = "BEGIN IMMEDIATE";
const BEGIN_POSTGRES: &str = "BEGIN";
const LOCK_OWNERS_SQLITE: &str = "SELECT COUNT(*) FROM console_users WHERE role = 'owner'";
const LOCK_OWNERS_POSTGRES: &str =
    "SELECT COUNT(*) FROM (SELECT id FROM console_users WHERE role = 'owner' FOR UPDATE) owners";
const COUNT_OWNERS: &str = "SELECT COUNT(*) FROM console_users WHERE role = 'owner'";
const INSERT_GRANT: &str =
    "INSERT INTO console_user_grants (user_id, program_id) VALUES ($1, $2) ON CONFLICT (user_id, program_id) DO NOTHING";

/// The insert of a user (nothing when the email is taken), for either database.
fn insert_user<'q, DB: sqlx::Database>(
    user: &'q ConsoleUser,
    password_hash: &'q str,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(INSERT_USER)
        .bind(&user.id)
        .bind(user.email.as_str())
        .bind(password_hash)
        .bind(user.role.as_str())
        .bind(user.created_at.0)
}

#[async_trait]
impl ConsoleUserStore for SqlStorage {
    async fn console_is_set_up(&self) -> Result<bool, StorageError> {
        const SQL: &str = "SELECT COUNT(*) FROM console_setup";
        let count: i64 = on_pool!(self, |pool| sqlx::query_scalar(SQL).fetch_one(pool).await?);
        Ok(count > 0)
    }

    async fn add_setup_code(&self, code_hash: &str, at: Timestamp) -> Result<(), StorageError> {
        const SQL: &str =
            "INSERT INTO console_setup_codes (code_hash, created_at_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING";
        on_pool!(self, |pool| sqlx::query(SQL).bind(code_hash).bind(at.0).execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn create_first_owner(
        &self,
        user: &ConsoleUser,
        password_hash: &str,
        code_hash: &str,
    ) -> Result<FirstOwner, StorageError> {
        // Deleting every code claims them: of two set-ups with one code, one deletes it.
        const USE_CODES: &str = "DELETE FROM console_setup_codes WHERE EXISTS
             (SELECT 1 FROM console_setup_codes WHERE code_hash = $1)";
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let claimed = sqlx::query(CLAIM_SETUP).bind(user.created_at.0).execute(&mut *tx).await?.rows_affected();
            if claimed == 0 {
                tx.rollback().await?;
                return Ok(FirstOwner::AlreadySetUp);
            }
            if sqlx::query(USE_CODES).bind(code_hash).execute(&mut *tx).await?.rows_affected() == 0 {
                tx.rollback().await?;
                return Ok(FirstOwner::WrongCode);
            }
            insert_user(user, password_hash).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(FirstOwner::Created)
        })
    }

    async fn create_user(
        &self,
        user: &ConsoleUser,
        password_hash: &str,
        program_ids: &[String],
        audit: Option<&AuditEntry>,
    ) -> Result<bool, StorageError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let inserted = insert_user(user, password_hash).execute(&mut *tx).await?.rows_affected();
            if inserted == 0 {
                tx.rollback().await?;
                return Ok(false);
            }
            for program_id in program_ids {
                sqlx::query(INSERT_GRANT).bind(&user.id).bind(program_id).execute(&mut *tx).await?;
            }
            sqlx::query(CLAIM_SETUP).bind(user.created_at.0).execute(&mut *tx).await?;
            commit_audited!(tx, audit);
            Ok(true)
        })
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<(ConsoleUser, String)>, StorageError> {
        const SQL: &str = "SELECT id, email, role, created_at_ms, password_hash FROM console_users WHERE email = $1";
        let row: Option<(String, String, String, i64, String)> =
            on_pool!(self, |pool| sqlx::query_as(SQL).bind(email.as_str()).fetch_optional(pool).await?);
        row.map(|(id, email, role, created_at_ms, hash)| Ok((to_user((id, email, role, created_at_ms))?, hash)))
            .transpose()
    }

    async fn start_session(&self, session: &Session) -> Result<(), StorageError> {
        const SQL: &str = "INSERT INTO console_sessions (token_hash, user_id, csrf_token, created_at_ms, expires_at_ms)
             VALUES ($1, $2, $3, $4, $5)";
        // Sign-in is a good moment to forget this user's expired sessions.
        const PRUNE: &str = "DELETE FROM console_sessions WHERE user_id = $1 AND expires_at_ms <= $2";
        on_pool!(self, |pool| {
            sqlx::query(PRUNE).bind(&session.user_id).bind(session.created_at.0).execute(pool).await?;
            sqlx::query(SQL)
                .bind(&session.token_hash)
                .bind(&session.user_id)
                .bind(&session.csrf_token)
                .bind(session.created_at.0)
                .bind(session.expires_at.0)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    async fn session(&self, token_hash: &str, now: Timestamp) -> Result<Option<(Session, ConsoleUser)>, StorageError> {
        const SQL: &str = "SELECT s.csrf_token, s.created_at_ms, s.expires_at_ms,
                 u.id, u.email, u.role, u.created_at_ms
             FROM console_sessions s JOIN console_users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.expires_at_ms > $2";
        let row: Option<(String, i64, i64, String, String, String, i64)> =
            on_pool!(self, |pool| sqlx::query_as(SQL).bind(token_hash).bind(now.0).fetch_optional(pool).await?);
        let Some((csrf_token, created_at_ms, expires_at_ms, id, email, role, user_created_at_ms)) = row else {
            return Ok(None);
        };
        let user = to_user((id, email, role, user_created_at_ms))?;
        let session = Session {
            token_hash: token_hash.to_owned(),
            user_id: user.id.clone(),
            csrf_token,
            created_at: Timestamp(created_at_ms),
            expires_at: Timestamp(expires_at_ms),
        };
        Ok(Some((session, user)))
    }

    async fn end_session(&self, token_hash: &str) -> Result<(), StorageError> {
        const SQL: &str = "DELETE FROM console_sessions WHERE token_hash = $1";
        on_pool!(self, |pool| sqlx::query(SQL).bind(token_hash).execute(pool).await.map(drop)?);
        Ok(())
    }

    async fn granted_programs(&self, user_id: &str) -> Result<Vec<String>, StorageError> {
        const SQL: &str = "SELECT program_id FROM console_user_grants WHERE user_id = $1 ORDER BY program_id";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(SQL).bind(user_id).fetch_all(pool).await?))
    }

    async fn console_users(&self) -> Result<Vec<(ConsoleUser, Vec<String>)>, StorageError> {
        const USERS: &str = "SELECT id, email, role, created_at_ms FROM console_users ORDER BY email";
        const GRANTS: &str = "SELECT user_id, program_id FROM console_user_grants ORDER BY program_id";
        let (users, grants): (Vec<UserRow>, Vec<(String, String)>) = on_pool!(self, |pool| (
            sqlx::query_as(USERS).fetch_all(pool).await?,
            sqlx::query_as(GRANTS).fetch_all(pool).await?
        ));
        users
            .into_iter()
            .map(|row| {
                let user = to_user(row)?;
                let programs = grants.iter().filter(|(id, _)| *id == user.id).map(|(_, program)| program.clone());
                Ok((user.clone(), programs.collect()))
            })
            .collect()
    }

    async fn update_user(
        &self,
        user_id: &str,
        role: Role,
        program_ids: &[String],
        audit: Option<&AuditEntry>,
    ) -> Result<UserChange, StorageError> {
        self.change_user(user_id, Some((role, program_ids)), audit).await
    }

    async fn remove_user(&self, user_id: &str, audit: Option<&AuditEntry>) -> Result<UserChange, StorageError> {
        self.change_user(user_id, None, audit).await
    }

    async fn set_user_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep: Option<&str>,
        audit: Option<&AuditEntry>,
    ) -> Result<UserChange, StorageError> {
        const SET: &str = "UPDATE console_users SET password_hash = $1 WHERE id = $2";
        const END_OTHERS: &str = "DELETE FROM console_sessions WHERE user_id = $1 AND token_hash <> $2";
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            if sqlx::query(SET).bind(password_hash).bind(user_id).execute(&mut *tx).await?.rows_affected() == 0 {
                tx.rollback().await?;
                return Ok(UserChange::NoSuchUser);
            }
            sqlx::query(END_OTHERS).bind(user_id).bind(keep.unwrap_or_default()).execute(&mut *tx).await?;
            commit_audited!(tx, audit);
            Ok(UserChange::Done)
        })
    }

    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StorageError> {
        on_pool!(self, |pool| insert_audit!(pool, entry));
        Ok(())
    }

    async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, StorageError> {
        const SQL: &str = "SELECT at_ms, user_id, user_email, program_id, action, target, before_json, after_json,
                 request_key
             FROM audit_log ORDER BY id DESC LIMIT $1";
        type Row =
            (i64, String, String, Option<String>, String, String, Option<String>, Option<String>, Option<String>);
        let rows: Vec<Row> = on_pool!(self, |pool| sqlx::query_as(SQL).bind(i64::from(limit)).fetch_all(pool).await?);
        let json = |text: Option<String>| text.map(|text| super::json_from_db("audit snapshot", &text)).transpose();
        rows.into_iter()
            .map(|(at_ms, user_id, user_email, program_id, action, target, before, after, request_key)| {
                Ok(AuditEntry {
                    at: Timestamp(at_ms),
                    user_id,
                    user_email,
                    program_id,
                    action,
                    target,
                    before: json(before)?,
                    after: json(after)?,
                    request_key,
                })
            })
            .collect()
    }
}

impl SqlStorage {
    /// Gives a user a new role and grants (`Some`) or removes them with their grants and
    /// sessions (`None`), in one transaction with the owners locked; refused when no owner
    /// would be left.
    async fn change_user(
        &self,
        user_id: &str,
        change: Option<(Role, &[String])>,
        audit: Option<&AuditEntry>,
    ) -> Result<UserChange, StorageError> {
        const SET_ROLE: &str = "UPDATE console_users SET role = $1 WHERE id = $2";
        const CLEAR_GRANTS: &str = "DELETE FROM console_user_grants WHERE user_id = $1";
        const REMOVE: [&str; 3] = [
            "DELETE FROM console_sessions WHERE user_id = $1",
            "DELETE FROM console_user_grants WHERE user_id = $1",
            "DELETE FROM console_users WHERE id = $1",
        ];
        on_pool!(self, |pool, dialect| {
            let mut tx = pool.begin_with(dialect.pick(BEGIN_SQLITE, BEGIN_POSTGRES)).await?;
            let _: i64 =
                sqlx::query_scalar(dialect.pick(LOCK_OWNERS_SQLITE, LOCK_OWNERS_POSTGRES)).fetch_one(&mut *tx).await?;
            let mut changed = 0;
            match change {
                Some((role, _)) => {
                    changed = sqlx::query(SET_ROLE)
                        .bind(role.as_str())
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                None => {
                    for statement in REMOVE {
                        changed = sqlx::query(statement).bind(user_id).execute(&mut *tx).await?.rows_affected();
                    }
                }
            }
            if changed == 0 {
                tx.rollback().await?;
                return Ok(UserChange::NoSuchUser);
            }
            let owners: i64 = sqlx::query_scalar(COUNT_OWNERS).fetch_one(&mut *tx).await?;
            if owners == 0 {
                tx.rollback().await?;
                return Ok(UserChange::LastOwner);
            }
            if let Some((_, program_ids)) = change {
                sqlx::query(CLEAR_GRANTS).bind(user_id).execute(&mut *tx).await?;
                for program_id in program_ids {
                    sqlx::query(INSERT_GRANT).bind(user_id).bind(program_id).execute(&mut *tx).await?;
                }
            }
            commit_audited!(tx, audit);
            Ok(UserChange::Done)
        })
    }
}

/// One audit entry; a retried write's entry (the same request key) is kept once.
pub(super) const INSERT_AUDIT: &str = "INSERT INTO audit_log
         (at_ms, user_id, user_email, program_id, action, target, before_json, after_json, request_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (request_key) DO NOTHING";

/// Appends `$entry` (an [`AuditEntry`]) through `$executor`: a pool, or the transaction of the
/// change it records.
macro_rules! insert_audit {
    ($executor:expr, $entry:expr) => {{
        let entry: &crate::console_users::AuditEntry = $entry;
        sqlx::query(crate::storage::sql::console_users::INSERT_AUDIT)
            .bind(entry.at.0)
            .bind(&entry.user_id)
            .bind(&entry.user_email)
            .bind(&entry.program_id)
            .bind(&entry.action)
            .bind(&entry.target)
            .bind(entry.before.as_ref().map(serde_json::Value::to_string))
            .bind(entry.after.as_ref().map(serde_json::Value::to_string))
            .bind(&entry.request_key)
            .execute($executor)
            .await?;
    }};
}
pub(super) use insert_audit;

/// Appends the audit entry `$audit` (an `Option<&AuditEntry>`) to the transaction `$tx` and
/// commits: the change and its record land together.
macro_rules! commit_audited {
    ($tx:ident, $audit:expr) => {{
        if let Some(entry) = $audit {
            crate::storage::sql::console_users::insert_audit!(&mut *$tx, entry);
        }
        $tx.commit().await?;
    }};
}
pub(super) use commit_audited;

/// Commits `$tx` with the audit entry `$audit` when `$changed` rows changed; else rolls back
/// and the enclosing function answers `Ok(false)` (nothing to change: nothing written).
macro_rules! commit_if_changed {
    ($tx:ident, $changed:expr, $audit:expr) => {{
        if $changed == 0 {
            $tx.rollback().await?;
            return Ok(false);
        }
        crate::storage::sql::console_users::commit_audited!($tx, $audit);
    }};
}
pub(super) use commit_if_changed;

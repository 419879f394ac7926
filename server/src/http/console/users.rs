//! The console's users page (owners only): who may sign in, with which role and programs, new
//! passwords and removal. Storage keeps at least one owner; every change is audited (never a
//! password or its hash).

use serde_json::json;
use tally_app::console::{
    i18n::{tr, trf},
    model::{ConsoleError, UserForm, UserRow, UsersBoard},
    users::UsersConsole,
};

use super::{hash_password, invalid, password_matches, signed_in_user, unavailable, ConsoleService};
use crate::{
    console_users::{ConsoleUser, Email, NewPassword, Role},
    message::message,
    secrets,
    storage::UserChange,
};

fn row_of(user: &ConsoleUser, programs: Vec<String>, you: &ConsoleUser) -> UserRow {
    UserRow {
        id: user.id.clone(),
        email: user.email.as_str().to_owned(),
        role: user.role.as_str().to_owned(),
        programs,
        created_at: user.created_at.to_string(),
        is_you: user.id == you.id,
    }
}

/// What the audit log keeps of a user.
fn snapshot(row: &UserRow) -> serde_json::Value {
    json!({ "email": row.email, "role": row.role, "programs": row.programs })
}

fn refused(change: UserChange, user_id: &str) -> Result<(), ConsoleError> {
    match change {
        UserChange::Done => Ok(()),
        UserChange::NoSuchUser => Err(ConsoleError::NotFound(trf("No console user {0}.", &[&user_id]))),
        UserChange::LastOwner => {
            Err(invalid("role", message!("the console needs an owner: make another user an owner first")))
        }
    }
}

impl ConsoleService {
    /// The owner making a change to console users: signed in, CSRF token matching.
    async fn owner(&self, token: Option<&str>, csrf: &str) -> Result<(String, ConsoleUser), ConsoleError> {
        let (session, user) = self.checked_session(token, csrf).await?;
        only_owners(&user)?;
        Ok((session.token_hash, user))
    }

    /// The user `user_id` as the page shows them.
    async fn user_row(&self, user_id: &str, you: &ConsoleUser) -> Result<UserRow, ConsoleError> {
        let users = self.0.storage.console_users().await.map_err(unavailable)?;
        users
            .into_iter()
            .find(|(user, _)| user.id == user_id)
            .map(|(user, programs)| row_of(&user, programs, you))
            .ok_or_else(|| ConsoleError::NotFound(trf("No console user {0}.", &[&user_id])))
    }

    /// `password` for the user `user_id`, whose sessions end but `keep`; audited as `actor`'s.
    async fn set_password(
        &self,
        actor: &ConsoleUser,
        user_id: &str,
        email: &str,
        password: NewPassword,
        keep: Option<&str>,
    ) -> Result<(), ConsoleError> {
        let hash = hash_password(password).await?;
        let audit =
            self.audit_entry(actor, None, "user.password", email, None, Some(json!({ "other_sessions": "ended" })));
        let change = self.0.storage.set_user_password(user_id, &hash, keep, Some(&audit)).await;
        refused(change.map_err(unavailable)?, user_id)
    }

    /// The programs a form grants (known ones, each once, in order as storage lists them), none
    /// for owners (they see every program).
    async fn grants(&self, role: Role, programs: &[String]) -> Result<Vec<String>, ConsoleError> {
        if role.sees_all_programs() {
            return Ok(Vec::new());
        }
        let known = self.0.storage.list_programs().await.map_err(unavailable)?;
        let mut grants = Vec::new();
        for id in programs {
            if !known.iter().any(|program| program.id == *id) {
                return Err(invalid("programs", message!("programs of this console")));
            }
            if !grants.contains(id) {
                grants.push(id.clone());
            }
        }
        grants.sort();
        Ok(grants)
    }
}

fn only_owners(user: &ConsoleUser) -> Result<(), ConsoleError> {
    if user.role == Role::Owner {
        Ok(())
    } else {
        Err(ConsoleError::Forbidden(tr("Only owners manage console users.").into()))
    }
}

#[async_trait::async_trait]
impl UsersConsole for ConsoleService {
    async fn users(&self, token: Option<&str>) -> Result<UsersBoard, ConsoleError> {
        let (session, user) = self.session(token).await?;
        only_owners(&user)?;
        let users = self.0.storage.console_users().await.map_err(unavailable)?;
        let programs = self.0.storage.list_programs().await.map_err(unavailable)?;
        Ok(UsersBoard {
            user: signed_in_user(&session, &user),
            users: users.into_iter().map(|(row, programs)| row_of(&row, programs, &user)).collect(),
            programs: programs.into_iter().map(|program| (program.id, program.name)).collect(),
        })
    }

    async fn save_user(&self, token: Option<&str>, csrf: &str, form: UserForm) -> Result<UserRow, ConsoleError> {
        let (_, owner) = self.owner(token, csrf).await?;
        let role = Role::parse(&form.role).ok_or_else(|| invalid("role", message!("owner, admin or viewer")))?;
        let grants = self.grants(role, &form.programs).await?;
        let Some(user_id) = form.user_id else {
            let email = Email::parse(&form.email).map_err(|message| invalid("email", message))?;
            let password = NewPassword::parse(&form.password).map_err(|message| invalid("password", message))?;
            let user =
                ConsoleUser { id: secrets::random_token("usr_", 8), email, role, created_at: self.0.clock.now() };
            let hash = hash_password(password).await?;
            let row = row_of(&user, grants, &owner);
            let audit = self.audit_entry(&owner, None, "user.create", &row.email, None, Some(snapshot(&row)));
            if !self.0.storage.create_user(&user, &hash, &row.programs, Some(&audit)).await.map_err(unavailable)? {
                return Err(invalid("email", message!("a console user with this email exists already")));
            }
            return Ok(row);
        };
        let before = self.user_row(&user_id, &owner).await?;
        let after = UserRow { role: role.as_str().to_owned(), programs: grants, ..before.clone() };
        let audit = self.audit_entry(
            &owner,
            None,
            "user.update",
            &after.email,
            Some(snapshot(&before)),
            Some(snapshot(&after)),
        );
        let change = self.0.storage.update_user(&user_id, role, &after.programs, Some(&audit)).await;
        refused(change.map_err(unavailable)?, &user_id)?;
        Ok(after)
    }

    async fn set_user_password(
        &self,
        token: Option<&str>,
        csrf: &str,
        user_id: &str,
        password: &str,
    ) -> Result<(), ConsoleError> {
        let (session_hash, owner) = self.owner(token, csrf).await?;
        let password = NewPassword::parse(password).map_err(|message| invalid("password", message))?;
        let target = self.user_row(user_id, &owner).await?;
        // Every other session of that user ends; an owner changing their own keeps this one.
        let keep = (user_id == owner.id).then_some(session_hash.as_str());
        self.set_password(&owner, user_id, &target.email, password, keep).await
    }

    async fn change_own_password(
        &self,
        token: Option<&str>,
        csrf: &str,
        current: &str,
        password: &str,
    ) -> Result<(), ConsoleError> {
        let (session, user) = self.checked_session(token, csrf).await?;
        let password = NewPassword::parse(password).map_err(|message| invalid("password", message))?;
        let found = self.0.storage.user_by_email(&user.email).await.map_err(unavailable)?;
        if !password_matches(current, found.map(|(_, hash)| hash)).await {
            return Err(invalid("current", message!("wrong password")));
        }
        let email = user.email.as_str().to_owned();
        self.set_password(&user, &user.id, &email, password, Some(&session.token_hash)).await
    }

    async fn remove_user(&self, token: Option<&str>, csrf: &str, user_id: &str) -> Result<(), ConsoleError> {
        let (_, owner) = self.owner(token, csrf).await?;
        if user_id == owner.id {
            return Err(ConsoleError::Forbidden(tr("Owners cannot remove themselves: ask another owner.").into()));
        }
        let before = self.user_row(user_id, &owner).await?;
        let audit = self.audit_entry(&owner, None, "user.remove", &before.email, Some(snapshot(&before)), None);
        refused(self.0.storage.remove_user(user_id, Some(&audit)).await.map_err(unavailable)?, user_id)
    }
}

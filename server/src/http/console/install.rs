//! The console's install page: keys and snippets, and the secret API keys' lifecycle, audited.

use serde_json::json;
use tally_app::console::{
    i18n::trf,
    install::InstallConsole,
    model::{ApiKeyRow, ConsoleError, InstallBoard, NewApiKey},
};

use super::{customers::program_header, signed_in_user, unavailable, ConsoleService};
use crate::{programs::ApiKeyRecord, storage::ApiKeyInfo};

fn key_row(key: &ApiKeyInfo) -> ApiKeyRow {
    ApiKeyRow {
        id: key.id.clone(),
        prefix: key.prefix.clone(),
        created_at: key.created_at.to_string(),
        last_used_at: key.last_used_at.map(|at| at.to_string()),
        revoked_at: key.revoked_at.map(|at| at.to_string()),
    }
}

#[async_trait::async_trait]
impl InstallConsole for ConsoleService {
    async fn install(
        &self,
        token: Option<&str>,
        program_id: &str,
        request_origin: Option<String>,
    ) -> Result<InstallBoard, ConsoleError> {
        let (session, user) = self.session(token).await?;
        let program = self.program(&user, program_id).await?;
        let keys = self.0.storage.api_keys(&program.id).await.map_err(unavailable)?;
        let tally_url = super::browser_origin(self.0.public_url.as_deref(), request_origin)
            .unwrap_or_else(|| "https://YOUR-TALLY-HOST".into());
        Ok(InstallBoard {
            user: signed_in_user(&session, &user),
            program: program_header(self.0.storage.as_ref(), &program).await?,
            tally_url,
            publishable_key: program.publishable_key.clone(),
            allowed_origins: program.allowed_origins.clone(),
            keys: keys.iter().map(key_row).collect(),
        })
    }
    async fn create_api_key(
        &self,
        token: Option<&str>,
        program_id: &str,
        csrf: &str,
    ) -> Result<NewApiKey, ConsoleError> {
        let user = self.writer(token, csrf).await?;
        let program = self.program(&user, program_id).await?;
        let (secret, record) = ApiKeyRecord::generate();
        let now = self.0.clock.now();
        let after = Some(json!({ "prefix": record.key_prefix }));
        let audit = self.audit_entry(&user, Some(&program), "api_key.create", &record.id, None, after);
        self.0.storage.add_api_key(&program.id, &record, now, Some(&audit)).await.map_err(unavailable)?;
        let info = ApiKeyInfo {
            id: record.id,
            prefix: record.key_prefix,
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        };
        Ok(NewApiKey { secret, key: key_row(&info) })
    }
    async fn revoke_api_key(
        &self,
        token: Option<&str>,
        program_id: &str,
        csrf: &str,
        key_id: &str,
    ) -> Result<ApiKeyRow, ConsoleError> {
        let user = self.writer(token, csrf).await?;
        let program = self.program(&user, program_id).await?;
        let now = self.0.clock.now();
        let (before, after) = (Some(json!({ "live": true })), Some(json!({ "live": false })));
        let audit = self.audit_entry(&user, Some(&program), "api_key.revoke", key_id, before, after);
        if !self.0.storage.revoke_api_key(&program.id, key_id, now, Some(&audit)).await.map_err(unavailable)? {
            return Err(ConsoleError::NotFound(trf("No live key {0} in this program.", &[&key_id])));
        }
        let keys = self.0.storage.api_keys(&program.id).await.map_err(unavailable)?;
        keys.iter().find(|key| key.id == key_id).map(key_row).ok_or(ConsoleError::Unavailable)
    }
    /// The widget secret is needed to sign customer tokens; who read it is audited.
    async fn widget_secret(&self, token: Option<&str>, program_id: &str, csrf: &str) -> Result<String, ConsoleError> {
        let user = self.writer(token, csrf).await?;
        let program = self.program(&user, program_id).await?;
        let audit = self.audit_entry(&user, Some(&program), "widget_secret.reveal", &program.id, None, None);
        self.0.storage.append_audit(&audit).await.map_err(unavailable)?;
        Ok(program.widget_secret)
    }
}

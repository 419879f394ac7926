//! The columns that hold sealed secrets (see [`crate::secrets::SecretKeys`]): sealed on the way
//! in, opened on the way out, and re-sealed at start when they are plain (rows from before
//! sealing) or sealed by a previous key (after a rotation).

use super::{on_pool, Dialect, Pool, SqlStorage};
use crate::storage::StorageError;

/// A column of sealed secrets. Its context (table, column, row id) is bound into each value,
/// so a value copied to another row or column does not open there.
#[derive(Clone, Copy, Debug)]
pub(super) enum Sealed {
    Widget,
    Store,
    StoreApi,
    Webhook,
    WebhookPrevious,
}

impl Sealed {
    const ALL: [Self; 5] = [Self::Widget, Self::Store, Self::StoreApi, Self::Webhook, Self::WebhookPrevious];

    fn place(self) -> &'static str {
        match self {
            Self::Widget => "programs.widget_secret",
            Self::Store => "store_connections.secret",
            Self::StoreApi => "store_connections.api_secret",
            Self::Webhook => "webhook_endpoints.secret",
            Self::WebhookPrevious => "webhook_endpoints.previous_secret",
        }
    }

    /// Every row's id and stored value.
    fn select(self) -> &'static str {
        match self {
            Self::Widget => "SELECT id, widget_secret FROM programs",
            Self::Store => "SELECT id, secret FROM store_connections",
            Self::StoreApi => "SELECT id, api_secret FROM store_connections WHERE api_secret IS NOT NULL",
            Self::Webhook => "SELECT id, secret FROM webhook_endpoints",
            Self::WebhookPrevious => {
                "SELECT id, previous_secret FROM webhook_endpoints WHERE previous_secret IS NOT NULL"
            }
        }
    }

    /// Replaces a row's value unless it changed meanwhile: `$1` new, `$2` id, `$3` old.
    fn replace(self) -> &'static str {
        match self {
            Self::Widget => "UPDATE programs SET widget_secret = $1 WHERE id = $2 AND widget_secret = $3",
            Self::Store => "UPDATE store_connections SET secret = $1 WHERE id = $2 AND secret = $3",
            Self::StoreApi => "UPDATE store_connections SET api_secret = $1 WHERE id = $2 AND api_secret = $3",
            Self::Webhook => "UPDATE webhook_endpoints SET secret = $1 WHERE id = $2 AND secret = $3",
            Self::WebhookPrevious => {
                "UPDATE webhook_endpoints SET previous_secret = $1 WHERE id = $2 AND previous_secret = $3"
            }
        }
    }

    fn context(self, row_id: &str) -> String {
        format!("{}:{row_id}", self.place())
    }
}

impl SqlStorage {
    pub(super) fn seal(&self, column: Sealed, row_id: &str, plain: &str) -> String {
        self.keys.seal(&column.context(row_id), plain)
    }

    pub(super) fn open(&self, column: Sealed, row_id: &str, stored: &str) -> Result<String, StorageError> {
        self.keys
            .open(&column.context(row_id), stored)
            .map_err(|error| StorageError::Corrupt(format!("{} of {row_id}: {error}", column.place())))
    }

    /// Seals what is plain and re-seals what an older key sealed; returns how many values.
    pub(super) async fn reseal_secrets(&self) -> Result<u64, StorageError> {
        let mut resealed = 0;
        for column in Sealed::ALL {
            let rows: Vec<(String, String)> =
                on_pool!(self, |pool| sqlx::query_as(column.select()).fetch_all(pool).await?);
            for (id, stored) in rows.into_iter().filter(|(_, stored)| self.keys.needs_resealing(stored)) {
                let sealed = self.seal(column, &id, &self.open(column, &id, &stored)?);
                let query = column.replace();
                resealed += on_pool!(self, |pool| {
                    sqlx::query(query).bind(&sealed).bind(&id).bind(&stored).execute(pool).await?.rows_affected()
                });
            }
        }
        if resealed > 0 {
            tracing::info!(resealed, "sealed stored secrets with the current secret key");
        }
        Ok(resealed)
    }
}

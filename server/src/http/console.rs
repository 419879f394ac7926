//! The admin console under `/admin`: server-rendered Leptos pages and their server functions.

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tally_app::{api_types::ProgramListItem, console::ConsoleBackend};

use super::AppState;
use crate::storage::Storage;

pub fn routes(state: &AppState) -> Router<AppState> {
    let backend: Arc<dyn ConsoleBackend> = Arc::new(StorageBackend(state.storage.clone()));
    let options = state.leptos_options.clone();
    Router::new().leptos_routes_with_context(
        state,
        generate_route_list(tally_app::console::App),
        move || provide_context(backend.clone()),
        move || tally_app::shell(options.clone()),
    )
}

/// The console's window onto storage.
struct StorageBackend(Arc<dyn Storage>);

#[async_trait]
impl ConsoleBackend for StorageBackend {
    async fn list_programs(&self) -> Result<Vec<ProgramListItem>, String> {
        let programs = self.0.list_programs().await.map_err(|error| {
            tracing::error!(%error, "console could not list programs");
            "the database did not answer".to_owned()
        })?;
        Ok(programs
            .into_iter()
            .map(|program| ProgramListItem {
                id: program.id,
                name: program.name,
                currency: program.currency,
                publishable_key: program.publishable_key,
            })
            .collect())
    }
}

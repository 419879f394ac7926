//! Tally's connections to the systems around a program: the stores that report to it by their
//! own webhooks (`woocommerce`, stored durably and applied by the `inbox` worker), the events it
//! tells others (`events`, written to the transactional outbox with the writes that cause
//! them), the signed webhooks that carry them (`webhooks`) and the worker that delivers them
//! (`delivery`).

pub mod delivery;
pub mod events;
pub mod inbox;
pub mod webhooks;
pub mod woocommerce;

use std::sync::Arc;

use tokio::sync::Notify;

/// Runs the inbox and the delivery passes until the process ends: at once when `wake` is
/// notified (a write committed events, a store delivered), else every poll. A failed pass is
/// logged and the next one tries again.
pub fn spawn_workers(
    inbox: inbox::InboxWorker,
    delivery: delivery::DeliveryWorker,
    wake: Arc<Notify>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let applied = inbox.run_once().await.unwrap_or_else(|error| {
                tracing::warn!(%error, "inbox pass failed; trying again");
                0
            });
            let sent = delivery.run_once().await.unwrap_or_else(|error| {
                tracing::warn!(%error, "webhook delivery pass failed; trying again");
                0
            });
            if applied + sent == 0 {
                let _ = tokio::time::timeout(delivery.config().poll, wake.notified()).await;
            }
        }
    })
}

//! Tally's black-box tests, one binary (one link of the server instead of one per file): a
//! real server on a free port over a real SQLite file and a real PostgreSQL database.
//!
//! Tests that run on both databases are written once with [`each_db!`], which makes one test
//! case per database (`…::sqlite`, `…::postgres`), so a failure on one never hides the other's
//! result.

/// `each_db! { #[tokio::test] async fn name(db: Db) { … } }`: the tests `name::sqlite` and
/// `name::postgres`, each with the attributes given (the test attribute, doc comments).
macro_rules! each_db {
    ($(#[$attr:meta])* async fn $name:ident($db:ident: Db) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($db: crate::common::Db) $body

            $(#[$attr])*
            async fn sqlite() {
                run(crate::common::Db::Sqlite).await
            }

            $(#[$attr])*
            async fn postgres() {
                run(crate::common::Db::Postgres).await
            }
        }
    };
}

mod common;

mod api_customers;
mod api_orders;
mod api_rewards;
mod api_settings;
mod api_tiers;
mod assets;
mod binary;
mod checkout;
mod console;
mod dashboard;
mod fuzz;
mod hardening;
mod health;
mod hostile_input;
mod imports;
mod mail;
mod openapi;
mod points_service;
mod privacy;
mod referrals;
mod replicas;
mod running_totals;
mod shopify;
mod webhooks;
mod widget_api;
mod widget_customer;
mod woocommerce;
mod wordpress;

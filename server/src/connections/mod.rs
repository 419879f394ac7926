//! Tally's connections to the systems around a program: the events it tells them (`events`,
//! written to the transactional outbox with the writes that cause them), the signed webhooks
//! that carry them (`webhooks`) and the worker that delivers them (`delivery`).

pub mod delivery;
pub mod events;
pub mod webhooks;

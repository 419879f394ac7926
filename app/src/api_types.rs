//! JSON shapes exchanged between the server and browser code (console and widget).
//! Changing a field here changes the wire format of both.

use serde::{Deserialize, Serialize};

/// What the widget shows to every visitor of a storefront: `GET /widget/v1/programs/{key}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramSummary {
    pub name: String,
    /// ISO 4217 code, e.g. `USD`.
    pub currency: String,
    /// What the program calls its points ("points", "stars", ...).
    pub points_name: String,
}

/// One line of the console's program list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramListItem {
    pub id: String,
    pub name: String,
    pub currency: String,
    pub publishable_key: String,
}

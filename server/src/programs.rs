//! Programs: the stores hosted on this server. Every other record belongs to exactly one.

/// A program as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    pub id: String,
    pub name: String,
    pub currency: String,
    pub points_name: String,
    /// Identifies the program in the browser (`data-program="pk_..."`); not a secret.
    pub publishable_key: String,
    /// Storefront origins allowed to call the widget API (`https://shop.example`).
    pub allowed_origins: Vec<String>,
}

impl Program {
    /// Exact match on scheme, host and port, as browsers send the `Origin` header.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins.iter().any(|allowed| allowed == origin)
    }

    pub fn summary(&self) -> tally_app::api_types::ProgramSummary {
        tally_app::api_types::ProgramSummary {
            name: self.name.clone(),
            currency: self.currency.clone(),
            points_name: self.points_name.clone(),
        }
    }
}

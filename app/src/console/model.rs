//! What the console's server functions return: shared by the server (which fills them) and
//! the browser (which shows them).

use serde::{Deserialize, Serialize};

/// The signed-in console user, as pages need them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleUser {
    pub email: String,
    /// `owner`, `admin` or `viewer`.
    pub role: String,
    /// Sent back with every write (hidden form field `csrf`).
    pub csrf: String,
}

/// Why a console call failed; the server also answers with the matching HTTP status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsoleError {
    /// Not signed in, or the session ended (401).
    SignedOut,
    /// Signed in, but this role may not do it, or the CSRF token is missing (403).
    Forbidden(String),
    /// Unknown, or not granted to this user (404).
    NotFound(String),
    /// A field is wrong (422): the field's name and what it should be.
    Invalid { field: String, message: String },
    /// Too many attempts (429).
    TooMany(String),
    /// The database did not answer (503).
    Unavailable,
}

impl ConsoleError {
    pub fn status(&self) -> u16 {
        match self {
            Self::SignedOut => 401,
            Self::Forbidden(_) => 403,
            Self::NotFound(_) => 404,
            Self::Invalid { .. } => 422,
            Self::TooMany(_) => 429,
            Self::Unavailable => 503,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::SignedOut => "Your session has ended. Sign in again.".into(),
            Self::Forbidden(reason) | Self::NotFound(reason) | Self::TooMany(reason) => reason.clone(),
            Self::Invalid { field, message } => format!("{field}: {message}"),
            Self::Unavailable => "The database did not answer. Try again in a moment.".into(),
        }
    }
}

impl std::fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

/// A dashboard's date range as chosen: a preset name, or `custom` with `from`/`to` dates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeChoice {
    pub range: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// Everything a program's dashboard page shows, from one session check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramBoard {
    pub user: ConsoleUser,
    pub dashboard: Dashboard,
    pub history: HistoryView,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dashboard {
    pub program_id: String,
    pub program_name: String,
    pub currency: String,
    pub points_name: String,
    pub time_zone: String,
    /// The preset in effect (`custom` for picked dates).
    pub range: String,
    /// First and last day, `YYYY-MM-DD`, in the program's time zone.
    pub first_day: String,
    pub last_day: String,
    pub status: PointsStatus,
    pub series: Vec<SeriesPoint>,
    pub sources: Vec<SourceTotal>,
    pub top_earners: Vec<TopEarnerRow>,
}

/// Section 1. Flows are within the range; balances are as of now.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsStatus {
    pub issued: i64,
    pub redeemed: i64,
    pub expired: i64,
    /// Taken back by refunds and cancellations (net of redemptions given back).
    pub reversed: i64,
    /// Net manual adjustments.
    pub adjusted: i64,
    pub outstanding: i64,
    pub pending: i64,
    /// `outstanding` at the program's redemption value, in minor units of `currency`.
    pub liability: i64,
}

/// One bucket of the earned-vs-redeemed chart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// First day of the bucket, `YYYY-MM-DD`.
    pub label: String,
    pub earned: i64,
    pub redeemed: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceTotal {
    pub source: String,
    pub points: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopEarnerRow {
    pub customer_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub earned: i64,
    pub balance: i64,
    pub tier: Option<String>,
}

/// Section 4's filters; every field is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryQuery {
    pub customer: Option<String>,
    pub source: Option<String>,
    pub kind: Option<String>,
    /// Where the previous page ended (opaque).
    pub cursor: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRow {
    pub customer_id: String,
    pub kind: String,
    pub points: i64,
    pub source: String,
    pub reference: Option<String>,
    /// RFC 3339 in UTC.
    pub created_at: String,
    pub balance_after: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryView {
    pub rows: Vec<HistoryRow>,
    pub next_cursor: Option<String>,
}

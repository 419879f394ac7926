//! What the console's server functions return: shared by the server (which fills them) and
//! the browser (which shows them).

use serde::{Deserialize, Serialize};

/// The signed-in console user, as pages need them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedInUser {
    pub email: String,
    /// `owner`, `admin` or `viewer`.
    pub role: String,
    /// Sent back with every write (hidden form field `csrf`).
    pub csrf: String,
}

/// Why a console call failed, its texts in the language of the page that called (the server
/// translates them where the error arises); the server also answers with the matching status.
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
            Self::SignedOut => super::i18n::tr("Your session has ended. Sign in again.").into(),
            Self::Forbidden(reason) | Self::NotFound(reason) | Self::TooMany(reason) => reason.clone(),
            Self::Invalid { field, message } => format!("{field}: {message}"),
            Self::Unavailable => super::i18n::tr("The database did not answer. Try again in a moment.").into(),
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
    pub user: SignedInUser,
    pub program: ProgramHeader,
    pub dashboard: Dashboard,
    /// Why the range asked for could not be shown (`to: on or after the start date`): said
    /// beside the range controls while the page shows the default range.
    pub range_error: Option<String>,
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

/// One ledger entry as the console lists it: in the program's history and on a customer's page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryRow {
    pub customer_id: String,
    pub seq: u64,
    pub kind: String,
    pub points: i64,
    pub source: String,
    /// The order, or the reason of a manual adjustment.
    pub reference: Option<String>,
    /// RFC 3339 in UTC.
    pub created_at: String,
    /// Points not yet available (pending until this time).
    pub pending_until: Option<String>,
    pub balance_after: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryView {
    pub rows: Vec<EntryRow>,
    pub next_cursor: Option<String>,
}

/// The customer list's search, order and page; every field is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerQuery {
    /// An exact customer id, or part of an email or name.
    pub q: Option<String>,
    /// `joined` (newest first, the default), `id`, `name`, `email` or `activity`.
    pub sort: Option<String>,
    /// 1-based.
    pub page: Option<u64>,
}

/// The program a page is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramHeader {
    pub id: String,
    pub name: String,
    pub points_name: String,
    /// Webhook endpoints whose deliveries gave up after their retries: every page says so.
    pub failing_endpoints: Vec<FailingEndpoint>,
}

/// A webhook endpoint that stopped receiving the program's events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailingEndpoint {
    pub url: String,
    /// RFC 3339, UTC.
    pub since: String,
}

/// A page of the customer list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerList {
    pub user: SignedInUser,
    pub program: ProgramHeader,
    pub rows: Vec<CustomerRow>,
    /// How many customers match the search in all.
    pub total: u64,
    pub page: u64,
    pub page_size: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerRow {
    pub customer_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// RFC 3339 in UTC.
    pub joined_at: String,
    pub last_activity_at: Option<String>,
    pub available: i64,
    pub pending: i64,
    pub tier: Option<String>,
}

/// A customer's page: balances, tier, ledger and coupons.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerDetail {
    pub user: SignedInUser,
    pub program: ProgramHeader,
    pub customer: CustomerCard,
    /// Newest first.
    pub entries: Vec<EntryRow>,
    /// The `before` of the next (older) page of entries.
    pub older: Option<u64>,
    pub coupons: Vec<CouponRow>,
    /// The emails Tally sent (or held back), newest first.
    pub emails: Vec<EmailLogRow>,
    /// A fresh id for the adjustment form: submitting it twice applies it once.
    pub next_adjustment_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerCard {
    pub customer_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub birthday: Option<String>,
    pub tags: Vec<String>,
    pub joined_at: String,
    pub available: i64,
    pub pending: i64,
    pub expiring_soon: i64,
    pub lifetime_earned: i64,
    pub lifetime_redeemed: i64,
    pub tier: Option<String>,
    pub next_tier: Option<String>,
    pub to_next_tier: Option<i64>,
    /// Of the way from the current tier's threshold (or zero) to the next one.
    pub progress_percent: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponRow {
    pub code: String,
    pub reward_id: String,
    pub points: i64,
    /// `issued`, `consumed`, `cancelled` or `expired` (issued, past its expiry).
    pub status: String,
    pub expires_at: String,
}

/// A manual adjustment as the console's form sends it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdjustmentForm {
    pub csrf: String,
    /// Chosen when the form is shown: submitting twice applies it once.
    pub adjustment_id: String,
    /// Signed: `-50` takes points away.
    pub points: String,
    pub reason: String,
}

/// What an adjustment did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjusted {
    pub points: i64,
    pub balance_after: i64,
    /// The same adjustment had already been applied (a resubmitted form).
    pub replay: bool,
}

/// An entry of the audit log, for owners.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    pub at: String,
    pub user_email: String,
    pub program_id: Option<String>,
    pub action: String,
    pub target: String,
    /// Compact JSON.
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditLog {
    pub user: SignedInUser,
    pub rows: Vec<AuditRow>,
}

/// The users page (owners only): every console user, and the programs grants can name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersBoard {
    pub user: SignedInUser,
    pub users: Vec<UserRow>,
    /// `(id, name)` of every program.
    pub programs: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    /// `owner`, `admin` or `viewer`.
    pub role: String,
    /// The programs an admin or viewer may see (owners see them all).
    pub programs: Vec<String>,
    pub created_at: String,
    /// The user looking at the page.
    pub is_you: bool,
}

/// A new console user, or the role and programs of one (`password` only when creating).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserForm {
    /// `None` creates a user.
    pub user_id: Option<String>,
    pub email: String,
    pub password: String,
    pub role: String,
    pub programs: Vec<String>,
}

/// A reward as the console's form edits it: text fields as typed, money in major units.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardForm {
    /// `None` creates a reward.
    pub reward_id: Option<String>,
    pub name: String,
    pub description: String,
    /// `amount_off`, `percent_off`, `free_shipping`, `free_product` or `points_to_currency`.
    pub kind: String,
    /// `amount_off`: the amount off, in major units (`5.00`).
    pub amount: String,
    pub percent: String,
    pub product_id: String,
    /// The price in points (not for `points_to_currency`).
    pub points: String,
    /// `points_to_currency`: `unit_value` (major units) for every `points_per_unit` points,
    /// the customer choosing `min_points` to `max_points` in `step`s.
    pub points_per_unit: String,
    pub unit_value: String,
    pub min_points: String,
    pub max_points: String,
    pub step: String,
    /// A tier id, or empty for everyone.
    pub min_tier: String,
    /// Empty for no limit.
    pub per_customer_limit: String,
    pub coupon_valid_days: String,
    /// Empty for unlimited.
    pub stock: String,
    pub active: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardRow {
    pub id: String,
    /// What it gives, in words (`USD 5.00 off`).
    pub gives: String,
    /// `500`, or `100–1,000` for points-to-currency.
    pub cost: String,
    pub stock: Option<i64>,
    pub active: bool,
    pub form: RewardForm,
}

/// The rewards page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardsBoard {
    pub user: SignedInUser,
    pub program: ProgramHeader,
    pub currency: String,
    /// `(id, name)`, lowest first.
    pub tiers: Vec<(String, String)>,
    pub rewards: Vec<RewardRow>,
}

/// The install page: what a merchant's developer needs to put the widget on the shop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallBoard {
    pub user: SignedInUser,
    pub program: ProgramHeader,
    /// Where browsers reach Tally (`--public-url`, else the address the console was opened at).
    pub tally_url: String,
    pub publishable_key: String,
    pub allowed_origins: Vec<String>,
    /// Newest first, revoked ones included.
    pub keys: Vec<ApiKeyRow>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRow {
    pub id: String,
    pub prefix: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// A key just created: the secret is shown this once and never stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewApiKey {
    pub secret: String,
    pub key: ApiKeyRow,
}

/// The program's settings as the console's form edits them (text as typed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsForm {
    pub name: String,
    pub points_name: String,
    /// One origin per line.
    pub allowed_origins: String,
    pub pending_days: String,
    /// `never`, `after_earning` or `after_inactivity`.
    pub expiry: String,
    pub expiry_days: String,
    /// `cap_at_zero` or `allow_negative`.
    pub clawback: String,
    /// `redemption_points` points are worth `redemption_amount` (major units).
    pub redemption_points: String,
    pub redemption_amount: String,
    /// IANA name; empty for UTC.
    pub time_zone: String,
    /// `#rrggbb`, or empty for the default.
    pub primary_color: String,
    /// `bottom_right` or `bottom_left`.
    pub launcher_position: String,
    pub launcher_label: String,
    pub join_url: String,
    pub sign_in_url: String,
    /// Whole minutes; empty for a day.
    #[serde(default)]
    pub token_max_lifetime_minutes: String,
    /// Requests a minute; empty for the server's default.
    #[serde(default)]
    pub api_requests_per_minute: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsBoard {
    pub user: SignedInUser,
    pub program: ProgramHeader,
    /// Fixed when the program was created.
    pub currency: String,
    pub form: SettingsForm,
}

/// The earning rules as the console's form edits them (text as typed, money in major units).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarningForm {
    /// `points` for every `per_amount` of eligible order amount.
    pub points: String,
    pub per_amount: String,
    /// `floor`, `round` or `ceil`.
    pub rounding: String,
    pub include_shipping: bool,
    pub include_tax: bool,
    pub subtract_discount: bool,
    pub minimum_order: String,
    /// One `id = percent` per line (`sku-1 = 200` doubles the points of that product).
    pub product_multipliers: String,
    pub category_multipliers: String,
    pub actions: Vec<ActionRuleForm>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRuleForm {
    /// `signup`, `review`, `birthday`, `social_follow`, `newsletter`, `comment`, `referral` or
    /// `custom:NAME`.
    pub action: String,
    pub points: String,
    /// `referral` only: what the new customer earns on their first order.
    pub referred_points: String,
    /// Empty for no cap.
    pub cap_count: String,
    /// `day`, `week`, `month`, `year` or `lifetime`.
    pub cap_per: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarningBoard {
    pub user: SignedInUser,
    pub program: ProgramHeader,
    pub currency: String,
    pub form: EarningForm,
}

/// The tier ladder and the campaigns as the console's form edits them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoyaltyForm {
    /// `points_earned` or `amount_spent`.
    pub basis: String,
    /// `lifetime`, `rolling12_months` or `calendar_year`.
    pub window: String,
    /// Lowest threshold first.
    pub tiers: Vec<TierForm>,
    pub campaigns: Vec<CampaignForm>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierForm {
    pub id: String,
    pub name: String,
    /// Points, or money in major units when the basis is the amount spent.
    pub threshold: String,
    pub multiplier_percent: String,
    pub benefits: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignForm {
    pub id: String,
    pub name: String,
    pub multiplier_percent: String,
    /// First and last day (`YYYY-MM-DD`, in the program's time zone), both included.
    pub first_day: String,
    pub last_day: String,
    /// `purchases`, `actions` or `all`.
    pub applies_to: String,
    pub active: bool,
}

/// A new row: no multiplier.
impl Default for TierForm {
    fn default() -> Self {
        Self {
            id: String::new(),
            name: String::new(),
            threshold: String::new(),
            multiplier_percent: "100".into(),
            benefits: String::new(),
        }
    }
}

/// A new row: on purchases, switched on.
impl Default for CampaignForm {
    fn default() -> Self {
        Self {
            id: String::new(),
            name: String::new(),
            multiplier_percent: "200".into(),
            first_day: String::new(),
            last_day: String::new(),
            applies_to: "purchases".into(),
            active: true,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoyaltyBoard {
    pub user: SignedInUser,
    pub program: ProgramHeader,
    pub currency: String,
    pub time_zone: String,
    pub form: LoyaltyForm,
}

/// The connections page: the stores that report to the program, and where its events go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionsBoard {
    pub user: SignedInUser,
    pub program: ProgramHeader,
    pub stores: Vec<StoreRow>,
    pub endpoints: Vec<EndpointRow>,
    /// Every event type an endpoint can ask for.
    pub event_types: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreRow {
    pub id: String,
    /// `woocommerce` or `shopify`.
    pub platform: String,
    pub webhook_url: String,
    /// Shown to owners and admins only (empty for viewers).
    pub secret: String,
    /// The webhooks to create in the store.
    pub topics: Vec<String>,
    pub deliveries: Vec<TopicRow>,
    /// The store's API when coupons are created there (checkout-native coupons).
    pub api_url: Option<String>,
    pub api_key: Option<String>,
    /// The newest coupons created (or being created) in the store.
    pub coupons: Vec<StoreCouponRow>,
}

/// One coupon Tally creates in a store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreCouponRow {
    pub code: String,
    /// `pending`, `created` or `failed`.
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub updated_at: String,
}

/// One topic's deliveries from a store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicRow {
    pub topic: String,
    pub deliveries: u64,
    pub ignored: u64,
    pub failed: u64,
    /// RFC 3339 in UTC.
    pub last_received_at: String,
    pub last_status: String,
    pub last_outcome: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointRow {
    pub id: String,
    pub url: String,
    pub description: String,
    /// Empty: every type.
    pub event_types: Vec<String>,
    pub failing_since: Option<String>,
    /// Newest first, the last few.
    pub deliveries: Vec<DeliveryRow>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRow {
    pub id: i64,
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: u32,
    pub response_status: Option<u16>,
    pub latency_ms: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: String,
}

/// A program's emails as the console's form edits them (text as typed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailsForm {
    pub sender_name: String,
    pub sender_address: String,
    pub reply_to: String,
    pub storefront_url: String,
    /// `en`, `ko`, `ja`, `zh-CN` or `id`.
    pub default_language: String,
    pub earned_batch_hours: String,
    pub expiry_warning_days: String,
    /// Empty: no last-chance reminder.
    pub last_chance_days: String,
    pub tier_at_risk_days: String,
    /// The messages switched on, by kind (`welcome`, `points_earned`, …).
    pub enabled: Vec<String>,
    /// Every message in every language: the merchant's words or Tally's.
    pub texts: Vec<EmailText>,
}

/// One message's subject and body in one language.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailText {
    pub kind: String,
    pub language: String,
    pub subject: String,
    pub body: String,
}

/// A message in the delivery log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailLogRow {
    pub id: i64,
    pub customer_id: String,
    pub kind: String,
    /// `pending`, `sent`, `failed`, `bounced` or `suppressed`.
    pub status: String,
    pub created_at: String,
    pub sent_at: Option<String>,
    pub to_address: Option<String>,
    pub subject: Option<String>,
    /// Why it failed, bounced or was suppressed.
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailsBoard {
    pub user: SignedInUser,
    pub program: ProgramHeader,
    /// Whether this server has an SMTP server (`TALLY_SMTP_URL`).
    pub mail_configured: bool,
    pub form: EmailsForm,
    /// The values a text may use (`points`, `balance`, …).
    pub values: Vec<String>,
    /// Newest first.
    pub log: Vec<EmailLogRow>,
}

/// A message as it would be sent, with sample values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailPreview {
    /// The message and language previewed (`points_earned-ko`).
    pub of: String,
    pub subject: String,
    pub html: String,
}

/// The program's imports page: the upload form and the imports so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportsBoard {
    pub user: SignedInUser,
    pub program: ProgramHeader,
    /// Newest first.
    pub imports: Vec<ImportDetail>,
    /// The largest file taken, in MB.
    pub max_mb: u64,
}

/// One import's page: the file's columns and the import.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportView {
    pub user: SignedInUser,
    pub program: ProgramHeader,
    pub headers: Vec<String>,
    /// The preset the headers matched (`smile_io`, …).
    pub preset: String,
    pub import: ImportDetail,
}

/// An uploaded file, its dry run and its progress.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportDetail {
    pub id: String,
    pub file_name: String,
    /// `checked`, `running`, `done` or `failed`.
    pub status: String,
    /// `add` or `set`.
    pub mode: String,
    /// The field of each column (`points`, …; empty: ignored).
    pub mapping: Vec<String>,
    pub total_rows: u64,
    pub rejected_rows: u64,
    pub new_customers: u64,
    pub done_rows: u64,
    pub written: u64,
    pub unchanged: u64,
    pub failed: u64,
    /// The first errors, by line, in the reader's language.
    pub errors: Vec<ImportError>,
    pub created_at: String,
    pub finished_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportError {
    pub line: u64,
    pub column: Option<String>,
    pub message: String,
}

/// The referrals page: the links' settings, the claims waiting for a decision, the latest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralsBoard {
    pub user: SignedInUser,
    pub program: ProgramHeader,
    /// Whether an earning rule pays for referrals (without one, links are not offered).
    pub rewarded: bool,
    pub form: ReferralSettingsForm,
    pub held: Vec<ReferralRow>,
    pub recent: Vec<ReferralRow>,
}

/// The referral links' settings as typed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralSettingsForm {
    pub parameter: String,
    pub keep_days: String,
    pub max_claims: String,
    pub window_hours: String,
}

/// A referral as the console lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralRow {
    pub referred_id: String,
    pub referrer_id: String,
    /// `approved`, `held` or `rejected`.
    pub status: String,
    /// Why it is held, in the page's language.
    pub reasons: Vec<String>,
    /// `api`, `widget`, `shopify` or `woocommerce`.
    pub channel: String,
    pub created_at: String,
    pub rewarded_at: Option<String>,
    pub reviewed_by: Option<String>,
}

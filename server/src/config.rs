//! Command line and environment configuration.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "tally", version, about = "Tally: a self-hosted loyalty points platform")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Used when no subcommand is given: `tally` alone serves.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the APIs, the console and the widget (the default).
    Serve(ServeArgs),
    /// Seed a demo program and serve it, plus a sample storefront on a second port.
    Demo(DemoArgs),
    /// Create, list and re-key programs (stores).
    Program(ProgramArgs),
    /// Manage console users (`tally admin …`, the older name, still works).
    #[command(alias = "admin")]
    User(UserArgs),
    /// Import balances from a CSV file (Smile.io, LoyaltyLion, WooCommerce Points and Rewards
    /// exports, or Tally's own columns): checks every row first, then writes them.
    Import(ImportArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://tally.db")]
    pub database_url: String,
    /// The program's id (prg_...).
    #[arg(long)]
    pub program: String,
    /// The CSV file: a header line, then one row per customer.
    pub file: std::path::PathBuf,
    /// add: the points column is added to each balance; set: each balance becomes it.
    #[arg(long, default_value = "add")]
    pub mode: String,
    /// Read the columns as this export's: tally, smile_io, loyaltylion or woocommerce (by
    /// default the one the headers match, or the mapping last used for these headers).
    #[arg(long)]
    pub preset: Option<String>,
    /// A column and the field it fills, e.g. `--map "Points balance=points"` (repeatable;
    /// fields: customer_id, email, name, first_name, last_name, points, lifetime, tier,
    /// birthday, marketing_consent; `=` alone ignores the column).
    #[arg(long = "map")]
    pub map: Vec<String>,
    /// Check the file and print the counts and errors; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Args)]
pub struct UserArgs {
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://tally.db", global = true)]
    pub database_url: String,
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum UserCommand {
    /// Create a console user. The password comes from `TALLY_USER_PASSWORD` or, with
    /// `--password-stdin`, from the first line of standard input (never from the command line).
    Create {
        #[arg(long)]
        email: String,
        /// owner (every program), admin (granted programs, read and write) or viewer (read-only).
        #[arg(long, default_value = "owner")]
        role: String,
        /// A program this user (admin or viewer role) may see (repeatable; owners see every program).
        #[arg(long = "program")]
        programs: Vec<String>,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Print a fresh one-time code for the console's first-run set-up page (the server prints
    /// one in its log at every start until an owner exists).
    SetupCode,
}

#[derive(Debug, Clone, Args)]
pub struct ProgramArgs {
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://tally.db", global = true)]
    pub database_url: String,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: ProgramCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ProgramCommand {
    /// Create a program; prints its id and keys. The secret key is shown only this once.
    Create {
        #[arg(long)]
        name: String,
        /// ISO 4217 code, e.g. USD.
        #[arg(long)]
        currency: String,
        /// What the program calls its points.
        #[arg(long, default_value = "points")]
        points_name: String,
        /// A storefront origin allowed to show the widget, e.g. https://shop.example (repeatable).
        #[arg(long = "allowed-origin")]
        allowed_origins: Vec<String>,
    },
    /// List the programs on this server.
    List,
    /// Replace the secret API key (old keys stop working at once) and the widget secret.
    RotateKeys {
        /// The program's id (prg_...).
        #[arg(long)]
        program: String,
    },
}

/// Where the HTTP server listens and where its built browser assets are.
#[derive(Debug, Clone, Args)]
pub struct HttpArgs {
    /// Address to listen on.
    #[arg(long, env = "TALLY_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    /// Folder with the built console and widget assets (`cargo xtask build` writes it).
    #[arg(long, env = "TALLY_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,
    /// Where browsers reach this server, e.g. https://loyalty.shop.example (behind a proxy):
    /// the install page's snippets use it, and an https address marks console cookies Secure.
    /// Without it the console shows the address it was opened at.
    #[arg(long, env = "TALLY_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The load balancers and proxies in front of Tally (CIDR blocks or addresses, comma
    /// separated, e.g. 10.0.0.0/8): only from these peers are `X-Forwarded-For` (the client's
    /// address, for per-client limits) and `X-Forwarded-Proto` (https marks cookies Secure)
    /// believed. Empty: nobody's are.
    #[arg(long, env = "TALLY_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
    /// Merchant API requests per secret key a minute, per replica, for programs whose settings
    /// do not say (`api_requests_per_minute`).
    #[arg(long, env = "TALLY_API_REQUESTS_PER_MINUTE", default_value_t = crate::http::API_CALLS_PER_KEY_PER_MINUTE,
        value_parser = clap::value_parser!(u32).range(1..))]
    pub api_requests_per_minute: u32,
    /// The SMTP server for shoppers' emails, e.g. `smtp://user:password@mail.example.com:587?tls=required`
    /// (STARTTLS), `smtps://user:password@mail.example.com` (implicit TLS) or
    /// `smtp://127.0.0.1:1025` (a local catcher). Unset: no email is sent.
    #[arg(long, env = "TALLY_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
}

/// `http(s)://host[:port]` without a path, query or trailing slash (one is tolerated).
pub fn parse_public_url(text: &str) -> Result<String, String> {
    let url = text.trim().trim_end_matches('/');
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', ' ', '@']) => Ok(url.to_owned()),
        _ => Err(format!("--public-url must look like https://loyalty.shop.example, not {text:?}")),
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// `sqlite://FILE` (created on first start) or `postgres://USER@HOST/DB`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://tally.db")]
    pub database_url: String,
    /// Seconds between upkeep passes (expiry entries, tier demotions); 0 turns it off.
    #[arg(long, env = "TALLY_UPKEEP_INTERVAL", default_value_t = 86_400)]
    pub upkeep_interval: u64,
    /// Let webhook endpoints use plain http:// and private, loopback or link-local addresses
    /// (a receiver on the same network). Off by default: a merchant's URL could otherwise make
    /// Tally probe the network it runs in.
    #[arg(long, env = "TALLY_WEBHOOKS_ALLOW_PRIVATE")]
    pub webhooks_allow_private: bool,
    /// How often (milliseconds) the webhook worker looks for due deliveries when no local write
    /// woke it (writes on other replicas, retries).
    #[arg(long, env = "TALLY_WEBHOOK_POLL_MS", default_value_t = 500)]
    pub webhook_poll_ms: u64,
    /// How long (milliseconds) a webhook receiver gets to answer. A delivery in flight is leased
    /// for three times this: if this server dies meanwhile, another one sends it after that.
    #[arg(long, env = "TALLY_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000)]
    pub webhook_timeout_ms: u64,
    /// Memory (MiB) for this server's copies of each program's earnings per day, which
    /// custom-range top earners read; the least recently used program's copy goes first.
    #[arg(long, env = "TALLY_REPORT_CACHE_MB", default_value_t = 256)]
    pub report_cache_mb: usize,
    /// Days Tally keeps idempotency records (a retry after this is a new request) and finished
    /// store and webhook deliveries (store deliveries hold shoppers' orders); the upkeep pass
    /// removes them, and expired console sessions.
    #[arg(long, env = "TALLY_RETENTION_DAYS", default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=3650))]
    pub retention_days: u64,
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// The demo keeps its data apart from a real installation's `tally.db`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://tally-demo.db")]
    pub database_url: String,
    /// Address of the sample storefront, a different origin from the Tally server.
    #[arg(long, env = "TALLY_STOREFRONT_LISTEN", default_value = "127.0.0.1:3100")]
    pub storefront_listen: SocketAddr,
    /// Also seed a large program, "Scale Store" (prg_scale), with this many customers…
    #[arg(long, default_value_t = 0)]
    pub customers: u64,
    /// … and about this many ledger entries between them (a year of history).
    #[arg(long, default_value_t = 0)]
    pub entries: u64,
    /// The web inbox of the mail catcher the demo's emails go to (`./dev.sh demo` starts
    /// maildev there), printed with the other addresses.
    #[arg(long, env = "TALLY_DEMO_MAIL_INBOX")]
    pub mail_inbox_url: Option<String>,
}

impl DemoArgs {
    pub fn serve_args(&self) -> ServeArgs {
        ServeArgs {
            http: self.http.clone(),
            database_url: self.database_url.clone(),
            upkeep_interval: 0,
            // The demo runs on one machine: a receiver on localhost is what one would try.
            webhooks_allow_private: true,
            webhook_poll_ms: 500,
            webhook_timeout_ms: 10_000,
            report_cache_mb: 256,
            retention_days: 30,
        }
    }
}

#[cfg(test)]
mod public_url_tests {
    use super::parse_public_url;

    #[test]
    fn public_urls_are_an_origin() {
        assert_eq!(parse_public_url("https://loyalty.shop.example/"), Ok("https://loyalty.shop.example".into()));
        assert_eq!(parse_public_url("http://127.0.0.1:3000"), Ok("http://127.0.0.1:3000".into()));
        for bad in ["loyalty.shop.example", "https://", "https://x.example/path", "ftp://x.example", "https://a@b"] {
            assert!(parse_public_url(bad).is_err(), "{bad}");
        }
    }
}

//! The email worker: sends due messages and records what came of each. A message is leased
//! while it is sent, so replicas send it once in normal operation; a worker that dies mid-send
//! leaves it to be claimed again when the lease runs out (its `Message-ID` stays the same, so
//! a receiving server can tell the resend). Whether to send is decided again at sending: an
//! unsubscribe, a withdrawn consent or a message switched off is honoured at once.

use std::{collections::HashMap, sync::Arc, time::Duration};

use tally_app::console::money::format_money;

use super::{
    mailer::{MailError, Mailer, OutgoingEmail},
    templates::{self, Frame, Values},
    unsubscribe, MessageClass,
};
use crate::{
    connections::{delivery::jitter, webhooks::next_attempt},
    customers::CustomerId,
    ledger::Timestamp,
    programs::Program,
    storage::{DueEmail, EmailOutcome, EmailStatus, Storage, StorageError},
    time::Clock,
};

/// A sending server gets this long; the lease covers a few of them.
const LEASE: Duration = Duration::from_secs(5 * 60);
/// Messages claimed and sent concurrently per pass (over the mailer's pooled connections).
const BATCH: u32 = 128;
/// A message first tried this long after it became due (mail was not configured, or the
/// server was down for days) is news no longer: it is suppressed, not sent late.
const STALE_AFTER_MS: i64 = 3 * 86_400_000;

pub struct EmailWorker {
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
    mailer: Mailer,
    /// Where browsers reach this server: the unsubscribe links point here.
    public_url: Arc<str>,
    unsubscribe_key: [u8; 32],
}

impl EmailWorker {
    pub fn new(storage: Arc<dyn Storage>, clock: Arc<dyn Clock>, mailer: Mailer, public_url: Arc<str>) -> Self {
        let unsubscribe_key = storage.secret_keys().derive(unsubscribe::KEY_PURPOSE);
        Self { storage, clock, mailer, public_url, unsubscribe_key }
    }

    /// One pass: every due message this worker can claim. How many were handled.
    pub async fn run_once(&self) -> Result<usize, StorageError> {
        let now = self.clock.now();
        let lease_until = Timestamp(now.0.saturating_add(LEASE.as_millis() as i64));
        let due = self.storage.claim_emails(now, lease_until, BATCH).await?;
        if due.is_empty() {
            return Ok(0);
        }
        let mut programs: HashMap<String, Option<Program>> = HashMap::new();
        for email in &due {
            if !programs.contains_key(&email.program_id) {
                let program = self.storage.program_by_id(&email.program_id).await?;
                programs.insert(email.program_id.clone(), program);
            }
        }
        let attempts = due.iter().map(|email| self.handle(email, programs[&email.program_id].as_ref()));
        let outcomes: Vec<(i64, EmailOutcome)> = futures_util::future::join_all(attempts)
            .await
            .into_iter()
            .zip(&due)
            .map(|(outcome, email)| outcome.map(|outcome| (email.id, outcome)))
            .collect::<Result<_, _>>()?;
        self.storage.record_emails(&outcomes).await?;
        Ok(outcomes.len())
    }

    async fn handle(&self, email: &DueEmail, program: Option<&Program>) -> Result<EmailOutcome, StorageError> {
        let now = self.clock.now();
        let suppressed = |why: &str| EmailOutcome {
            status: EmailStatus::Suppressed,
            at: now,
            retry_at: None,
            to_address: None,
            language: None,
            subject: None,
            error: Some(why.to_owned()),
        };
        let Some(program) = program else { return Ok(suppressed("the program is gone")) };
        if email.attempts == 0 && now.0.saturating_sub(email.due_at.0) > STALE_AFTER_MS {
            return Ok(suppressed("due more than 3 days ago and never tried: too late to send"));
        }
        let settings = &program.settings.notifications;
        if !settings.sends(email.kind) {
            return Ok(suppressed("this message is switched off"));
        }
        let Ok(customer_id) = CustomerId::parse(&email.customer_id) else { return Ok(suppressed("no such customer")) };
        let Some(customer) = self.storage.customer(&program.id, &customer_id, program.settings.expiry).await? else {
            return Ok(suppressed("no such customer"));
        };
        if self.storage.unsubscribed_at(&program.id, &email.customer_id).await?.is_some() {
            return Ok(suppressed("the customer unsubscribed"));
        }
        let Some(address) = customer.profile.email.clone() else {
            return Ok(suppressed("the customer has no email address"));
        };
        if email.kind.class() == MessageClass::Marketing && customer.profile.marketing_consent != Some(true) {
            return Ok(suppressed("no marketing consent"));
        }
        let lang = settings.lang_for(customer.profile.language.as_deref());
        let values = values_of(program, email, customer.profile.name.clone(), customer.account.available(now));
        let unsubscribe_url =
            unsubscribe::link(&self.public_url, &self.unsubscribe_key, &program.id, &email.customer_id);
        let frame = Frame::of(program, unsubscribe_url.clone());
        // An attempt at the address: when it ended, in which language, with which subject.
        let attempted = |status, subject: Option<&str>, error: Option<String>, retry_at| EmailOutcome {
            status,
            at: self.clock.now(),
            retry_at,
            to_address: Some(address.clone()),
            language: Some(lang.tag().to_owned()),
            subject: subject.map(str::to_owned),
            error,
        };
        let rendered = match templates::render(settings, email.kind, lang, &values, &frame) {
            Ok(rendered) => rendered,
            Err(error) => {
                let error = format!("the template does not render: {error}");
                return Ok(attempted(EmailStatus::Failed, None, Some(error), None));
            }
        };
        let sender_name = settings.sender_name.clone().unwrap_or_else(|| program.name.clone());
        let outgoing = OutgoingEmail {
            from_name: Some(sender_name),
            from_address: settings.sender_address.clone().unwrap_or_default(),
            reply_to: settings.reply_to.clone(),
            to: address.clone(),
            subject: rendered.subject.clone(),
            text: rendered.text,
            html: rendered.html,
            unsubscribe_url: Some(unsubscribe_url),
            message_id: email.message_id.clone(),
        };
        let subject = Some(rendered.subject.as_str());
        Ok(match self.mailer.send(&outgoing).await {
            Ok(()) => attempted(EmailStatus::Sent, subject, None, None),
            Err(MailError::Send { message, permanent: true }) => {
                attempted(EmailStatus::Bounced, subject, Some(message), None)
            }
            Err(error) => match next_attempt(email.attempts + 1, self.clock.now(), jitter()) {
                Some(retry_at) => attempted(EmailStatus::Pending, subject, Some(error.to_string()), Some(retry_at)),
                None => attempted(EmailStatus::Failed, subject, Some(error.to_string()), None),
            },
        })
    }
}

/// The message's values: the program's names, the customer's, and what the message tells.
fn values_of(program: &Program, email: &DueEmail, customer_name: Option<String>, balance: i64) -> Values {
    let data = &email.data;
    let text = |key: &str| data[key].as_str().map(str::to_owned);
    let settings = &program.settings;
    Values {
        customer_name,
        program_name: program.name.clone(),
        points_name: program.points_name.clone(),
        points: email.points,
        balance,
        reward_name: text("reward_name"),
        reward_points: data["reward_points"].as_i64(),
        expires_on: text("expires_at").or_else(|| text("drops_at")).map(|at| at.chars().take(10).collect()),
        tier_name: text("tier_id").map(|id| settings.tiers.tier(&id).map_or(id.clone(), |tier| tier.name.clone())),
        to_keep: data["needed"].as_i64().map(|needed| match data["basis"].as_str() {
            Some("amount_spent") => format_money(needed, &program.currency),
            _ => format!("{needed} {}", program.points_name),
        }),
        store_url: settings.notifications.store_link(),
    }
}

//! The console's emails page: the program's `notifications` settings, checked by
//! [`Program::update`] like `PUT /api/v1/settings`, previews and test sends through the
//! templates the worker uses, and the delivery log.

use serde_json::json;
use tally_app::{
    console::{
        emails::EmailsConsole,
        i18n::{tr, trf},
        model::{ConsoleError, EmailLogRow, EmailPreview, EmailText, EmailsBoard, EmailsForm},
    },
    lang::Lang,
};

use super::{customers::program_header, invalid, invalid_field, signed_in_user, unavailable, ConsoleService};
use crate::{
    message::message,
    notifications::{
        mailer::OutgoingEmail,
        templates::{self, default_text},
        MessageKind, MessageText,
    },
    programs::Program,
    storage::EmailRecord,
};

/// How many messages the log shows.
const LOG_ROWS: u32 = 100;

fn form_of(program: &Program) -> EmailsForm {
    let settings = &program.settings.notifications;
    let optional = |text: &Option<String>| text.clone().unwrap_or_default();
    let mut texts = Vec::new();
    for kind in MessageKind::ALL {
        for lang in Lang::ALL {
            let (subject, body) = match settings.text(kind, lang) {
                Some(text) => (text.subject.clone(), text.body.clone()),
                None => {
                    let (subject, body) = default_text(kind, lang);
                    (subject.to_owned(), body.to_owned())
                }
            };
            texts.push(EmailText { kind: kind.as_str().to_owned(), language: lang.tag().to_owned(), subject, body });
        }
    }
    EmailsForm {
        sender_name: optional(&settings.sender_name),
        sender_address: optional(&settings.sender_address),
        reply_to: optional(&settings.reply_to),
        storefront_url: optional(&settings.storefront_url),
        default_language: settings.default_lang().tag().to_owned(),
        earned_batch_hours: settings.earned_batch_hours.to_string(),
        expiry_warning_days: settings.expiry_warning_days.to_string(),
        last_chance_days: settings.last_chance_days.map(|days| days.to_string()).unwrap_or_default(),
        tier_at_risk_days: settings.tier_at_risk_days.to_string(),
        enabled: MessageKind::ALL
            .into_iter()
            .filter(|kind| *kind != MessageKind::LastChance && settings.switched_on(*kind))
            .map(|kind| kind.as_str().to_owned())
            .collect(),
        texts,
    }
}

/// The message text of a form's row; the row's field names the error.
fn text_of(text: &EmailText) -> Result<(MessageKind, Lang), ConsoleError> {
    let kind = MessageKind::parse(&text.kind)
        .ok_or_else(|| invalid("texts", message!("one text per message and language")))?;
    let lang = Some(text.language.as_str())
        .filter(|tag| crate::notifications::is_language(tag))
        .and_then(Lang::from_tag)
        .ok_or_else(|| invalid("texts", message!("one of en, ko, ja, zh-CN, id")))?;
    Ok((kind, lang))
}

fn apply(program: &mut Program, form: &EmailsForm) -> Result<(), ConsoleError> {
    let optional = |text: &str| Some(text.trim().to_owned()).filter(|text| !text.is_empty());
    let whole =
        |field: &str, text: &str| text.trim().parse::<u32>().map_err(|_| invalid(field, message!("a whole number")));
    let mut settings = program.settings.clone();
    let notifications = &mut settings.notifications;
    notifications.sender_name = optional(&form.sender_name);
    notifications.sender_address = optional(&form.sender_address);
    notifications.reply_to = optional(&form.reply_to);
    notifications.storefront_url = optional(&form.storefront_url);
    notifications.default_language = optional(&form.default_language);
    notifications.earned_batch_hours = whole("earned_batch_hours", &form.earned_batch_hours)?;
    notifications.expiry_warning_days = whole("expiry_warning_days", &form.expiry_warning_days)?;
    notifications.last_chance_days =
        optional(&form.last_chance_days).map(|days| whole("last_chance_days", &days)).transpose()?;
    notifications.tier_at_risk_days = whole("tier_at_risk_days", &form.tier_at_risk_days)?;
    for kind in MessageKind::ALL {
        notifications.set_switch(kind, form.enabled.iter().any(|name| name == kind.as_str()));
    }
    // Texts equal to Tally's are not stored: they follow Tally's wording as it improves.
    let mut texts = Vec::new();
    for text in &form.texts {
        let (kind, lang) = text_of(text)?;
        let (subject, body) = (text.subject.trim(), text.body.trim());
        if (subject, body) != default_text(kind, lang) {
            texts.push(MessageText {
                kind,
                language: lang.tag().to_owned(),
                subject: subject.to_owned(),
                body: body.to_owned(),
            });
        }
    }
    notifications.texts = texts;
    let (name, points_name, origins) =
        (program.name.clone(), program.points_name.clone(), program.allowed_origins.clone());
    program.update(&name, &points_name, origins, settings).map_err(invalid_field)
}

fn log_row(record: EmailRecord) -> EmailLogRow {
    EmailLogRow {
        id: record.id,
        customer_id: record.customer_id,
        kind: record.kind.as_str().to_owned(),
        status: record.status.as_str().to_owned(),
        created_at: record.created_at.to_string(),
        sent_at: record.sent_at.map(|at| at.to_string()),
        to_address: record.to_address,
        subject: record.subject,
        error: record.last_error,
    }
}

impl ConsoleService {
    /// A customer's messages, newest first, for their page.
    pub(super) async fn customer_emails(
        &self,
        program_id: &str,
        customer_id: &str,
    ) -> Result<Vec<EmailLogRow>, ConsoleError> {
        let records =
            self.0.storage.emails(program_id, Some(customer_id), None, LOG_ROWS).await.map_err(unavailable)?;
        Ok(records.into_iter().map(log_row).collect())
    }

    /// `text` rendered with sample values, as the program would send it.
    fn render_sample(&self, program: &Program, text: &EmailText) -> Result<templates::Rendered, ConsoleError> {
        let (_, lang) = text_of(text)?;
        let store_url = program.settings.notifications.store_link();
        let values = templates::sample_values(&program.name, &program.points_name, store_url);
        let unsubscribe = format!("{}/email/unsubscribe", self.0.public_url.as_deref().unwrap_or(""));
        let frame = templates::Frame::of(program, unsubscribe);
        templates::render_text(&text.subject, &text.body, lang, &values, &frame)
            .map_err(|error| invalid("texts", message!("the template does not render: {0}", error)))
    }
}

#[async_trait::async_trait]
impl EmailsConsole for ConsoleService {
    async fn emails(&self, token: Option<&str>, program_id: &str) -> Result<EmailsBoard, ConsoleError> {
        let (session, user) = self.session(token).await?;
        let program = self.program(&user, program_id).await?;
        let log = self.0.storage.emails(&program.id, None, None, LOG_ROWS).await.map_err(unavailable)?;
        Ok(EmailsBoard {
            user: signed_in_user(&session, &user),
            program: program_header(self.0.storage.as_ref(), &program).await?,
            mail_configured: self.0.mailer.is_some() && self.0.public_url.is_some(),
            form: form_of(&program),
            values: templates::VALUES.iter().map(|value| (*value).to_owned()).collect(),
            log: log.into_iter().map(log_row).collect(),
        })
    }

    async fn save_emails(
        &self,
        token: Option<&str>,
        program_id: &str,
        csrf: &str,
        form: EmailsForm,
    ) -> Result<EmailsForm, ConsoleError> {
        let user = self.writer(token, csrf).await?;
        let program = self.program(&user, program_id).await?;
        // The audit keeps the settings, not every text of every language.
        let snapshot = |program: &Program| {
            let mut settings = program.settings.notifications.clone();
            let texts = std::mem::take(&mut settings.texts).len();
            json!({ "notifications": settings, "custom_texts": texts })
        };
        let change = |program: &mut Program| apply(program, &form);
        let program = self.save_program_part(&user, &program.id, "program.emails", snapshot, change).await?;
        Ok(form_of(&program))
    }

    async fn preview_email(
        &self,
        token: Option<&str>,
        program_id: &str,
        text: EmailText,
    ) -> Result<EmailPreview, ConsoleError> {
        let (_, user) = self.session(token).await?;
        let program = self.program(&user, program_id).await?;
        let rendered = self.render_sample(&program, &text)?;
        Ok(EmailPreview {
            of: format!("{}-{}", text.kind, text.language),
            subject: rendered.subject,
            html: rendered.html,
        })
    }

    async fn send_test_email(
        &self,
        token: Option<&str>,
        program_id: &str,
        csrf: &str,
        text: EmailText,
    ) -> Result<String, ConsoleError> {
        let user = self.writer(token, csrf).await?;
        let program = self.program(&user, program_id).await?;
        let Some(mailer) = &self.0.mailer else {
            return Err(ConsoleError::Invalid {
                field: "mail".into(),
                message: tr("This server sends no email yet: its operator sets TALLY_SMTP_URL (and TALLY_PUBLIC_URL). You can prepare everything here meanwhile.").to_owned(),
            });
        };
        let settings = &program.settings.notifications;
        let Some(sender) = settings.sender_address.clone() else {
            return Err(invalid("sender_address", message!("set a From address and save first")));
        };
        let rendered = self.render_sample(&program, &text)?;
        let address = user.email.as_str().to_owned();
        let email = OutgoingEmail {
            from_name: Some(settings.sender_name.clone().unwrap_or_else(|| program.name.clone())),
            from_address: sender,
            reply_to: settings.reply_to.clone(),
            to: address.clone(),
            subject: format!("[{}] {}", tr("Test"), rendered.subject),
            text: rendered.text,
            html: rendered.html,
            unsubscribe_url: None,
            message_id: format!("<{}@tally>", crate::secrets::random_token("test_", 16)),
        };
        mailer.send(&email).await.map_err(|error| {
            tracing::warn!(%error, "a test email was not sent");
            ConsoleError::Invalid {
                field: "mail".into(),
                message: trf("The SMTP server did not take the message: {0}", &[&error]),
            }
        })?;
        Ok(address)
    }
}

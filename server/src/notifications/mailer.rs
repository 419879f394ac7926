//! SMTP, as the operator configures it: `TALLY_SMTP_URL` such as
//! `smtp://user:password@mail.example.com:587?tls=required` (STARTTLS),
//! `smtps://user:password@mail.example.com` (implicit TLS, port 465) or `smtp://localhost:1025`
//! (a local catcher, no TLS). lettre parses the URL and speaks SMTP; this module builds the
//! messages: a plain-text and an HTML part, and the one-click unsubscribe headers (RFC 8058).

use lettre::{
    message::{header::ContentType, Mailbox, MultiPart, SinglePart},
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Never quotes the URL: it may hold the SMTP password.
    #[error("the SMTP URL is not valid: use smtp://USER:PASSWORD@HOST:PORT (STARTTLS with ?tls=required), smtps://USER:PASSWORD@HOST (implicit TLS) or smtp://HOST:PORT (no TLS)")]
    Url,
    #[error("an address is not valid: {0}")]
    Address(String),
    #[error("the message could not be built: {0}")]
    Build(String),
    /// The server refused or could not be reached; `permanent` for a 5xx answer (a bounce at
    /// SMTP time: retrying will not help).
    #[error("the SMTP server did not take the message: {message}")]
    Send { message: String, permanent: bool },
}

/// One message to one shopper.
#[derive(Clone, Debug)]
pub struct OutgoingEmail {
    /// The From name (`Program Name`), encoded as headers need.
    pub from_name: Option<String>,
    pub from_address: String,
    pub reply_to: Option<String>,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The signed one-click unsubscribe link: `List-Unsubscribe` and `List-Unsubscribe-Post`.
    pub unsubscribe_url: Option<String>,
    /// The message's id, so that a receiver (and our delivery log) can tell a resend.
    pub message_id: String,
}

/// Sends messages over one SMTP configuration (connections pooled).
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl Mailer {
    pub fn from_url(url: &str) -> Result<Self, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|_| MailError::Url)?
            .timeout(Some(std::time::Duration::from_secs(30)))
            .build();
        Ok(Self { transport })
    }

    pub async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        let message = build(email)?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|error| MailError::Send { permanent: error.is_permanent(), message: error.to_string() })
    }
}

fn mailbox(address: &str) -> Result<Mailbox, MailError> {
    address.parse().map_err(|_| MailError::Address(address.to_owned()))
}

/// The MIME message: multipart/alternative, text first (clients show the last part they can).
pub fn build(email: &OutgoingEmail) -> Result<Message, MailError> {
    let mut builder = Message::builder()
        .from(Mailbox::new(email.from_name.clone(), mailbox(&email.from_address)?.email))
        .to(mailbox(&email.to)?)
        .subject(&email.subject)
        .message_id(Some(email.message_id.clone()));
    if let Some(reply_to) = &email.reply_to {
        builder = builder.reply_to(mailbox(reply_to)?);
    }
    if let Some(url) = &email.unsubscribe_url {
        builder = builder
            .raw_header(lettre::message::header::HeaderValue::new(
                lettre::message::header::HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{url}>"),
            ))
            .raw_header(lettre::message::header::HeaderValue::new(
                lettre::message::header::HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".to_owned(),
            ));
    }
    builder
        .multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(email.text.clone()))
                .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(email.html.clone())),
        )
        .map_err(|error| MailError::Build(error.to_string()))
}

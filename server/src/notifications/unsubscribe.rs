//! One-click unsubscribe links: `…/email/unsubscribe?t=TOKEN`, where the token names the
//! program and the customer and carries an HMAC under a key derived from the server's secret
//! keys, so that nobody can unsubscribe someone else and a link never expires.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The purpose the key is derived for.
pub const KEY_PURPOSE: &str = "tally email unsubscribe link v1";

fn mac(key: &[u8; 32], subject: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(subject);
    mac
}

/// The token of `customer_id` in `program_id`.
pub fn token(key: &[u8; 32], program_id: &str, customer_id: &str) -> String {
    let subject = format!("{program_id}\n{customer_id}");
    let signature = mac(key, subject.as_bytes()).finalize().into_bytes();
    format!("{}.{}", URL_SAFE_NO_PAD.encode(subject), URL_SAFE_NO_PAD.encode(signature))
}

/// The link in a message: `public_url` is where browsers reach this server.
pub fn link(public_url: &str, key: &[u8; 32], program_id: &str, customer_id: &str) -> String {
    format!("{}/email/unsubscribe?t={}", public_url.trim_end_matches('/'), token(key, program_id, customer_id))
}

/// The program and customer a token names, if its signature is right (compared in constant
/// time).
pub fn verify(key: &[u8; 32], token: &str) -> Option<(String, String)> {
    let (subject, signature) = token.split_once('.')?;
    let subject = URL_SAFE_NO_PAD.decode(subject).ok()?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    mac(key, &subject).verify_slice(&signature).ok()?;
    let (program, customer) = std::str::from_utf8(&subject).ok()?.split_once('\n')?;
    Some((program.to_owned(), customer.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_customer_and_cannot_be_forged() {
        let key = [7u8; 32];
        let token = token(&key, "prg_1", "ana\nwith a newline");
        assert_eq!(verify(&key, &token), Some(("prg_1".into(), "ana\nwith a newline".into())));
        assert_eq!(verify(&[8u8; 32], &token), None);
        let (subject, signature) = token.split_once('.').unwrap();
        let other = URL_SAFE_NO_PAD.encode("prg_1\nbob");
        assert_eq!(verify(&key, &format!("{other}.{signature}")), None);
        assert_eq!(verify(&key, subject), None);
        assert!(link("https://t.example/", &key, "prg_1", "ana").starts_with("https://t.example/email/unsubscribe?t="));
    }
}

/// The unsubscribe page's words in `lang`: title, question, button, done, bad link.
pub struct PageWords {
    pub title: &'static str,
    /// `{{ program_name }}` fills in.
    pub question: &'static str,
    pub button: &'static str,
    pub done: &'static str,
    pub invalid: &'static str,
}

pub fn page_words(lang: tally_app::lang::Lang) -> PageWords {
    use tally_app::lang::Lang;
    let (title, question, button, done, invalid) = match lang {
        Lang::En => (
            "Unsubscribe",
            "Stop emails from {{ program_name }}?",
            "Unsubscribe",
            "Done: you will get no more emails from {{ program_name }}.",
            "This unsubscribe link is not valid.",
        ),
        Lang::Ko => (
            "수신 거부",
            "{{ program_name }}의 이메일을 그만 받으시겠습니까?",
            "수신 거부",
            "완료: 더 이상 {{ program_name }}의 이메일을 받지 않습니다.",
            "이 수신 거부 링크는 유효하지 않습니다.",
        ),
        Lang::Ja => (
            "配信停止",
            "{{ program_name }} からのメールを停止しますか？",
            "配信停止",
            "完了しました。{{ program_name }} からのメールは今後届きません。",
            "この配信停止リンクは無効です。",
        ),
        Lang::Zh => (
            "退订",
            "不再接收{{ program_name }}的邮件？",
            "退订",
            "已完成：您将不再收到{{ program_name }}的邮件。",
            "此退订链接无效。",
        ),
        Lang::Id => (
            "Berhenti berlangganan",
            "Berhenti menerima email dari {{ program_name }}?",
            "Berhenti berlangganan",
            "Selesai: Anda tidak akan menerima email lagi dari {{ program_name }}.",
            "Tautan berhenti berlangganan ini tidak valid.",
        ),
    };
    PageWords { title, question, button, done, invalid }
}

/// The page: the question with its button (`action` set), or a statement alone.
pub fn page(lang: tally_app::lang::Lang, program_name: &str, statement: &str, action: Option<&str>) -> String {
    let words = page_words(lang);
    let mut env = minijinja::Environment::new();
    env.set_fuel(Some(10_000));
    let statement = env
        .render_str(statement, minijinja::context! { program_name => program_name })
        .unwrap_or_else(|_| statement.to_owned());
    env.render_named_str(
        "unsubscribe.html",
        PAGE,
        minijinja::context! {
            lang => lang.tag(), title => words.title, statement => statement, action => action, button => words.button,
        },
    )
    .expect("the unsubscribe page renders")
}

const PAGE: &str = r#"<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{{ title }}</title></head>
<body style="font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#111827">
<h1 style="font-size:1.5rem">{{ title }}</h1><p>{{ statement }}</p>
{% if action %}<form method="post" action="{{ action }}"><input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit" style="padding:.6rem 1.2rem;font-size:1rem">{{ button }}</button></form>{% endif %}
</body></html>
"#;

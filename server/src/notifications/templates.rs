//! A message's words: the merchant's subject and body for its kind and language, or Tally's
//! defaults in five languages, filled with the customer's values by minijinja.
//!
//! The subject and body are plain text templates. The HTML part is the rendered body escaped
//! as a whole (merchant text and values alike: nothing the merchant or a customer writes
//! becomes markup), cut into paragraphs and set in Tally's layout, which minijinja renders with
//! HTML auto-escaping in the program's colour and name.

use minijinja::{context, value::Value, Environment};
use tally_app::lang::Lang;

use super::{MessageKind, NotificationSettings};

/// The values a text may use, for the console's help.
pub const VALUES: [&str; 12] = [
    "greeting",
    "customer_name",
    "program_name",
    "points_name",
    "points",
    "balance",
    "reward_name",
    "reward_points",
    "expires_on",
    "tier_name",
    "to_keep",
    "store_url",
];

/// What fills a message in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Values {
    pub customer_name: Option<String>,
    pub program_name: String,
    pub points_name: String,
    pub points: i64,
    pub balance: i64,
    pub reward_name: Option<String>,
    pub reward_points: Option<i64>,
    /// `YYYY-MM-DD`.
    pub expires_on: Option<String>,
    pub tier_name: Option<String>,
    /// What keeps a tier at risk: `120 points` or `USD 12.00`.
    pub to_keep: Option<String>,
    /// The storefront with the widget open.
    pub store_url: Option<String>,
}

/// The layout's looks and links.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// `#rrggbb` and the text colour that reads on it.
    pub color: String,
    pub on_color: String,
    pub unsubscribe_url: String,
}

/// The widget's default indigo.
const DEFAULT_COLOR: &str = "#4f46e5";

impl Frame {
    /// In the program's widget colours.
    pub fn of(program: &crate::programs::Program, unsubscribe_url: String) -> Self {
        let widget = &program.settings.widget;
        Self {
            color: widget.primary_color.clone().unwrap_or_else(|| DEFAULT_COLOR.to_owned()),
            on_color: widget.on_primary_color().unwrap_or("#ffffff").to_owned(),
            unsubscribe_url,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Each template gets this much work (minijinja's fuel): a loop that never ends is stopped.
const FUEL: u64 = 20_000;

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    env
}

/// Values that show what a message looks like (the console's preview and test sends).
pub fn sample_values(program_name: &str, points_name: &str, store_url: Option<String>) -> Values {
    Values {
        customer_name: Some("Ana".into()),
        program_name: program_name.to_owned(),
        points_name: points_name.to_owned(),
        points: 100,
        balance: 500,
        reward_name: Some("Free shipping".into()),
        reward_points: Some(400),
        expires_on: Some("2030-01-31".into()),
        tier_name: Some("Gold".into()),
        to_keep: Some(format!("120 {points_name}")),
        store_url,
    }
}

/// Whether a merchant's template compiles and renders (with sample values).
pub fn check(source: &str) -> Result<(), String> {
    let sample = sample_values("Shop", "points", Some("https://shop.example/?tally=open".into()));
    fill(&environment(), source, &context_of(Lang::En, &sample)).map(drop)
}

fn context_of(lang: Lang, values: &Values) -> Value {
    context! {
        greeting => greeting(lang, values.customer_name.as_deref()),
        customer_name => values.customer_name.clone().unwrap_or_default(),
        program_name => values.program_name.clone(),
        points_name => values.points_name.clone(),
        points => values.points,
        balance => values.balance,
        reward_name => values.reward_name.clone().unwrap_or_default(),
        reward_points => values.reward_points.unwrap_or_default(),
        expires_on => values.expires_on.clone().unwrap_or_default(),
        tier_name => values.tier_name.clone().unwrap_or_default(),
        to_keep => values.to_keep.clone().unwrap_or_default(),
        store_url => values.store_url.clone().unwrap_or_default(),
    }
}

fn fill(env: &Environment<'_>, source: &str, context: &Value) -> Result<String, String> {
    env.render_str(source, context).map_err(|error| {
        let mut text = error.kind().to_string();
        if let Some(detail) = error.detail() {
            text = format!("{text}: {detail}");
        }
        text
    })
}

/// The message of `kind` in `lang`: the merchant's text if they wrote one, else the default.
pub fn render(
    settings: &NotificationSettings,
    kind: MessageKind,
    lang: Lang,
    values: &Values,
    frame: &Frame,
) -> Result<Rendered, String> {
    let (subject, body) = match settings.text(kind, lang) {
        Some(text) => (text.subject.as_str(), text.body.as_str()),
        None => default_text(kind, lang),
    };
    render_text(subject, body, lang, values, frame)
}

/// A message from this subject and body (templates) in `lang`.
pub fn render_text(subject: &str, body: &str, lang: Lang, values: &Values, frame: &Frame) -> Result<Rendered, String> {
    let env = environment();
    let context = context_of(lang, values);
    // One line, whatever the template did.
    let subject = fill(&env, subject, &context)?.split_whitespace().collect::<Vec<_>>().join(" ");
    let body = fill(&env, body, &context)?.trim().to_owned();
    let words = layout_words(lang);
    let footer = fill(&env, words.footer, &context)?;
    let mut text = body.clone();
    if let Some(url) = &values.store_url {
        text.push_str(&format!("\n\n{}: {url}", words.button));
    }
    text.push_str(&format!("\n\n--\n{footer}\n{}: {}\n", words.unsubscribe, frame.unsubscribe_url));
    let paragraphs: String = body
        .split("\n\n")
        .map(str::trim)
        .filter(|paragraph| !paragraph.is_empty())
        .map(|paragraph| {
            let escaped = minijinja::HtmlEscape(paragraph).to_string().replace('\n', "<br>");
            format!("<p style=\"margin:0 0 16px\">{escaped}</p>")
        })
        .collect();
    let html = env
        .render_named_str(
            "layout.html",
            LAYOUT,
            context! {
                lang => lang.tag(),
                subject => &subject,
                program_name => &values.program_name,
                body => Value::from_safe_string(paragraphs),
                store_url => values.store_url.as_deref().map(url_attribute),
                button => words.button,
                footer => &footer,
                unsubscribe => words.unsubscribe,
                unsubscribe_url => url_attribute(&frame.unsubscribe_url),
                color => &frame.color,
                on_color => &frame.on_color,
            },
        )
        .map_err(|error| error.to_string())?;
    Ok(Rendered { subject, text, html })
}

/// A URL for an `href`: minijinja's escaping would write every `/` as `&#x2f;`, which some
/// mail clients and link checkers do not undo. The URLs are ours or validated (no quotes, no
/// angle brackets, no spaces); `&` and `"` are escaped all the same.
fn url_attribute(url: &str) -> Value {
    Value::from_safe_string(url.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;"))
}

/// "Hi Ana," or "Hi," in `lang`.
fn greeting(lang: Lang, name: Option<&str>) -> String {
    let name = name.map(str::trim).filter(|name| !name.is_empty());
    match (lang, name) {
        (Lang::En, Some(name)) => format!("Hi {name},"),
        (Lang::En, None) => "Hi,".into(),
        (Lang::Ko, Some(name)) => format!("{name}님, 안녕하세요."),
        (Lang::Ko, None) => "안녕하세요.".into(),
        (Lang::Ja, Some(name)) => format!("{name} 様"),
        (Lang::Ja, None) => "こんにちは。".into(),
        (Lang::Zh, Some(name)) => format!("{name}，您好："),
        (Lang::Zh, None) => "您好：".into(),
        (Lang::Id, Some(name)) => format!("Halo {name},"),
        (Lang::Id, None) => "Halo,".into(),
    }
}

/// The layout's own words.
pub struct LayoutWords {
    pub button: &'static str,
    /// A template: may use the values.
    pub footer: &'static str,
    pub unsubscribe: &'static str,
}

pub fn layout_words(lang: Lang) -> LayoutWords {
    let (button, footer, unsubscribe) = match lang {
        Lang::En => (
            "See my rewards",
            "You get this email as a member of the {{ program_name }} loyalty program.",
            "Unsubscribe",
        ),
        Lang::Ko => {
            ("내 리워드 보기", "{{ program_name }} 로열티 프로그램 회원이어서 이 이메일을 받으셨습니다.", "수신 거부")
        }
        Lang::Ja => (
            "特典を見る",
            "{{ program_name }} のロイヤルティプログラムの会員のため、このメールをお送りしています。",
            "配信停止",
        ),
        Lang::Zh => ("查看我的奖励", "您收到此邮件，是因为您是{{ program_name }}会员计划的会员。", "退订"),
        Lang::Id => (
            "Lihat hadiah saya",
            "Anda menerima email ini sebagai anggota program loyalitas {{ program_name }}.",
            "Berhenti berlangganan",
        ),
    };
    LayoutWords { button, footer, unsubscribe }
}

/// Tally's subject and body of `kind` in `lang`.
pub fn default_text(kind: MessageKind, lang: Lang) -> (&'static str, &'static str) {
    use MessageKind::*;
    match (lang, kind) {
        (Lang::En, Welcome) => (
            "Welcome to {{ program_name }}",
            "{{ greeting }}\n\nThanks for joining {{ program_name }}! You have {{ balance }} {{ points_name }}.\n\nEarn {{ points_name }} with every order and turn them into rewards.",
        ),
        (Lang::En, PointsEarned) => (
            "You earned {{ points }} {{ points_name }}",
            "{{ greeting }}\n\nYou earned {{ points }} {{ points_name }} at {{ program_name }}. Your balance is now {{ balance }} {{ points_name }}.",
        ),
        (Lang::En, RewardUnlocked) => (
            "You can now redeem {{ reward_name }}",
            "{{ greeting }}\n\nYou have {{ balance }} {{ points_name }}: enough for {{ reward_name }} ({{ reward_points }} {{ points_name }}). Redeem it in one click from your rewards.",
        ),
        (Lang::En, PointsExpiring) => (
            "{{ points }} {{ points_name }} expire on {{ expires_on }}",
            "{{ greeting }}\n\n{{ points }} of your {{ points_name }} at {{ program_name }} expire on {{ expires_on }}. Use them before then.",
        ),
        (Lang::En, LastChance) => (
            "Last chance: {{ points }} {{ points_name }} expire on {{ expires_on }}",
            "{{ greeting }}\n\nThis is your last reminder: {{ points }} {{ points_name }} expire on {{ expires_on }}. Redeem them for a reward before they are gone.",
        ),
        (Lang::En, TierUp) => (
            "Welcome to {{ tier_name }}",
            "{{ greeting }}\n\nCongratulations: you have reached the {{ tier_name }} tier at {{ program_name }}.",
        ),
        (Lang::En, TierAtRisk) => (
            "Keep your {{ tier_name }} tier: {{ to_keep }} more by {{ expires_on }}",
            "{{ greeting }}\n\nYour {{ tier_name }} tier at {{ program_name }} ends on {{ expires_on }}, when older orders leave your 12 months. Another {{ to_keep }} before then keeps it.",
        ),
        (Lang::En, Birthday) => (
            "Happy birthday from {{ program_name }}",
            "{{ greeting }}\n\nHappy birthday! Here are {{ points }} {{ points_name }} from {{ program_name }}. Your balance is now {{ balance }} {{ points_name }}.",
        ),
        (Lang::Ko, Welcome) => (
            "{{ program_name }}에 오신 것을 환영합니다",
            "{{ greeting }}\n\n{{ program_name }}에 가입해 주셔서 감사합니다! 현재 {{ balance }} {{ points_name }}을(를) 보유하고 있습니다.\n\n주문할 때마다 {{ points_name }}을(를) 모아 리워드로 바꾸세요.",
        ),
        (Lang::Ko, PointsEarned) => (
            "{{ points }} {{ points_name }}을(를) 적립했습니다",
            "{{ greeting }}\n\n{{ program_name }}에서 {{ points }} {{ points_name }}을(를) 적립했습니다. 현재 잔액은 {{ balance }} {{ points_name }}입니다.",
        ),
        (Lang::Ko, RewardUnlocked) => (
            "이제 {{ reward_name }}을(를) 교환할 수 있습니다",
            "{{ greeting }}\n\n{{ balance }} {{ points_name }}을(를) 보유하고 있어 {{ reward_name }}({{ reward_points }} {{ points_name }})을(를) 받을 수 있습니다. 리워드에서 한 번의 클릭으로 교환하세요.",
        ),
        (Lang::Ko, PointsExpiring) => (
            "{{ points }} {{ points_name }}이(가) {{ expires_on }}에 만료됩니다",
            "{{ greeting }}\n\n{{ program_name }}의 {{ points_name }} 중 {{ points }}이(가) {{ expires_on }}에 만료됩니다. 그 전에 사용하세요.",
        ),
        (Lang::Ko, LastChance) => (
            "마지막 알림: {{ points }} {{ points_name }}이(가) {{ expires_on }}에 만료됩니다",
            "{{ greeting }}\n\n마지막 알림입니다. {{ points }} {{ points_name }}이(가) {{ expires_on }}에 만료됩니다. 사라지기 전에 리워드로 교환하세요.",
        ),
        (Lang::Ko, TierUp) => (
            "{{ tier_name }} 등급이 되었습니다",
            "{{ greeting }}\n\n축하합니다! {{ program_name }}에서 {{ tier_name }} 등급에 도달했습니다.",
        ),
        (Lang::Ko, TierAtRisk) => (
            "{{ tier_name }} 등급 유지: {{ expires_on }}까지 {{ to_keep }} 더 필요합니다",
            "{{ greeting }}\n\n지난 12개월의 이전 주문이 빠지면서 {{ program_name }}의 {{ tier_name }} 등급이 {{ expires_on }}에 종료됩니다. 그 전에 {{ to_keep }}을(를) 더 모으면 등급이 유지됩니다.",
        ),
        (Lang::Ko, Birthday) => (
            "{{ program_name }}에서 생일을 축하드립니다",
            "{{ greeting }}\n\n생일 축하합니다! {{ program_name }}에서 {{ points }} {{ points_name }}을(를) 드립니다. 현재 잔액은 {{ balance }} {{ points_name }}입니다.",
        ),
        (Lang::Ja, Welcome) => (
            "{{ program_name }}へようこそ",
            "{{ greeting }}\n\n{{ program_name }}にご参加いただきありがとうございます。現在 {{ balance }} {{ points_name }} をお持ちです。\n\nご注文のたびに {{ points_name }} が貯まり、特典と交換できます。",
        ),
        (Lang::Ja, PointsEarned) => (
            "{{ points }} {{ points_name }} を獲得しました",
            "{{ greeting }}\n\n{{ program_name }}で {{ points }} {{ points_name }} を獲得しました。現在の残高は {{ balance }} {{ points_name }} です。",
        ),
        (Lang::Ja, RewardUnlocked) => (
            "{{ reward_name }} と交換できるようになりました",
            "{{ greeting }}\n\n{{ balance }} {{ points_name }} をお持ちなので、{{ reward_name }}（{{ reward_points }} {{ points_name }}）と交換できます。特典からワンクリックで交換できます。",
        ),
        (Lang::Ja, PointsExpiring) => (
            "{{ points }} {{ points_name }} が {{ expires_on }} に失効します",
            "{{ greeting }}\n\n{{ program_name }}の {{ points_name }} のうち {{ points }} が {{ expires_on }} に失効します。それまでにご利用ください。",
        ),
        (Lang::Ja, LastChance) => (
            "最後のお知らせ：{{ points }} {{ points_name }} が {{ expires_on }} に失効します",
            "{{ greeting }}\n\n最後のお知らせです。{{ points }} {{ points_name }} が {{ expires_on }} に失効します。失効する前に特典と交換しましょう。",
        ),
        (Lang::Ja, TierUp) => (
            "{{ tier_name }} ランクになりました",
            "{{ greeting }}\n\nおめでとうございます！{{ program_name }}で {{ tier_name }} ランクに到達しました。",
        ),
        (Lang::Ja, TierAtRisk) => (
            "{{ tier_name }} ランクの維持：{{ expires_on }} までにあと {{ to_keep }}",
            "{{ greeting }}\n\n過去12か月から以前のご注文が外れるため、{{ program_name }}の {{ tier_name }} ランクは {{ expires_on }} に終了します。それまでにあと {{ to_keep }} でランクを維持できます。",
        ),
        (Lang::Ja, Birthday) => (
            "{{ program_name }}からお誕生日のお祝い",
            "{{ greeting }}\n\nお誕生日おめでとうございます！{{ program_name }}から {{ points }} {{ points_name }} をお贈りします。現在の残高は {{ balance }} {{ points_name }} です。",
        ),
        (Lang::Zh, Welcome) => (
            "欢迎加入{{ program_name }}",
            "{{ greeting }}\n\n感谢您加入{{ program_name }}！您现在有 {{ balance }} {{ points_name }}。\n\n每次下单都能赚取{{ points_name }}，并兑换奖励。",
        ),
        (Lang::Zh, PointsEarned) => (
            "您获得了 {{ points }} {{ points_name }}",
            "{{ greeting }}\n\n您在{{ program_name }}获得了 {{ points }} {{ points_name }}。您当前的余额为 {{ balance }} {{ points_name }}。",
        ),
        (Lang::Zh, RewardUnlocked) => (
            "您现在可以兑换{{ reward_name }}",
            "{{ greeting }}\n\n您有 {{ balance }} {{ points_name }}，足以兑换{{ reward_name }}（{{ reward_points }} {{ points_name }}）。在奖励中一键即可兑换。",
        ),
        (Lang::Zh, PointsExpiring) => (
            "{{ points }} {{ points_name }}将于 {{ expires_on }} 过期",
            "{{ greeting }}\n\n您在{{ program_name }}的 {{ points }} {{ points_name }}将于 {{ expires_on }} 过期。请在此之前使用。",
        ),
        (Lang::Zh, LastChance) => (
            "最后提醒：{{ points }} {{ points_name }}将于 {{ expires_on }} 过期",
            "{{ greeting }}\n\n这是最后一次提醒：{{ points }} {{ points_name }}将于 {{ expires_on }} 过期。趁还没过期，兑换一个奖励吧。",
        ),
        (Lang::Zh, TierUp) => (
            "欢迎升级到{{ tier_name }}",
            "{{ greeting }}\n\n恭喜！您已在{{ program_name }}达到{{ tier_name }}等级。",
        ),
        (Lang::Zh, TierAtRisk) => (
            "保住{{ tier_name }}等级：{{ expires_on }}前还需 {{ to_keep }}",
            "{{ greeting }}\n\n由于较早的订单将移出最近 12 个月，您在{{ program_name }}的{{ tier_name }}等级将于 {{ expires_on }} 结束。在此之前再获得 {{ to_keep }} 即可保住等级。",
        ),
        (Lang::Zh, Birthday) => (
            "{{ program_name }}祝您生日快乐",
            "{{ greeting }}\n\n生日快乐！{{ program_name }}送您 {{ points }} {{ points_name }}。您当前的余额为 {{ balance }} {{ points_name }}。",
        ),
        (Lang::Id, Welcome) => (
            "Selamat datang di {{ program_name }}",
            "{{ greeting }}\n\nTerima kasih telah bergabung dengan {{ program_name }}! Anda memiliki {{ balance }} {{ points_name }}.\n\nKumpulkan {{ points_name }} di setiap pesanan dan tukarkan dengan hadiah.",
        ),
        (Lang::Id, PointsEarned) => (
            "Anda mendapat {{ points }} {{ points_name }}",
            "{{ greeting }}\n\nAnda mendapat {{ points }} {{ points_name }} di {{ program_name }}. Saldo Anda sekarang {{ balance }} {{ points_name }}.",
        ),
        (Lang::Id, RewardUnlocked) => (
            "Sekarang Anda bisa menukar {{ reward_name }}",
            "{{ greeting }}\n\nAnda memiliki {{ balance }} {{ points_name }}: cukup untuk {{ reward_name }} ({{ reward_points }} {{ points_name }}). Tukarkan dengan satu klik dari hadiah Anda.",
        ),
        (Lang::Id, PointsExpiring) => (
            "{{ points }} {{ points_name }} kedaluwarsa pada {{ expires_on }}",
            "{{ greeting }}\n\n{{ points }} {{ points_name }} Anda di {{ program_name }} kedaluwarsa pada {{ expires_on }}. Gunakan sebelum tanggal itu.",
        ),
        (Lang::Id, LastChance) => (
            "Kesempatan terakhir: {{ points }} {{ points_name }} kedaluwarsa pada {{ expires_on }}",
            "{{ greeting }}\n\nIni pengingat terakhir: {{ points }} {{ points_name }} kedaluwarsa pada {{ expires_on }}. Tukarkan dengan hadiah sebelum hilang.",
        ),
        (Lang::Id, TierUp) => (
            "Selamat datang di {{ tier_name }}",
            "{{ greeting }}\n\nSelamat! Anda telah mencapai tingkat {{ tier_name }} di {{ program_name }}.",
        ),
        (Lang::Id, TierAtRisk) => (
            "Pertahankan tingkat {{ tier_name }}: {{ to_keep }} lagi sebelum {{ expires_on }}",
            "{{ greeting }}\n\nTingkat {{ tier_name }} Anda di {{ program_name }} berakhir pada {{ expires_on }}, saat pesanan lama keluar dari 12 bulan terakhir Anda. Tambahan {{ to_keep }} sebelum tanggal itu mempertahankannya.",
        ),
        (Lang::Id, Birthday) => (
            "Selamat ulang tahun dari {{ program_name }}",
            "{{ greeting }}\n\nSelamat ulang tahun! Ini {{ points }} {{ points_name }} dari {{ program_name }}. Saldo Anda sekarang {{ balance }} {{ points_name }}.",
        ),
    }
}

/// The HTML part around the body: tables and inline styles, as mail clients need.
const LAYOUT: &str = r#"<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ subject }}</title></head>
<body style="margin:0;padding:0;background:#f3f4f6;font-family:-apple-system,'Segoe UI',Roboto,'Noto Sans','Noto Sans CJK KR','Noto Sans CJK JP','Noto Sans CJK SC',sans-serif">
<table role="presentation" width="100%" cellspacing="0" cellpadding="0" style="background:#f3f4f6"><tr><td align="center" style="padding:24px 12px">
<table role="presentation" width="100%" cellspacing="0" cellpadding="0" style="max-width:560px;background:#ffffff;border-radius:8px;overflow:hidden">
<tr><td style="background:{{ color }};color:{{ on_color }};padding:16px 24px;font-size:18px;font-weight:bold">{{ program_name }}</td></tr>
<tr><td style="padding:24px;font-size:16px;line-height:1.5;color:#111827">{{ body }}
{% if store_url %}<p style="margin:24px 0 8px"><a href="{{ store_url }}" style="display:inline-block;background:{{ color }};color:{{ on_color }};padding:12px 20px;border-radius:6px;text-decoration:none;font-weight:bold">{{ button }}</a></p>{% endif %}
</td></tr>
<tr><td style="padding:16px 24px;border-top:1px solid #e5e7eb;font-size:12px;line-height:1.5;color:#6b7280">{{ footer }} <a href="{{ unsubscribe_url }}" style="color:#6b7280">{{ unsubscribe }}</a></td></tr>
</table></td></tr></table></body></html>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> Frame {
        Frame { color: "#4f46e5".into(), on_color: "#ffffff".into(), unsubscribe_url: "https://t.example/u?t=1".into() }
    }

    fn values() -> Values {
        Values {
            customer_name: Some("Ana <b>".into()),
            program_name: "Shop & Co".into(),
            points_name: "points".into(),
            points: 120,
            balance: 470,
            store_url: Some("https://shop.example/?tally=open".into()),
            ..Values::default()
        }
    }

    #[test]
    fn every_default_renders_in_every_language_with_its_values() {
        for lang in Lang::ALL {
            for kind in MessageKind::ALL {
                let rendered = render(&NotificationSettings::default(), kind, lang, &values(), &frame()).unwrap();
                assert!(!rendered.subject.is_empty() && !rendered.subject.contains("{{"), "{kind:?} {lang:?}");
                assert!(rendered.text.contains("https://t.example/u?t=1"), "{kind:?} {lang:?}");
                assert!(rendered.html.contains(&format!("lang=\"{}\"", lang.tag())));
                // Escaped once, in the body and the header alike.
                assert!(rendered.html.contains("Shop &amp; Co") && !rendered.html.contains("Shop & Co"));
            }
            let (_, english) = default_text(MessageKind::PointsEarned, Lang::En);
            if lang != Lang::En {
                assert_ne!(default_text(MessageKind::PointsEarned, lang).1, english, "{lang:?} is translated");
            }
        }
    }

    #[test]
    fn merchant_text_cannot_become_markup() {
        let settings = NotificationSettings {
            texts: vec![super::super::MessageText {
                kind: MessageKind::PointsEarned,
                language: "en".into(),
                subject: "+{{ points }} for {{ customer_name }}".into(),
                body: "<script>alert(1)</script> {{ customer_name }}\nline two\n\nSecond paragraph".into(),
            }],
            ..Default::default()
        };
        let rendered = render(&settings, MessageKind::PointsEarned, Lang::En, &values(), &frame()).unwrap();
        assert_eq!(rendered.subject, "+120 for Ana <b>");
        assert!(rendered.html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; Ana &lt;b&gt;<br>line two</p>"));
        assert!(!rendered.html.contains("<script>") && !rendered.html.contains("<b>"));
        assert!(rendered.text.starts_with("<script>alert(1)</script> Ana <b>\nline two\n\nSecond paragraph"));
        // Korean has no text of the merchant's: the default.
        let korean = render(&settings, MessageKind::PointsEarned, Lang::Ko, &values(), &frame()).unwrap();
        assert!(korean.subject.contains("적립"));
    }

    #[test]
    fn broken_or_endless_templates_are_refused() {
        assert!(check("{{ points }} and {% if %}").is_err());
        assert!(check("{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}").is_err());
        assert!(check("{{ points }} {{ nothing_like_this }}").is_ok(), "an unknown value is empty, not an error");
    }
}

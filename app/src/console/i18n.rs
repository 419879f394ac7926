//! The console's languages: English, Korean, Japanese, Simplified Chinese and Indonesian.
//!
//! Texts are keyed by their English wording: `tr("Customers")`, and `trf("{0} customers", &[&n])`
//! for texts with values in them. The language comes from the `tally_lang` cookie (the
//! language menu sets it), else the browser's `Accept-Language`, else English; the server
//! renders the page in it and writes it on `<html lang>`, where hydration reads it back, so
//! both sides render the same words. A test checks that every text has all its translations.

use leptos::prelude::*;

mod texts;

/// The cookie that keeps a chosen language.
pub const LANG_COOKIE: &str = "tally_lang";

pub use crate::lang::Lang;

impl Lang {
    /// The language's name in itself, for the language menu.
    pub fn name(self) -> &'static str {
        match self {
            Self::En => "English",
            Self::Ko => "한국어",
            Self::Ja => "日本語",
            Self::Zh => "简体中文",
            Self::Id => "Bahasa Indonesia",
        }
    }

    /// The best of ours in an `Accept-Language` header (`ko-KR,ko;q=0.9,en;q=0.8`).
    pub fn from_accept_language(header: &str) -> Option<Self> {
        let mut offered: Vec<(u16, usize, Self)> = header
            .split(',')
            .enumerate()
            .filter_map(|(position, item)| {
                let mut parts = item.split(';');
                let lang = Self::from_tag(parts.next()?.trim())?;
                let quality = parts.find_map(|part| part.trim().strip_prefix("q=")).map_or(Some(1000), |q| {
                    q.trim().parse::<f32>().ok().map(|q| (q.clamp(0.0, 1.0) * 1000.0) as u16)
                })?;
                (quality > 0).then_some((quality, position, lang))
            })
            .collect();
        // Highest quality first; among equals, the order the browser gave.
        offered.sort_by_key(|(quality, position, _)| (std::cmp::Reverse(*quality), *position));
        offered.first().map(|(_, _, lang)| *lang)
    }

    /// The language a request asks for: its cookie, else its `Accept-Language`, else English.
    #[cfg(feature = "ssr")]
    pub fn of_request(headers: &http::HeaderMap) -> Self {
        let cookie = headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|cookie| cookie.split(';'))
            .find_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                (name == LANG_COOKIE).then(|| Self::from_tag(value)).flatten()
            });
        cookie
            .or_else(|| {
                let header = headers.get(http::header::ACCEPT_LANGUAGE)?.to_str().ok()?;
                Self::from_accept_language(header)
            })
            .unwrap_or_default()
    }

    /// `english` in this language (itself when a translation is missing: the test catches that).
    pub fn translate(self, english: &'static str) -> &'static str {
        self.lookup(english).unwrap_or(english)
    }

    /// A template kept as text (an import's row errors) in this language, its values filled.
    pub fn fill_translated(self, english: &str, values: &[String]) -> String {
        let values: Vec<&dyn std::fmt::Display> = values.iter().map(|value| value as _).collect();
        fill(self.lookup(english).unwrap_or(english), &values)
    }

    fn lookup(self, english: &str) -> Option<&'static str> {
        let row = texts::TEXTS.iter().chain(texts::SERVER_TEXTS).find(|row| row.0 == english)?;
        Some(match self {
            Self::En => row.0,
            Self::Ko => row.1[0],
            Self::Ja => row.1[1],
            Self::Zh => row.1[2],
            Self::Id => row.1[3],
        })
    }
}

/// The language of the page being rendered (or of the server call being answered).
pub fn lang() -> Lang {
    if let Some(lang) = use_context::<Lang>() {
        return lang;
    }
    #[cfg(feature = "ssr")]
    if let Some(parts) = use_context::<http::request::Parts>() {
        return Lang::of_request(&parts.headers);
    }
    #[cfg(feature = "hydrate")]
    if let Some(lang) = document().document_element().and_then(|html| html.get_attribute("lang")) {
        return Lang::from_tag(&lang).unwrap_or_default();
    }
    Lang::En
}

/// `english` in the page's language.
pub fn tr(english: &'static str) -> &'static str {
    lang().translate(english)
}

/// `template` in the page's language, its `{0}`, `{1}`… replaced by `values`.
pub fn trf(template: &'static str, values: &[&dyn std::fmt::Display]) -> String {
    fill(tr(template), values)
}

/// `template` with its `{0}`, `{1}`… replaced by `values`, untranslated (the server's English
/// messages use it too).
pub fn fill(template: &str, values: &[&dyn std::fmt::Display]) -> String {
    let mut text = template.to_owned();
    for (index, value) in values.iter().enumerate() {
        text = text.replace(&format!("{{{index}}}"), &value.to_string());
    }
    text
}

/// Whether `english` has a row in the console's tables (the server's translation test asks).
pub fn is_translated(english: &str) -> bool {
    Lang::En.lookup(english).is_some()
}

/// The texts `source` marks for translation: the string literal right after each of `marks`
/// (`tr(`, `trf(`, `t(`, the server's `message!(`), maybe on the next line. The translation
/// tests of the console and the server read their sources with it.
pub fn marked_texts(source: &str, marks: &[&str]) -> Vec<String> {
    let mut marked = Vec::new();
    for mark in marks {
        let mut rest = source;
        while let Some(at) = rest.find(mark) {
            let before = rest[..at].chars().last();
            rest = &rest[at + mark.len()..];
            let literal = rest.trim_start();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') || !literal.starts_with('"') {
                continue;
            }
            let mut text = String::new();
            let mut chars = literal[1..].chars();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => text.extend(chars.next()),
                    c => text.push(c),
                }
            }
            marked.push(text);
        }
    }
    marked
}

/// The English texts of the rows kept for the server's messages and previews.
pub fn server_texts() -> impl Iterator<Item = &'static str> {
    texts::SERVER_TEXTS.iter().map(|row| row.0)
}

/// Marks a text to translate where it is defined (a `const` table): `tr` translates it where
/// it is shown. The translation test finds the texts by these marks.
pub const fn t(english: &'static str) -> &'static str {
    english
}

/// The language menu: a plain form (the server sends the browser back to the page it came
/// from). Once hydrated, choosing a language sends it; before (or without script), its button
/// does. No inline handler: the Content-Security-Policy allows none.
#[component]
pub fn LanguageMenu() -> impl IntoView {
    let current = lang();
    let form = NodeRef::<leptos::html::Form>::new();
    let submit = move |_| {
        if let Some(form) = form.get() {
            let _ = form.submit();
        }
    };
    view! {
        <form class="inline language" method="post" action="/admin/language" node_ref=form>
            <select name="lang" aria-label=tr("Language") on:change=submit>
                {Lang::ALL.into_iter().map(|lang| view! {
                    <option value=lang.tag() selected=lang == current>{lang.name()}</option>
                }).collect_view()}
            </select>
            <noscript><button class="button" type="submit">{tr("Change")}</button></noscript>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_our_best_match() {
        assert_eq!(Lang::from_accept_language("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7"), Some(Lang::Ko));
        assert_eq!(Lang::from_accept_language("fr-FR,fr;q=0.9,ja;q=0.8,en;q=0.5"), Some(Lang::Ja));
        assert_eq!(Lang::from_accept_language("en;q=0.4, zh-Hans-CN;q=0.6"), Some(Lang::Zh));
        assert_eq!(Lang::from_accept_language("in"), Some(Lang::Id));
        assert_eq!(Lang::from_accept_language("ko;q=0, de"), None);
        assert_eq!(Lang::from_accept_language(""), None);
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn a_cookie_wins_over_the_browser() {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::ACCEPT_LANGUAGE, "ja".parse().unwrap());
        assert_eq!(Lang::of_request(&headers), Lang::Ja);
        headers.insert(http::header::COOKIE, "tally_session=abc; tally_lang=id".parse().unwrap());
        assert_eq!(Lang::of_request(&headers), Lang::Id);
        headers.insert(http::header::COOKIE, "tally_lang=xx".parse().unwrap());
        assert_eq!(Lang::of_request(&headers), Lang::Ja, "an unknown cookie value is ignored");
        assert_eq!(Lang::of_request(&http::HeaderMap::new()), Lang::En);
    }

    #[test]
    fn templates_take_their_values() {
        assert_eq!(fill("{0} of {1}, {0}", &[&1, &"two"]), "1 of two, 1");
    }

    /// Every text the console marks (`tr`, `trf`, `t`) has a row, every row is used, no row is
    /// there twice, and every translation keeps the template's `{N}` values.
    #[test]
    fn every_console_text_has_its_translations() {
        let files = [
            ("mod.rs", include_str!("mod.rs")),
            ("auth.rs", include_str!("auth.rs")),
            ("audit.rs", include_str!("audit.rs")),
            ("charts.rs", include_str!("charts.rs")),
            ("connections.rs", include_str!("connections.rs")),
            ("customers.rs", include_str!("customers.rs")),
            ("dashboard.rs", include_str!("dashboard.rs")),
            ("earning.rs", include_str!("earning.rs")),
            ("emails.rs", include_str!("emails.rs")),
            ("imports.rs", include_str!("imports.rs")),
            ("forms.rs", include_str!("forms.rs")),
            ("install.rs", include_str!("install.rs")),
            ("loyalty.rs", include_str!("loyalty.rs")),
            ("model.rs", include_str!("model.rs")),
            ("referrals.rs", include_str!("referrals.rs")),
            ("money.rs", include_str!("money.rs")),
            ("rewards.rs", include_str!("rewards.rs")),
            ("settings.rs", include_str!("settings.rs")),
            ("users.rs", include_str!("users.rs")),
            ("i18n.rs", include_str!("i18n.rs").split("#[cfg(test)]").next().unwrap()),
        ];
        // A new page's file must be listed above, or its texts would go unchecked.
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/console");
        for entry in std::fs::read_dir(folder).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            assert!(!name.ends_with(".rs") || files.iter().any(|(listed, _)| *listed == name), "{name} is not scanned");
        }
        let sources = files.map(|(_, source)| source);
        let marked: std::collections::BTreeSet<String> =
            sources.iter().flat_map(|source| marked_texts(source, &["tr(", "trf(", "t("])).collect();
        let mut seen = std::collections::BTreeSet::new();
        for (english, translations) in texts::TEXTS.iter().chain(texts::SERVER_TEXTS) {
            assert!(seen.insert(*english), "{english:?} is in the table twice");
            let values = |text: &str| (0..6).filter(|n| text.contains(&format!("{{{n}}}"))).collect::<Vec<_>>();
            for translation in translations {
                assert!(!translation.is_empty(), "{english:?} has an empty translation");
                assert_eq!(values(translation), values(english), "{english:?} -> {translation:?} keeps its values");
            }
        }
        let missing: Vec<_> = marked.iter().filter(|text| !seen.contains(text.as_str())).collect();
        assert!(missing.is_empty(), "texts without translations: {missing:#?}");
        let unused: Vec<_> = texts::TEXTS.iter().map(|row| row.0).filter(|text| !marked.contains(*text)).collect();
        assert!(unused.is_empty(), "rows no console text uses: {unused:#?}");
    }
}

//! The languages Tally speaks, in the widget and in the console: English, Korean, Japanese,
//! Simplified Chinese and Indonesian. Each side has its own words (`widget/src/i18n.rs`,
//! `app/src/console/i18n`); this is what they share.

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    #[default]
    En,
    Ko,
    Ja,
    Zh,
    Id,
}

impl Lang {
    pub const ALL: [Lang; 5] = [Lang::En, Lang::Ko, Lang::Ja, Lang::Zh, Lang::Id];

    /// `ko`, `ko-KR`, `zh-Hans-CN`, `in` (old Indonesian)…; `None` for other languages. No
    /// trimming here: Unicode's white space table would cost the widget bytes.
    pub fn from_tag(tag: &str) -> Option<Self> {
        match tag.split(['-', '_']).next()?.to_ascii_lowercase().as_str() {
            "en" => Some(Self::En),
            "ko" => Some(Self::Ko),
            "ja" => Some(Self::Ja),
            "zh" => Some(Self::Zh),
            "id" | "in" => Some(Self::Id),
            _ => None,
        }
    }

    /// The BCP 47 tag for `Intl` and `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Ko => "ko",
            Self::Ja => "ja",
            Self::Zh => "zh-CN",
            Self::Id => "id",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_name_our_languages() {
        assert_eq!(Lang::from_tag("ko-KR"), Some(Lang::Ko));
        assert_eq!(Lang::from_tag("zh_Hans"), Some(Lang::Zh));
        assert_eq!(Lang::from_tag("IN"), Some(Lang::Id));
        assert_eq!(Lang::from_tag("fr"), None);
        assert!(Lang::ALL.iter().all(|lang| Lang::from_tag(lang.tag()) == Some(*lang)));
    }
}

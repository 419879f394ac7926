//! Messages for people: why a request was refused, what a field should be.
//!
//! A message is its English template (`{0}`, `{1}`… where values go) and its values, made where
//! the error arises (`message!("{0} is used twice", id)`). The REST API writes it in English;
//! the console shows it in the page's language by looking the template up, so nothing has to
//! match English text back into a template. A test checks that every template made here has
//! its translations in the console's table.

use std::fmt;

use tally_app::console::i18n;

/// A message: an English template keyed into the console's translations, and its values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    template: &'static str,
    values: Vec<String>,
}

/// `message!("template {0}", value, …)`: a [`Message`]. The template must be a literal (the
/// translation test finds it by this mark).
macro_rules! message {
    ($template:literal $(, $value:expr)* $(,)?) => {
        $crate::message::Message::new($template, vec![$($value.to_string()),*])
    };
}
pub(crate) use message;

impl Message {
    pub fn new(template: &'static str, values: Vec<String>) -> Self {
        Self { template, values }
    }

    /// The English template, as kept with what it describes (an import's row errors).
    pub fn template(&self) -> &'static str {
        self.template
    }

    pub fn values_text(&self) -> &[String] {
        &self.values
    }

    /// The message in the language of the page being answered.
    pub fn translated(&self) -> String {
        i18n::trf(self.template, &self.values())
    }

    fn values(&self) -> Vec<&dyn fmt::Display> {
        self.values.iter().map(|value| value as _).collect()
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&i18n::fill(self.template, &self.values()))
    }
}

/// A message kept as its template and values (an import's row errors), in English.
pub fn fill_stored(template: &str, values: &[String]) -> String {
    let values: Vec<&dyn fmt::Display> = values.iter().map(|value| value as _).collect();
    i18n::fill(template, &values)
}

/// A field of a request and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: Message,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: Message) -> Self {
        Self { field: field.into(), message }
    }

    /// The same error under a longer name (`id` of the tier list's `tiers[0].id`).
    pub fn within(self, prefix: impl fmt::Display) -> Self {
        Self { field: format!("{prefix}.{}", self.field), ..self }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_its_template_with_the_values_in() {
        let message = message!("the lines add up to {0}, not to the subtotal {1}", 90, 100);
        assert_eq!(message.to_string(), "the lines add up to 90, not to the subtotal 100");
        let field = FieldError::new("subtotal", message).within("orders[0]");
        assert_eq!(field.to_string(), "orders[0].subtotal: the lines add up to 90, not to the subtotal 100");
    }

    /// The texts this crate marks (`message!`, `tr`, `trf`, `t`) in its sources.
    fn marked_texts() -> std::collections::BTreeSet<String> {
        fn sources(dir: &std::path::Path, into: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    sources(&path, into);
                } else if path.extension().is_some_and(|ext| ext == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    // Comments show examples; this file's tests name the marks.
                    let text =
                        if path.ends_with("message.rs") { text.split("#[cfg(test)]").next().unwrap() } else { &text };
                    let code: Vec<_> = text.lines().filter(|line| !line.trim_start().starts_with("//")).collect();
                    into.push(code.join("\n"));
                }
            }
        }
        let mut files = Vec::new();
        sources(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
        let marks = ["message!(", "tr(", "trf(", "t("];
        files.iter().flat_map(|source| i18n::marked_texts(source, &marks)).collect()
    }

    /// Every message and text the server makes for the console has its translations, and the
    /// console's table of server texts holds nothing the server no longer says.
    #[test]
    fn every_server_text_has_its_translations() {
        let marked = marked_texts();
        assert!(marked.contains("{0} is used twice"), "the scan finds the marks");
        let missing: Vec<_> = marked.iter().filter(|text| !i18n::is_translated(text)).collect();
        assert!(missing.is_empty(), "server texts without translations: {missing:#?}");
        let unused: Vec<_> = i18n::server_texts().filter(|text| !marked.contains(*text)).collect();
        assert!(unused.is_empty(), "server-text rows the server never makes: {unused:#?}");
    }
}

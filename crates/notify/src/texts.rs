//! The texts of a policy-change notice (clause 9.2): a subject line and a plain-text body per
//! language. Russian and Kazakh are required (the policy itself is published in both); English
//! is optional and falls back to Russian. Every body must name the policy version it announces
//! (its number, e.g. in a link), so a recipient can tell which version the notice is about.
//! The texts are the same for every recipient and hold no personal data.

use derbes_core::registry::Lang;
use serde::{Deserialize, Serialize};

/// Longest subject line accepted (characters).
pub const MAX_SUBJECT_CHARS: usize = 200;
/// Longest body accepted (characters).
pub const MAX_BODY_CHARS: usize = 20_000;

/// Why a set of texts was refused. Stable codes; messages never quote the texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// A subject line or body is empty.
    #[error("a notice subject line or body is empty ({0})")]
    Empty(&'static str),
    /// A subject line holds a line break or a control character.
    #[error("a notice subject line holds a line break or control character ({0})")]
    BadSubject(&'static str),
    /// A subject line or body is too long.
    #[error("a notice subject line or body is too long ({0})")]
    TooLong(&'static str),
    /// A body does not name the policy version.
    #[error("a notice body does not name the policy version ({0})")]
    MissingVersion(&'static str),
    /// The policy version is not a positive number.
    #[error("the policy version must be a positive number")]
    BadVersion,
}

impl TextError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            TextError::Empty(_) => "notice_text_empty",
            TextError::BadSubject(_) => "notice_subject_invalid",
            TextError::TooLong(_) => "notice_text_too_long",
            TextError::MissingVersion(_) => "notice_text_missing_version",
            TextError::BadVersion => "notice_bad_version",
        }
    }

    /// The language whose text is at fault, if any.
    pub fn lang(&self) -> Option<&'static str> {
        match self {
            TextError::Empty(l)
            | TextError::BadSubject(l)
            | TextError::TooLong(l)
            | TextError::MissingVersion(l) => Some(l),
            TextError::BadVersion => None,
        }
    }
}

/// One language's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageText {
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
}

/// The texts as submitted (unchecked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextsInput {
    /// Russian (required).
    pub ru: MessageText,
    /// Kazakh (required).
    pub kk: MessageText,
    /// English (optional; Russian is sent instead when missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub en: Option<MessageText>,
}

/// Checked texts of a notice about one policy version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoticeTexts {
    version: i64,
    texts: TextsInput,
}

fn check(lang: &'static str, t: &MessageText, version: i64) -> Result<(), TextError> {
    if t.subject.trim().is_empty() || t.body.trim().is_empty() {
        return Err(TextError::Empty(lang));
    }
    if t.subject.chars().any(char::is_control) {
        return Err(TextError::BadSubject(lang));
    }
    if t.subject.chars().count() > MAX_SUBJECT_CHARS || t.body.chars().count() > MAX_BODY_CHARS {
        return Err(TextError::TooLong(lang));
    }
    if !names_number(&t.body, version) {
        return Err(TextError::MissingVersion(lang));
    }
    Ok(())
}

/// Whether `text` holds `n` as a whole number (not as part of a longer one).
fn names_number(text: &str, n: i64) -> bool {
    let needle = n.to_string();
    let bytes = text.as_bytes();
    text.match_indices(&needle).any(|(i, m)| {
        let before = i.checked_sub(1).map(|j| bytes[j]);
        let after = bytes.get(i + m.len()).copied();
        !before.is_some_and(|b| b.is_ascii_digit()) && !after.is_some_and(|b| b.is_ascii_digit())
    })
}

impl NoticeTexts {
    /// Check texts for a notice about policy `version`.
    pub fn new(version: i64, texts: TextsInput) -> Result<NoticeTexts, TextError> {
        if version < 1 {
            return Err(TextError::BadVersion);
        }
        check("ru", &texts.ru, version)?;
        check("kk", &texts.kk, version)?;
        if let Some(en) = &texts.en {
            check("en", en, version)?;
        }
        Ok(NoticeTexts { version, texts })
    }

    /// Texts read back from a job (they were checked when it was enqueued; checked again).
    pub fn from_stored(version: i64, json: &str) -> Result<NoticeTexts, TextError> {
        let texts: TextsInput =
            serde_json::from_str(json).map_err(|_| TextError::Empty("stored"))?;
        NoticeTexts::new(version, texts)
    }

    /// The policy version.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// The JSON stored with the job.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.texts).unwrap_or_default()
    }

    /// The message for `lang`, and the language actually used (English falls back to Russian).
    pub fn for_lang(&self, lang: Lang) -> (&MessageText, Lang) {
        match lang {
            Lang::Ru => (&self.texts.ru, Lang::Ru),
            Lang::Kk => (&self.texts.kk, Lang::Kk),
            Lang::En => match &self.texts.en {
                Some(en) => (en, Lang::En),
                None => (&self.texts.ru, Lang::Ru),
            },
        }
    }

    /// Default texts announcing `version`, with a link `url` to it (for the CLI and tests).
    pub fn standard(version: i64, url: &str) -> Result<NoticeTexts, TextError> {
        NoticeTexts::new(
            version,
            TextsInput {
                ru: MessageText {
                    subject: format!("Изменения в Политике конфиденциальности (версия {version})"),
                    body: format!(
                        "Здравствуйте!\n\nМы опубликовали новую редакцию Политики \
                         конфиденциальности — версию {version}. В ней есть существенные \
                         изменения. Текст новой редакции: {url}\n\nС уважением,\nМФО"
                    ),
                },
                kk: MessageText {
                    subject: format!("Құпиялылық саясатындағы өзгерістер ({version} нұсқа)"),
                    body: format!(
                        "Сәлеметсіз бе!\n\nБіз Құпиялылық саясатының жаңа редакциясын — \
                         {version} нұсқасын жарияладық. Онда маңызды өзгерістер бар. Жаңа \
                         редакцияның мәтіні: {url}\n\nҚұрметпен,\nМҚҰ"
                    ),
                },
                en: Some(MessageText {
                    subject: format!("Changes to the Privacy Policy (version {version})"),
                    body: format!(
                        "Hello,\n\nWe have published a new edition of the Privacy Policy, \
                         version {version}, with significant changes. Read it here: \
                         {url}\n\nKind regards,\nThe MFO"
                    ),
                }),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str, b: &str) -> MessageText {
        MessageText {
            subject: s.into(),
            body: b.into(),
        }
    }

    #[test]
    fn c9_2_body_must_name_the_version_as_a_whole_number() {
        let ok = TextsInput {
            ru: t("Политика", "версия 12"),
            kk: t("Саясат", "12 нұсқа"),
            en: None,
        };
        assert!(NoticeTexts::new(12, ok.clone()).is_ok());
        assert_eq!(
            NoticeTexts::new(2, ok.clone()).unwrap_err(),
            TextError::MissingVersion("ru")
        );
        let mut bad = ok.clone();
        bad.kk.body = "нұсқа 123".into();
        assert_eq!(
            NoticeTexts::new(12, bad).unwrap_err().code(),
            "notice_text_missing_version"
        );
        let mut nl = ok;
        nl.ru.subject = "a\r\nBcc: x".into();
        assert_eq!(
            NoticeTexts::new(12, nl).unwrap_err(),
            TextError::BadSubject("ru")
        );
    }

    #[test]
    fn c9_2_english_falls_back_to_russian() {
        let texts = NoticeTexts::new(
            3,
            TextsInput {
                ru: t("R", "v3"),
                kk: t("K", "v3"),
                en: None,
            },
        )
        .unwrap();
        assert_eq!(texts.for_lang(Lang::En).1, Lang::Ru);
        assert_eq!(texts.for_lang(Lang::Kk).0.subject, "K");
        let std = NoticeTexts::standard(7, "https://mfo.kz/policy/7").unwrap();
        assert_eq!(std.for_lang(Lang::En).1, Lang::En);
        let back = NoticeTexts::from_stored(7, &std.to_json()).unwrap();
        assert_eq!(back, std);
    }
}

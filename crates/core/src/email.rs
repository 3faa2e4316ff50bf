//! E-mail addresses (clause 2.1; clause 9.2 sends policy-change notices by e-mail).
//!
//! Rules: trimmed; at most 254 characters; exactly one `@`; a local part of 1..=64
//! characters from the RFC 5322 `atext` set plus inner single dots; a domain of at least two
//! dot-separated labels of `[A-Za-z0-9-]` (1..=63 characters, not starting or ending with
//! `-`), whose last label is not all digits. Internationalised domains are accepted only in
//! their punycode (`xn--`) form. The canonical form lowercases the domain and keeps the
//! local part; [`Email::normalized`] lowercases everything and feeds the blind index.
//!
//! Privacy (clauses 4.1–4.2): errors never contain the input; `Debug` prints
//! `Email(<redacted>)`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Longest address accepted (RFC 5321 path limit less the angle brackets).
pub const MAX_EMAIL_LEN: usize = 254;
/// Longest local part accepted.
pub const MAX_LOCAL_LEN: usize = 64;

/// Why a text is not an e-mail address. Messages never contain the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum EmailError {
    /// Nothing but whitespace.
    #[error("e-mail address is empty")]
    Empty,
    /// Longer than 254 characters.
    #[error("e-mail address is longer than 254 characters")]
    TooLong,
    /// Contains whitespace or a control character inside.
    #[error("e-mail address contains whitespace or a control character")]
    BadCharacter,
    /// No `@`.
    #[error("e-mail address has no @")]
    MissingAt,
    /// More than one `@`.
    #[error("e-mail address has more than one @")]
    MultipleAt,
    /// Local part empty, too long, or with characters or dots not allowed.
    #[error("e-mail local part (before @) is empty, longer than 64 characters, or malformed")]
    BadLocalPart,
    /// Domain malformed.
    #[error("e-mail domain (after @) is not a valid domain name")]
    BadDomain,
}

impl EmailError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            EmailError::Empty => "email_empty",
            EmailError::TooLong => "email_too_long",
            EmailError::BadCharacter => "email_bad_character",
            EmailError::MissingAt => "email_missing_at",
            EmailError::MultipleAt => "email_multiple_at",
            EmailError::BadLocalPart => "email_bad_local_part",
            EmailError::BadDomain => "email_bad_domain",
        }
    }
}

/// A syntactically valid e-mail address in canonical form (domain lowercased).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email {
    value: String,
    at: usize,
}

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c)
}

fn valid_local(local: &str) -> bool {
    !local.is_empty()
        && local.len() <= MAX_LOCAL_LEN
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| c == '.' || is_atext(c))
}

fn valid_domain(domain: &str) -> bool {
    if domain.is_empty() || domain.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    labels.iter().all(label_ok)
        && labels
            .last()
            .is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()))
}

impl Email {
    /// Parses an e-mail address.
    pub fn parse(input: &str) -> Result<Email, EmailError> {
        let t = input.trim();
        if t.is_empty() {
            return Err(EmailError::Empty);
        }
        if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmailError::BadCharacter);
        }
        if t.chars().count() > MAX_EMAIL_LEN {
            return Err(EmailError::TooLong);
        }
        let mut parts = t.split('@');
        let (local, domain) = match (parts.next(), parts.next(), parts.next()) {
            (Some(l), Some(d), None) => (l, d),
            (Some(_), None, _) | (None, _, _) => return Err(EmailError::MissingAt),
            (Some(_), Some(_), Some(_)) => return Err(EmailError::MultipleAt),
        };
        if !valid_local(local) {
            return Err(EmailError::BadLocalPart);
        }
        if !valid_domain(domain) {
            return Err(EmailError::BadDomain);
        }
        Ok(Email {
            value: format!("{local}@{}", domain.to_ascii_lowercase()),
            at: local.len(),
        })
    }

    /// The canonical form: local part as given, domain lowercased.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The part before `@`.
    pub fn local_part(&self) -> &str {
        self.value.get(..self.at).unwrap_or("")
    }

    /// The part after `@` (lowercase).
    pub fn domain(&self) -> &str {
        self.value.get(self.at + 1..).unwrap_or("")
    }

    /// Fully lowercased form, for blind indexes (exact lookup regardless of case).
    pub fn normalized(&self) -> String {
        self.value.to_ascii_lowercase()
    }

    /// Masked for display: first character, `***@`, domain (`a***@mail.kz`).
    pub fn masked(&self) -> String {
        let first = self.local_part().chars().next().unwrap_or('*');
        format!("{first}***@{}", self.domain())
    }

    /// The canonical form as an owned string.
    pub fn into_string(self) -> String {
        self.value
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(<redacted>)")
    }
}

/// The full address: for storage and authorised display only, never for logs.
impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.value
    }
}

impl FromStr for Email {
    type Err = EmailError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Email::parse(s)
    }
}

impl TryFrom<String> for Email {
    type Error = EmailError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Email::parse(&s)
    }
}

impl TryFrom<&str> for Email {
    type Error = EmailError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Email::parse(s)
    }
}

impl From<Email> for String {
    fn from(v: Email) -> String {
        v.value
    }
}

impl Serialize for Email {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.value)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::value::de::parsed_str(d, "an e-mail address string", Email::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn c2_1_email_valid_forms() {
        let e = Email::parse("  Aigerim.Nur+loans@Mail.KZ ").unwrap();
        assert_eq!(e.as_str(), "Aigerim.Nur+loans@mail.kz");
        assert_eq!(e.local_part(), "Aigerim.Nur+loans");
        assert_eq!(e.domain(), "mail.kz");
        assert_eq!(e.normalized(), "aigerim.nur+loans@mail.kz");
        assert_eq!(e.masked(), "A***@mail.kz");
        assert!(Email::parse("a@xn--80ao21a.xn--p1ai").is_ok());
        assert!(Email::parse("x_y-z@sub.example-host.com").is_ok());
    }

    #[test]
    fn email_rejections_have_codes() {
        let cases = [
            ("", EmailError::Empty),
            ("a b@mail.kz", EmailError::BadCharacter),
            ("a\u{0}@mail.kz", EmailError::BadCharacter),
            ("mail.kz", EmailError::MissingAt),
            ("a@b@mail.kz", EmailError::MultipleAt),
            ("@mail.kz", EmailError::BadLocalPart),
            (".a@mail.kz", EmailError::BadLocalPart),
            ("a..b@mail.kz", EmailError::BadLocalPart),
            ("a.@mail.kz", EmailError::BadLocalPart),
            ("<a>@mail.kz", EmailError::BadLocalPart),
            ("алия@mail.kz", EmailError::BadLocalPart),
            ("a@localhost", EmailError::BadDomain),
            ("a@", EmailError::BadDomain),
            ("a@-mail.kz", EmailError::BadDomain),
            ("a@mail-.kz", EmailError::BadDomain),
            ("a@mail..kz", EmailError::BadDomain),
            ("a@почта.рф", EmailError::BadDomain),
            ("a@1.2.3.4", EmailError::BadDomain),
            ("a@mail_x.kz", EmailError::BadDomain),
        ];
        for (s, e) in cases {
            assert_eq!(Email::parse(s), Err(e), "{s}");
        }
        let long_local = format!("{}@mail.kz", "a".repeat(65));
        assert_eq!(Email::parse(&long_local), Err(EmailError::BadLocalPart));
        let long = format!("a@{}.kz", "b".repeat(60).repeat(5));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
        assert_eq!(EmailError::MultipleAt.code(), "email_multiple_at");
    }

    #[test]
    fn c4_1_email_debug_is_redacted() {
        let e = Email::parse("aigerim@mail.kz").unwrap();
        assert_eq!(format!("{e:?}"), "Email(<redacted>)");
        let err = serde_json::from_str::<Email>("\"aigerim@@mail.kz\"").unwrap_err();
        assert!(!err.to_string().contains("aigerim"), "{err}");
    }

    proptest! {
        #[test]
        fn prop_email_round_trip(local in "[a-zA-Z0-9_+-]{1,20}(\\.[a-zA-Z0-9_+-]{1,10})?",
                                 domain in "[a-zA-Z0-9]{1,20}(-[a-z0-9]{1,5})?\\.[a-zA-Z]{2,6}") {
            let s = format!("{local}@{domain}");
            let e = Email::parse(&s).unwrap();
            prop_assert_eq!(Email::parse(e.as_str()).unwrap(), e.clone());
            prop_assert_eq!(e.local_part(), local.as_str());
            prop_assert_eq!(e.domain(), domain.to_ascii_lowercase());
            let dbg = format!("{e:?}");
            prop_assert_eq!(dbg.as_str(), "Email(<redacted>)");
            prop_assert!(!e.masked().contains(e.as_str()));
            prop_assert_ne!(e.masked(), e.as_str().to_string());
            let back: Email = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
            prop_assert_eq!(back, e);
        }

        #[test]
        fn prop_email_never_panics(s in ".*") {
            let _ = Email::parse(&s);
        }

        #[test]
        fn prop_email_never_panics_unicode(s in any::<String>()) {
            if let Ok(e) = Email::parse(&s) {
                prop_assert!(e.as_str().contains('@'));
            }
        }
    }
}

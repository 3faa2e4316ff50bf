//! Translated messages for API problems (RFC 9457) and for single invalid fields, in
//! Russian, Kazakh and English.
//!
//! The messages live in `locales/{ru,kk,en}/errors.ftl` (Fluent), embedded in the binary
//! and parsed once at start-up by [`Catalog::load`], which refuses to start on a syntax
//! error or a missing message. Message ids:
//!
//! - `problem-<code>-title`, `problem-<code>-detail` — one per problem code
//!   ([`PROBLEM_CODES`]);
//! - `field-<code>` — one per field code ([`FIELD_CODES`]);
//! - `field-<code>-<detail>` — one per finer reason ([`FIELD_DETAILS`]);
//! - `field-invalid-value` — the generic field message.
//!
//! Codes are snake_case; in ids every `_` becomes `-`.
//!
//! Clauses 4.1–4.2 (no personal data in error messages): messages are chosen by stable
//! codes only, and their arguments are codes, category names and limits — never a submitted
//! value. An unknown code is never echoed back; it gets a generic message.

use std::borrow::Cow;
use std::fmt;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use unic_langid::{langid, LanguageIdentifier};

pub use derbes_core::registry::Lang;

/// Problem codes with a title and a detail in every language: the service's
/// `ServiceError::code()` values first, then the web layer's own.
pub const PROBLEM_CODES: &[&str] = &[
    // service
    "unknown_purpose",
    "purpose_not_permitted",
    "category_not_allowed",
    "invalid_values",
    "not_searchable",
    "subject_not_found",
    "subject_exists",
    "unique_value_taken",
    "no_audit_proof",
    "value_missing",
    "value_exists",
    "empty_request",
    "too_many_items",
    "unauthenticated",
    "integrity_failure",
    "key_mismatch",
    "crypto_failure",
    "storage_failure",
    "unavailable",
    "consent_required",
    "processing_blocked",
    "policy_consent_required",
    "policy_version_not_current",
    "policy_not_found",
    "invalid_request",
    "record_not_found",
    "record_exists",
    "application_closed",
    "no_undertaking",
    "access_denied",
    "invalid_credentials",
    "role_not_permitted",
    "employee_not_found",
    "login_taken",
    "invalid_input",
    "csrf_failed",
    "incident_not_found",
    "incident_wrong_status",
    "invalid_incident_status",
    "invalid_note",
    "access_policy_rejected",
    "rate_limited",
    "request_wrong_status",
    // web
    "malformed_json",
    "body_too_large",
    "unsupported_media_type",
    "bad_subject_id",
    "bad_employee_id",
    "missing_purpose",
    "not_found",
    "method_not_allowed",
    "bad_query",
    "internal",
    "notice_job_not_found",
    "bad_job_id",
];

/// Field codes (the `code` of one invalid field) with a message in every language.
pub const FIELD_CODES: &[&str] = &[
    // set by the service around value parsing
    "unknown_category",
    "duplicate_category",
    "category_not_allowed",
    "invalid_source",
    "invalid_obtained_at",
    "invalid_note",
    // derbes_core::value::ValueError::code
    "wrong_type",
    "invalid_iin",
    "invalid_phone",
    "not_mobile",
    "invalid_email",
    "invalid_iban",
    "invalid_bank_account",
    "invalid_name",
    "invalid_address",
    "invalid_text",
    "invalid_money",
    "invalid_date",
    "invalid_day",
    "invalid_id_document",
    "unknown_choice",
    // derbes_core::bin::BinError (no ValueError variant yet)
    "invalid_bin",
    // derbes_core::registry::{LangError, CodeError}
    "unknown_language",
    "bad_code",
];

/// Finer reasons `(code, detail)` with a message in every language: the detail codes of
/// `ValueError::detail_code`, paired with the `ValueError::code` they come with, and the
/// service's own detail codes.
pub const FIELD_DETAILS: &[(&str, &str)] = &[
    ("invalid_source", "source_name_required"),
    ("invalid_source", "source_name_invalid"),
    ("invalid_obtained_at", "in_the_future"),
    ("invalid_note", "too_long_or_control"),
    ("wrong_type", "expected_string"),
    ("wrong_type", "expected_object"),
    ("wrong_type", "expected_string_or_object"),
    ("wrong_type", "expected_number"),
    ("wrong_type", "unknown_field"),
    ("wrong_type", "missing_field"),
    ("invalid_iin", "iin_empty"),
    ("invalid_iin", "iin_not_digits"),
    ("invalid_iin", "iin_bad_length"),
    ("invalid_iin", "iin_bad_century"),
    ("invalid_iin", "iin_bad_date"),
    ("invalid_iin", "iin_bad_check_digit"),
    ("invalid_iin", "iin_never_issued"),
    ("invalid_phone", "phone_empty"),
    ("invalid_phone", "phone_bad_character"),
    ("invalid_phone", "phone_bad_length"),
    ("invalid_phone", "phone_bad_prefix"),
    ("invalid_phone", "phone_not_kazakhstan"),
    ("invalid_email", "email_empty"),
    ("invalid_email", "email_too_long"),
    ("invalid_email", "email_bad_character"),
    ("invalid_email", "email_missing_at"),
    ("invalid_email", "email_multiple_at"),
    ("invalid_email", "email_bad_local_part"),
    ("invalid_email", "email_bad_domain"),
    ("invalid_iban", "iban_empty"),
    ("invalid_iban", "iban_bad_character"),
    ("invalid_iban", "iban_bad_length"),
    ("invalid_iban", "iban_not_kazakhstan"),
    ("invalid_iban", "iban_bad_check_digits"),
    ("invalid_iban", "iban_bad_bank_code"),
    ("invalid_iban", "iban_bad_checksum"),
    ("invalid_bank_account", "text_empty"),
    ("invalid_bank_account", "text_too_long"),
    ("invalid_bank_account", "text_bad_character"),
    ("invalid_name", "full_name_bad_surname"),
    ("invalid_name", "full_name_bad_given"),
    ("invalid_name", "full_name_bad_patronymic"),
    ("invalid_name", "full_name_missing_given"),
    // NameError: inside FullNameError (`FullNameError::part_error`), not a detail_code today.
    ("invalid_name", "name_empty"),
    ("invalid_name", "name_too_long"),
    ("invalid_name", "name_bad_character"),
    ("invalid_name", "name_bad_spacing"),
    ("invalid_name", "name_bad_edge"),
    ("invalid_address", "address_too_short"),
    ("invalid_address", "address_too_long"),
    ("invalid_address", "address_bad_character"),
    ("invalid_text", "text_empty"),
    ("invalid_text", "text_too_long"),
    ("invalid_text", "text_bad_character"),
    ("invalid_money", "money_not_integer"),
    ("invalid_money", "money_negative"),
    ("invalid_money", "money_out_of_range"),
    ("invalid_date", "date_bad_format"),
    ("invalid_date", "date_no_such_date"),
    ("invalid_date", "date_out_of_range"),
    ("invalid_day", "day_not_integer"),
    ("invalid_day", "day_out_of_range"),
    ("invalid_id_document", "id_unknown_type"),
    ("invalid_id_document", "id_bad_number"),
    ("invalid_id_document", "id_bad_issued_by"),
    ("invalid_id_document", "id_bad_issued_on"),
    ("invalid_id_document", "id_bad_valid_until"),
    ("invalid_id_document", "id_valid_until_before_issued_on"),
    ("invalid_bin", "bin_empty"),
    ("invalid_bin", "bin_not_digits"),
    ("invalid_bin", "bin_bad_length"),
    ("invalid_bin", "bin_bad_entity_type"),
    ("invalid_bin", "bin_bad_check_digit"),
    ("invalid_bin", "bin_never_issued"),
];

/// The problem code whose messages stand in for an unknown code.
const FALLBACK_PROBLEM: &str = "internal";

/// The generic message for a field whose code is unknown.
const GENERIC_FIELD_ID: &str = "field-invalid-value";

/// The embedded message files, one per language, in `Lang` order.
const SOURCES: [(Lang, &str, &str); 3] = [
    (
        Lang::Ru,
        "locales/ru/errors.ftl",
        include_str!("../locales/ru/errors.ftl"),
    ),
    (
        Lang::Kk,
        "locales/kk/errors.ftl",
        include_str!("../locales/kk/errors.ftl"),
    ),
    (
        Lang::En,
        "locales/en/errors.ftl",
        include_str!("../locales/en/errors.ftl"),
    ),
];

/// Why the message catalog could not be built. Only a defect of the embedded files can
/// cause it, so the service refuses to start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum I18nError {
    /// A file is not valid Fluent.
    #[error("{file}:{line}: Fluent syntax error: {message}")]
    Parse {
        /// The embedded file, e.g. `locales/kk/errors.ftl`.
        file: &'static str,
        /// 1-based line of the first error.
        line: usize,
        /// What the parser found (all errors of the file, `; `-separated).
        message: String,
    },
    /// A file parses but cannot be added to its bundle (e.g. a message id defined twice).
    #[error("{file}: {message}")]
    Bundle {
        /// The embedded file.
        file: &'static str,
        /// What the bundle refused.
        message: String,
    },
    /// A message every language must have is missing or has no value.
    #[error("{file}: message `{id}` is missing")]
    Missing {
        /// The embedded file.
        file: &'static str,
        /// The missing message id.
        id: String,
    },
}

/// The translated messages of all languages. Built once at start-up, then shared
/// (`Send + Sync`, read-only).
pub struct Catalog {
    /// One bundle per language, indexed by [`index`].
    bundles: [FluentBundle<FluentResource>; 3],
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalog").finish_non_exhaustive()
    }
}

impl Catalog {
    /// Parses the embedded message files and checks that every message of
    /// [`PROBLEM_CODES`], [`FIELD_CODES`] and [`FIELD_DETAILS`] exists in every language.
    pub fn load() -> Result<Catalog, I18nError> {
        let [ru, kk, en] = SOURCES.map(|(lang, file, text)| bundle(lang, file, text));
        let catalog = Catalog {
            bundles: [ru?, kk?, en?],
        };
        for (lang, file, _) in SOURCES {
            for id in required_ids() {
                if !catalog.has_message(lang, &id) {
                    return Err(I18nError::Missing { file, id });
                }
            }
        }
        Ok(catalog)
    }

    /// The short title of a problem (RFC 9457 `title`). An unknown code gets the title of
    /// `internal`; the code itself is never shown.
    pub fn title(&self, lang: Lang, code: &str) -> String {
        self.text(lang, &problem_id(code, "title"), None)
            .or_else(|| self.text(lang, &problem_id(FALLBACK_PROBLEM, "title"), None))
            .unwrap_or_else(|| last_resort(lang).to_owned())
    }

    /// The explanation of a problem (RFC 9457 `detail`), with its arguments, e.g.
    /// `("categories", "iin, salary_amount")` or `("max", "10000")`. Arguments must be
    /// codes, category names or limits, never a personal value. If an argument the message
    /// needs is absent, the problem's title stands in; an unknown code gets the detail of
    /// `internal`.
    pub fn detail(&self, lang: Lang, code: &str, args: &[(&str, String)]) -> String {
        let mut fluent_args = FluentArgs::with_capacity(args.len());
        for (name, value) in args {
            fluent_args.set(*name, value.as_str());
        }
        let id = problem_id(code, "detail");
        if self.has_message(lang, &id) {
            self.text(lang, &id, Some(&fluent_args))
                .unwrap_or_else(|| self.title(lang, code))
        } else {
            self.text(lang, &problem_id(FALLBACK_PROBLEM, "detail"), None)
                .unwrap_or_else(|| last_resort(lang).to_owned())
        }
    }

    /// The message for one invalid field: `field-<code>-<detail>`, else `field-<code>`,
    /// else the generic "invalid value" message.
    pub fn field(&self, lang: Lang, code: &str, detail: Option<&str>) -> String {
        detail
            .and_then(|d| self.text(lang, &field_id(code, Some(d)), None))
            .or_else(|| self.text(lang, &field_id(code, None), None))
            .or_else(|| self.text(lang, GENERIC_FIELD_ID, None))
            .unwrap_or_else(|| last_resort(lang).to_owned())
    }

    /// Whether a message id exists in a language (`_` in `id` is read as `-`).
    pub fn has(&self, lang: Lang, id: &str) -> bool {
        self.has_message(lang, &fluent_id(id))
    }

    fn bundle(&self, lang: Lang) -> &FluentBundle<FluentResource> {
        &self.bundles[index(lang)]
    }

    fn has_message(&self, lang: Lang, id: &str) -> bool {
        self.bundle(lang)
            .get_message(id)
            .is_some_and(|m| m.value().is_some())
    }

    /// Formats a message; `None` if it is missing or did not format cleanly (e.g. a
    /// missing argument, which Fluent would render as `{$name}`).
    fn text(&self, lang: Lang, id: &str, args: Option<&FluentArgs>) -> Option<String> {
        let bundle = self.bundle(lang);
        let pattern = bundle.get_message(id)?.value()?;
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, args, &mut errors);
        errors.is_empty().then(|| text.into_owned())
    }
}

/// A code as it appears in a message id: `_` → `-` (`category_not_allowed` →
/// `category-not-allowed`).
fn fluent_id(code: &str) -> Cow<'_, str> {
    if code.contains('_') {
        Cow::Owned(code.replace('_', "-"))
    } else {
        Cow::Borrowed(code)
    }
}

/// `problem-<code>-title` / `problem-<code>-detail`.
fn problem_id(code: &str, part: &str) -> String {
    format!("problem-{}-{part}", fluent_id(code))
}

/// `field-<code>` / `field-<code>-<detail>`.
fn field_id(code: &str, detail: Option<&str>) -> String {
    match detail {
        Some(d) => format!("field-{}-{}", fluent_id(code), fluent_id(d)),
        None => format!("field-{}", fluent_id(code)),
    }
}

/// Every message id that must exist in every language.
fn required_ids() -> impl Iterator<Item = String> {
    let problems = PROBLEM_CODES
        .iter()
        .flat_map(|c| [problem_id(c, "title"), problem_id(c, "detail")]);
    let fields = FIELD_CODES.iter().map(|c| field_id(c, None));
    let details = FIELD_DETAILS.iter().map(|(c, d)| field_id(c, Some(d)));
    problems
        .chain(fields)
        .chain(details)
        .chain(std::iter::once(GENERIC_FIELD_ID.to_owned()))
}

fn index(lang: Lang) -> usize {
    match lang {
        Lang::Ru => 0,
        Lang::Kk => 1,
        Lang::En => 2,
    }
}

fn langid(lang: Lang) -> LanguageIdentifier {
    match lang {
        Lang::Ru => langid!("ru"),
        Lang::Kk => langid!("kk"),
        Lang::En => langid!("en"),
    }
}

/// Used only if the catalog lacks even its generic messages, which [`Catalog::load`]
/// rules out.
fn last_resort(lang: Lang) -> &'static str {
    match lang {
        Lang::Ru => "Внутренняя ошибка",
        Lang::Kk => "Ішкі қате",
        Lang::En => "Internal error",
    }
}

pub(crate) fn bundle(
    lang: Lang,
    file: &'static str,
    text: &str,
) -> Result<FluentBundle<FluentResource>, I18nError> {
    let resource = FluentResource::try_new(text.to_owned()).map_err(|(_, errors)| {
        let line = errors.first().map_or(0, |e| line_of(text, e.pos.start));
        let message = errors
            .iter()
            .map(|e| format!("line {}: {e}", line_of(text, e.pos.start)))
            .collect::<Vec<_>>()
            .join("; ");
        I18nError::Parse {
            file,
            line,
            message,
        }
    })?;
    let mut bundle = FluentBundle::new_concurrent(vec![langid(lang)]);
    bundle.set_use_isolating(false);
    bundle
        .add_resource(resource)
        .map_err(|errors| I18nError::Bundle {
            file,
            message: errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        })?;
    Ok(bundle)
}

/// 1-based line number of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset)
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    use derbes_core::email::EmailError;
    use derbes_core::iban::IbanError;
    use derbes_core::iin::IinError;
    use derbes_core::name::{AddressError, FullNameError, NameError, TextError};
    use derbes_core::phone::PhoneError;
    use derbes_core::value::{DateError, DayError, IdDocumentError, MoneyError, ValueError};

    const LANGS: [Lang; 3] = [Lang::Ru, Lang::Kk, Lang::En];

    /// Arguments for every message that takes one, as the web layer passes them.
    fn sample_args() -> Vec<(&'static str, String)> {
        vec![
            ("categories", "iin, salary_amount".to_owned()),
            ("category", "salary_amount".to_owned()),
            ("max", "10000".to_owned()),
            ("limit", "1 MiB".to_owned()),
            ("reason", "bad_reference".to_owned()),
            ("field", "display_name".to_owned()),
            ("status", "closed".to_owned()),
            ("rule", "c5_3_collector_iin_masked".to_owned()),
            (
                "reason",
                "policy \"r1\" names unknown category \"e_mail\"".to_owned(),
            ),
        ]
    }

    fn catalog() -> Catalog {
        Catalog::load().unwrap()
    }

    /// Message ids defined in an `.ftl` file (lines `id = ...` at column 0; terms excluded).
    fn ids_in(text: &str) -> BTreeSet<String> {
        text.lines()
            .filter(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()))
            .filter_map(|l| l.split_once(" = ").map(|(id, _)| id.trim().to_owned()))
            .collect()
    }

    /// Every message of a language, formatted with [`sample_args`].
    fn all_messages(c: &Catalog, lang: Lang) -> Vec<(String, String)> {
        let args = sample_args();
        let mut out = Vec::new();
        for code in PROBLEM_CODES {
            out.push((problem_id(code, "title"), c.title(lang, code)));
            out.push((problem_id(code, "detail"), c.detail(lang, code, &args)));
        }
        for code in FIELD_CODES {
            out.push((field_id(code, None), c.field(lang, code, None)));
        }
        for (code, detail) in FIELD_DETAILS {
            out.push((
                field_id(code, Some(detail)),
                c.field(lang, code, Some(detail)),
            ));
        }
        out.push((GENERIC_FIELD_ID.to_owned(), c.field(lang, "", None)));
        out
    }

    /// Quoted codes on `=> "x"` lines inside `fn code` / `fn detail_code` bodies.
    fn codes_in_code_fns(src: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut end: Option<String> = None;
        for line in src.lines() {
            if let Some(closing) = &end {
                if line == closing {
                    end = None;
                } else if let Some((_, rest)) = line.split_once("=> \"") {
                    if let Some((code, _)) = rest.split_once('"') {
                        out.push(code.to_owned());
                    }
                }
            } else if line.contains("fn code(") || line.contains("fn detail_code(") {
                let indent = line.len() - line.trim_start().len();
                end = Some(format!("{}}}", " ".repeat(indent)));
            }
        }
        out
    }

    /// The `detail` codes of `ValueError::WrongType`: one-argument `wrong("x")` calls in
    /// value.rs (serde's two-argument `wrong("boolean", ..)` helpers are something else).
    fn wrong_type_details(src: &str) -> BTreeSet<String> {
        src.split("wrong(\"")
            .skip(1)
            .filter_map(|rest| rest.split_once("\")"))
            .map(|(d, _)| d.to_owned())
            .filter(|d| !d.contains('"'))
            .collect()
    }

    #[test]
    fn catalog_loads_and_is_shareable() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Catalog>();
        let c = catalog();
        assert!(format!("{c:?}").starts_with("Catalog"));
    }

    #[test]
    fn every_problem_code_has_title_and_detail_in_all_languages() {
        let c = catalog();
        for lang in LANGS {
            for code in PROBLEM_CODES {
                for part in ["title", "detail"] {
                    let id = problem_id(code, part);
                    assert!(c.has(lang, &id), "{}: missing {id}", lang.as_str());
                }
                assert!(!c.title(lang, code).is_empty());
            }
        }
    }

    #[test]
    fn every_field_code_and_detail_has_a_message_in_all_languages() {
        let c = catalog();
        for lang in LANGS {
            let generic = c.field(lang, "", None);
            for code in FIELD_CODES {
                assert!(
                    c.has(lang, &field_id(code, None)),
                    "{}: {code}",
                    lang.as_str()
                );
                assert_ne!(c.field(lang, code, None), generic, "{code}");
            }
            for (code, detail) in FIELD_DETAILS {
                let id = field_id(code, Some(detail));
                assert!(c.has(lang, &id), "{}: missing {id}", lang.as_str());
                assert_ne!(
                    c.field(lang, code, Some(detail)),
                    c.field(lang, code, None),
                    "{id}"
                );
            }
        }
    }

    #[test]
    fn codes_are_listed_once() {
        let problems: BTreeSet<_> = PROBLEM_CODES.iter().collect();
        assert_eq!(problems.len(), PROBLEM_CODES.len());
        let fields: BTreeSet<_> = FIELD_CODES.iter().collect();
        assert_eq!(fields.len(), FIELD_CODES.len());
        let details: BTreeSet<_> = FIELD_DETAILS.iter().collect();
        assert_eq!(details.len(), FIELD_DETAILS.len());
        for (code, _) in FIELD_DETAILS {
            assert!(FIELD_CODES.contains(code), "detail of unlisted code {code}");
        }
    }

    #[test]
    fn every_core_error_code_is_covered() {
        let sources = [
            ("iin.rs", include_str!("../../core/src/iin.rs")),
            ("phone.rs", include_str!("../../core/src/phone.rs")),
            ("email.rs", include_str!("../../core/src/email.rs")),
            ("iban.rs", include_str!("../../core/src/iban.rs")),
            ("name.rs", include_str!("../../core/src/name.rs")),
            ("value.rs", include_str!("../../core/src/value.rs")),
            ("bin.rs", include_str!("../../core/src/bin.rs")),
        ];
        let details: BTreeSet<&str> = FIELD_DETAILS.iter().map(|(_, d)| *d).collect();
        let mut found = BTreeSet::new();
        for (file, src) in sources {
            let codes = codes_in_code_fns(src);
            assert!(
                !codes.is_empty(),
                "no codes found in {file}: scanner broken?"
            );
            for code in codes {
                assert!(
                    FIELD_CODES.contains(&code.as_str()) || details.contains(code.as_str()),
                    "{file}: code `{code}` has no field message"
                );
                found.insert(code);
            }
        }
        // The scanner really saw the codes (guards against a vacuous pass).
        for code in [
            "iin_bad_check_digit",
            "invalid_iin",
            "bin_never_issued",
            "id_bad_number",
        ] {
            assert!(found.contains(code), "scanner missed {code}");
        }
        assert!(found.len() >= 70, "only {} codes found", found.len());

        let wrong = wrong_type_details(include_str!("../../core/src/value.rs"));
        assert!(wrong.contains("missing_field"), "scanner missed wrong(..)");
        for d in &wrong {
            assert!(
                FIELD_DETAILS.contains(&("wrong_type", d.as_str())),
                "value.rs: wrong_type detail `{d}` has no field message"
            );
        }
    }

    #[test]
    fn value_error_codes_pair_with_their_details_as_listed() {
        let samples = [
            ValueError::WrongType {
                detail: "expected_string",
            },
            IinError::BadCheckDigit.into(),
            PhoneError::NotKazakhstan.into(),
            EmailError::MissingAt.into(),
            IbanError::BadChecksum.into(),
            ValueError::BankName(TextError::TooLong),
            FullNameError::Surname(NameError::BadEdge).into(),
            AddressError::TooShort.into(),
            ValueError::Text(TextError::BadCharacter),
            MoneyError::Negative.into(),
            DateError::NoSuchDate.into(),
            DayError::OutOfRange.into(),
            IdDocumentError::IssuedOn(DateError::BadFormat).into(),
            ValueError::NotMobile,
            ValueError::UnknownChoice,
        ];
        let c = catalog();
        for e in samples {
            let code = e.code();
            assert!(FIELD_CODES.contains(&code), "{code}");
            if let Some(detail) = e.detail_code() {
                assert!(
                    FIELD_DETAILS.contains(&(code, detail)),
                    "({code}, {detail}) not listed"
                );
            }
            for lang in LANGS {
                let specific = c.field(lang, code, e.detail_code());
                assert_ne!(specific, c.field(lang, "", None), "{code}");
            }
        }
    }

    #[test]
    fn files_define_exactly_the_required_ids() {
        let required: BTreeSet<String> = required_ids().collect();
        for (_, file, text) in SOURCES {
            let ids = ids_in(text);
            let missing: Vec<_> = required.difference(&ids).collect();
            let extra: Vec<_> = ids.difference(&required).collect();
            assert!(missing.is_empty(), "{file}: missing {missing:?}");
            assert!(extra.is_empty(), "{file}: not in the code lists {extra:?}");
        }
    }

    #[test]
    fn c4_1_arguments_are_substituted() {
        let c = catalog();
        for lang in LANGS {
            let d = c.detail(
                lang,
                "category_not_allowed",
                &[("categories", "iin, salary_amount".to_owned())],
            );
            assert!(d.contains("iin, salary_amount"), "{d}");
            assert!(d.contains("3.2"), "minimisation clause not named: {d}");
            let d = c.detail(lang, "too_many_items", &[("max", "10000".to_owned())]);
            assert!(d.contains("10000"), "{d}");
            let d = c.detail(lang, "body_too_large", &[("limit", "1 MiB".to_owned())]);
            assert!(d.contains("1 MiB"), "{d}");
            for code in ["value_missing", "value_exists"] {
                let d = c.detail(lang, code, &[("category", "salary_amount".to_owned())]);
                assert!(d.contains("salary_amount"), "{d}");
            }
        }
    }

    #[test]
    fn a_missing_argument_falls_back_to_the_title() {
        let c = catalog();
        for lang in LANGS {
            for code in ["category_not_allowed", "too_many_items", "value_missing"] {
                assert_eq!(c.detail(lang, code, &[]), c.title(lang, code));
            }
            // A detail without arguments ignores extra ones.
            assert_eq!(
                c.detail(lang, "subject_not_found", &sample_args()),
                c.detail(lang, "subject_not_found", &[])
            );
        }
    }

    #[test]
    fn c4_1_unknown_codes_fall_back_without_echoing_the_code() {
        let c = catalog();
        let odd = [
            "no_such_code_zzq",
            "",
            "{",
            "}",
            "-",
            "a b",
            "problem-x",
            "é",
            "\u{2068}",
        ];
        for lang in LANGS {
            let internal_title = c.title(lang, "internal");
            let internal_detail = c.detail(lang, "internal", &[]);
            let generic = c.field(lang, "no_such_code_zzq", None);
            assert_eq!(generic, c.field(lang, "", None));
            for code in odd {
                assert_eq!(c.title(lang, code), internal_title);
                assert_eq!(c.detail(lang, code, &sample_args()), internal_detail);
                assert_eq!(c.field(lang, code, None), generic);
                assert_eq!(c.field(lang, code, Some(code)), generic);
                assert!(!c.has(lang, code));
            }
            assert!(!c.title(lang, "no_such_code_zzq").contains("zzq"));
            // Unknown detail of a known code: the code's own message.
            assert_eq!(
                c.field(lang, "invalid_iin", Some("no_such_detail")),
                c.field(lang, "invalid_iin", None)
            );
            // A detail is only looked up under its own code.
            assert_eq!(
                c.field(lang, "invalid_phone", Some("iin_empty")),
                c.field(lang, "invalid_phone", None)
            );
        }
    }

    #[test]
    fn has_accepts_codes_with_underscores() {
        let c = catalog();
        assert_eq!(fluent_id("category_not_allowed"), "category-not-allowed");
        assert_eq!(fluent_id("internal"), "internal");
        assert_eq!(
            field_id("invalid_iin", Some("iin_bad_check_digit")),
            "field-invalid-iin-iin-bad-check-digit"
        );
        for lang in LANGS {
            assert!(c.has(lang, "problem-category-not-allowed-title"));
            assert!(c.has(lang, "problem-category_not_allowed-title"));
            assert!(c.has(lang, "field-invalid-value"));
            assert!(!c.has(lang, "name-rules"), "terms are not messages");
            assert!(!c.has(lang, "-name-rules"));
        }
    }

    #[test]
    fn no_message_keeps_a_placeholder_or_isolation_mark() {
        let c = catalog();
        for lang in LANGS {
            for (id, text) in all_messages(&c, lang) {
                assert!(!text.trim().is_empty(), "{id} is empty");
                assert_eq!(text, text.trim(), "{id}: stray whitespace");
                for bad in ['{', '}', '$', '\u{2068}', '\u{2069}', '\n'] {
                    assert!(
                        !text.contains(bad),
                        "{} {id}: {bad:?} in {text}",
                        lang.as_str()
                    );
                }
            }
        }
    }

    #[test]
    fn titles_are_short_and_sentences_end_with_a_full_stop() {
        let c = catalog();
        for lang in LANGS {
            for (id, text) in all_messages(&c, lang) {
                if id.ends_with("-title") {
                    assert!(!text.ends_with('.'), "{id}: {text}");
                    assert!(text.chars().count() <= 60, "{id} is long: {text}");
                } else {
                    assert!(text.ends_with('.'), "{} {id}: {text}", lang.as_str());
                }
            }
        }
    }

    #[test]
    fn each_language_is_written_in_its_own_script() {
        const KAZAKH: [char; 9] = ['ә', 'ғ', 'қ', 'ң', 'ө', 'ұ', 'ү', 'һ', 'і'];
        let cyrillic = |ch: char| ('\u{400}'..='\u{4ff}').contains(&ch);
        let c = catalog();
        let kk = all_messages(&c, Lang::Kk);
        let ru = all_messages(&c, Lang::Ru);
        let en = all_messages(&c, Lang::En);

        let kk_text: String = kk.iter().map(|(_, t)| t.as_str()).collect();
        for ch in KAZAKH.iter().filter(|&&ch| ch != 'һ') {
            assert!(kk_text.contains(*ch), "no {ch} in the Kazakh catalog");
        }
        for ((id, k), (_, r)) in kk.iter().zip(&ru) {
            assert!(k.chars().any(cyrillic), "kk {id} has no Cyrillic: {k}");
            assert_ne!(k, r, "kk {id} is the Russian text");
        }
        for (id, r) in &ru {
            assert!(r.chars().any(cyrillic), "ru {id}: {r}");
            let upper: Vec<char> = KAZAKH.iter().flat_map(|c| c.to_uppercase()).collect();
            assert!(
                !r.chars()
                    .any(|ch| KAZAKH.contains(&ch) || upper.contains(&ch)),
                "ru {id} has a Kazakh letter: {r}"
            );
        }
        for (id, e) in &en {
            assert!(!e.chars().any(cyrillic), "en {id} has Cyrillic: {e}");
        }
    }

    #[test]
    fn parse_errors_name_the_file_and_line() {
        let e = bundle(Lang::Kk, "locales/kk/x.ftl", "ok = fine\n= broken\n")
            .err()
            .unwrap();
        match &e {
            I18nError::Parse { file, line, .. } => {
                assert_eq!(*file, "locales/kk/x.ftl");
                assert_eq!(*line, 2);
            }
            other => panic!("expected a parse error, got {other:?}"),
        }
        assert!(e.to_string().starts_with("locales/kk/x.ftl:2: "), "{e}");

        let e = bundle(Lang::En, "locales/en/x.ftl", "a = one\na = two\n")
            .err()
            .unwrap();
        assert!(
            matches!(
                e,
                I18nError::Bundle {
                    file: "locales/en/x.ftl",
                    ..
                }
            ),
            "{e:?}"
        );
    }
}

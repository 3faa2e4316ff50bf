//! Texts of the server-rendered pages in Russian, Kazakh and English
//! (`locales/{ru,kk,en}/pages.ftl`, Fluent, embedded in the binary).
//!
//! [`PageTexts::load`] refuses to start when a file does not parse, when the three files do
//! not define the same message ids, or when a template names an id that is missing: the
//! templates are scanned for `t("…")` calls ([`TEMPLATES`]), so a page can never show a
//! message id instead of a text. Error pages reuse the problem titles and details of
//! [`crate::i18n::Catalog`].

use crate::i18n::{bundle, I18nError, Lang};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use std::collections::BTreeSet;
use std::fmt;

/// The embedded page texts, one file per language, in `Lang::ALL` order.
pub const SOURCES: [(Lang, &str, &str); 3] = [
    (
        Lang::Ru,
        "locales/ru/pages.ftl",
        include_str!("../../locales/ru/pages.ftl"),
    ),
    (
        Lang::Kk,
        "locales/kk/pages.ftl",
        include_str!("../../locales/kk/pages.ftl"),
    ),
    (
        Lang::En,
        "locales/en/pages.ftl",
        include_str!("../../locales/en/pages.ftl"),
    ),
];

/// Every template (name, source), scanned for the message ids it uses.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("error.html", include_str!("../../templates/error.html")),
    (
        "console/login.html",
        include_str!("../../templates/console/login.html"),
    ),
    (
        "console/totp.html",
        include_str!("../../templates/console/totp.html"),
    ),
    (
        "console/profile.html",
        include_str!("../../templates/console/profile.html"),
    ),
    (
        "console/search.html",
        include_str!("../../templates/console/search.html"),
    ),
    (
        "console/subject.html",
        include_str!("../../templates/console/subject.html"),
    ),
    (
        "console/audit.html",
        include_str!("../../templates/console/audit.html"),
    ),
    (
        "console/incidents.html",
        include_str!("../../templates/console/incidents.html"),
    ),
    (
        "console/incident.html",
        include_str!("../../templates/console/incident.html"),
    ),
    (
        "console/employees.html",
        include_str!("../../templates/console/employees.html"),
    ),
    (
        "console/employee.html",
        include_str!("../../templates/console/employee.html"),
    ),
    (
        "console/employee_new.html",
        include_str!("../../templates/console/employee_new.html"),
    ),
    (
        "console/employee_created.html",
        include_str!("../../templates/console/employee_created.html"),
    ),
    (
        "cabinet/login.html",
        include_str!("../../templates/cabinet/login.html"),
    ),
    (
        "cabinet/code.html",
        include_str!("../../templates/cabinet/code.html"),
    ),
    (
        "cabinet/my_data.html",
        include_str!("../../templates/cabinet/my_data.html"),
    ),
    (
        "cabinet/accesses.html",
        include_str!("../../templates/cabinet/accesses.html"),
    ),
    (
        "cabinet/apply.html",
        include_str!("../../templates/cabinet/apply.html"),
    ),
];

/// Ids the code picks at run time (not literally in a template), e.g. yes/no words.
pub const CODE_IDS: &[&str] = &[
    "value-yes",
    "value-no",
    "login-failed",
    "totp-failed",
    "search-invalid",
    "reveal-refused",
    "layout-signed-in-as",
    "status-active",
    "status-disabled",
    "status-suspended",
    "incident-status-open",
    "incident-status-acknowledged",
    "incident-status-closed",
    "incident-event-raised",
    "incident-event-evidence",
    "incident-event-auto-suspended",
    "incident-event-auto-suspend-failed",
    "incident-event-acknowledged",
    "incident-event-note",
    "incident-event-closed",
    "incident-lift-nothing",
    "incident-lifted-note",
    "incident-done-acknowledged",
    "incident-done-note",
    "incident-done-closed",
    "incident-done-lifted",
    "staff-invalid-login",
    "staff-invalid-display-name",
    "staff-invalid-role",
    "staff-invalid-text-version",
    "staff-invalid-signed-on",
    "staff-invalid-expires-on",
    "staff-invalid-course",
    "staff-invalid-course-version",
    "staff-invalid-completed-on",
    "staff-invalid-repeat-by",
    "staff-invalid-date",
    "staff-done-undertaking",
    "staff-done-training",
    "staff-done-role",
    "staff-done-disabled",
    "staff-done-activated",
    "source-subject",
    "source-employee",
    "source-credit-bureau",
    "source-pension-centre",
    "source-other-organisation",
    "source-automatic",
    "cab-login-invalid",
    "cab-code-failed",
    "cab-years",
    "cab-destruction-after-contract",
    "cab-policy-version",
    "cab-scope-policy",
    "cab-consent-granted",
    "cab-consent-not-granted",
    "cab-deadline",
    "cab-saved",
    "cab-request-filed",
    "basis-consent",
    "basis-contract",
    "basis-legal-obligation",
    "basis-legitimate-interest",
    "decision-granted",
    "decision-refused",
    "decision-withdrawn",
    "cab-actor-employee",
    "cab-actor-lender-system",
    "cab-actor-subject",
    "cab-actor-derbes",
    "cab-status-received",
    "cab-status-in-progress",
    "cab-status-answered",
    "cab-status-done",
    "cab-status-refused",
    // The application form (6.1): fieldsets, labels, hints and messages picked in code.
    "apply-group-person",
    "apply-group-contacts",
    "apply-group-addresses",
    "apply-group-money",
    "apply-surname",
    "apply-given",
    "apply-patronymic",
    "apply-iin",
    "apply-iin-hint",
    "apply-phone",
    "apply-phone-hint",
    "apply-email",
    "apply-registration",
    "apply-residence",
    "apply-residence-hint",
    "apply-iban",
    "apply-iban-hint",
    "apply-bank",
    "apply-bank-hint",
    "apply-employer",
    "apply-salary",
    "apply-salary-hint",
    "apply-salary-day",
    "apply-policy",
    "apply-consent",
    "apply-err-required",
    "apply-err-bank-without-iban",
    "apply-err-salary",
    "apply-err-salary-day",
    "apply-err-consent",
    "apply-err-policy-changed",
    "apply-sent",
];

/// The page texts of all languages.
pub struct PageTexts {
    bundles: [FluentBundle<FluentResource>; 3],
}

impl fmt::Debug for PageTexts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageTexts").finish_non_exhaustive()
    }
}

fn index(lang: Lang) -> usize {
    match lang {
        Lang::Ru => 0,
        Lang::Kk => 1,
        Lang::En => 2,
    }
}

/// The message ids a template source names in `t("…")` calls.
pub fn ids_in_template(src: &str) -> BTreeSet<String> {
    src.split("t(\"")
        .skip(1)
        .filter_map(|rest| rest.split_once('"'))
        .map(|(id, _)| id.to_owned())
        .collect()
}

/// The message ids a Fluent file defines (terms `-x` excluded).
pub fn ids_in_ftl(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with([' ', '#', '-', '.', '\t']))
        .filter_map(|l| l.split_once(" ="))
        .map(|(id, _)| id.trim().to_owned())
        .filter(|id| !id.is_empty())
        .collect()
}

/// Every id the pages need: those of the templates and [`CODE_IDS`].
pub fn required_ids() -> BTreeSet<String> {
    let mut ids: BTreeSet<String> = TEMPLATES
        .iter()
        .flat_map(|(_, src)| ids_in_template(src))
        .collect();
    ids.extend(CODE_IDS.iter().map(|s| (*s).to_owned()));
    ids
}

impl PageTexts {
    /// Parse the embedded files and check them (see the module doc).
    pub fn load() -> Result<PageTexts, I18nError> {
        let [ru, kk, en] = SOURCES.map(|(lang, file, text)| bundle(lang, file, text));
        let texts = PageTexts {
            bundles: [ru?, kk?, en?],
        };
        let required = required_ids();
        let reference = ids_in_ftl(SOURCES[0].2);
        for (lang, file, text) in SOURCES {
            let defined = ids_in_ftl(text);
            for id in required.iter().chain(reference.iter()) {
                if !texts.has(lang, id) {
                    return Err(I18nError::Missing {
                        file,
                        id: id.clone(),
                    });
                }
            }
            if let Some(extra) = defined.difference(&reference).next() {
                return Err(I18nError::Missing {
                    file: SOURCES[0].1,
                    id: extra.clone(),
                });
            }
        }
        Ok(texts)
    }

    /// Whether `id` has a value in `lang`.
    pub fn has(&self, lang: Lang, id: &str) -> bool {
        self.bundles[index(lang)]
            .get_message(id)
            .is_some_and(|m| m.value().is_some())
    }

    /// The text of `id` in `lang`; a missing id (ruled out by [`PageTexts::load`]) gives
    /// an empty string, never the id.
    pub fn text(&self, lang: Lang, id: &str) -> String {
        self.format(lang, id, None)
    }

    /// The text of `id` with one argument.
    pub fn text_with(&self, lang: Lang, id: &str, name: &str, value: &str) -> String {
        let mut args = FluentArgs::new();
        args.set(name, value);
        self.format(lang, id, Some(&args))
    }

    fn format(&self, lang: Lang, id: &str, args: Option<&FluentArgs>) -> String {
        let b = &self.bundles[index(lang)];
        let Some(pattern) = b.get_message(id).and_then(|m| m.value()) else {
            return String::new();
        };
        let mut errors = Vec::new();
        b.format_pattern(pattern, args, &mut errors).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c4_1_page_texts_load_and_every_template_id_exists_in_all_languages() {
        let t = PageTexts::load().unwrap();
        let required = required_ids();
        assert!(required.len() > 40, "scanner found only {}", required.len());
        for lang in Lang::ALL {
            for id in &required {
                assert!(t.has(lang, id), "{}: missing {id}", lang.as_str());
                assert!(!t.text(lang, id).trim().is_empty(), "{id} empty");
            }
        }
    }

    #[test]
    fn c4_1_the_three_files_define_the_same_ids() {
        let ru = ids_in_ftl(SOURCES[0].2);
        for (lang, file, text) in SOURCES {
            assert_eq!(ids_in_ftl(text), ru, "{file} ({})", lang.as_str());
        }
        // No id is defined but unused.
        let required = required_ids();
        let unused: Vec<_> = ru.difference(&required).collect();
        assert!(unused.is_empty(), "unused ids: {unused:?}");
    }

    #[test]
    fn kazakh_and_russian_texts_are_real_translations() {
        const KAZAKH: [char; 8] = ['ә', 'ғ', 'қ', 'ң', 'ө', 'ұ', 'ү', 'і'];
        let t = PageTexts::load().unwrap();
        let mut kk_all = String::new();
        for id in required_ids() {
            let kk = t.text(Lang::Kk, &id);
            let ru = t.text(Lang::Ru, &id);
            let en = t.text(Lang::En, &id);
            kk_all.push_str(&kk);
            assert!(
                !en.chars().any(|c| ('\u{400}'..='\u{4ff}').contains(&c)),
                "en {id}: {en}"
            );
            assert!(
                !ru.chars().any(|c| KAZAKH.contains(&c)),
                "ru {id} has a Kazakh letter: {ru}"
            );
            let brand = ["derbes", "TOTP", "IIN", "ЖСН", "ИИН"]
                .iter()
                .any(|b| en == *b || kk == *b);
            if !brand && en.chars().any(char::is_alphabetic) {
                assert_ne!(kk, en, "kk {id} is the English text");
                assert_ne!(kk, ru, "kk {id} is the Russian text: {kk}");
            }
        }
        for ch in KAZAKH {
            assert!(kk_all.contains(ch), "no {ch} in the Kazakh page texts");
        }
    }

    #[test]
    fn arguments_are_substituted() {
        let t = PageTexts::load().unwrap();
        for lang in Lang::ALL {
            let s = t.text_with(lang, "layout-signed-in-as", "name", "Айгерім");
            assert!(s.contains("Айгерім"), "{s}");
            assert!(!s.contains('{'), "{s}");
        }
    }
}

//! The message catalog covers every code the service layer can produce (clauses 4.1–4.2:
//! errors are stable codes turned into translated text, never echoed input). Reads the
//! service sources at build time so a new code without a message fails here.

use std::collections::BTreeSet;

use derbes_web::i18n::{Catalog, Lang, FIELD_CODES, FIELD_DETAILS, PROBLEM_CODES};

const LANGS: [Lang; 3] = [Lang::Ru, Lang::Kk, Lang::En];

/// Quoted codes on `=> "x"` lines inside `fn code` bodies.
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
        } else if line.contains("fn code(") {
            let indent = line.len() - line.trim_start().len();
            end = Some(format!("{}}}", " ".repeat(indent)));
        }
    }
    out
}

/// All string literals on a line.
fn literals(line: &str) -> Vec<&str> {
    line.split('"').skip(1).step_by(2).collect()
}

#[test]
fn c4_1_every_service_error_code_has_a_problem_message() {
    let codes = codes_in_code_fns(include_str!("../../service/src/error.rs"));
    assert!(codes.len() >= 15, "scanner found only {codes:?}");
    let catalog = Catalog::load().unwrap();
    for code in &codes {
        assert!(
            PROBLEM_CODES.contains(&code.as_str()),
            "`{code}` not in PROBLEM_CODES"
        );
        for lang in LANGS {
            assert!(catalog.has(lang, &format!("problem-{code}-title")));
            assert!(catalog.has(lang, &format!("problem-{code}-detail")));
        }
    }
}

#[test]
fn c4_1_every_field_code_the_service_sets_has_a_message() {
    let src = include_str!("../../service/src/vault.rs");
    let details: BTreeSet<&str> = FIELD_DETAILS.iter().map(|(_, d)| *d).collect();
    let mut seen = 0;
    for line in src.lines() {
        let line = line.trim();
        if line.contains("problem(\"") || line.starts_with("code: \"") {
            for lit in literals(line) {
                assert!(
                    FIELD_CODES.contains(&lit) || details.contains(lit),
                    "vault.rs: `{lit}` has no field message ({line})"
                );
                seen += 1;
            }
        } else if line.contains("Err(\"") {
            for lit in literals(line) {
                assert!(details.contains(lit), "vault.rs: detail `{lit}` not listed");
                seen += 1;
            }
        }
    }
    assert!(seen >= 5, "scanner found only {seen} codes in vault.rs");
}

#[test]
fn a_problem_document_can_be_built_in_every_language() {
    let catalog = Catalog::load().unwrap();
    for lang in LANGS {
        let title = catalog.title(lang, "category_not_allowed");
        let detail = catalog.detail(
            lang,
            "category_not_allowed",
            &[("categories", "iin, salary_amount".to_owned())],
        );
        let field = catalog.field(lang, "invalid_iin", Some("iin_bad_check_digit"));
        for text in [&title, &detail, &field] {
            assert!(!text.is_empty() && !text.contains('{') && !text.contains('\u{2068}'));
        }
        assert!(detail.contains("iin, salary_amount"));
        assert_ne!(field, catalog.field(lang, "invalid_iin", None));
    }
    // Accept-Language picks the catalog language.
    let kk = Lang::from_accept_language("kk-KZ,ru;q=0.8");
    assert_eq!(kk, Lang::Kk);
    assert_eq!(catalog.title(kk, "internal"), "Ішкі қате");
}

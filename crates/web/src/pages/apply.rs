//! The application form of the site, `/cabinet/apply` (issue 5; clauses 6.1, 6.2, PRE-1,
//! 2.1): the applicant's data of the clause 2.1 categories, the policy in force in the page's
//! language, one required consent to it (unticked) and, apart from it, the optional
//! consent-based purposes of the registry (unticked).
//!
//! - **6.1**: nothing is submitted without the ticked consent to the version shown (a hidden
//!   field names it; a version that changed in between is shown again and asked for again).
//!   A valid submit calls [`ConsentService::create_application`] — the subject, its values
//!   and the consent records (version, language, time, channel `web_form`, IP address, user
//!   agent) in one transaction — then [`ConsentService::submit_application`], as the site
//!   (`system:cabinet`) under the purpose `contract`.
//! - **6.2**: nothing is written before a valid submit. Bad fields or a missing consent
//!   re-render the form (422) with the entered values kept in the page — never in a URL —
//!   and a translated message next to each field; a missing consent also goes through the
//!   service's own refusal (audited, without a subject, nothing stored).
//! - The form is checked field by field with the registry's own parsers (the ones the vault
//!   uses), so every problem of one submit is shown at once, in the page's language (the
//!   API's field messages of `locales/*/errors.ftl`). The service checks again.
//! - Accessibility: every input has a `<label for>`, hints and errors are linked by
//!   `aria-describedby`, invalid inputs carry `aria-invalid`, an error summary at the top
//!   links to the fields, and the first invalid field gets `autofocus` — no script. Inputs
//!   carry no `required` attribute on purpose: the browser's own bubble would speak the
//!   browser's language, not the page's; `aria-required` tells assistive technology.
//! - A taken IIN or phone (the subject exists) gets the answer of a valid application and
//!   nothing is stored: the form never tells an outsider who is a borrower (7.1b).
//! - On success: `303 /cabinet/login` with a short-lived flash cookie; the login page then
//!   says the application was received and to log in with the phone.

use super::cabinet::{cabinet, pre_token, with_cookie};
use super::csrf::pre_session;
use super::{cookie, cookie_value, render, see_other, Chrome, PageError, PageLang};
use crate::employees::ClientIp;
use crate::i18n::Lang;
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use derbes_core::registry::LegalBasis;
use derbes_service::consent_service::{
    ApplicationInput, Channel, ConsentChange, ConsentInput, ConsentService, Decision, Evidence,
};
use derbes_service::{Actor, Call, FieldProblem, ServiceError, Source, SourceKind, ValueInput};
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, BTreeSet};

/// The site's actor: the application form of derbes itself.
pub const APPLY_ACTOR: Actor = Actor::System("cabinet");
/// The purpose of an application (1.1 (1)).
pub const APPLY_PURPOSE: &str = "contract";
/// The flash value set on the redirect after a valid application.
pub const FLASH_APPLIED: &str = "applied";

/// The flash cookie's name (a word, never personal).
pub fn flash_cookie_name(opts: &super::PageOptions) -> &'static str {
    if opts.secure_cookies {
        "__Host-derbes_flash"
    } else {
        "derbes_flash"
    }
}

/// One input of the form.
struct Spec {
    /// The form field's name and the input's id.
    name: &'static str,
    /// Its group (a fieldset).
    group: usize,
    /// Message id of the label.
    label: &'static str,
    /// Message id of the hint, if any.
    hint: Option<&'static str>,
    required: bool,
    input_type: &'static str,
    autocomplete: &'static str,
    inputmode: &'static str,
    maxlength: u32,
}

const fn spec(
    name: &'static str,
    group: usize,
    label: &'static str,
    hint: Option<&'static str>,
    required: bool,
) -> Spec {
    Spec {
        name,
        group,
        label,
        hint,
        required,
        input_type: "text",
        autocomplete: "off",
        inputmode: "text",
        maxlength: 300,
    }
}

/// Message ids of the fieldsets' legends, by group.
const GROUPS: [&str; 4] = [
    "apply-group-person",
    "apply-group-contacts",
    "apply-group-addresses",
    "apply-group-money",
];

/// The inputs, in the page's (and the focus) order.
const FIELDS: &[Spec] = &[
    Spec {
        autocomplete: "family-name",
        maxlength: 60,
        ..spec("surname", 0, "apply-surname", None, true)
    },
    Spec {
        autocomplete: "given-name",
        maxlength: 60,
        ..spec("given", 0, "apply-given", None, true)
    },
    Spec {
        autocomplete: "additional-name",
        maxlength: 60,
        ..spec("patronymic", 0, "apply-patronymic", None, false)
    },
    Spec {
        inputmode: "numeric",
        maxlength: 12,
        ..spec("iin", 0, "apply-iin", Some("apply-iin-hint"), true)
    },
    Spec {
        input_type: "tel",
        autocomplete: "tel",
        inputmode: "tel",
        maxlength: 32,
        ..spec(
            "mobile_phone",
            1,
            "apply-phone",
            Some("apply-phone-hint"),
            true,
        )
    },
    Spec {
        input_type: "email",
        autocomplete: "email",
        inputmode: "email",
        maxlength: 254,
        ..spec("email", 1, "apply-email", None, false)
    },
    Spec {
        autocomplete: "street-address",
        ..spec("registration_address", 2, "apply-registration", None, true)
    },
    Spec {
        autocomplete: "street-address",
        ..spec(
            "residence_address",
            2,
            "apply-residence",
            Some("apply-residence-hint"),
            false,
        )
    },
    Spec {
        maxlength: 34,
        ..spec("iban", 3, "apply-iban", Some("apply-iban-hint"), false)
    },
    Spec {
        maxlength: 100,
        ..spec("bank_name", 3, "apply-bank", Some("apply-bank-hint"), false)
    },
    Spec {
        autocomplete: "organization",
        ..spec("employer", 3, "apply-employer", None, false)
    },
    Spec {
        inputmode: "decimal",
        maxlength: 20,
        ..spec(
            "salary",
            3,
            "apply-salary",
            Some("apply-salary-hint"),
            false,
        )
    },
    Spec {
        inputmode: "numeric",
        maxlength: 2,
        ..spec("salary_day", 3, "apply-salary-day", None, false)
    },
];

/// The field of the form that shows a problem of the service's or the registry's
/// (category, code, detail).
fn field_of(category: &str, code: &str, detail: Option<&str>) -> &'static str {
    match category {
        "full_name" => match detail {
            Some("full_name_bad_given") | Some("full_name_missing_given") => "given",
            Some("full_name_bad_patronymic") => "patronymic",
            _ => "surname",
        },
        "bank_account" if code == "invalid_bank_account" => "bank_name",
        "bank_account" => "iban",
        "salary_amount" => "salary",
        "salary_day" => "salary_day",
        "iin" => "iin",
        "mobile_phone" => "mobile_phone",
        "email" => "email",
        "registration_address" => "registration_address",
        "residence_address" => "residence_address",
        "employer" => "employer",
        // A category this form does not have (never expected): shown at the top.
        _ => "",
    }
}

/// What the applicant typed and ticked.
#[derive(Default)]
struct Entered {
    fields: BTreeMap<&'static str, String>,
    consent: bool,
    optional: BTreeSet<String>,
    policy_version: Option<i64>,
}

impl Entered {
    fn from_pairs(pairs: Vec<(String, String)>) -> Entered {
        let mut e = Entered::default();
        for (k, v) in pairs {
            match k.as_str() {
                "consent" => e.consent = v == "yes",
                "optional" => {
                    e.optional.insert(v);
                }
                "policy_version" => e.policy_version = v.trim().parse().ok(),
                _ => {
                    if let Some(f) = FIELDS.iter().find(|f| f.name == k) {
                        e.fields.insert(f.name, v);
                    }
                }
            }
        }
        e
    }

    fn get(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", |v| v.trim())
    }
}

/// Problems by field name (`""`: the form as a whole).
type Errors = BTreeMap<&'static str, String>;

/// A salary typed in tenge (`250000`, `250 000`, `250000,50`) as whole tiyn.
pub fn tenge_to_tiyn(typed: &str) -> Option<i64> {
    let s: String = typed
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}'))
        .collect();
    let (whole, frac) = match s.split_once([',', '.']) {
        Some((w, f)) => (w, Some(f)),
        None => (s.as_str(), None),
    };
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || whole.len() > 12 {
        return None;
    }
    let frac = match frac {
        None => "",
        Some(f) if digits(f) && f.len() <= 2 => f,
        Some(_) => return None,
    };
    let tenge: i64 = whole.parse().ok()?;
    let tiyn: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    tenge.checked_mul(100)?.checked_add(tiyn)
}

/// Check every field with the registry's parsers; the values to submit and the problems.
fn check_fields(
    state: &AppState,
    lang: Lang,
    c: &Chrome,
    e: &Entered,
) -> (Vec<ValueInput>, Errors) {
    let registry = state.vault.registry();
    let mut values = Vec::new();
    let mut errors = Errors::new();
    let required = c.t("apply-err-required");
    for f in FIELDS.iter().filter(|f| f.required) {
        if e.get(f.name).is_empty() {
            errors.insert(f.name, required.clone());
        }
    }
    let mut add = |errors: &mut Errors, category: &str, value: Json| {
        if let Some(def) = registry.category(category) {
            if let Err(err) = def.parse_value(&value) {
                let field = field_of(category, err.code(), err.detail_code());
                errors
                    .entry(field)
                    .or_insert_with(|| state.catalog.field(lang, err.code(), err.detail_code()));
                return;
            }
        }
        values.push(ValueInput {
            category: category.to_string(),
            value,
            source: Source {
                kind: SourceKind::Subject,
                name: None,
            },
            obtained_at: None,
        });
    };
    if !e.get("surname").is_empty() && !e.get("given").is_empty() {
        let mut name = json!({"surname": e.get("surname"), "given": e.get("given")});
        if !e.get("patronymic").is_empty() {
            name["patronymic"] = json!(e.get("patronymic"));
        }
        add(&mut errors, "full_name", name);
    }
    for (field, category) in [
        ("iin", "iin"),
        ("mobile_phone", "mobile_phone"),
        ("email", "email"),
        ("registration_address", "registration_address"),
        ("residence_address", "residence_address"),
        ("employer", "employer"),
    ] {
        if !e.get(field).is_empty() {
            add(&mut errors, category, json!(e.get(field)));
        }
    }
    match (e.get("iban"), e.get("bank_name")) {
        ("", "") => {}
        ("", _) => {
            errors.insert("iban", c.t("apply-err-bank-without-iban"));
        }
        (iban, "") => add(&mut errors, "bank_account", json!({ "iban": iban })),
        (iban, bank) => add(
            &mut errors,
            "bank_account",
            json!({"iban": iban, "bank_name": bank}),
        ),
    }
    if !e.get("salary").is_empty() {
        match tenge_to_tiyn(e.get("salary")) {
            Some(tiyn) => add(&mut errors, "salary_amount", json!(tiyn)),
            None => {
                errors.insert("salary", c.t("apply-err-salary"));
            }
        }
    }
    if !e.get("salary_day").is_empty() {
        match e.get("salary_day").parse::<u8>() {
            Ok(d) if (1..=31).contains(&d) => add(&mut errors, "salary_day", json!(d)),
            _ => {
                errors.insert("salary_day", c.t("apply-err-salary-day"));
            }
        }
    }
    (values, errors)
}

struct FieldView {
    name: &'static str,
    label: String,
    hint: Option<String>,
    error: Option<String>,
    value: String,
    required: bool,
    input_type: &'static str,
    autocomplete: &'static str,
    inputmode: &'static str,
    maxlength: u32,
    described_by: String,
    autofocus: bool,
}

struct GroupView {
    legend: String,
    fields: Vec<FieldView>,
}

struct OptionalView {
    code: String,
    name: String,
    description: String,
    checked: bool,
}

struct SummaryLine {
    id: &'static str,
    label: String,
    text: String,
}

#[derive(Template)]
#[template(path = "cabinet/apply.html")]
struct ApplyPage {
    c: Chrome,
    csrf: String,
    error: Option<String>,
    summary: Vec<SummaryLine>,
    groups: Vec<GroupView>,
    policy_version: i64,
    policy_title: String,
    policy_lang: String,
    policy_text: String,
    consent: bool,
    consent_label: String,
    consent_error: Option<String>,
    optional: Vec<OptionalView>,
}

/// The page (empty, or with what was entered and the problems).
async fn form_page(
    state: &AppState,
    lang: Lang,
    headers: &HeaderMap,
    status: StatusCode,
    entered: &Entered,
    errors: &Errors,
) -> Result<Response, PageError> {
    let cab = cabinet(state)?;
    let policy = state.consent.current_policy_record().await?;
    let text = ConsentService::policy_text(&policy, lang);
    let (pre, set) = pre_session(&state.pages.options, headers);
    let c = Chrome::new(state, lang, "/cabinet/apply", "apply-title");
    let version = policy.number.to_string();
    let first_invalid = FIELDS
        .iter()
        .map(|f| f.name)
        .find(|n| errors.contains_key(n));
    let mut summary = Vec::new();
    let groups = GROUPS
        .iter()
        .enumerate()
        .map(|(g, legend)| GroupView {
            legend: c.t(legend),
            fields: FIELDS
                .iter()
                .filter(|f| f.group == g)
                .map(|f| {
                    let error = errors.get(f.name).cloned();
                    let label = c.t(f.label);
                    if let Some(e) = &error {
                        summary.push(SummaryLine {
                            id: f.name,
                            label: label.clone(),
                            text: e.clone(),
                        });
                    }
                    let described_by = [
                        f.hint.map(|_| format!("hint-{}", f.name)),
                        error.as_ref().map(|_| format!("err-{}", f.name)),
                    ]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                    FieldView {
                        name: f.name,
                        label,
                        hint: f.hint.map(|h| c.t(h)),
                        error,
                        value: entered.get(f.name).to_string(),
                        required: f.required,
                        input_type: f.input_type,
                        autocomplete: f.autocomplete,
                        inputmode: f.inputmode,
                        maxlength: f.maxlength,
                        described_by,
                        autofocus: first_invalid == Some(f.name),
                    }
                })
                .collect(),
        })
        .collect();
    let consent_error = errors.get("consent").cloned();
    if let Some(e) = &consent_error {
        summary.push(SummaryLine {
            id: "consent",
            label: c.t("apply-consent-legend"),
            text: e.clone(),
        });
    }
    let optional = state
        .vault
        .registry()
        .purposes()
        .values()
        .filter(|p| p.legal_basis == LegalBasis::Consent)
        .map(|p| OptionalView {
            code: p.code.as_str().to_string(),
            name: p.name.get(lang).to_string(),
            description: p
                .description
                .as_ref()
                .map(|d| d.get(lang).to_string())
                .unwrap_or_default(),
            checked: entered.optional.contains(p.code.as_str()),
        })
        .collect();
    let page = ApplyPage {
        csrf: pre_token(cab, &pre),
        error: errors.get("").cloned(),
        summary,
        groups,
        policy_version: policy.number,
        policy_title: c.t1("apply-policy", "version", &version),
        policy_lang: text.lang,
        policy_text: text.text,
        consent: entered.consent && entered.policy_version == Some(policy.number),
        consent_label: c.t1("apply-consent", "version", &version),
        consent_error,
        optional,
        c,
    };
    Ok(with_cookie(render(status, &page), set))
}

/// `GET /cabinet/apply`: the empty form, every consent unticked (6.1, 7.1d).
pub async fn apply_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
) -> Response {
    form_page(
        &state,
        lang,
        &headers,
        StatusCode::OK,
        &Entered::default(),
        &Errors::new(),
    )
    .await
    .unwrap_or_else(|e| e.page_at(&state, lang, None, "/cabinet"))
}

/// The evidence of a web-form consent (6.1): the client's address and its user agent as sent
/// (an absent header is recorded as empty, never invented).
fn web_evidence(headers: &HeaderMap, ip: Option<std::net::IpAddr>) -> Evidence {
    Evidence {
        ip: ip.map(|i| i.to_string()),
        user_agent: Some(
            headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().filter(|c| !c.is_control()).take(512).collect())
                .unwrap_or_default(),
        ),
        document_sha256: None,
        reference: None,
    }
}

fn problems_to_errors(lang: Lang, state: &AppState, problems: &[FieldProblem]) -> Errors {
    let mut errors = Errors::new();
    for p in problems {
        let field = field_of(&p.category, &p.code, p.detail.as_deref());
        errors
            .entry(field)
            .or_insert_with(|| state.catalog.field(lang, &p.code, p.detail.as_deref()));
    }
    errors
}

/// `POST /cabinet/apply` (CSRF checked before, against the pre-session cookie): check, then
/// create the application with its consent and submit it (6.1); or the form again with the
/// problems and nothing stored (6.2).
pub async fn apply_submit(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> Response {
    let result = async {
        let Form(pairs) =
            form.map_err(|_| PageError::Web("malformed_json", StatusCode::BAD_REQUEST))?;
        let mut entered = Entered::from_pairs(pairs);
        let policy = state.consent.current_policy_record().await?;
        let c = Chrome::new(&state, lang, "/cabinet/apply", "apply-title");
        let (values, mut errors) = check_fields(&state, lang, &c, &entered);
        let call = Call::new(APPLY_ACTOR, APPLY_PURPOSE);
        if !entered.consent {
            errors.insert("consent", c.t("apply-err-consent"));
            cabinet(&state)?.throttle_application(ip).await?;
            // The service's own refusal (6.1): audited without a subject, nothing stored.
            match state
                .consent
                .create_application(
                    &call,
                    ApplicationInput {
                        values: Vec::new(),
                        consent: None,
                    },
                )
                .await
            {
                Err(ServiceError::PolicyConsentRequired) => {}
                Err(e) => return Err(PageError::Service(e)),
                Ok(_) => return Err(PageError::Service(ServiceError::Integrity)),
            }
        } else if entered.policy_version != Some(policy.number) {
            errors.insert("consent", c.t("apply-err-policy-changed"));
        }
        if !errors.is_empty() {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return form_page(&state, lang, &headers, status, &entered, &errors).await;
        }
        let ticked: Vec<String> = state
            .vault
            .registry()
            .purposes()
            .values()
            .filter(|p| p.legal_basis == LegalBasis::Consent)
            .map(|p| p.code.as_str().to_string())
            .collect();
        // The policy granted; each optional purpose granted when ticked, else refused on the
        // record (the applicant was asked: 7.1d "default refused, with history").
        let mut changes = vec![ConsentChange {
            scope: "policy".into(),
            decision: Decision::Granted,
        }];
        changes.extend(ticked.iter().map(|code| ConsentChange {
            scope: code.clone(),
            decision: if entered.optional.contains(code) {
                Decision::Granted
            } else {
                Decision::Refused
            },
        }));
        let input = ApplicationInput {
            values,
            consent: Some(ConsentInput {
                policy_version: policy.number,
                lang: lang.as_str().to_string(),
                channel: Channel::WebForm,
                evidence: web_evidence(&headers, ip),
                valid_until: None,
                changes,
            }),
        };
        cabinet(&state)?.throttle_application(ip).await?;
        let app = match state.consent.create_application(&call, input).await {
            Ok(app) => app,
            // A taken IIN or phone gets the very answer of a valid application, so the form
            // never tells an outsider who is a borrower (as the login page never does); the
            // borrower logs in with the phone they have. Nothing is stored.
            Err(ServiceError::SubjectExists) | Err(ServiceError::UniqueValueTaken) => {
                tracing::info!(
                    code = "subject_exists",
                    "application for an existing borrower: answered as received, nothing stored"
                );
                return Ok(applied(&state));
            }
            Err(ServiceError::InvalidValues(problems)) => {
                let errors = problems_to_errors(lang, &state, &problems);
                let status = StatusCode::UNPROCESSABLE_ENTITY;
                return form_page(&state, lang, &headers, status, &entered, &errors).await;
            }
            Err(ServiceError::PolicyVersionNotCurrent) => {
                entered.consent = false;
                let errors = Errors::from([("consent", c.t("apply-err-policy-changed"))]);
                let status = StatusCode::UNPROCESSABLE_ENTITY;
                return form_page(&state, lang, &headers, status, &entered, &errors).await;
            }
            Err(e) => return Err(PageError::Service(e)),
        };
        state.consent.submit_application(&call, &app.id).await?;
        Ok(applied(&state))
    }
    .await;
    result.unwrap_or_else(|e| e.page_at(&state, lang, None, "/cabinet"))
}

/// The answer to an application: to the login page, which says it was received.
fn applied(state: &AppState) -> Response {
    let opts = &state.pages.options;
    with_cookie(
        see_other("/cabinet/login"),
        cookie(opts, flash_cookie_name(opts), FLASH_APPLIED, 300),
    )
}

/// The login page's notice after a valid application: whether the flash cookie says so.
pub fn applied_flash(state: &AppState, headers: &HeaderMap) -> bool {
    cookie_value(headers, flash_cookie_name(&state.pages.options)) == Some(FLASH_APPLIED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c6_1_salary_in_tenge_becomes_whole_tiyn() {
        assert_eq!(tenge_to_tiyn("250000"), Some(25_000_000));
        assert_eq!(tenge_to_tiyn("250 000"), Some(25_000_000));
        assert_eq!(tenge_to_tiyn("250\u{a0}000,5"), Some(25_000_050));
        assert_eq!(tenge_to_tiyn("1.25"), Some(125));
        for bad in ["", "-5", "1e5", "12,345", "abc", "1,", "9999999999999"] {
            assert_eq!(tenge_to_tiyn(bad), None, "{bad}");
        }
    }

    #[test]
    fn c6_1_every_problem_lands_on_a_field_of_the_form() {
        let names: Vec<_> = FIELDS.iter().map(|f| f.name).collect();
        for (cat, code, detail) in [
            ("full_name", "invalid_name", Some("full_name_bad_given")),
            (
                "full_name",
                "invalid_name",
                Some("full_name_bad_patronymic"),
            ),
            ("full_name", "invalid_name", Some("name_bad_character")),
            ("bank_account", "invalid_iban", None),
            ("bank_account", "invalid_bank_account", None),
            ("salary_amount", "invalid_money", None),
            ("salary_day", "invalid_day", None),
            ("iin", "invalid_iin", None),
            ("mobile_phone", "not_mobile", None),
            ("email", "invalid_email", None),
            ("registration_address", "invalid_address", None),
            ("residence_address", "invalid_address", None),
            ("employer", "invalid_text", None),
        ] {
            let f = field_of(cat, code, detail);
            assert!(names.contains(&f), "{cat}/{code} → {f}");
        }
    }
}

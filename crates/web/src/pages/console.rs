//! The employee console (clauses 1.1, 3.2, 4.1, 4.3, 5.4, 5.5, 8.1): sign in with a password
//! and a TOTP code, see one's own profile (role, confidentiality undertakings, trainings),
//! find a borrower by IIN or phone for a chosen purpose, see the borrower as the access
//! policy allows (masked values with a "show in full" form where allowed), and the
//! borrower's audit trail. Incidents (5.5) are in [`super::incidents`], employee
//! administration (4.3, 5.4) in [`super::staff`]; both use this module's frame helpers.
//!
//! Handlers only parse, call the services and render; every rule lives in the service
//! layer. Personal values never reach a URL: the search value is a POST body, a borrower
//! is addressed by the pseudonymous id, and the purpose (a registry code) is the only query.

use super::csrf::{self, CheckedSession};
use super::views::{self, Shown, ShownSubject};
use super::{cookie, render, see_other, Chrome, PageError, PageLang, UserNav};
use crate::employees::ClientIp;
use crate::i18n::Lang;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use chrono::{DateTime, NaiveDate, Utc};
use derbes_service::employees::{EmployeeStatus, Employees, RoleView};
use derbes_service::{Actor, Call, ServiceError};
use serde::Deserialize;
use uuid::Uuid;

/// Categories a borrower can be searched by in the console.
pub const SEARCH_CATEGORIES: &[&str] = &["iin", "mobile_phone"];

/// The console's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(start))
        .route("/console/login", get(login_page).post(login_submit))
        .route("/console/totp", get(totp_page).post(totp_submit))
        .route("/console/profile", get(profile))
        .route("/console/search", get(search_page).post(search_submit))
        .route("/console/subjects/{id}", get(subject))
        .route("/console/subjects/{id}/reveal", post(reveal))
        .route("/console/subjects/{id}/audit", get(audit))
        .route("/console/logout", post(logout))
}

pub(super) fn employees(state: &AppState) -> Result<&Employees, PageError> {
    state
        .employees
        .as_ref()
        .ok_or(PageError::Service(ServiceError::Unavailable))
}

pub(super) fn date(d: DateTime<Utc>) -> String {
    derbes_core::calendar::to_almaty(d)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

pub(super) fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

pub(super) fn yes_no(c: &Chrome, b: bool) -> String {
    c.t(if b { "value-yes" } else { "value-no" })
}

/// What the signed-in employee's role may do beyond its purposes (the roles registry's
/// `admin` and `records` flags). The services decide again on every call; this only chooses
/// which menu entries and forms a page shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Powers {
    /// May manage accounts (create, disable, re-activate, change roles).
    pub admin: bool,
    /// May record confidentiality undertakings (4.3) and training acknowledgements (5.4).
    pub records: bool,
}

pub(super) fn powers(state: &AppState, actor: &Actor) -> Powers {
    let Actor::Employee { role, .. } = actor else {
        return Powers::default();
    };
    state
        .employees
        .as_ref()
        .and_then(|e| e.roles().role(role))
        .map(|r| Powers {
            admin: r.admin,
            records: r.records,
        })
        .unwrap_or_default()
}

fn user_nav(state: &AppState, c: &Chrome, s: &CheckedSession) -> UserNav {
    let login = match &s.session.actor {
        Actor::Employee { login, .. } => login.clone(),
        other => other.id(),
    };
    let p = powers(state, &s.session.actor);
    UserNav {
        signed_in_as: c.t1("layout-signed-in-as", "name", &login),
        csrf: s.session.csrf_token.clone(),
        security: s
            .session
            .actor
            .may_use(derbes_service::incidents::INCIDENT_PURPOSE),
        staff: p.admin || p.records,
    }
}

/// A signed-in page request: the session, or a redirect to the login page.
pub(super) async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<CheckedSession, Response> {
    let lang = PageLang::of(headers).0;
    match csrf::session_of(state, headers).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(see_other("/console/login")),
        Err(e) => Err(PageError::Service(e).page(state, lang, None)),
    }
}

/// A frame for a signed-in page.
pub(super) fn chrome(
    state: &AppState,
    lang: Lang,
    s: &CheckedSession,
    path: &str,
    title: &str,
) -> Chrome {
    let mut c = Chrome::new(state, lang, path, title);
    c.user = Some(user_nav(state, &c, s));
    c
}

pub(super) fn fail(
    state: &AppState,
    lang: Lang,
    s: Option<&CheckedSession>,
    e: PageError,
) -> Response {
    let user = s.map(|s| {
        let c = Chrome::new(state, lang, "/console", "error-back");
        user_nav(state, &c, s)
    });
    e.page(state, lang, user)
}

/// `GET /console`: the profile when signed in, else the login page.
async fn start(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match csrf::session_of(&state, &headers).await {
        Ok(Some(_)) => see_other("/console/profile"),
        _ => see_other("/console/login"),
    }
}

// ---------------------------------------------------------------------------------------
// Login: password, then TOTP

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    c: Chrome,
    csrf: String,
    login: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/totp.html")]
struct TotpPage {
    c: Chrome,
    csrf: String,
    error: Option<String>,
}

fn with_cookie(mut res: Response, set: Option<HeaderValue>) -> Response {
    if let Some(v) = set {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

fn login_form(
    state: &AppState,
    lang: Lang,
    headers: &HeaderMap,
    status: StatusCode,
    login: String,
    error: Option<String>,
) -> Result<Response, PageError> {
    let emp = employees(state)?;
    let (pre, set) = csrf::pre_session(&state.pages.options, headers);
    let page = LoginPage {
        c: Chrome::new(state, lang, "/console/login", "login-title"),
        csrf: csrf::pre_token(emp, &pre),
        login,
        error,
    };
    Ok(with_cookie(render(status, &page), set))
}

/// `GET /console/login`.
async fn login_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
) -> Response {
    login_form(&state, lang, &headers, StatusCode::OK, String::new(), None)
        .unwrap_or_else(|e| e.page(&state, lang, None))
}

/// The login form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
}

/// `POST /console/login` (CSRF: pre-session).
async fn login_submit(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let result = async {
        let Form(f) =
            form.map_err(|_| PageError::Web("malformed_json", StatusCode::BAD_REQUEST))?;
        let emp = employees(&state)?;
        match emp.login(&f.login, &f.password, ip).await {
            Ok(pending) => {
                let opts = &state.pages.options;
                let ttl = emp.options().pending_ttl.num_seconds();
                let res = see_other("/console/totp");
                Ok(with_cookie(
                    res,
                    cookie(
                        opts,
                        csrf::pending_cookie_name(opts),
                        &pending.pending_token,
                        ttl,
                    ),
                ))
            }
            Err(ServiceError::InvalidCredentials | ServiceError::InvalidInput(_)) => {
                let texts = &state.pages.texts;
                login_form(
                    &state,
                    lang,
                    &headers,
                    StatusCode::UNAUTHORIZED,
                    f.login.chars().take(64).collect(),
                    Some(texts.text(lang, "login-failed")),
                )
            }
            Err(e) => Err(e.into()),
        }
    }
    .await;
    result.unwrap_or_else(|e| e.page(&state, lang, None))
}

fn totp_form(
    state: &AppState,
    lang: Lang,
    headers: &HeaderMap,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, PageError> {
    let emp = employees(state)?;
    let (pre, set) = csrf::pre_session(&state.pages.options, headers);
    let page = TotpPage {
        c: Chrome::new(state, lang, "/console/totp", "totp-title"),
        csrf: csrf::pre_token(emp, &pre),
        error,
    };
    Ok(with_cookie(render(status, &page), set))
}

/// `GET /console/totp` (after a correct password).
async fn totp_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
) -> Response {
    let opts = &state.pages.options;
    if super::cookie_value(&headers, csrf::pending_cookie_name(opts)).is_none() {
        return see_other("/console/login");
    }
    totp_form(&state, lang, &headers, StatusCode::OK, None)
        .unwrap_or_else(|e| e.page(&state, lang, None))
}

/// The code form.
#[derive(Debug, Deserialize)]
pub struct TotpForm {
    #[serde(default)]
    code: String,
}

/// `POST /console/totp` (CSRF: pre-session): the session cookie on success.
async fn totp_submit(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: Result<Form<TotpForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let result = async {
        let Form(f) =
            form.map_err(|_| PageError::Web("malformed_json", StatusCode::BAD_REQUEST))?;
        let emp = employees(&state)?;
        let opts = &state.pages.options;
        let pending_name = csrf::pending_cookie_name(opts);
        let Some(pending) = super::cookie_value(&headers, pending_name) else {
            return Ok(see_other("/console/login"));
        };
        match emp.verify_totp(pending, &f.code, ip).await {
            Ok(session) => {
                let max_age = emp.options().session_absolute.num_seconds();
                let res = see_other("/console/profile");
                let res = with_cookie(
                    res,
                    cookie(
                        opts,
                        csrf::session_cookie_name(opts),
                        &session.token,
                        max_age,
                    ),
                );
                Ok(with_cookie(res, cookie(opts, pending_name, "", 0)))
            }
            Err(ServiceError::InvalidCredentials | ServiceError::InvalidInput(_)) => {
                let msg = state.pages.texts.text(lang, "totp-failed");
                totp_form(&state, lang, &headers, StatusCode::UNAUTHORIZED, Some(msg))
            }
            Err(e) => Err(e.into()),
        }
    }
    .await;
    result.unwrap_or_else(|e| e.page(&state, lang, None))
}

/// `POST /console/logout` (CSRF: session): the session ends, the cookie is cleared.
async fn logout(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(s): Extension<CheckedSession>,
) -> Response {
    let result = async {
        employees(&state)?.logout(&s.token).await?;
        let opts = &state.pages.options;
        Ok::<_, PageError>(with_cookie(
            see_other("/console/login"),
            cookie(opts, csrf::session_cookie_name(opts), "", 0),
        ))
    }
    .await;
    result.unwrap_or_else(|e| fail(&state, lang, Some(&s), e))
}

// ---------------------------------------------------------------------------------------
// Profile (4.3, 5.4)

/// An undertaking as a table row (4.3).
pub(super) struct UndertakingRow {
    pub(super) text_version: String,
    pub(super) signed_on: String,
    pub(super) expires_on: String,
    pub(super) in_force: String,
}

/// A training acknowledgement as a table row (5.4).
pub(super) struct TrainingRow {
    pub(super) course: String,
    pub(super) course_version: String,
    pub(super) completed_on: String,
    pub(super) expires_on: String,
    pub(super) current: String,
}

/// A profile's undertakings and trainings as rows (the profile and the admin's employee page).
pub(super) fn record_rows(
    c: &Chrome,
    p: &derbes_service::employees::EmployeeProfile,
) -> (Vec<UndertakingRow>, Vec<TrainingRow>) {
    let undertakings = p
        .undertakings
        .iter()
        .map(|u| UndertakingRow {
            text_version: u.text_version.clone(),
            signed_on: day(u.signed_on),
            expires_on: day(u.expires_on),
            in_force: yes_no(c, u.in_force),
        })
        .collect();
    let trainings = p
        .trainings
        .iter()
        .map(|t| TrainingRow {
            course: t.course.clone(),
            course_version: t.course_version.clone(),
            completed_on: day(t.completed_on),
            expires_on: t.expires_on.map(day).unwrap_or_else(|| "—".into()),
            current: yes_no(c, t.current),
        })
        .collect();
    (undertakings, trainings)
}

#[derive(Template)]
#[template(path = "console/profile.html")]
struct ProfilePage {
    c: Chrome,
    access: bool,
    display_name: String,
    login: String,
    role: String,
    status: String,
    purposes: String,
    undertakings: Vec<UndertakingRow>,
    trainings: Vec<TrainingRow>,
}

/// A role's name in `lang`.
pub(super) fn role_label(lang: Lang, role: &RoleView) -> String {
    match lang {
        Lang::Ru => role.ru.clone(),
        Lang::Kk => role.kk.clone(),
        Lang::En => role.en.clone(),
    }
}

/// The message id of an account status.
pub(super) fn status_id(status: EmployeeStatus) -> &'static str {
    match status {
        EmployeeStatus::Active => "status-active",
        EmployeeStatus::Disabled => "status-disabled",
        EmployeeStatus::Suspended => "status-suspended",
    }
}

fn purpose_name(state: &AppState, lang: Lang, code: &str) -> String {
    state
        .vault
        .registry()
        .purpose(code)
        .map(|p| p.name.get(lang).to_string())
        .unwrap_or_else(|| code.to_string())
}

fn category_name(state: &AppState, lang: Lang, code: &str) -> String {
    state
        .vault
        .registry()
        .category(code)
        .map(|p| p.name.get(lang).to_string())
        .unwrap_or_else(|| code.to_string())
}

/// `GET /console/profile`: role, undertakings (4.3) and trainings (5.4).
async fn profile(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
) -> Response {
    let s = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let result = async {
        let id = s.session.employee_id.to_string();
        let p = employees(&state)?.profile(&s.session.actor, &id).await?;
        let c = chrome(&state, lang, &s, "/console/profile", "profile-title");
        let role = role_label(lang, &p.employee.role);
        let status = c.t(status_id(p.employee.status));
        let purposes = p
            .employee
            .role
            .purposes
            .iter()
            .map(|code| purpose_name(&state, lang, code))
            .collect::<Vec<_>>()
            .join(", ");
        let (undertakings, trainings) = record_rows(&c, &p);
        let page = ProfilePage {
            access: p.personal_data_access,
            display_name: p.employee.display_name.clone(),
            login: p.employee.login.clone(),
            role,
            status,
            purposes,
            undertakings,
            trainings,
            c,
        };
        Ok::<_, PageError>(render(StatusCode::OK, &page))
    }
    .await;
    result.unwrap_or_else(|e| fail(&state, lang, Some(&s), e))
}

// ---------------------------------------------------------------------------------------
// Search (1.1, 3.2, 4.1)

struct Choice {
    code: String,
    label: String,
    selected: bool,
}

struct ResultRow {
    id: String,
    summary: String,
    href: String,
}

#[derive(Template)]
#[template(path = "console/search.html")]
struct SearchPage {
    c: Chrome,
    csrf: String,
    error: Option<String>,
    purposes: Vec<Choice>,
    categories: Vec<Choice>,
    searched: bool,
    results: Vec<ResultRow>,
}

fn actor_purposes(actor: &Actor) -> Vec<String> {
    match actor {
        Actor::Employee { purposes, .. } => purposes.clone(),
        _ => Vec::new(),
    }
}

fn search_page_for(
    state: &AppState,
    lang: Lang,
    s: &CheckedSession,
    purpose: &str,
    category: &str,
) -> SearchPage {
    let c = chrome(state, lang, s, "/console/search", "search-title");
    let purposes = actor_purposes(&s.session.actor)
        .into_iter()
        .map(|code| Choice {
            label: purpose_name(state, lang, &code),
            selected: code == purpose,
            code,
        })
        .collect();
    let categories = SEARCH_CATEGORIES
        .iter()
        .map(|code| Choice {
            code: (*code).to_string(),
            label: category_name(state, lang, code),
            selected: *code == category,
        })
        .collect();
    SearchPage {
        csrf: s.session.csrf_token.clone(),
        error: None,
        purposes,
        categories,
        searched: false,
        results: Vec::new(),
        c,
    }
}

/// `GET /console/search`: the search form.
async fn search_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
) -> Response {
    let s = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    render(
        StatusCode::OK,
        &search_page_for(&state, lang, &s, "", "iin"),
    )
}

/// The search form (in the body: the value never reaches a URL).
#[derive(Debug, Deserialize)]
pub struct SearchForm {
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    value: String,
}

/// A value as text: strings as they are, a full name as "surname given patronymic".
pub fn display_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(m) => {
            let order = ["surname", "given", "patronymic"];
            let mut parts: Vec<String> = order
                .iter()
                .filter_map(|k| m.get(*k).and_then(|x| x.as_str()).map(str::to_string))
                .collect();
            if parts.is_empty() {
                parts = m
                    .values()
                    .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                    .collect();
            }
            parts.join(" ")
        }
        serde_json::Value::Null => "—".into(),
        other => other.to_string(),
    }
}

fn subject_href(id: &Uuid, purpose: &str) -> String {
    format!(
        "/console/subjects/{id}?purpose={}",
        super::encode_path(purpose)
    )
}

/// `POST /console/search` (CSRF: session).
async fn search_submit(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(s): Extension<CheckedSession>,
    form: Result<Form<SearchForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let result = async {
        let Form(f) =
            form.map_err(|_| PageError::Web("malformed_json", StatusCode::BAD_REQUEST))?;
        if !SEARCH_CATEGORIES.contains(&f.category.as_str()) {
            return Err(PageError::Service(ServiceError::NotSearchable));
        }
        if f.purpose.is_empty() {
            return Err(PageError::Web("missing_purpose", StatusCode::BAD_REQUEST));
        }
        let mut page = search_page_for(&state, lang, &s, &f.purpose, &f.category);
        let call = Call::new(s.session.actor.clone(), f.purpose.clone());
        let value = serde_json::Value::String(f.value.trim().to_string());
        match views::find(&state, &call, &f.category, &value).await {
            Ok(found) => {
                page.searched = true;
                page.results = found
                    .iter()
                    .map(|sub| ResultRow {
                        id: sub.id.to_string(),
                        summary: sub
                            .values
                            .iter()
                            .find(|v| v.view.category == "full_name")
                            .map(|v| display_value(&v.view.value))
                            .unwrap_or_else(|| "—".into()),
                        href: subject_href(&sub.id, &f.purpose),
                    })
                    .collect();
                Ok(render(StatusCode::OK, &page))
            }
            Err(ServiceError::InvalidValues(_)) => {
                page.error = Some(page.c.t("search-invalid"));
                Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
            }
            Err(e) => Err(e.into()),
        }
    }
    .await;
    result.unwrap_or_else(|e| fail(&state, lang, Some(&s), e))
}

// ---------------------------------------------------------------------------------------
// A subject (4.1, 5.4, 8.1)

struct ValueRow {
    category: String,
    label: String,
    text: String,
    masked: bool,
    revealed: bool,
    source: String,
    obtained: String,
    rule: String,
}

#[derive(Template)]
#[template(path = "console/subject.html")]
struct SubjectPage {
    c: Chrome,
    csrf: String,
    error: Option<String>,
    id: String,
    purpose: String,
    purpose_label: String,
    values: Vec<ValueRow>,
    withheld: Vec<(String, String)>,
    reveal_action: String,
    audit_href: String,
}

/// `?purpose=` of subject pages.
#[derive(Debug, Deserialize)]
pub struct PurposeParam {
    purpose: Option<String>,
}

fn subject_id(raw: &str) -> Result<Uuid, PageError> {
    Uuid::parse_str(raw).map_err(|_| PageError::Web("bad_subject_id", StatusCode::BAD_REQUEST))
}

fn purpose_of(q: Option<&str>) -> Result<String, PageError> {
    match q {
        Some(p) if !p.is_empty() && p.len() <= derbes_core::registry::MAX_CODE_LEN => {
            Ok(p.to_string())
        }
        _ => Err(PageError::Web("missing_purpose", StatusCode::BAD_REQUEST)),
    }
}

fn value_row(state: &AppState, lang: Lang, v: &Shown, revealed: bool) -> ValueRow {
    let src = &v.view.source;
    let kind = state.pages.texts.text(
        lang,
        &format!("source-{}", src.kind.as_str().replace('_', "-")),
    );
    let source = match &src.name {
        Some(n) => format!("{kind} ({n})"),
        None => kind,
    };
    ValueRow {
        category: v.view.category.clone(),
        label: category_name(state, lang, &v.view.category),
        text: display_value(&v.view.value),
        masked: v.masked,
        revealed,
        source,
        obtained: date(v.view.obtained_at),
        rule: v.rule.clone().unwrap_or_default(),
    }
}

fn subject_page(
    state: &AppState,
    lang: Lang,
    s: &CheckedSession,
    purpose: &str,
    shown: &ShownSubject,
    revealed: Option<&Shown>,
) -> SubjectPage {
    let href = subject_href(&shown.id, purpose);
    let c = chrome(state, lang, s, &href, "subject-title");
    let values = shown
        .values
        .iter()
        .map(|v| match revealed {
            Some(r) if r.view.category == v.view.category => value_row(state, lang, r, true),
            _ => value_row(state, lang, v, false),
        })
        .collect();
    SubjectPage {
        csrf: s.session.csrf_token.clone(),
        error: None,
        id: shown.id.to_string(),
        purpose: purpose.to_string(),
        purpose_label: purpose_name(state, lang, purpose),
        values,
        withheld: shown
            .withheld
            .iter()
            .map(|w| (category_name(state, lang, &w.category), w.rule.clone()))
            .collect(),
        reveal_action: format!("/console/subjects/{}/reveal", shown.id),
        audit_href: format!(
            "/console/subjects/{}/audit?purpose={}",
            shown.id,
            super::encode_path(purpose)
        ),
        c,
    }
}

/// `GET /console/subjects/{id}?purpose=…`: the subject as the policy lets the employee see
/// it for the purpose.
async fn subject(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    Path(raw): Path<String>,
    q: Result<Query<PurposeParam>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let s = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let result = async {
        let id = subject_id(&raw)?;
        let purpose = purpose_of(q.as_ref().ok().and_then(|q| q.purpose.as_deref()))?;
        let call = Call::new(s.session.actor.clone(), purpose.clone());
        let shown = views::read(&state, &call, id).await?;
        let page = subject_page(&state, lang, &s, &purpose, &shown, None);
        Ok::<_, PageError>(render(StatusCode::OK, &page))
    }
    .await;
    result.unwrap_or_else(|e| fail(&state, lang, Some(&s), e))
}

/// The reveal form.
#[derive(Debug, Deserialize)]
pub struct RevealForm {
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    category: String,
}

/// `POST /console/subjects/{id}/reveal` (CSRF: session): show one masked value in full if
/// the access policy allows it when asked (recorded in the audit log).
async fn reveal(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(s): Extension<CheckedSession>,
    Path(raw): Path<String>,
    form: Result<Form<RevealForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let result = async {
        let Form(f) =
            form.map_err(|_| PageError::Web("malformed_json", StatusCode::BAD_REQUEST))?;
        let id = subject_id(&raw)?;
        let purpose = purpose_of(Some(&f.purpose))?;
        let call = Call::new(s.session.actor.clone(), purpose.clone());
        let shown = views::read(&state, &call, id).await?;
        match views::reveal(&state, &call, id, &f.category).await {
            Ok(v) => {
                let page = subject_page(&state, lang, &s, &purpose, &shown, Some(&v));
                Ok(render(StatusCode::OK, &page))
            }
            Err(
                ServiceError::AccessDenied { .. }
                | ServiceError::RoleNotPermitted
                | ServiceError::CategoryNotAllowed(_),
            ) => {
                let mut page = subject_page(&state, lang, &s, &purpose, &shown, None);
                page.error = Some(page.c.t("reveal-refused"));
                Ok(render(StatusCode::FORBIDDEN, &page))
            }
            Err(e) => Err(PageError::from(e)),
        }
    }
    .await;
    result.unwrap_or_else(|e| fail(&state, lang, Some(&s), e))
}

struct AuditRow {
    at: String,
    actor: String,
    action: String,
    purpose: String,
    categories: String,
    outcome: String,
    rule: String,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    c: Chrome,
    id: String,
    entries: Vec<AuditRow>,
    back: String,
}

/// `GET /console/subjects/{id}/audit?purpose=…`: who did what with the subject's data (8.1).
async fn audit(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    Path(raw): Path<String>,
    q: Result<Query<PurposeParam>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let s = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let result = async {
        let id = subject_id(&raw)?;
        let purpose = purpose_of(q.as_ref().ok().and_then(|q| q.purpose.as_deref()))?;
        let call = Call::new(s.session.actor.clone(), purpose.clone());
        let trail = views::audit_trail(&state, &call, id).await?;
        let path = format!(
            "/console/subjects/{id}/audit?purpose={}",
            super::encode_path(&purpose)
        );
        let page = AuditPage {
            c: chrome(&state, lang, &s, &path, "audit-title"),
            id: id.to_string(),
            entries: trail
                .into_iter()
                .map(|e| AuditRow {
                    at: date(e.at),
                    actor: e.actor,
                    action: e.action,
                    purpose: e
                        .purpose
                        .map(|p| purpose_name(&state, lang, &p))
                        .unwrap_or_else(|| "—".into()),
                    categories: e.categories.join(", "),
                    outcome: e.outcome,
                    rule: e.rule.unwrap_or_default(),
                })
                .collect(),
            back: subject_href(&id, &purpose),
        };
        Ok::<_, PageError>(render(StatusCode::OK, &page))
    }
    .await;
    result.unwrap_or_else(|e| fail(&state, lang, Some(&s), e))
}

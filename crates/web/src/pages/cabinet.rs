//! The borrower's personal cabinet pages (issue 5; clauses 7.1a–7.1d): log in with a phone
//! number and a one-time code, see everything held (values masked, a reveal form per
//! value), download the JSON export or the PDF report, withdraw consent (refused with the
//! reason while a loan is open) and toggle the publication consent.
//!
//! Handlers only parse, call [`Cabinet`] and render. No personal value reaches a URL: the
//! phone and the code are POST bodies, the challenge travels in a cookie, and every page
//! acts on the session's own subject (no subject id in any path). Every POST form carries
//! the `csrf` field, checked by [`guard`] before any handler runs: against the cabinet
//! session (`Cabinet::verify_csrf`) or, before login, against the pre-session cookie.

use super::csrf::{pre_cookie_name, pre_session, same};
use super::{cookie, cookie_value, render, see_other, Chrome, PageError, PageLang};
use crate::employees::ClientIp;
use crate::i18n::Lang;
use crate::AppState;
use askama::Template;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use chrono::{DateTime, Utc};
use derbes_service::cabinet::{
    AccessView, Cabinet, ExportFormat, MyData, RequestInput, RequestKind, SubjectSession,
};
use derbes_service::consent_service::{Evidence, WithdrawalDecision};
use derbes_service::ServiceError;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Cabinet paths whose forms are posted before login (pre-session CSRF).
pub const PRE_SESSION_PATHS: &[&str] = &["/cabinet/login", "/cabinet/code", "/cabinet/apply"];

/// The cabinet's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/cabinet", get(my_data_page))
        .route("/cabinet/accesses", get(accesses_page))
        .route(
            "/cabinet/apply",
            get(super::apply::apply_page).post(super::apply::apply_submit),
        )
        .route("/cabinet/login", get(login_page).post(login_submit))
        .route("/cabinet/code", get(code_page).post(code_submit))
        .route("/cabinet/reveal", post(reveal))
        .route("/cabinet/export", post(export))
        .route("/cabinet/withdraw", post(withdraw))
        .route("/cabinet/publication", post(publication))
        .route("/cabinet/request", post(file_request))
        .route("/cabinet/logout", post(logout))
}

/// The cabinet session cookie's name: the API's `__Host-derbes_cabinet` with secure cookies.
pub fn session_cookie_name(opts: &super::PageOptions) -> &'static str {
    if opts.secure_cookies {
        crate::cabinet::CABINET_COOKIE
    } else {
        "derbes_cabinet"
    }
}

/// The cookie holding the login challenge id between the phone and the code (a random id,
/// not personal).
pub fn challenge_cookie_name(opts: &super::PageOptions) -> &'static str {
    if opts.secure_cookies {
        "__Host-derbes_challenge"
    } else {
        "derbes_challenge"
    }
}

pub(super) fn cabinet(state: &AppState) -> Result<&Cabinet, PageError> {
    state
        .cabinet
        .as_ref()
        .ok_or(PageError::Service(ServiceError::Unavailable))
}

pub(super) fn pre_token(cabinet: &Cabinet, pre: &str) -> String {
    cabinet.csrf_token(&format!("pre:{pre}"))
}

/// A cabinet session checked by [`guard`].
#[derive(Clone)]
pub struct CheckedSubject {
    /// The session.
    pub session: SubjectSession,
    /// Its token.
    pub token: String,
}

/// The subject session of the request's cookie; `None` when there is none or it ended.
pub async fn session_of(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<CheckedSubject>, ServiceError> {
    let Some(cabinet) = state.cabinet.as_ref() else {
        return Ok(None);
    };
    let Some(token) = cookie_value(headers, session_cookie_name(&state.pages.options)) else {
        return Ok(None);
    };
    match cabinet.authenticate(token).await {
        Ok(session) => Ok(Some(CheckedSubject {
            session,
            token: token.to_string(),
        })),
        Err(ServiceError::Unauthenticated) => Ok(None),
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// The CSRF check of every cabinet POST (called by [`super::csrf::guard`]).
pub async fn guard(state: AppState, req: Request, next: Next) -> Response {
    let PageLang(lang) = PageLang::of(req.headers());
    let Some(cab) = state.cabinet.clone() else {
        return PageError::Service(ServiceError::Unavailable)
            .page_at(&state, lang, None, "/cabinet");
    };
    let (mut parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, super::csrf::FORM_LIMIT).await {
        Ok(b) => b,
        Err(_) => {
            return PageError::Web("body_too_large", StatusCode::PAYLOAD_TOO_LARGE)
                .page_at(&state, lang, None, "/cabinet")
        }
    };
    let presented = serde_urlencoded::from_bytes::<CsrfField>(&bytes)
        .map(|f| f.csrf)
        .unwrap_or_default();
    let forbidden = || {
        tracing::warn!(
            code = "csrf_failed",
            "cabinet form refused: CSRF token missing or wrong"
        );
        PageError::Service(ServiceError::CsrfFailed).page_at(&state, lang, None, "/cabinet")
    };
    if PRE_SESSION_PATHS.contains(&parts.uri.path()) {
        let Some(pre) = cookie_value(&parts.headers, pre_cookie_name(&state.pages.options)) else {
            return forbidden();
        };
        if presented.is_empty() || !same(&pre_token(&cab, pre), &presented) {
            return forbidden();
        }
    } else {
        let checked = match session_of(&state, &parts.headers).await {
            Ok(Some(c)) => c,
            Ok(None) => return see_other("/cabinet/login"),
            Err(e) => return PageError::Service(e).page_at(&state, lang, None, "/cabinet"),
        };
        if cab.verify_csrf(&checked.token, &presented).is_err() {
            return forbidden();
        }
        parts.extensions.insert(checked);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

pub(super) fn with_cookie(mut res: Response, set: Option<HeaderValue>) -> Response {
    if let Some(v) = set {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

fn date(d: DateTime<Utc>) -> String {
    derbes_core::calendar::to_almaty(d)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

fn day(d: DateTime<Utc>) -> String {
    derbes_core::calendar::to_almaty(d)
        .format("%Y-%m-%d")
        .to_string()
}

fn id_of(prefix: &str, code: &str) -> String {
    format!("{prefix}-{}", code.replace('_', "-"))
}

// ---------------------------------------------------------------------------------------
// Login: phone, then code

#[derive(Template)]
#[template(path = "cabinet/login.html")]
struct LoginPage {
    c: Chrome,
    csrf: String,
    error: Option<String>,
    /// After a valid application (6.1): "received, log in with your phone".
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "cabinet/code.html")]
struct CodePage {
    c: Chrome,
    csrf: String,
    error: Option<String>,
}

fn pre_form(
    state: &AppState,
    lang: Lang,
    headers: &HeaderMap,
    status: StatusCode,
    code_step: bool,
    error: Option<String>,
) -> Result<Response, PageError> {
    let cab = cabinet(state)?;
    let (pre, set) = pre_session(&state.pages.options, headers);
    let csrf = pre_token(cab, &pre);
    let res = if code_step {
        let page = CodePage {
            c: Chrome::new(state, lang, "/cabinet/code", "cab-code-title"),
            csrf,
            error,
        };
        render(status, &page)
    } else {
        let c = Chrome::new(state, lang, "/cabinet/login", "cab-login-title");
        // The flash of a valid application (6.1) is shown once, then cleared.
        let applied = super::apply::applied_flash(state, headers);
        let page = LoginPage {
            notice: applied.then(|| c.t("apply-sent")),
            c,
            csrf,
            error,
        };
        let res = render(status, &page);
        if applied {
            let opts = &state.pages.options;
            with_cookie(
                res,
                cookie(opts, super::apply::flash_cookie_name(opts), "", 0),
            )
        } else {
            res
        }
    };
    Ok(with_cookie(res, set))
}

/// `GET /cabinet/login`.
async fn login_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
) -> Response {
    pre_form(&state, lang, &headers, StatusCode::OK, false, None)
        .unwrap_or_else(|e| e.page_at(&state, lang, None, "/cabinet"))
}

/// The phone form.
#[derive(Debug, Deserialize)]
pub struct PhoneForm {
    #[serde(default)]
    phone: String,
}

/// `POST /cabinet/login`: send a code. The same answer whether or not the phone is
/// registered (7.1b): the code page.
async fn login_submit(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: Result<Form<PhoneForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let result = async {
        let Form(f) =
            form.map_err(|_| PageError::Web("malformed_json", StatusCode::BAD_REQUEST))?;
        let cab = cabinet(&state)?;
        match cab.request_code(f.phone.trim(), ip, lang).await {
            Ok(challenge) => {
                let opts = &state.pages.options;
                let ttl = (challenge.expires_at - Utc::now()).num_seconds().max(1);
                Ok(with_cookie(
                    see_other("/cabinet/code"),
                    cookie(
                        opts,
                        challenge_cookie_name(opts),
                        &challenge.challenge_id,
                        ttl,
                    ),
                ))
            }
            Err(ServiceError::InvalidInput(_)) => {
                let c = Chrome::new(&state, lang, "/cabinet/login", "cab-login-title");
                pre_form(
                    &state,
                    lang,
                    &headers,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    false,
                    Some(c.t("cab-login-invalid")),
                )
            }
            Err(e) => Err(PageError::Service(e)),
        }
    }
    .await;
    result.unwrap_or_else(|e| e.page_at(&state, lang, None, "/cabinet"))
}

/// `GET /cabinet/code`.
async fn code_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
) -> Response {
    if cookie_value(&headers, challenge_cookie_name(&state.pages.options)).is_none() {
        return see_other("/cabinet/login");
    }
    pre_form(&state, lang, &headers, StatusCode::OK, true, None)
        .unwrap_or_else(|e| e.page_at(&state, lang, None, "/cabinet"))
}

/// The code form.
#[derive(Debug, Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

/// `POST /cabinet/code`: the code → the session cookie → `/cabinet`.
async fn code_submit(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    form: Result<Form<CodeForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let result = async {
        let Form(f) =
            form.map_err(|_| PageError::Web("malformed_json", StatusCode::BAD_REQUEST))?;
        let cab = cabinet(&state)?;
        let opts = &state.pages.options;
        let challenge = cookie_value(&headers, challenge_cookie_name(opts)).unwrap_or("");
        match cab.verify_code(challenge, f.code.trim()).await {
            Ok(s) => {
                let ttl = (s.expires_at - Utc::now()).num_seconds().max(1);
                let mut res = with_cookie(
                    see_other("/cabinet"),
                    cookie(opts, session_cookie_name(opts), &s.token, ttl),
                );
                res = with_cookie(res, cookie(opts, challenge_cookie_name(opts), "", 0));
                Ok(res)
            }
            Err(ServiceError::InvalidCredentials) => {
                let c = Chrome::new(&state, lang, "/cabinet/code", "cab-code-title");
                pre_form(
                    &state,
                    lang,
                    &headers,
                    StatusCode::UNAUTHORIZED,
                    true,
                    Some(c.t("cab-code-failed")),
                )
            }
            Err(e) => Err(PageError::Service(e)),
        }
    }
    .await;
    result.unwrap_or_else(|e| e.page_at(&state, lang, None, "/cabinet"))
}

/// `POST /cabinet/logout`.
async fn logout(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(s): Extension<CheckedSubject>,
) -> Response {
    let result = async {
        cabinet(&state)?.logout(&s.token).await?;
        let opts = &state.pages.options;
        Ok::<_, PageError>(with_cookie(
            see_other("/cabinet/login"),
            cookie(opts, session_cookie_name(opts), "", 0),
        ))
    }
    .await;
    result.unwrap_or_else(|e| e.page_at(&state, lang, None, "/cabinet"))
}

// ---------------------------------------------------------------------------------------
// My data (7.1a)

struct ValueRow {
    category: String,
    name: String,
    masked: String,
    value: Option<String>,
    source: String,
    obtained: String,
    purposes: Vec<String>,
    retention: Vec<String>,
    destruction: String,
}

struct Line {
    at: String,
    text: String,
}

/// An answer shown above the data (withdrawal, publication).
struct Notice {
    refused: bool,
    text: String,
}

#[derive(Template)]
#[template(path = "cabinet/my_data.html")]
struct MyDataPage {
    c: Chrome,
    csrf: String,
    notice: Option<Notice>,
    operator: String,
    values: Vec<ValueRow>,
    methods: Vec<String>,
    policies: Vec<Line>,
    consents: Vec<String>,
    history: Vec<Line>,
    withdrawn: bool,
    publication: bool,
    transfers: Vec<String>,
    accesses: Vec<Line>,
    accesses_before: Option<u64>,
    requests: Vec<Line>,
}

/// Older accesses to the subject's data (7.1a, 8.1).
#[derive(Template)]
#[template(path = "cabinet/accesses.html")]
struct AccessesPage {
    c: Chrome,
    accesses: Vec<Line>,
    before: Option<u64>,
}

/// Accesses as lines: who by role (never a name), for which purpose.
fn access_lines(
    c: &Chrome,
    accesses: &[AccessView],
    role_name: &dyn Fn(&str) -> String,
) -> Vec<Line> {
    accesses
        .iter()
        .map(|a| {
            let who = match &a.role {
                Some(r) => format!("{} ({})", c.t("cab-actor-employee"), role_name(r)),
                None => c.t(&id_of("cab-actor", &a.actor_kind)),
            };
            let purpose = a.purpose_name.clone().unwrap_or_default();
            Line {
                at: date(a.at),
                text: format!("{who} — {purpose}"),
            }
        })
        .collect()
}

fn purpose_names(data: &MyData) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for v in &data.values {
        for p in &v.purposes {
            names.insert(p.code.clone(), p.name.clone());
        }
    }
    for a in &data.accesses {
        if let (Some(c), Some(n)) = (&a.purpose, &a.purpose_name) {
            names.insert(c.clone(), n.clone());
        }
    }
    names
}

fn my_data_view(
    c: Chrome,
    csrf: String,
    data: &MyData,
    reveal: Option<&str>,
    notice: Option<Notice>,
    role_name: &dyn Fn(&str) -> String,
) -> MyDataPage {
    let names = purpose_names(data);
    let pname = |code: &str| names.get(code).cloned().unwrap_or_else(|| code.to_string());
    let values = data
        .values
        .iter()
        .map(|v| {
            let kind = c.t(&id_of("source", v.source.kind.as_str()));
            let source = match &v.source.name {
                Some(n) => format!("{kind} ({n})"),
                None => kind,
            };
            ValueRow {
                category: v.category.clone(),
                name: v.name.clone(),
                masked: v.masked.clone(),
                value: (reveal == Some(v.category.as_str()))
                    .then(|| derbes_service::cabinet::value_text(&v.value)),
                source,
                obtained: date(v.obtained_at),
                purposes: v
                    .purposes
                    .iter()
                    .map(|p| format!("{} — {}", p.name, c.t(&id_of("basis", &p.legal_basis))))
                    .collect(),
                retention: v
                    .retention
                    .rules
                    .iter()
                    .map(|r| {
                        format!(
                            "{} — {} ({})",
                            r.name,
                            c.t1("cab-years", "n", &r.years.to_string()),
                            r.law
                        )
                    })
                    .collect(),
                destruction: match v.retention.destruction_date {
                    Some(d) => day(d),
                    None => c.t("cab-destruction-after-contract"),
                },
            }
        })
        .collect();
    let policies = data
        .policies_accepted
        .iter()
        .map(|p| Line {
            at: date(p.at),
            text: c.t1("cab-policy-version", "version", &p.version.to_string()),
        })
        .collect();
    let decision =
        |d: &derbes_service::consent_service::Decision| c.t(&id_of("decision", d.as_str()));
    let scope = |s: &str| {
        if s == "policy" {
            c.t("cab-scope-policy")
        } else {
            pname(s)
        }
    };
    let consents = data
        .consents
        .purposes
        .iter()
        .map(|p| {
            let state = c.t(if p.granted {
                "cab-consent-granted"
            } else {
                "cab-consent-not-granted"
            });
            format!("{} — {state}", scope(&p.purpose))
        })
        .collect();
    let publication = data
        .consents
        .purposes
        .iter()
        .any(|p| p.purpose == "publication" && p.granted);
    let history = data
        .consents
        .history
        .iter()
        .map(|h| Line {
            at: date(h.at),
            text: format!(
                "{} — {} ({})",
                scope(&h.scope),
                decision(&h.decision),
                c.t1(
                    "cab-policy-version",
                    "version",
                    &h.policy_version.to_string()
                )
            ),
        })
        .collect();
    let transfers = data.transfers.items.iter().map(|t| t.to_string()).collect();
    let accesses = access_lines(&c, &data.accesses, role_name);
    let requests = data
        .requests
        .iter()
        .map(|r| Line {
            at: date(r.received_at),
            text: format!(
                "№ {} — {} — {}",
                r.number,
                c.t(&id_of("cab-status", r.status.as_str())),
                c.t1("cab-deadline", "date", &r.deadline_date)
            ),
        })
        .collect();
    MyDataPage {
        csrf,
        notice,
        operator: data.operator.clone().unwrap_or_default(),
        values,
        methods: data.methods.iter().map(|m| m.text.clone()).collect(),
        policies,
        consents,
        history,
        withdrawn: data.consents.withdrawn,
        publication,
        transfers,
        accesses,
        accesses_before: data.accesses_before,
        requests,
        c,
    }
}

async fn show(
    state: &AppState,
    lang: Lang,
    s: &CheckedSubject,
    reveal: Option<&str>,
    notice: Option<Notice>,
) -> Result<Response, PageError> {
    let cab = cabinet(state)?;
    let data = cab.my_data(&s.session, lang).await?;
    let c = Chrome::new(state, lang, "/cabinet", "cab-title");
    let role_name = role_namer(state, lang);
    let page = my_data_view(
        c,
        cab.csrf_token(&s.token),
        &data,
        reveal,
        notice,
        &role_name,
    );
    Ok(render(StatusCode::OK, &page))
}

/// Roles by their names in the page's language (the role registry), never a person.
fn role_namer(state: &AppState, lang: Lang) -> impl Fn(&str) -> String + '_ {
    let roles = state.employees.as_ref().map(|e| e.roles());
    move |code: &str| {
        roles
            .and_then(|r| r.role(code))
            .map_or_else(|| code.to_string(), |d| d.name.get(lang).to_string())
    }
}

/// Which page of the access log.
#[derive(Debug, Deserialize)]
pub struct AccessesQuery {
    before: Option<u64>,
}

/// `GET /cabinet/accesses?before=N`: older accesses to my data (the `before` is an audit
/// sequence number, not personal).
async fn accesses_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    query: Result<axum::extract::Query<AccessesQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let s = match session_of(&state, &headers).await {
        Ok(Some(s)) => s,
        Ok(None) => return see_other("/cabinet/login"),
        Err(e) => return PageError::Service(e).page_at(&state, lang, None, "/cabinet"),
    };
    let result = async {
        let before = query
            .ok()
            .and_then(|q| q.0.before)
            .ok_or(PageError::Web("bad_query", StatusCode::BAD_REQUEST))?;
        let page = cabinet(&state)?
            .access_page(&s.session, lang, before)
            .await?;
        let c = Chrome::new(&state, lang, "/cabinet", "cab-accesses");
        let accesses = access_lines(&c, &page.items, &role_namer(&state, lang));
        Ok(render(
            StatusCode::OK,
            &AccessesPage {
                c,
                accesses,
                before: page.before,
            },
        ))
    }
    .await;
    result.unwrap_or_else(|e: PageError| e.page_at(&state, lang, None, "/cabinet"))
}

/// `GET /cabinet`: my data, or the login page.
async fn my_data_page(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
) -> Response {
    let s = match session_of(&state, &headers).await {
        Ok(Some(s)) => s,
        Ok(None) => return see_other("/cabinet/login"),
        Err(e) => return PageError::Service(e).page_at(&state, lang, None, "/cabinet"),
    };
    show(&state, lang, &s, None, None)
        .await
        .unwrap_or_else(|e| e.page_at(&state, lang, None, "/cabinet"))
}

/// The reveal form: which category.
#[derive(Debug, Deserialize)]
pub struct RevealForm {
    #[serde(default)]
    category: String,
}

/// `POST /cabinet/reveal`: the page with one value shown in full.
async fn reveal(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(s): Extension<CheckedSubject>,
    form: Result<Form<RevealForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let category = form.map(|Form(f)| f.category).unwrap_or_default();
    show(&state, lang, &s, Some(&category), None)
        .await
        .unwrap_or_else(|e| e.page_at(&state, lang, None, "/cabinet"))
}

/// The export form.
#[derive(Debug, Deserialize)]
pub struct ExportForm {
    #[serde(default)]
    format: String,
}

/// `POST /cabinet/export`: the JSON export or the PDF report, as an attachment (5.4).
async fn export(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(s): Extension<CheckedSubject>,
    form: Result<Form<ExportForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let result = async {
        let Form(f) =
            form.map_err(|_| PageError::Web("malformed_json", StatusCode::BAD_REQUEST))?;
        let (format, ctype) = match f.format.as_str() {
            "json" => (ExportFormat::Json, "application/json"),
            "pdf" => (ExportFormat::Pdf, "application/pdf"),
            _ => return Err(PageError::Web("malformed_json", StatusCode::BAD_REQUEST)),
        };
        let e = cabinet(&state)?.export(&s.session, format, lang).await?;
        let mut res = e.bytes.into_response();
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", e.file_name)) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
        if let Ok(v) = HeaderValue::from_str(&e.id) {
            h.insert("x-export-id", v);
        }
        Ok(res)
    }
    .await;
    result.unwrap_or_else(|e| e.page_at(&state, lang, None, "/cabinet"))
}

fn evidence(headers: &HeaderMap, ip: Option<std::net::IpAddr>) -> Evidence {
    Evidence {
        ip: ip.map(|i| i.to_string()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect()),
        document_sha256: None,
        reference: None,
    }
}

fn withdrawal_notice(c: &Chrome, d: &WithdrawalDecision) -> Notice {
    Notice {
        refused: d.outcome != "accepted",
        text: format!(
            "{} {}",
            d.message,
            c.t1("cab-deadline", "date", &d.deadline_date)
        ),
    }
}

/// `POST /cabinet/withdraw`: withdraw consent (7.1c); the reasoned answer on the page.
async fn withdraw(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Extension(s): Extension<CheckedSubject>,
) -> Response {
    let result = async {
        let d = cabinet(&state)?
            .withdraw(&s.session, lang, evidence(&headers, ip))
            .await?;
        let c = Chrome::new(&state, lang, "/cabinet", "cab-title");
        show(&state, lang, &s, None, Some(withdrawal_notice(&c, &d))).await
    }
    .await;
    result.unwrap_or_else(|e| e.page_at(&state, lang, None, "/cabinet"))
}

/// The publication form.
#[derive(Debug, Deserialize)]
pub struct PublicationForm {
    #[serde(default)]
    granted: String,
}

/// `POST /cabinet/publication`: give or refuse consent to publication (7.1d).
async fn publication(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Extension(s): Extension<CheckedSubject>,
    form: Result<Form<PublicationForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let result = async {
        let Form(f) =
            form.map_err(|_| PageError::Web("malformed_json", StatusCode::BAD_REQUEST))?;
        let granted = f.granted == "yes";
        cabinet(&state)?
            .set_publication(&s.session, granted, lang, evidence(&headers, ip))
            .await?;
        let c = Chrome::new(&state, lang, "/cabinet", "cab-title");
        let notice = Notice {
            refused: false,
            text: c.t("cab-saved"),
        };
        show(&state, lang, &s, None, Some(notice)).await
    }
    .await;
    result.unwrap_or_else(|e| e.page_at(&state, lang, None, "/cabinet"))
}

/// The request form (7.1a, L-RIGHTS): kind, optional category, text.
#[derive(Debug, Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    text: String,
}

/// `POST /cabinet/request`: file a request (question, correction, blocking, destruction,
/// complaint); the page answers with its number and legal deadline (L-RIGHTS-DEADLINES).
async fn file_request(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(s): Extension<CheckedSubject>,
    form: Result<Form<RequestForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let result = async {
        let Form(f) =
            form.map_err(|_| PageError::Web("malformed_json", StatusCode::BAD_REQUEST))?;
        let kind = RequestKind::parse(&f.kind)
            .ok_or(PageError::Web("malformed_json", StatusCode::BAD_REQUEST))?;
        let category = Some(f.category.trim().to_string()).filter(|c| !c.is_empty());
        // A category is asked of a correction only; for other kinds the choice is ignored.
        let category = if kind == RequestKind::Correction {
            category
        } else {
            None
        };
        let r = cabinet(&state)?
            .file_request(
                &s.session,
                RequestInput {
                    kind,
                    text: f.text,
                    category,
                    proposed_value: None,
                },
            )
            .await?;
        let c = Chrome::new(&state, lang, "/cabinet", "cab-title");
        let notice = Notice {
            refused: false,
            text: format!(
                "{} {}",
                c.t1("cab-request-filed", "number", &r.number),
                c.t1("cab-deadline", "date", &r.deadline_date)
            ),
        };
        show(&state, lang, &s, None, Some(notice)).await
    }
    .await;
    result.unwrap_or_else(|e| e.page_at(&state, lang, None, "/cabinet"))
}

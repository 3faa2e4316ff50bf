//! The personal cabinet over HTTP (issue 5; clauses 7.1a–d, 5.4; L-RIGHTS,
//! L-RIGHTS-DEADLINES, L-TIPPING-OFF): `/api/v1/cabinet/…` for the subject, and
//! `/api/v1/subject-requests/…` for staff. Thin: parse, call
//! [`derbes_service::cabinet::Cabinet`], render.
//!
//! A subject session travels as `Authorization: Bearer drc_…` or in the cookie
//! [`CABINET_COOKIE`] (`Secure; HttpOnly; SameSite=Strict; Path=/`); a cookie request that
//! changes state must carry the session's CSRF token in `X-CSRF-Token`. No cabinet route takes
//! a subject id: every call acts on the session's own subject. Phones and codes travel in
//! bodies only, never in a URL.

use crate::api::{ApiJson, ApiQuery, Caller, PurposeQuery};
use crate::employees::{bearer, CSRF_HEADER};
use crate::problem::{ApiError, Problem, WebError};
use crate::AppState;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use derbes_core::registry::Lang;
use derbes_service::cabinet::{
    AccessPage, Cabinet, CodeChallenge, ExportFormat, ExportView, MyData, NewSubjectSession,
    RequestInput, RequestStatus, RequestUpdateInput, RequestView, StaffRequestView, SubjectSession,
    SUBJECT_TOKEN_PREFIX,
};
use derbes_service::consent_service::{ConsentState, Evidence, WithdrawalDecision};
use derbes_service::{Call, ServiceError};
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use utoipa::{IntoParams, ToSchema};

/// The cabinet session cookie.
pub const CABINET_COOKIE: &str = "__Host-derbes_cabinet";

fn service(state: &AppState) -> Result<&Cabinet, ApiError> {
    state
        .cabinet
        .as_ref()
        .ok_or(ApiError::Service(ServiceError::Unavailable))
}

fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == CABINET_COOKIE)
        .map(|(_, v)| v.trim())
}

fn client_ip(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The language asked for: `?lang=`, else `Accept-Language`, else Russian.
fn lang_of(q: &LangQuery, headers: &HeaderMap) -> Result<Lang, ApiError> {
    match &q.lang {
        Some(l) => Lang::parse(l).map_err(|_| WebError::BadQuery.into()),
        None => Ok(headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .map(Lang::from_accept_language)
            .unwrap_or_default()),
    }
}

/// The web evidence of a consent given in the cabinet (L-CONSENT-1): the peer address and
/// the user agent; stored encrypted by the consent service.
fn evidence(parts: &SubjectAuth, headers: &HeaderMap) -> Evidence {
    Evidence {
        ip: parts.ip.map(|i| i.to_string()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect()),
        document_sha256: None,
        reference: None,
    }
}

/// The language of a cabinet page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LangQuery {
    /// `ru`, `kk` or `en`; default: from `Accept-Language`, else Russian.
    pub lang: Option<String>,
}

/// An authenticated subject session (bearer or cookie).
pub struct SubjectAuth {
    /// The session.
    pub session: SubjectSession,
    /// The token (for logout).
    pub token: String,
    /// The client's address.
    pub ip: Option<IpAddr>,
}

impl FromRequestParts<AppState> for SubjectAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let unauthenticated = || ApiError::Service(ServiceError::Unauthenticated);
        let (token, via_cookie) = match bearer(&parts.headers) {
            Some(t) => (t, false),
            None => (cookie(&parts.headers).ok_or_else(unauthenticated)?, true),
        };
        if !token.starts_with(SUBJECT_TOKEN_PREFIX) {
            return Err(unauthenticated());
        }
        let cabinet = service(state)?;
        let session = cabinet.authenticate(token).await?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if via_cookie && !safe {
            let presented = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            cabinet.verify_csrf(token, presented)?;
        }
        Ok(SubjectAuth {
            session,
            token: token.to_string(),
            ip: client_ip(parts),
        })
    }
}

/// The client's address, for rate limits.
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(ClientIp(client_ip(parts)))
    }
}

/// Ask for a login code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// The mobile phone (any usual Kazakhstan notation).
    pub phone: String,
}

/// Present a login code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeVerify {
    /// From `POST /cabinet/login/code`.
    pub challenge_id: String,
    /// The 6 digits received by SMS.
    pub code: String,
}

#[utoipa::path(post, path = "/api/v1/cabinet/login/code", tag = "cabinet",
    params(LangQuery),
    request_body = CodeRequest,
    responses((status = 400, body = Problem, description = "Malformed JSON or query"),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),

        (status = 202, body = CodeChallenge, description = "A code was sent if the phone is registered; the answer is the same either way"),
        (status = 422, body = Problem, description = "Not a phone number"),
        (status = 429, body = Problem, description = "Too many codes for this phone or from this address")))]
/// Step 1 of the subject login (7.1b): send a one-time code by SMS.
pub async fn request_code(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<LangQuery>,
    ApiJson(body): ApiJson<CodeRequest>,
) -> Result<Response, ApiError> {
    let lang = lang_of(&q, &headers)?;
    let c = service(&state)?.request_code(&body.phone, ip, lang).await?;
    Ok((StatusCode::ACCEPTED, Json(c)).into_response())
}

#[utoipa::path(post, path = "/api/v1/cabinet/login/verify", tag = "cabinet",
    request_body = CodeVerify,
    responses((status = 400, body = Problem, description = "Malformed JSON or query"),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),
        (status = 422, body = Problem, description = "Missing fields"),

        (status = 200, body = NewSubjectSession, description = "Logged in; the token is also set as the cabinet cookie"),
        (status = 401, body = Problem, description = "Wrong, expired, used or exhausted code (one answer for all)")))]
/// Step 2 of the subject login (7.1b): the code gives a cabinet session.
pub async fn verify_code(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CodeVerify>,
) -> Result<Response, ApiError> {
    let s = service(&state)?
        .verify_code(&body.challenge_id, &body.code)
        .await?;
    let cookie = format!(
        "{CABINET_COOKIE}={}; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        s.token,
        (s.expires_at - chrono::Utc::now()).num_seconds().max(0)
    );
    let mut res = Json(s).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}

#[utoipa::path(post, path = "/api/v1/cabinet/logout", tag = "cabinet",
    security(("cabinet" = [])),
    responses((status = 204, description = "Logged out"),
        (status = 401, body = Problem, description = "No session")))]
/// End the cabinet session.
pub async fn logout(
    State(state): State<AppState>,
    auth: SubjectAuth,
) -> Result<Response, ApiError> {
    service(&state)?.logout(&auth.token).await?;
    let clear = format!("{CABINET_COOKIE}=; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    let mut res = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(&clear) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}

#[utoipa::path(get, path = "/api/v1/cabinet/me", tag = "cabinet",
    params(LangQuery), security(("cabinet" = [])),
    responses((status = 200, body = MyData, description = "Everything held about the logged-in subject"),
        (status = 401, body = Problem, description = "No session")))]
/// What is held about me (7.1a): values with sources, purposes and legal basis, methods,
/// retention and planned destruction, policies accepted, consents, transfers, accesses.
pub async fn me(
    State(state): State<AppState>,
    auth: SubjectAuth,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<LangQuery>,
) -> Result<Json<MyData>, ApiError> {
    let lang = lang_of(&q, &headers)?;
    Ok(Json(service(&state)?.my_data(&auth.session, lang).await?))
}

/// A page of my access log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccessPageQuery {
    /// `ru`, `kk` or `en`; default: from `Accept-Language`, else Russian.
    pub lang: Option<String>,
    /// The `before` of the previous page (`accesses_before` of "my data").
    pub before: u64,
}

#[utoipa::path(get, path = "/api/v1/cabinet/me/accesses", tag = "cabinet",
    params(AccessPageQuery), security(("cabinet" = [])),
    responses((status = 200, body = AccessPage, description = "Older accesses to my data, newest first"),
        (status = 400, body = Problem, description = "Missing or malformed `before`"),
        (status = 401, body = Problem, description = "No session")))]
/// Older accesses to my data (7.1a, 8.1): role and purpose, never a name. "My data" lists the
/// newest page and gives `accesses_before` when there are more.
pub async fn access_page(
    State(state): State<AppState>,
    auth: SubjectAuth,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<AccessPageQuery>,
) -> Result<Json<AccessPage>, ApiError> {
    let lang = lang_of(
        &LangQuery {
            lang: q.lang.clone(),
        },
        &headers,
    )?;
    Ok(Json(
        service(&state)?
            .access_page(&auth.session, lang, q.before)
            .await?,
    ))
}

fn download(export: derbes_service::cabinet::Export) -> Response {
    let ctype = match export.format {
        ExportFormat::Json => "application/json",
        ExportFormat::Pdf => "application/pdf",
    };
    let mut res = export.bytes.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", export.file_name))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&export.id) {
        h.insert("x-export-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&export.sha256) {
        h.insert("x-content-sha256", v);
    }
    res
}

#[utoipa::path(get, path = "/api/v1/cabinet/export.json", tag = "cabinet",
    params(LangQuery), security(("cabinet" = [])),
    responses((status = 200, content_type = "application/json", description = "Machine-readable export, registered (5.4); `X-Export-Id` and `X-Content-SHA256` name its register entry"),
        (status = 401, body = Problem, description = "No session")))]
/// Download my data as JSON (7.1b).
pub async fn export_json(
    State(state): State<AppState>,
    auth: SubjectAuth,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<LangQuery>,
) -> Result<Response, ApiError> {
    let lang = lang_of(&q, &headers)?;
    let e = service(&state)?
        .export(&auth.session, ExportFormat::Json, lang)
        .await?;
    Ok(download(e))
}

#[utoipa::path(get, path = "/api/v1/cabinet/export.pdf", tag = "cabinet",
    params(LangQuery), security(("cabinet" = [])),
    responses((status = 200, content_type = "application/pdf", description = "Printable report in the subject's language, registered (5.4)"),
        (status = 401, body = Problem, description = "No session")))]
/// Download my data as a printable PDF report (7.1b).
pub async fn export_pdf(
    State(state): State<AppState>,
    auth: SubjectAuth,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<LangQuery>,
) -> Result<Response, ApiError> {
    let lang = lang_of(&q, &headers)?;
    let e = service(&state)?
        .export(&auth.session, ExportFormat::Pdf, lang)
        .await?;
    Ok(download(e))
}

#[utoipa::path(get, path = "/api/v1/cabinet/exports", tag = "cabinet",
    security(("cabinet" = [])),
    responses((status = 200, body = Vec<ExportView>, description = "The register entries of my exports (5.4)"),
        (status = 401, body = Problem, description = "No session")))]
/// My exports, from the register (5.4).
pub async fn exports(
    State(state): State<AppState>,
    auth: SubjectAuth,
) -> Result<Json<Vec<ExportView>>, ApiError> {
    Ok(Json(service(&state)?.exports(&auth.session).await?))
}

#[utoipa::path(get, path = "/api/v1/cabinet/requests", tag = "cabinet",
    security(("cabinet" = [])),
    responses((status = 200, body = Vec<RequestView>, description = "My requests, newest first"),
        (status = 401, body = Problem, description = "No session")))]
/// My requests.
pub async fn my_requests(
    State(state): State<AppState>,
    auth: SubjectAuth,
) -> Result<Json<Vec<RequestView>>, ApiError> {
    Ok(Json(service(&state)?.my_requests(&auth.session).await?))
}

#[utoipa::path(post, path = "/api/v1/cabinet/requests", tag = "cabinet",
    request_body = RequestInput, security(("cabinet" = [])),
    responses((status = 400, body = Problem, description = "Malformed JSON or query"),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),
        (status = 201, body = RequestView, description = "Filed, numbered, with its legal deadline"),
        (status = 401, body = Problem, description = "No session"),
        (status = 422, body = Problem, description = "Empty or too long text, unknown category, invalid proposed value")))]
/// File a request: correction, blocking, destruction, complaint or question (7.1a,
/// L-RIGHTS-DEADLINES).
pub async fn file_request(
    State(state): State<AppState>,
    auth: SubjectAuth,
    ApiJson(input): ApiJson<RequestInput>,
) -> Result<Response, ApiError> {
    let r = service(&state)?.file_request(&auth.session, input).await?;
    Ok((StatusCode::CREATED, Json(r)).into_response())
}

#[utoipa::path(get, path = "/api/v1/cabinet/requests/{id}", tag = "cabinet",
    params(("id" = String, Path, description = "Request id")), security(("cabinet" = [])),
    responses((status = 400, body = Problem, description = "Malformed path"),
        (status = 200, body = RequestView, description = "The request"),
        (status = 401, body = Problem, description = "No session"),
        (status = 404, body = Problem, description = "No such request of mine")))]
/// One of my requests.
pub async fn my_request(
    State(state): State<AppState>,
    auth: SubjectAuth,
    Path(id): Path<String>,
) -> Result<Json<RequestView>, ApiError> {
    Ok(Json(service(&state)?.my_request(&auth.session, &id).await?))
}

#[utoipa::path(get, path = "/api/v1/cabinet/consents", tag = "cabinet",
    security(("cabinet" = [])),
    responses((status = 200, body = ConsentState, description = "My consents and their history"),
        (status = 401, body = Problem, description = "No session")))]
/// My consents (7.1c, 7.1d).
pub async fn consents(
    State(state): State<AppState>,
    auth: SubjectAuth,
) -> Result<Json<ConsentState>, ApiError> {
    Ok(Json(service(&state)?.consents(&auth.session).await?))
}

/// Publication consent toggle.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicationInput {
    /// Give (`true`) or refuse (`false`) consent to publication in public sources.
    pub granted: bool,
}

#[utoipa::path(put, path = "/api/v1/cabinet/consents/publication", tag = "cabinet",
    params(LangQuery), request_body = PublicationInput, security(("cabinet" = [])),
    responses((status = 400, body = Problem, description = "Malformed JSON or query"),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),
        (status = 422, body = Problem, description = "Bad evidence or language"),
        (status = 200, body = ConsentState, description = "Recorded"),
        (status = 401, body = Problem, description = "No session"),
        (status = 403, body = Problem, description = "Consent withdrawn (legal hold only)"),
        (status = 404, body = Problem, description = "No policy in force")))]
/// Give or refuse consent to publication in public sources (7.1d).
pub async fn set_publication(
    State(state): State<AppState>,
    auth: SubjectAuth,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<LangQuery>,
    ApiJson(input): ApiJson<PublicationInput>,
) -> Result<Json<ConsentState>, ApiError> {
    let lang = lang_of(&q, &headers)?;
    let ev = evidence(&auth, &headers);
    Ok(Json(
        service(&state)?
            .set_publication(&auth.session, input.granted, lang, ev)
            .await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/cabinet/withdrawal", tag = "cabinet",
    params(LangQuery), security(("cabinet" = [])),
    responses((status = 200, body = WithdrawalDecision, description = "Accepted, or refused with the reason while a contract is open"),
        (status = 401, body = Problem, description = "No session")))]
/// Withdraw my consent (7.1c): refused with a reason while a loan is open.
pub async fn withdraw(
    State(state): State<AppState>,
    auth: SubjectAuth,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<LangQuery>,
) -> Result<Json<WithdrawalDecision>, ApiError> {
    let lang = lang_of(&q, &headers)?;
    let ev = evidence(&auth, &headers);
    Ok(Json(
        service(&state)?.withdraw(&auth.session, lang, ev).await?,
    ))
}

// ---------------------------------------------------------------------------- staff

/// Filter of the staff list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StaffQuery {
    /// Must be `requests` (L-RIGHTS).
    pub purpose: Option<String>,
    /// `received`, `in_progress`, `answered`, `done`, `refused`; default all.
    pub status: Option<String>,
    /// At most this many (1..=500, default 100).
    pub limit: Option<i64>,
}

fn staff_call(actor: derbes_service::Actor, purpose: &Option<String>) -> Result<Call, ApiError> {
    match purpose {
        Some(p) if !p.is_empty() => Ok(Call::new(actor, p.clone())),
        _ => Err(WebError::MissingPurpose.into()),
    }
}

#[utoipa::path(get, path = "/api/v1/subject-requests", tag = "subject-requests",
    params(StaffQuery), security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = Vec<StaffRequestView>, description = "Requests by deadline"),
        (status = 400, body = Problem, description = "Missing purpose or bad status"),
        (status = 401, body = Problem, description = "No API key or session"),
        (status = 403, body = Problem, description = "Purpose not permitted (`requests`)")))]
/// Subjects' requests for staff, by legal deadline (L-RIGHTS-DEADLINES).
pub async fn staff_list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<StaffQuery>,
) -> Result<Json<Vec<StaffRequestView>>, ApiError> {
    let call = staff_call(actor, &q.purpose)?;
    let status = match &q.status {
        Some(s) => Some(RequestStatus::parse(s).ok_or(WebError::BadQuery)?),
        None => None,
    };
    Ok(Json(
        service(&state)?
            .list_requests(&call, status, q.limit.unwrap_or(100))
            .await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/subject-requests/{id}", tag = "subject-requests",
    params(("id" = String, Path, description = "Request id"), PurposeQuery),
    security(("api_key" = []), ("session" = [])),
    responses((status = 400, body = Problem, description = "Missing purpose"),
        (status = 401, body = Problem, description = "No API key or session"),
        (status = 200, body = StaffRequestView, description = "The request"),
        (status = 403, body = Problem, description = "Purpose not permitted"),
        (status = 404, body = Problem, description = "No such request")))]
/// One request, for staff.
pub async fn staff_get(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PurposeQuery>,
) -> Result<Json<StaffRequestView>, ApiError> {
    let call = staff_call(actor, &q.purpose)?;
    Ok(Json(service(&state)?.get_request(&call, &id).await?))
}

#[utoipa::path(post, path = "/api/v1/subject-requests/{id}/status", tag = "subject-requests",
    params(("id" = String, Path, description = "Request id"), PurposeQuery),
    request_body = RequestUpdateInput,
    security(("api_key" = []), ("session" = [])),
    responses((status = 400, body = Problem, description = "Malformed JSON or query"),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),
        (status = 401, body = Problem, description = "No API key or session"),
        (status = 200, body = StaffRequestView, description = "Changed"),
        (status = 403, body = Problem, description = "Purpose not permitted"),
        (status = 404, body = Problem, description = "No such request"),
        (status = 409, body = Problem, description = "The request's status does not allow this"),
        (status = 422, body = Problem, description = "Refusal without a reason code, bad answer text")))]
/// Move a request on: in_progress, answered, done, or refused with a reason.
pub async fn staff_update(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PurposeQuery>,
    ApiJson(input): ApiJson<RequestUpdateInput>,
) -> Result<Json<StaffRequestView>, ApiError> {
    let call = staff_call(actor, &q.purpose)?;
    Ok(Json(
        service(&state)?.update_request(&call, &id, input).await?,
    ))
}

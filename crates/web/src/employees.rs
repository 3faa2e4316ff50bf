//! Employees over HTTP: login (password, then TOTP), logout, the own profile, and account
//! administration (clauses 4.3, 5.4, 8.1).
//!
//! A session token travels as `Authorization: Bearer drs_…` or in the cookie
//! [`SESSION_COOKIE`] (`Secure; HttpOnly; SameSite=Strict; Path=/`). [`EmployeeAuth`] is the
//! one extractor for both, so the console pages can reuse it: a request authenticated by
//! the cookie with a state-changing method must also carry the session's CSRF token in
//! [`CSRF_HEADER`] (forms: [`check_form_csrf`]), since a browser sends cookies by itself.
//! Bearer requests need no CSRF token.

use crate::api::ApiJson;
use crate::problem::{ApiError, Problem, WebError};
use crate::AppState;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use derbes_service::employees::{
    CreatedEmployee, EmployeeInfo, EmployeeProfile, EmployeeSession, EmployeeStatus, Employees,
    NewEmployee, NewSession, PendingLogin, TotpEnrolment, TrainingInput, TrainingView,
    UndertakingInput, UndertakingView,
};
use derbes_service::{Actor, ServiceError};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use utoipa::ToSchema;

/// The session cookie (the `__Host-` prefix makes browsers require `Secure`, `Path=/` and no
/// `Domain`).
pub const SESSION_COOKIE: &str = "__Host-derbes_session";
/// The header carrying the CSRF token on cookie-authenticated state-changing requests.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The token prefix of employee sessions (API keys start with `drb_`).
pub const SESSION_PREFIX: &str = "drs_";

/// An employee id from the path: a UUID, or `400 bad_employee_id`.
fn employee_id(raw: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.to_string())
        .map_err(|_| ApiError::Web(WebError::BadEmployeeId))
}

fn service(state: &AppState) -> Result<&Employees, ApiError> {
    state
        .employees
        .as_ref()
        .ok_or(ApiError::Service(ServiceError::Unavailable))
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The session cookie's value, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.trim())
}

/// The client's address (the TCP peer; a reverse proxy's forwarding headers are not
/// trusted).
pub fn client_ip(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// An authenticated employee session (bearer or cookie).
pub struct EmployeeAuth {
    /// Who.
    pub session: EmployeeSession,
    /// The session token (to log out, or to check a form's CSRF token).
    pub token: String,
    /// Whether it came in the cookie.
    pub via_cookie: bool,
}

impl EmployeeAuth {
    /// The actor for service calls.
    pub fn actor(&self) -> &Actor {
        &self.session.actor
    }
}

/// Check the CSRF token of a form field (for console pages posting forms).
pub fn check_form_csrf(
    employees: &Employees,
    auth: &EmployeeAuth,
    presented: &str,
) -> Result<(), ApiError> {
    employees
        .verify_csrf(&auth.token, presented)
        .map_err(ApiError::Service)
}

/// Resolve an employee session from the request; a cookie-authenticated request with a
/// state-changing method must carry the CSRF header.
pub async fn employee_from_parts(
    parts: &Parts,
    state: &AppState,
) -> Result<EmployeeAuth, ApiError> {
    let unauthenticated = || ApiError::Service(ServiceError::Unauthenticated);
    let (token, via_cookie) = match bearer(&parts.headers) {
        Some(t) => (t, false),
        None => (
            session_cookie(&parts.headers).ok_or_else(unauthenticated)?,
            true,
        ),
    };
    if !token.starts_with(SESSION_PREFIX) {
        return Err(unauthenticated());
    }
    let employees = state.employees.as_ref().ok_or_else(unauthenticated)?;
    let session = employees.authenticate(token).await?;
    let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if via_cookie && !safe {
        let presented = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        employees.verify_csrf(token, presented)?;
    }
    Ok(EmployeeAuth {
        session,
        token: token.to_string(),
        via_cookie,
    })
}

impl FromRequestParts<AppState> for EmployeeAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        employee_from_parts(parts, state).await
    }
}

/// The client address as an extractor.
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(ClientIp(client_ip(parts)))
    }
}

fn session_cookie_header(token: &str, max_age: i64) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; Max-Age={max_age}; Secure; HttpOnly; SameSite=Strict"
    ))
    .ok()
}

/// Login, step 1.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginInput {
    /// Login.
    pub login: String,
    /// Password.
    pub password: String,
}

/// Login, step 2.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpInput {
    /// The pending token from `POST /auth/login`.
    pub pending_token: String,
    /// The 6-digit code from the authenticator app.
    pub code: String,
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "employees", request_body = LoginInput,
    responses(
        (status = 200, body = PendingLogin, description = "Password correct: send the TOTP code with the pending token"),
        (status = 400, body = Problem, description = "Malformed JSON"),
        (status = 401, body = Problem, description = "invalid_credentials: one answer for unknown login, wrong password, locked login or address, inactive account"),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),
        (status = 422, body = Problem, description = "invalid_input: the login is not of the login format, or the password is empty or over 1024 bytes (says nothing about accounts)")))]
/// Employee login, step 1: the password.
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(input): ApiJson<LoginInput>,
) -> Result<Json<PendingLogin>, ApiError> {
    let pending = service(&state)?
        .login(&input.login, &input.password, ip)
        .await?;
    Ok(Json(pending))
}

#[utoipa::path(post, path = "/api/v1/auth/totp", tag = "employees", request_body = TotpInput,
    responses(
        (status = 200, body = NewSession, description = "Logged in; the token is also set as the session cookie (Secure; HttpOnly; SameSite=Strict)"),
        (status = 400, body = Problem, description = "Malformed JSON"),
        (status = 401, body = Problem, description = "invalid_credentials: wrong, replayed or late code, expired pending token, locked"),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),
        (status = 422, body = Problem, description = "invalid_input: the code is not 6 digits")))]
/// Employee login, step 2: the TOTP code (RFC 6238; each code works once).
pub async fn totp(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(input): ApiJson<TotpInput>,
) -> Result<Response, ApiError> {
    let employees = service(&state)?;
    let session = employees
        .verify_totp(&input.pending_token, &input.code, ip)
        .await?;
    let max_age = employees.options().session_absolute.num_seconds();
    let mut res = Json(session.clone()).into_response();
    if let Some(v) = session_cookie_header(&session.token, max_age) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "employees",
    security(("session" = [])),
    responses(
        (status = 204, description = "Logged out; the cookie is cleared"),
        (status = 401, body = Problem, description = "No live session"),
        (status = 403, body = Problem, description = "csrf_failed: cookie session without the CSRF header")))]
/// End the current session.
pub async fn logout(
    State(state): State<AppState>,
    auth: EmployeeAuth,
) -> Result<Response, ApiError> {
    service(&state)?.logout(&auth.token).await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    if let Some(v) = session_cookie_header("", 0) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}

/// The own profile with the session's CSRF token.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    /// The profile.
    pub profile: EmployeeProfile,
    /// The CSRF token for state-changing requests made with the session cookie.
    pub csrf_token: String,
}

#[utoipa::path(get, path = "/api/v1/me", tag = "employees",
    security(("session" = [])),
    responses(
        (status = 200, body = MeView),
        (status = 401, body = Problem, description = "No live session")))]
/// The logged-in employee's profile: account, undertakings (4.3) and trainings (5.4).
pub async fn me(
    State(state): State<AppState>,
    auth: EmployeeAuth,
) -> Result<Json<MeView>, ApiError> {
    let id = auth.session.employee_id.to_string();
    let profile = service(&state)?.profile(auth.actor(), &id).await?;
    Ok(Json(MeView {
        profile,
        csrf_token: auth.session.csrf_token.clone(),
    }))
}

#[utoipa::path(post, path = "/api/v1/employees", tag = "employees", request_body = NewEmployee,
    security(("session" = [])),
    responses(
        (status = 201, body = CreatedEmployee, description = "Created; the initial password and TOTP secret are shown once"),
        (status = 400, body = Problem, description = "Malformed JSON"),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),
        (status = 401, body = Problem, description = "No live session"),
        (status = 403, body = Problem, description = "role_not_permitted (administrators only) or csrf_failed"),
        (status = 409, body = Problem, description = "login_taken"),
        (status = 422, body = Problem, description = "invalid_input (login, display_name or role)")))]
/// Create an employee account (administrators).
pub async fn create_employee(
    State(state): State<AppState>,
    auth: EmployeeAuth,
    ApiJson(input): ApiJson<NewEmployee>,
) -> Result<Response, ApiError> {
    let created = service(&state)?.create(auth.actor(), input).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

#[utoipa::path(get, path = "/api/v1/employees", tag = "employees",
    security(("session" = [])),
    responses(
        (status = 200, body = [EmployeeInfo]),
        (status = 401, body = Problem, description = "No live session"),
        (status = 403, body = Problem, description = "role_not_permitted")))]
/// List employee accounts (administrators and the data-protection officer).
pub async fn list_employees(
    State(state): State<AppState>,
    auth: EmployeeAuth,
) -> Result<Json<Vec<EmployeeInfo>>, ApiError> {
    Ok(Json(service(&state)?.list(auth.actor()).await?))
}

#[utoipa::path(get, path = "/api/v1/employees/{id}", tag = "employees",
    params(("id" = String, Path, description = "Employee id")),
    security(("session" = [])),
    responses(
        (status = 400, body = Problem, description = "bad_employee_id: the id is not a UUID"),
        (status = 200, body = EmployeeProfile),
        (status = 401, body = Problem, description = "No live session"),
        (status = 403, body = Problem, description = "role_not_permitted"),
        (status = 404, body = Problem, description = "employee_not_found")))]
/// An employee's profile with undertakings and trainings.
pub async fn employee_profile(
    State(state): State<AppState>,
    auth: EmployeeAuth,
    Path(raw): Path<String>,
) -> Result<Json<EmployeeProfile>, ApiError> {
    let id = employee_id(&raw)?;
    Ok(Json(service(&state)?.profile(auth.actor(), &id).await?))
}

async fn status(
    state: &AppState,
    auth: &EmployeeAuth,
    id: &str,
    status: EmployeeStatus,
) -> Result<Json<EmployeeInfo>, ApiError> {
    Ok(Json(
        service(state)?.set_status(auth.actor(), id, status).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/employees/{id}/disable", tag = "employees",
    params(("id" = String, Path, description = "Employee id")),
    security(("session" = [])),
    responses(
        (status = 400, body = Problem, description = "bad_employee_id: the id is not a UUID"),
        (status = 200, body = EmployeeInfo, description = "Disabled; every session of the employee ended at once"),
        (status = 401, body = Problem, description = "No live session"),
        (status = 403, body = Problem, description = "role_not_permitted or csrf_failed"),
        (status = 404, body = Problem, description = "employee_not_found")))]
/// Disable an employee: all their sessions end at once.
pub async fn disable(
    State(state): State<AppState>,
    auth: EmployeeAuth,
    Path(raw): Path<String>,
) -> Result<Json<EmployeeInfo>, ApiError> {
    let id = employee_id(&raw)?;
    status(&state, &auth, &id, EmployeeStatus::Disabled).await
}

#[utoipa::path(post, path = "/api/v1/employees/{id}/suspend", tag = "employees",
    params(("id" = String, Path, description = "Employee id")),
    security(("session" = [])),
    responses(
        (status = 400, body = Problem, description = "bad_employee_id: the id is not a UUID"),
        (status = 200, body = EmployeeInfo, description = "Suspended; every session ended at once"),
        (status = 401, body = Problem, description = "No live session"),
        (status = 403, body = Problem, description = "role_not_permitted or csrf_failed"),
        (status = 404, body = Problem, description = "employee_not_found")))]
/// Suspend an employee (e.g. during an investigation): all their sessions end at once.
pub async fn suspend(
    State(state): State<AppState>,
    auth: EmployeeAuth,
    Path(raw): Path<String>,
) -> Result<Json<EmployeeInfo>, ApiError> {
    let id = employee_id(&raw)?;
    status(&state, &auth, &id, EmployeeStatus::Suspended).await
}

#[utoipa::path(post, path = "/api/v1/employees/{id}/activate", tag = "employees",
    params(("id" = String, Path, description = "Employee id")),
    security(("session" = [])),
    responses(
        (status = 400, body = Problem, description = "bad_employee_id: the id is not a UUID"),
        (status = 200, body = EmployeeInfo, description = "Active again (sessions ended before stay ended)"),
        (status = 401, body = Problem, description = "No live session"),
        (status = 403, body = Problem, description = "role_not_permitted or csrf_failed"),
        (status = 404, body = Problem, description = "employee_not_found")))]
/// Re-activate a disabled or suspended employee.
pub async fn activate(
    State(state): State<AppState>,
    auth: EmployeeAuth,
    Path(raw): Path<String>,
) -> Result<Json<EmployeeInfo>, ApiError> {
    let id = employee_id(&raw)?;
    status(&state, &auth, &id, EmployeeStatus::Active).await
}

/// A new role.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    /// Role code: `credit_officer`, `collector`, `call_centre`, `security_officer`, `dpo`,
    /// `admin`.
    pub role: String,
}

#[utoipa::path(post, path = "/api/v1/employees/{id}/role", tag = "employees",
    params(("id" = String, Path, description = "Employee id")), request_body = RoleInput,
    security(("session" = [])),
    responses(
        (status = 400, body = Problem, description = "Malformed JSON, or an id that is not a UUID"),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),
        (status = 200, body = EmployeeInfo),
        (status = 401, body = Problem, description = "No live session"),
        (status = 403, body = Problem, description = "role_not_permitted or csrf_failed"),
        (status = 404, body = Problem, description = "employee_not_found"),
        (status = 422, body = Problem, description = "invalid_input: unknown role")))]
/// Change an employee's role (audited as a role change).
pub async fn set_role(
    State(state): State<AppState>,
    auth: EmployeeAuth,
    Path(raw): Path<String>,
    ApiJson(input): ApiJson<RoleInput>,
) -> Result<Json<EmployeeInfo>, ApiError> {
    let id = employee_id(&raw)?;
    Ok(Json(
        service(&state)?
            .set_role(auth.actor(), &id, &input.role)
            .await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/employees/{id}/unlock", tag = "employees",
    params(("id" = String, Path, description = "Employee id")),
    security(("session" = [])),
    responses(
        (status = 400, body = Problem, description = "bad_employee_id: the id is not a UUID"),
        (status = 204, description = "The login's lockout is lifted"),
        (status = 401, body = Problem, description = "No live session"),
        (status = 403, body = Problem, description = "role_not_permitted or csrf_failed"),
        (status = 404, body = Problem, description = "employee_not_found")))]
/// Lift a login lockout.
pub async fn unlock(
    State(state): State<AppState>,
    auth: EmployeeAuth,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = employee_id(&raw)?;
    service(&state)?.unlock(auth.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/employees/{id}/totp", tag = "employees",
    params(("id" = String, Path, description = "Employee id")),
    security(("session" = [])),
    responses(
        (status = 400, body = Problem, description = "bad_employee_id: the id is not a UUID"),
        (status = 200, body = TotpEnrolment, description = "The new secret, shown once; the old one stops working"),
        (status = 401, body = Problem, description = "No live session"),
        (status = 403, body = Problem, description = "role_not_permitted or csrf_failed"),
        (status = 404, body = Problem, description = "employee_not_found")))]
/// Enrol (or re-enrol) an employee's TOTP second factor.
pub async fn enroll_totp(
    State(state): State<AppState>,
    auth: EmployeeAuth,
    Path(raw): Path<String>,
) -> Result<Json<TotpEnrolment>, ApiError> {
    let id = employee_id(&raw)?;
    Ok(Json(service(&state)?.enroll_totp(auth.actor(), &id).await?))
}

#[utoipa::path(post, path = "/api/v1/employees/{id}/undertakings", tag = "employees",
    params(("id" = String, Path, description = "Employee id")), request_body = UndertakingInput,
    security(("session" = [])),
    responses(
        (status = 400, body = Problem, description = "Malformed JSON, or an id that is not a UUID"),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),
        (status = 201, body = UndertakingView),
        (status = 401, body = Problem, description = "No live session"),
        (status = 403, body = Problem, description = "role_not_permitted or csrf_failed"),
        (status = 404, body = Problem, description = "employee_not_found"),
        (status = 422, body = Problem, description = "invalid_input: text_version, signed_on (future) or expires_on (not after signed_on)")))]
/// Record a signed confidentiality undertaking (clause 4.3; administrators and the DPO).
pub async fn record_undertaking(
    State(state): State<AppState>,
    auth: EmployeeAuth,
    Path(raw): Path<String>,
    ApiJson(input): ApiJson<UndertakingInput>,
) -> Result<Response, ApiError> {
    let id = employee_id(&raw)?;
    let u = service(&state)?
        .record_undertaking(auth.actor(), &id, input)
        .await?;
    Ok((StatusCode::CREATED, Json(u)).into_response())
}

#[utoipa::path(post, path = "/api/v1/employees/{id}/trainings", tag = "employees",
    params(("id" = String, Path, description = "Employee id")), request_body = TrainingInput,
    security(("session" = [])),
    responses(
        (status = 400, body = Problem, description = "Malformed JSON, or an id that is not a UUID"),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),
        (status = 201, body = TrainingView),
        (status = 401, body = Problem, description = "No live session"),
        (status = 403, body = Problem, description = "role_not_permitted or csrf_failed"),
        (status = 404, body = Problem, description = "employee_not_found"),
        (status = 422, body = Problem, description = "invalid_input")))]
/// Record a staff-training acknowledgement (clause 5.4; administrators and the DPO).
pub async fn record_training(
    State(state): State<AppState>,
    auth: EmployeeAuth,
    Path(raw): Path<String>,
    ApiJson(input): ApiJson<TrainingInput>,
) -> Result<Response, ApiError> {
    let id = employee_id(&raw)?;
    let t = service(&state)?
        .record_training(auth.actor(), &id, input)
        .await?;
    Ok((StatusCode::CREATED, Json(t)).into_response())
}

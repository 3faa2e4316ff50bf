//! The security officer's API: incidents of unauthorised access (clause 5.5) and the
//! access-policy reload. Every call needs an API key with the `security` purpose and is
//! audited by the service.

use crate::api::{ApiJson, ApiQuery, Caller};
use crate::problem::{ApiError, Problem};
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use derbes_access::ReloadReport;
use derbes_service::incidents::{IncidentDetail, IncidentEventView, IncidentView, Incidents};
use derbes_service::ServiceError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

fn incidents(state: &AppState) -> Result<&Incidents, ApiError> {
    state
        .incidents
        .as_ref()
        .ok_or(ApiError::Service(ServiceError::Unavailable))
}

/// Filter of the incident list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncidentQuery {
    /// `open`, `acknowledged` or `closed`; default: all.
    pub status: Option<String>,
    /// At most this many (1..=1000, default 100), newest first.
    pub limit: Option<i64>,
}

/// Incidents, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentList {
    /// The incidents.
    pub incidents: Vec<IncidentView>,
}

/// An optional note with a status change; a required one for `/notes`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    /// Free text, at most 2000 characters. Kept on the incident's timeline (not in logs or
    /// the audit log).
    #[serde(default)]
    pub note: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents",
    params(IncidentQuery), security(("api_key" = [])),
    responses(
        (status = 200, body = IncidentList),
        (status = 400, body = Problem, description = "Unknown status filter or malformed query"),
        (status = 401, body = Problem, description = "No, unknown or revoked API key"),
        (status = 403, body = Problem, description = "The key lacks the `security` purpose")))]
/// Incidents of unauthorised access (clause 5.5), newest first.
pub async fn list_incidents(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<IncidentQuery>,
) -> Result<Json<IncidentList>, ApiError> {
    let list = incidents(&state)?
        .list(&actor, q.status.as_deref(), q.limit.unwrap_or(100))
        .await?;
    Ok(Json(IncidentList { incidents: list }))
}

#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents",
    params(("id" = String, Path, description = "Incident id")), security(("api_key" = [])),
    responses(
        (status = 200, body = IncidentDetail),
        (status = 400, body = Problem, description = "Malformed path"),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "No such incident")))]
/// One incident: its subjects (pseudonyms) and timeline.
pub async fn get_incident(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Json<IncidentDetail>, ApiError> {
    Ok(Json(incidents(&state)?.get(&actor, &id).await?))
}

#[utoipa::path(post, path = "/api/v1/incidents/{id}/acknowledge", tag = "incidents",
    params(("id" = String, Path, description = "Incident id")),
    request_body = NoteInput, security(("api_key" = [])),
    responses(
        (status = 200, body = IncidentView),
        (status = 400, body = Problem, description = "Malformed JSON or path"),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),
        (status = 404, body = Problem, description = "No such incident"),
        (status = 409, body = Problem, description = "The incident is not open"),
        (status = 422, body = Problem, description = "Invalid note")))]
/// Acknowledge an open incident (someone is on it).
pub async fn acknowledge_incident(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<NoteInput>,
) -> Result<Json<IncidentView>, ApiError> {
    Ok(Json(
        incidents(&state)?
            .acknowledge(&actor, &id, input.note.as_deref())
            .await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/incidents/{id}/close", tag = "incidents",
    params(("id" = String, Path, description = "Incident id")),
    request_body = NoteInput, security(("api_key" = [])),
    responses(
        (status = 200, body = IncidentView),
        (status = 400, body = Problem, description = "Malformed JSON or path"),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),
        (status = 404, body = Problem, description = "No such incident"),
        (status = 409, body = Problem, description = "The incident is already closed"),
        (status = 422, body = Problem, description = "Invalid note")))]
/// Close an incident. Later evidence of the same rule and employee opens a new one.
pub async fn close_incident(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<NoteInput>,
) -> Result<Json<IncidentView>, ApiError> {
    Ok(Json(
        incidents(&state)?
            .close(&actor, &id, input.note.as_deref())
            .await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/incidents/{id}/notes", tag = "incidents",
    params(("id" = String, Path, description = "Incident id")),
    request_body = NoteInput, security(("api_key" = [])),
    responses(
        (status = 200, body = IncidentEventView),
        (status = 400, body = Problem, description = "Malformed JSON or path"),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),
        (status = 404, body = Problem, description = "No such incident"),
        (status = 422, body = Problem, description = "Missing or invalid note")))]
/// Add a note to an incident's timeline.
pub async fn note_incident(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<NoteInput>,
) -> Result<Json<IncidentEventView>, ApiError> {
    let note = input
        .note
        .ok_or(ApiError::Service(ServiceError::InvalidNote))?;
    Ok(Json(incidents(&state)?.note(&actor, &id, &note).await?))
}

/// The access policy now in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReloadResult {
    /// Rule ids (`@id`) of the policy, in file order.
    pub rules: Vec<String>,
    /// Compiled decisions (roles × purposes × categories × condition combinations).
    pub compiled: usize,
}

impl From<ReloadReport> for ReloadResult {
    fn from(r: ReloadReport) -> Self {
        ReloadResult {
            rules: r.rules,
            compiled: r.compiled,
        }
    }
}

#[utoipa::path(post, path = "/api/v1/access/reload", tag = "incidents",
    security(("api_key" = [])),
    responses(
        (status = 200, body = ReloadResult, description = "The new policy is in force"),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem, description = "The file is invalid; the policy in force is unchanged (the detail says why)"),
        (status = 503, body = Problem, description = "This server runs without an access policy")))]
/// Re-read the access policy file the server was started with and put it in force if it is
/// valid; a bad file keeps the old policy and the answer says why.
pub async fn reload_access(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json<ReloadResult>, ApiError> {
    let control = state
        .access
        .as_ref()
        .ok_or(ApiError::Service(ServiceError::Unavailable))?;
    let report = incidents(&state)?
        .reload_access_policy(&actor, control)
        .await?;
    Ok(Json(report.into()))
}

//! Incidents in the employee console (clause 5.5; 8.1): the security officer's list, one
//! incident with its affected subjects and timeline, and the forms that handle it —
//! acknowledge, add a note to the timeline, close with a resolution, and lift the
//! automatic suspension of the employee where the viewer's role may re-activate accounts.
//!
//! Every action is a service call that checks the caller and audits the call
//! ([`Incidents::acknowledge`], [`Incidents::note`], [`Incidents::close`],
//! [`derbes_service::employees::Employees::set_status`]); a role that may not act gets a
//! translated 403 page and nothing changes. After an action the browser is sent back to the
//! incident (`303`, so a reload does not post twice), where the timeline shows it.

use super::console::{self, chrome, date, fail, powers, signed_in};
use super::csrf::CheckedSession;
use super::{encode_path, render, see_other, Chrome, PageError, PageLang};
use crate::i18n::Lang;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use derbes_service::employees::EmployeeStatus;
use derbes_service::incidents::{IncidentDetail, IncidentView, Incidents, MAX_NOTE_CHARS};
use derbes_service::ServiceError;
use serde::Deserialize;

/// The incident routes of the console.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/incidents", get(list))
        .route("/console/incidents/{id}", get(detail))
        .route("/console/incidents/{id}/acknowledge", post(acknowledge))
        .route("/console/incidents/{id}/note", post(note))
        .route("/console/incidents/{id}/close", post(close))
        .route(
            "/console/incidents/{id}/lift-suspension",
            post(lift_suspension),
        )
}

/// Timeline kinds with a translated name (`incident-event-<kind>`).
const EVENT_KINDS: &[&str] = &[
    "raised",
    "evidence",
    "auto_suspended",
    "auto_suspend_failed",
    "acknowledged",
    "note",
    "closed",
];

/// What a completed action reports on the incident page (`?done=`).
const DONE: &[(&str, &str)] = &[
    ("acknowledged", "incident-done-acknowledged"),
    ("note", "incident-done-note"),
    ("closed", "incident-done-closed"),
    ("lifted", "incident-done-lifted"),
];

fn service(state: &AppState) -> Result<&Incidents, PageError> {
    state
        .incidents
        .as_ref()
        .ok_or(PageError::Service(ServiceError::Unavailable))
}

/// The console names a refused purpose by the role: a role without the `security` purpose
/// may not handle incidents.
fn refusal(e: ServiceError) -> PageError {
    match e {
        ServiceError::PurposeNotPermitted => PageError::Service(ServiceError::RoleNotPermitted),
        other => PageError::Service(other),
    }
}

fn status_label(c: &Chrome, status: &str) -> String {
    match status {
        "open" => c.t("incident-status-open"),
        "acknowledged" => c.t("incident-status-acknowledged"),
        "closed" => c.t("incident-status-closed"),
        other => other.to_string(),
    }
}

struct IncidentRow {
    href: String,
    opened: String,
    rule: String,
    employee: String,
    severity: String,
    status: String,
    status_label: String,
    subjects: i64,
}

fn incident_row(c: &Chrome, v: &IncidentView) -> IncidentRow {
    IncidentRow {
        href: format!("/console/incidents/{}", encode_path(&v.id)),
        opened: date(v.opened_at),
        rule: v.rule.clone(),
        employee: v.employee.clone(),
        severity: v.severity.clone(),
        status: v.status.clone(),
        status_label: status_label(c, &v.status),
        subjects: v.affected_subjects,
    }
}

#[derive(Template)]
#[template(path = "console/incidents.html")]
struct IncidentsPage {
    c: Chrome,
    incidents: Vec<IncidentRow>,
}

/// `GET /console/incidents`: the security officer's list (purpose `security`).
async fn list(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
) -> Response {
    let s = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let result = async {
        let list = service(&state)?
            .list(&s.session.actor, None, 100)
            .await
            .map_err(refusal)?;
        let c = chrome(&state, lang, &s, "/console/incidents", "incidents-title");
        let page = IncidentsPage {
            incidents: list.iter().map(|v| incident_row(&c, v)).collect(),
            c,
        };
        Ok::<_, PageError>(render(StatusCode::OK, &page))
    }
    .await;
    result.unwrap_or_else(|e| fail(&state, lang, Some(&s), e))
}

struct EventRow {
    at: String,
    kind: String,
    kind_label: String,
    actor: String,
    /// A note's text (shown as written).
    note: Option<String>,
    /// Other detail, as JSON (codes and pseudonyms).
    detail: String,
}

#[derive(Template)]
#[template(path = "console/incident.html")]
struct IncidentPage {
    c: Chrome,
    csrf: String,
    i: IncidentRow,
    affected: Vec<String>,
    timeline: Vec<EventRow>,
    done: Option<String>,
    error: Option<String>,
    action: String,
    may_acknowledge: bool,
    may_close: bool,
    /// The detector suspended the employee (an `auto_suspended` event).
    auto_suspended: bool,
    /// The employee is suspended now and the viewer's role may re-activate accounts.
    may_lift: bool,
    note_max: usize,
}

/// `?done=` of the incident page.
#[derive(Debug, Deserialize)]
pub struct DoneParam {
    done: Option<String>,
}

/// The employee id (UUID text) of an incident's `employee:<id>` actor.
fn employee_of(d: &IncidentDetail) -> Option<&str> {
    d.incident.employee.strip_prefix("employee:")
}

fn was_auto_suspended(d: &IncidentDetail) -> bool {
    d.timeline.iter().any(|e| e.kind == "auto_suspended")
}

/// Whether the incident's employee is suspended now and the viewer's role may lift it. Only
/// asked of roles that may manage accounts: others would be refused (and audited) by the
/// employee service for reading another employee's account.
async fn liftable(state: &AppState, s: &CheckedSession, d: &IncidentDetail) -> bool {
    if !was_auto_suspended(d) || !powers(state, &s.session.actor).admin {
        return false;
    }
    let (Some(emp), Some(id)) = (state.employees.as_ref(), employee_of(d)) else {
        return false;
    };
    emp.profile(&s.session.actor, id)
        .await
        .is_ok_and(|p| p.employee.status == EmployeeStatus::Suspended)
}

fn event_row(c: &Chrome, e: &derbes_service::incidents::IncidentEventView) -> EventRow {
    let note = e
        .detail
        .as_ref()
        .filter(|_| e.kind == "note" || e.kind == "acknowledged" || e.kind == "closed")
        .and_then(|d| d.get("note"))
        .and_then(|n| n.as_str())
        .map(str::to_string);
    let detail = match (&note, &e.detail) {
        (None, Some(d)) => d.to_string(),
        _ => String::new(),
    };
    let kind_label = if EVENT_KINDS.contains(&e.kind.as_str()) {
        c.t(&format!("incident-event-{}", e.kind.replace('_', "-")))
    } else {
        e.kind.clone()
    };
    EventRow {
        at: date(e.at),
        kind: e.kind.clone(),
        kind_label,
        actor: e.actor.clone(),
        note,
        detail,
    }
}

async fn incident_page(
    state: &AppState,
    lang: Lang,
    s: &CheckedSession,
    d: &IncidentDetail,
) -> IncidentPage {
    let action = format!("/console/incidents/{}", encode_path(&d.incident.id));
    let c = chrome(state, lang, s, &action, "incident-title");
    let status = d.incident.status.as_str();
    IncidentPage {
        csrf: s.session.csrf_token.clone(),
        i: incident_row(&c, &d.incident),
        affected: d.subjects.clone(),
        timeline: d.timeline.iter().map(|e| event_row(&c, e)).collect(),
        done: None,
        error: None,
        may_acknowledge: status == "open",
        may_close: status != "closed",
        auto_suspended: was_auto_suspended(d),
        may_lift: liftable(state, s, d).await,
        note_max: MAX_NOTE_CHARS,
        action,
        c,
    }
}

/// `GET /console/incidents/{id}`: one incident with its timeline and the forms that handle
/// it.
async fn detail(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    Path(id): Path<String>,
    q: Result<Query<DoneParam>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let s = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let result = async {
        let d = service(&state)?
            .get(&s.session.actor, &id)
            .await
            .map_err(refusal)?;
        let mut page = incident_page(&state, lang, &s, &d).await;
        let done = q.as_ref().ok().and_then(|q| q.done.as_deref());
        page.done = DONE
            .iter()
            .find(|(code, _)| Some(*code) == done)
            .map(|(_, msg)| page.c.t(msg));
        Ok::<_, PageError>(render(StatusCode::OK, &page))
    }
    .await;
    result.unwrap_or_else(|e| fail(&state, lang, Some(&s), e))
}

/// The note, resolution or reason of an incident form.
#[derive(Debug, Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    note: String,
}

fn done(id: &str, what: &str) -> Response {
    see_other(&format!(
        "/console/incidents/{}?done={what}",
        encode_path(id)
    ))
}

/// A refusal the page explains in place (a bad note, a status that does not allow the
/// action): the incident again, with the message and the problem's status.
async fn explain(
    state: &AppState,
    lang: Lang,
    s: &CheckedSession,
    id: &str,
    e: ServiceError,
) -> Result<Response, PageError> {
    let d = service(state)?
        .get(&s.session.actor, id)
        .await
        .map_err(refusal)?;
    let mut page = incident_page(state, lang, s, &d).await;
    let err = PageError::Service(e);
    let (status, code) = err.parts();
    let args: Vec<(&str, String)> = match &err {
        PageError::Service(ServiceError::IncidentWrongStatus(st)) => {
            vec![("status", status_label(&page.c, st))]
        }
        _ => Vec::new(),
    };
    page.error = Some(state.catalog.detail(lang, code, &args));
    Ok(render(status, &page))
}

/// Run one incident action; explain a bad note or a wrong status on the incident page.
async fn act<F, Fut, T>(
    state: &AppState,
    lang: Lang,
    s: &CheckedSession,
    id: &str,
    what: &str,
    f: F,
) -> Response
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<T, ServiceError>>,
{
    let result = async {
        match f().await {
            Ok(_) => Ok(done(id, what)),
            Err(e @ (ServiceError::InvalidNote | ServiceError::IncidentWrongStatus(_))) => {
                explain(state, lang, s, id, e).await
            }
            Err(e) => Err(refusal(e)),
        }
    }
    .await;
    result.unwrap_or_else(|e| fail(state, lang, Some(s), e))
}

fn form_of(
    form: Result<Form<NoteForm>, axum::extract::rejection::FormRejection>,
) -> Result<NoteForm, PageError> {
    form.map(|Form(f)| f)
        .map_err(|_| PageError::Web("malformed_json", StatusCode::BAD_REQUEST))
}

/// `POST /console/incidents/{id}/acknowledge` (CSRF: session): open → acknowledged, with an
/// optional note.
async fn acknowledge(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(s): Extension<CheckedSession>,
    Path(id): Path<String>,
    form: Result<Form<NoteForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let f = match form_of(form) {
        Ok(f) => f,
        Err(e) => return fail(&state, lang, Some(&s), e),
    };
    let svc = match service(&state) {
        Ok(svc) => svc,
        Err(e) => return fail(&state, lang, Some(&s), e),
    };
    let note = Some(f.note.trim()).filter(|n| !n.is_empty());
    act(&state, lang, &s, &id, "acknowledged", || {
        svc.acknowledge(&s.session.actor, &id, note)
    })
    .await
}

/// `POST /console/incidents/{id}/note` (CSRF: session): a note on the timeline.
async fn note(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(s): Extension<CheckedSession>,
    Path(id): Path<String>,
    form: Result<Form<NoteForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let f = match form_of(form) {
        Ok(f) => f,
        Err(e) => return fail(&state, lang, Some(&s), e),
    };
    let svc = match service(&state) {
        Ok(svc) => svc,
        Err(e) => return fail(&state, lang, Some(&s), e),
    };
    act(&state, lang, &s, &id, "note", || {
        svc.note(&s.session.actor, &id, &f.note)
    })
    .await
}

/// `POST /console/incidents/{id}/close` (CSRF: session): close with a resolution (required).
async fn close(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(s): Extension<CheckedSession>,
    Path(id): Path<String>,
    form: Result<Form<NoteForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let f = match form_of(form) {
        Ok(f) => f,
        Err(e) => return fail(&state, lang, Some(&s), e),
    };
    let svc = match service(&state) {
        Ok(svc) => svc,
        Err(e) => return fail(&state, lang, Some(&s), e),
    };
    // The resolution is required: an empty one is an invalid note, not "no note".
    act(&state, lang, &s, &id, "closed", || {
        svc.close(&s.session.actor, &id, Some(&f.note))
    })
    .await
}

/// `POST /console/incidents/{id}/lift-suspension` (CSRF: session): re-activate the employee
/// the detector suspended for this incident, with a reason that goes on the timeline. Only
/// for roles that may re-activate accounts (the employee service decides and audits), and
/// only while the employee is suspended — a disabled account stays disabled.
async fn lift_suspension(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(s): Extension<CheckedSession>,
    Path(id): Path<String>,
    form: Result<Form<NoteForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let result = async {
        let f = form_of(form)?;
        let svc = service(&state)?;
        let emp = console::employees(&state)?;
        let actor = &s.session.actor;
        let d = svc.get(actor, &id).await.map_err(refusal)?;
        let reason = f.note.trim();
        let note = format!(
            "{} {reason}",
            state.pages.texts.text(lang, "incident-lifted-note")
        );
        // The note is checked before anything changes (as the service will check it).
        let bad_note = reason.is_empty()
            || note.chars().count() > MAX_NOTE_CHARS
            || note.chars().any(|c| c.is_control() && c != '\n');
        if bad_note {
            return explain(&state, lang, &s, &id, ServiceError::InvalidNote).await;
        }
        let employee = employee_of(&d)
            .filter(|_| was_auto_suspended(&d))
            .map(str::to_string);
        let Some(employee) = employee else {
            let mut page = incident_page(&state, lang, &s, &d).await;
            page.error = Some(page.c.t("incident-lift-nothing"));
            return Ok(render(StatusCode::CONFLICT, &page));
        };
        let profile = emp.profile(actor, &employee).await?;
        if profile.employee.status != EmployeeStatus::Suspended {
            let mut page = incident_page(&state, lang, &s, &d).await;
            page.error = Some(page.c.t("incident-lift-nothing"));
            return Ok(render(StatusCode::CONFLICT, &page));
        }
        emp.set_status(actor, &employee, EmployeeStatus::Active)
            .await?;
        match svc.note(actor, &id, &note).await {
            Ok(_) => Ok(done(&id, "lifted")),
            Err(e @ ServiceError::InvalidNote) => explain(&state, lang, &s, &id, e).await,
            Err(e) => Err(refusal(e)),
        }
    }
    .await;
    result.unwrap_or_else(|e| fail(&state, lang, Some(&s), e))
}

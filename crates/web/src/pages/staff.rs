//! Employee administration in the console (clauses 4.3, 5.4, 8.1): the list of accounts,
//! creating an account (its initial password and TOTP secret are shown once, on the answer
//! to the form — never in an address, never logged), one employee's page with their
//! confidentiality undertakings (4.3) and training acknowledgements (5.4), and the forms to
//! record those, change the role, disable the account (every session ends at once) or
//! re-activate it (which also lifts a suspension, e.g. the detector's, clause 5.5).
//!
//! Who may do what is the employee service's decision ([`Employees`]), from the roles
//! registry: roles with `admin` manage accounts, roles with `records` (administrators and the
//! data-protection officer) list employees and record undertakings and trainings. Every other
//! role gets a translated 403 page, and the refusal is audited by the service. The page only
//! uses the same flags to choose which menu entries and forms to show.

use super::console::{self, chrome, day, fail, powers, role_label, signed_in, status_id, yes_no};
use super::csrf::CheckedSession;
use super::{render, see_other, Chrome, PageError, PageLang};
use crate::i18n::Lang;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use chrono::NaiveDate;
use derbes_service::employees::{
    EmployeeProfile, EmployeeStatus, Employees, NewEmployee, TrainingInput, UndertakingInput,
};
use derbes_service::{Actor, ServiceError};
use serde::Deserialize;
use uuid::Uuid;

/// The employee administration routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/employees", get(list).post(create))
        .route("/console/employees/new", get(new_form))
        .route("/console/employees/{id}", get(employee))
        .route("/console/employees/{id}/undertakings", post(undertaking))
        .route("/console/employees/{id}/trainings", post(training))
        .route("/console/employees/{id}/role", post(role))
        .route("/console/employees/{id}/disable", post(disable))
        .route("/console/employees/{id}/activate", post(activate))
}

/// What a completed action reports on the employee's page (`?done=`).
const DONE: &[(&str, &str)] = &[
    ("undertaking", "staff-done-undertaking"),
    ("training", "staff-done-training"),
    ("role", "staff-done-role"),
    ("disabled", "staff-done-disabled"),
    ("activated", "staff-done-activated"),
];

type FormResult<T> = Result<Form<T>, axum::extract::rejection::FormRejection>;

fn form_of<T>(form: FormResult<T>) -> Result<T, PageError> {
    form.map(|Form(f)| f)
        .map_err(|_| PageError::Web("malformed_json", StatusCode::BAD_REQUEST))
}

/// An employee id from the path: a UUID, or a 400 page.
fn employee_id(raw: &str) -> Result<String, PageError> {
    Uuid::parse_str(raw)
        .map(|u| u.to_string())
        .map_err(|_| PageError::Web("bad_employee_id", StatusCode::BAD_REQUEST))
}

fn href(id: &str) -> String {
    format!("/console/employees/{id}")
}

/// Today in Almaty (the service's calendar day).
fn today(state: &AppState) -> NaiveDate {
    derbes_core::calendar::to_almaty(state.vault.now()).date_naive()
}

/// The message of a refused form field, in the page's language.
fn field_message(c: &Chrome, form: &str, field: &str) -> String {
    let id = match (form, field) {
        ("create", "login") => "staff-invalid-login",
        ("create", "display_name") => "staff-invalid-display-name",
        (_, "role") => "staff-invalid-role",
        (_, "text_version") => "staff-invalid-text-version",
        (_, "signed_on") => "staff-invalid-signed-on",
        ("undertaking", "expires_on") => "staff-invalid-expires-on",
        (_, "course") => "staff-invalid-course",
        (_, "course_version") => "staff-invalid-course-version",
        (_, "completed_on") => "staff-invalid-completed-on",
        ("training", "expires_on") => "staff-invalid-repeat-by",
        _ => "staff-invalid-date",
    };
    c.t(id)
}

struct RoleChoice {
    code: String,
    label: String,
    selected: bool,
}

fn role_choices(emp: &Employees, lang: Lang, selected: &str) -> Vec<RoleChoice> {
    emp.roles()
        .all()
        .map(|r| RoleChoice {
            code: r.code.clone(),
            label: match lang {
                Lang::Ru => r.name.ru.clone(),
                Lang::Kk => r.name.kk.clone(),
                Lang::En => r.name.en.clone(),
            },
            selected: r.code == selected,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// The list

struct EmployeeRow {
    href: String,
    login: String,
    name: String,
    role: String,
    status: String,
    status_label: String,
    undertaking: String,
}

#[derive(Template)]
#[template(path = "console/employees.html")]
struct ListPage {
    c: Chrome,
    may_create: bool,
    employees: Vec<EmployeeRow>,
}

/// `GET /console/employees`: every account with its role, status and whether an
/// undertaking is in force (administrators and the data-protection officer).
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
        let emp = console::employees(&state)?;
        let actor = &s.session.actor;
        let all = emp.list(actor).await?;
        let c = chrome(&state, lang, &s, "/console/employees", "staff-title");
        let mut employees = Vec::with_capacity(all.len());
        for e in all {
            let id = e.id.to_string();
            let p = emp.profile(actor, &id).await?;
            employees.push(EmployeeRow {
                href: href(&id),
                login: e.login.clone(),
                name: e.display_name.clone(),
                role: role_label(lang, &e.role),
                status: e.status.as_str().to_string(),
                status_label: c.t(status_id(e.status)),
                undertaking: yes_no(&c, p.undertakings.iter().any(|u| u.in_force)),
            });
        }
        let page = ListPage {
            may_create: powers(&state, actor).admin,
            employees,
            c,
        };
        Ok::<_, PageError>(render(StatusCode::OK, &page))
    }
    .await;
    result.unwrap_or_else(|e| fail(&state, lang, Some(&s), e))
}

// ---------------------------------------------------------------------------------------
// Creating an account

#[derive(Template)]
#[template(path = "console/employee_new.html")]
struct NewPage {
    c: Chrome,
    csrf: String,
    error: Option<String>,
    login: String,
    display_name: String,
    roles: Vec<RoleChoice>,
}

/// May `actor` manage accounts? Asked of the service first (list: refused and audited for
/// roles without `admin` or `records`), then of the role's `admin` flag (the service asks
/// the same flag when the form is sent).
async fn require_admin(state: &AppState, actor: &Actor) -> Result<(), PageError> {
    console::employees(state)?.list(actor).await?;
    if powers(state, actor).admin {
        Ok(())
    } else {
        Err(PageError::Service(ServiceError::RoleNotPermitted))
    }
}

fn new_page(
    state: &AppState,
    lang: Lang,
    s: &CheckedSession,
    f: &CreateForm,
) -> Result<NewPage, PageError> {
    let emp = console::employees(state)?;
    Ok(NewPage {
        c: chrome(state, lang, s, "/console/employees/new", "staff-new-title"),
        csrf: s.session.csrf_token.clone(),
        error: None,
        login: f.login.chars().take(64).collect(),
        display_name: f.display_name.chars().take(128).collect(),
        roles: role_choices(emp, lang, &f.role),
    })
}

/// `GET /console/employees/new`: the form (administrators).
async fn new_form(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
) -> Response {
    let s = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let result = async {
        require_admin(&state, &s.session.actor).await?;
        let page = new_page(&state, lang, &s, &CreateForm::default())?;
        Ok::<_, PageError>(render(StatusCode::OK, &page))
    }
    .await;
    result.unwrap_or_else(|e| fail(&state, lang, Some(&s), e))
}

/// The create form.
#[derive(Debug, Default, Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: String,
}

#[derive(Template)]
#[template(path = "console/employee_created.html")]
struct CreatedPage {
    c: Chrome,
    login: String,
    display_name: String,
    role: String,
    password: String,
    secret: String,
    uri: String,
    href: String,
}

/// A base32 secret in groups of four (easier to type; authenticator apps ignore spaces).
fn grouped(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `POST /console/employees` (CSRF: session): create the account; the answer shows the
/// initial password and the TOTP secret once.
async fn create(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(s): Extension<CheckedSession>,
    form: FormResult<CreateForm>,
) -> Response {
    let result = async {
        let f = form_of(form)?;
        let emp = console::employees(&state)?;
        let input = NewEmployee {
            login: f.login.clone(),
            display_name: f.display_name.clone(),
            role: f.role.clone(),
        };
        match emp.create(&s.session.actor, input).await {
            Ok(created) => {
                let id = created.employee.id.to_string();
                let c = chrome(&state, lang, &s, &href(&id), "staff-created-title");
                let page = CreatedPage {
                    login: created.employee.login.clone(),
                    display_name: created.employee.display_name.clone(),
                    role: role_label(lang, &created.employee.role),
                    password: created.password.clone(),
                    secret: grouped(&created.totp.secret),
                    uri: created.totp.uri.clone(),
                    href: href(&id),
                    c,
                };
                Ok(render(StatusCode::OK, &page))
            }
            Err(ServiceError::InvalidInput(field)) => {
                let mut page = new_page(&state, lang, &s, &f)?;
                page.error = Some(field_message(&page.c, "create", field));
                Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
            }
            Err(ServiceError::LoginTaken) => {
                let mut page = new_page(&state, lang, &s, &f)?;
                page.error = Some(state.catalog.detail(lang, "login_taken", &[]));
                Ok(render(StatusCode::CONFLICT, &page))
            }
            Err(e) => Err(PageError::Service(e)),
        }
    }
    .await;
    result.unwrap_or_else(|e| fail(&state, lang, Some(&s), e))
}

// ---------------------------------------------------------------------------------------
// One employee

/// What the undertaking and training forms show (kept when a form is refused).
#[derive(Debug, Default, Deserialize)]
pub struct RecordForm {
    #[serde(default)]
    text_version: String,
    #[serde(default)]
    signed_on: String,
    #[serde(default)]
    expires_on: String,
    #[serde(default)]
    course: String,
    #[serde(default)]
    course_version: String,
    #[serde(default)]
    completed_on: String,
}

#[derive(Template)]
#[template(path = "console/employee.html")]
struct EmployeePage {
    c: Chrome,
    csrf: String,
    done: Option<String>,
    error: Option<String>,
    action: String,
    login: String,
    display_name: String,
    role: String,
    status: String,
    status_label: String,
    totp: String,
    access: bool,
    undertakings: Vec<console::UndertakingRow>,
    trainings: Vec<console::TrainingRow>,
    may_admin: bool,
    may_record: bool,
    may_disable: bool,
    may_activate: bool,
    roles: Vec<RoleChoice>,
    und: RecordForm,
    tr: RecordForm,
}

fn employee_page(
    state: &AppState,
    lang: Lang,
    s: &CheckedSession,
    emp: &Employees,
    p: &EmployeeProfile,
) -> EmployeePage {
    let id = p.employee.id.to_string();
    let c = chrome(state, lang, s, &href(&id), "staff-employee-title");
    let pw = powers(state, &s.session.actor);
    let today = today(state);
    let status = p.employee.status;
    let (undertakings, trainings) = console::record_rows(&c, p);
    EmployeePage {
        csrf: s.session.csrf_token.clone(),
        done: None,
        error: None,
        action: href(&id),
        login: p.employee.login.clone(),
        display_name: p.employee.display_name.clone(),
        role: role_label(lang, &p.employee.role),
        status: status.as_str().to_string(),
        status_label: c.t(status_id(status)),
        totp: yes_no(&c, p.employee.totp_enrolled),
        access: p.personal_data_access,
        undertakings,
        trainings,
        may_admin: pw.admin,
        may_record: pw.records,
        may_disable: pw.admin && status != EmployeeStatus::Disabled,
        may_activate: pw.admin && status != EmployeeStatus::Active,
        roles: role_choices(emp, lang, &p.employee.role.code),
        und: RecordForm {
            signed_on: day(today),
            expires_on: day(today
                .checked_add_months(chrono::Months::new(12))
                .unwrap_or(today)),
            ..RecordForm::default()
        },
        tr: RecordForm {
            completed_on: day(today),
            ..RecordForm::default()
        },
        c,
    }
}

/// `?done=` of the employee page.
#[derive(Debug, Deserialize)]
pub struct DoneParam {
    done: Option<String>,
}

/// `GET /console/employees/{id}`: the account, its undertakings and trainings, and the forms
/// the viewer's role may use.
async fn employee(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    Path(raw): Path<String>,
    q: Result<Query<DoneParam>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let s = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let result = async {
        let id = employee_id(&raw)?;
        let emp = console::employees(&state)?;
        let actor = &s.session.actor;
        // The list's check first: a role without `admin` or `records` is refused (and
        // audited) even for its own id — its own profile is at /console/profile.
        emp.list(actor).await?;
        let p = emp.profile(actor, &id).await?;
        let mut page = employee_page(&state, lang, &s, emp, &p);
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

fn done(id: &str, what: &str) -> Response {
    see_other(&format!("{}?done={what}", href(id)))
}

/// The employee's page again with a refused form's message (and its values).
async fn refused(
    state: &AppState,
    lang: Lang,
    s: &CheckedSession,
    id: &str,
    form: &str,
    f: RecordForm,
    e: ServiceError,
) -> Result<Response, PageError> {
    let emp = console::employees(state)?;
    let p = emp.profile(&s.session.actor, id).await?;
    let mut page = employee_page(state, lang, s, emp, &p);
    let status = crate::problem::service_status(&e);
    page.error = Some(match e {
        ServiceError::InvalidInput(field) => field_message(&page.c, form, field),
        other => state.catalog.detail(lang, other.code(), &[]),
    });
    match form {
        "undertaking" => page.und = f,
        "training" => page.tr = f,
        _ => {}
    }
    Ok(render(status, &page))
}

/// A date of a form (`YYYY-MM-DD`, as `<input type="date">` sends it).
fn form_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

/// `POST /console/employees/{id}/undertakings` (CSRF: session): record a signed
/// confidentiality undertaking (4.3).
async fn undertaking(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(s): Extension<CheckedSession>,
    Path(raw): Path<String>,
    form: FormResult<RecordForm>,
) -> Response {
    let result = async {
        let f = form_of(form)?;
        let id = employee_id(&raw)?;
        let emp = console::employees(&state)?;
        let (Some(signed_on), Some(expires_on)) =
            (form_date(&f.signed_on), form_date(&f.expires_on))
        else {
            let e = ServiceError::InvalidInput("date");
            return refused(&state, lang, &s, &id, "undertaking", f, e).await;
        };
        let input = UndertakingInput {
            text_version: f.text_version.trim().to_string(),
            signed_on,
            expires_on,
        };
        match emp.record_undertaking(&s.session.actor, &id, input).await {
            Ok(_) => Ok(done(&id, "undertaking")),
            Err(e @ ServiceError::InvalidInput(_)) => {
                refused(&state, lang, &s, &id, "undertaking", f, e).await
            }
            Err(e) => Err(PageError::Service(e)),
        }
    }
    .await;
    result.unwrap_or_else(|e| fail(&state, lang, Some(&s), e))
}

/// `POST /console/employees/{id}/trainings` (CSRF: session): record a training
/// acknowledgement (5.4); the repeat-by date is optional.
async fn training(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(s): Extension<CheckedSession>,
    Path(raw): Path<String>,
    form: FormResult<RecordForm>,
) -> Response {
    let result = async {
        let f = form_of(form)?;
        let id = employee_id(&raw)?;
        let emp = console::employees(&state)?;
        let completed_on = form_date(&f.completed_on);
        let expires_on = match f.expires_on.trim() {
            "" => Some(None),
            other => form_date(other).map(Some),
        };
        let (Some(completed_on), Some(expires_on)) = (completed_on, expires_on) else {
            let e = ServiceError::InvalidInput("date");
            return refused(&state, lang, &s, &id, "training", f, e).await;
        };
        let input = TrainingInput {
            course: f.course.trim().to_string(),
            course_version: f.course_version.trim().to_string(),
            completed_on,
            expires_on,
        };
        match emp.record_training(&s.session.actor, &id, input).await {
            Ok(_) => Ok(done(&id, "training")),
            Err(e @ ServiceError::InvalidInput(_)) => {
                refused(&state, lang, &s, &id, "training", f, e).await
            }
            Err(e) => Err(PageError::Service(e)),
        }
    }
    .await;
    result.unwrap_or_else(|e| fail(&state, lang, Some(&s), e))
}

/// The role form.
#[derive(Debug, Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
}

/// `POST /console/employees/{id}/role` (CSRF: session): change the role (audited as a role
/// change; it takes effect on the employee's next request).
async fn role(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(s): Extension<CheckedSession>,
    Path(raw): Path<String>,
    form: FormResult<RoleForm>,
) -> Response {
    let result = async {
        let f = form_of(form)?;
        let id = employee_id(&raw)?;
        let emp = console::employees(&state)?;
        match emp.set_role(&s.session.actor, &id, &f.role).await {
            Ok(_) => Ok(done(&id, "role")),
            Err(e @ ServiceError::InvalidInput(_)) => {
                refused(&state, lang, &s, &id, "role", RecordForm::default(), e).await
            }
            Err(e) => Err(PageError::Service(e)),
        }
    }
    .await;
    result.unwrap_or_else(|e| fail(&state, lang, Some(&s), e))
}

async fn set_status(
    state: &AppState,
    lang: Lang,
    s: &CheckedSession,
    raw: &str,
    status: EmployeeStatus,
    what: &str,
) -> Response {
    let result = async {
        let id = employee_id(raw)?;
        console::employees(state)?
            .set_status(&s.session.actor, &id, status)
            .await?;
        Ok::<_, PageError>(done(&id, what))
    }
    .await;
    result.unwrap_or_else(|e| fail(state, lang, Some(s), e))
}

/// `POST /console/employees/{id}/disable` (CSRF: session): disable the account; every
/// session of the employee ends at once (the service revokes them in the same transaction).
async fn disable(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(s): Extension<CheckedSession>,
    Path(raw): Path<String>,
) -> Response {
    set_status(&state, lang, &s, &raw, EmployeeStatus::Disabled, "disabled").await
}

/// `POST /console/employees/{id}/activate` (CSRF: session): re-activate a disabled or
/// suspended account (lifts a suspension by the detector too; sessions ended before stay
/// ended).
async fn activate(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(s): Extension<CheckedSession>,
    Path(raw): Path<String>,
) -> Response {
    set_status(&state, lang, &s, &raw, EmployeeStatus::Active, "activated").await
}

//! RFC 9457 problem details for every error of the API.
//!
//! Handlers return [`ApiError`]; its response carries a [`PendingProblem`] (status, stable
//! code, arguments) and no body. The [`render`] middleware, which knows the request's
//! `Accept-Language`, turns it into `application/problem+json` with a title and detail in
//! Russian, Kazakh or English. Router-level 404/405 and extractor rejections take the same
//! path, so no error leaves the API as plain text, and none carries a personal value: only
//! codes of problems, categories and purposes.

use crate::i18n::Lang;
use crate::AppState;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use derbes_service::{FieldProblem, ServiceError};
use serde::Serialize;
use utoipa::ToSchema;

/// Errors the HTTP layer itself detects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebError {
    /// The body is not valid JSON or does not have the expected shape.
    MalformedJson,
    /// The body is larger than the limit (1 MiB).
    BodyTooLarge,
    /// The body is not `application/json`.
    UnsupportedMediaType,
    /// The subject id in the path is not a UUID.
    BadSubjectId,
    /// The employee id in the path is not a UUID.
    BadEmployeeId,
    /// The call named no purpose (clause 1.1: every access names one).
    MissingPurpose,
    /// No such route.
    NotFound,
    /// The route exists but not with this method.
    MethodNotAllowed,
    /// The query string is malformed.
    BadQuery,
    /// An unexpected failure (a bug); logged with its code, never with data.
    Internal,
    /// No policy-change notice job with this id (9.2).
    NoticeJobNotFound,
    /// The notice job id in the path is not a UUID.
    BadJobId,
}

impl WebError {
    fn code(self) -> &'static str {
        match self {
            WebError::MalformedJson => "malformed_json",
            WebError::BodyTooLarge => "body_too_large",
            WebError::UnsupportedMediaType => "unsupported_media_type",
            WebError::BadSubjectId => "bad_subject_id",
            WebError::BadEmployeeId => "bad_employee_id",
            WebError::MissingPurpose => "missing_purpose",
            WebError::NotFound => "not_found",
            WebError::MethodNotAllowed => "method_not_allowed",
            WebError::BadQuery => "bad_query",
            WebError::Internal => "internal",
            WebError::NoticeJobNotFound => "notice_job_not_found",
            WebError::BadJobId => "bad_job_id",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            WebError::MalformedJson
            | WebError::BadSubjectId
            | WebError::BadEmployeeId
            | WebError::MissingPurpose
            | WebError::BadQuery
            | WebError::BadJobId => StatusCode::BAD_REQUEST,
            WebError::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            WebError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            WebError::NotFound | WebError::NoticeJobNotFound => StatusCode::NOT_FOUND,
            WebError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            WebError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error on its way to becoming a problem response.
#[derive(Debug)]
pub enum ApiError {
    /// From the service layer.
    Service(ServiceError),
    /// From the HTTP layer.
    Web(WebError),
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        ApiError::Service(e)
    }
}

impl From<WebError> for ApiError {
    fn from(e: WebError) -> Self {
        ApiError::Web(e)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        ApiError::Web(match r {
            JsonRejection::MissingJsonContentType(_) => WebError::UnsupportedMediaType,
            JsonRejection::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                WebError::BodyTooLarge
            }
            _ => WebError::MalformedJson,
        })
    }
}

impl From<QueryRejection> for ApiError {
    fn from(_: QueryRejection) -> Self {
        ApiError::Web(WebError::BadQuery)
    }
}

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        ApiError::Web(WebError::BadSubjectId)
    }
}

/// Status and stable code of a service error.
pub fn service_status(e: &ServiceError) -> StatusCode {
    match e {
        ServiceError::UnknownPurpose
        | ServiceError::NotSearchable
        | ServiceError::EmptyRequest
        | ServiceError::TooMany(_) => StatusCode::BAD_REQUEST,
        ServiceError::PurposeNotPermitted | ServiceError::CategoryNotAllowed(_) => {
            StatusCode::FORBIDDEN
        }
        ServiceError::InvalidValues(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ServiceError::SubjectNotFound
        | ServiceError::NoAuditProof(_)
        | ServiceError::IncidentNotFound => StatusCode::NOT_FOUND,
        ServiceError::InvalidIncidentStatus => StatusCode::BAD_REQUEST,
        ServiceError::IncidentWrongStatus(_) => StatusCode::CONFLICT,
        ServiceError::InvalidNote | ServiceError::AccessPolicyRejected(_) => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        ServiceError::SubjectExists
        | ServiceError::UniqueValueTaken
        | ServiceError::ValueMissing(_)
        | ServiceError::ValueExists(_) => StatusCode::CONFLICT,
        ServiceError::Unauthenticated | ServiceError::InvalidCredentials => {
            StatusCode::UNAUTHORIZED
        }
        ServiceError::NoUndertaking
        | ServiceError::RoleNotPermitted
        | ServiceError::CsrfFailed
        | ServiceError::AccessDenied { .. } => StatusCode::FORBIDDEN,
        ServiceError::EmployeeNotFound => StatusCode::NOT_FOUND,
        ServiceError::LoginTaken => StatusCode::CONFLICT,
        ServiceError::InvalidInput(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ServiceError::Store(_) | ServiceError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ServiceError::Integrity | ServiceError::KeyMismatch(_) | ServiceError::Crypto(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        ServiceError::ConsentRequired | ServiceError::ProcessingBlocked => StatusCode::FORBIDDEN,
        ServiceError::PolicyConsentRequired | ServiceError::InvalidRequest(_) => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        ServiceError::PolicyVersionNotCurrent
        | ServiceError::RecordExists
        | ServiceError::ApplicationClosed => StatusCode::CONFLICT,
        ServiceError::PolicyNotFound | ServiceError::RecordNotFound => StatusCode::NOT_FOUND,
        ServiceError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ServiceError::RequestWrongStatus(_) => StatusCode::CONFLICT,
    }
}

/// The untranslated problem, carried as a response extension to [`render`].
#[derive(Debug, Clone)]
pub struct PendingProblem {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code.
    pub code: &'static str,
    /// Message arguments (codes and numbers only).
    pub args: Vec<(&'static str, String)>,
    /// Per-field problems (invalid values).
    pub fields: Vec<FieldProblem>,
    /// Categories refused by minimisation.
    pub categories: Vec<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let pending = match self {
            ApiError::Web(w) => {
                if w == WebError::Internal {
                    tracing::error!(code = w.code(), "internal error");
                }
                PendingProblem {
                    status: w.status(),
                    code: w.code(),
                    args: match w {
                        WebError::BodyTooLarge => vec![("limit", "1 MiB".to_string())],
                        _ => Vec::new(),
                    },
                    fields: Vec::new(),
                    categories: Vec::new(),
                }
            }
            ApiError::Service(e) => {
                let status = service_status(&e);
                if status.is_server_error() {
                    // The Display of these errors names codes and kinds only.
                    tracing::error!(code = e.code(), error = %e, "request failed");
                }
                let code = e.code();
                let (args, fields, categories) = match e {
                    ServiceError::CategoryNotAllowed(cats) => {
                        (vec![("categories", cats.join(", "))], Vec::new(), cats)
                    }
                    ServiceError::InvalidValues(fields) => (Vec::new(), fields, Vec::new()),
                    ServiceError::ValueMissing(c) | ServiceError::ValueExists(c) => {
                        (vec![("category", c)], Vec::new(), Vec::new())
                    }
                    ServiceError::InvalidInput(field) => {
                        (vec![("field", field.to_string())], Vec::new(), Vec::new())
                    }
                    ServiceError::TooMany(n) => {
                        (vec![("max", n.to_string())], Vec::new(), Vec::new())
                    }
                    ServiceError::InvalidRequest(reason) => {
                        (vec![("reason", reason.to_string())], Vec::new(), Vec::new())
                    }
                    ServiceError::AccessDenied { rule, categories } => {
                        (vec![("rule", rule)], Vec::new(), categories)
                    }
                    ServiceError::IncidentWrongStatus(s) | ServiceError::RequestWrongStatus(s) => {
                        (vec![("status", s)], Vec::new(), Vec::new())
                    }
                    // The policy checker's message names rules, codes and lines, never data.
                    ServiceError::AccessPolicyRejected(reason) => {
                        (vec![("reason", reason)], Vec::new(), Vec::new())
                    }
                    _ => (Vec::new(), Vec::new(), Vec::new()),
                };
                PendingProblem {
                    status,
                    code,
                    args,
                    fields,
                    categories,
                }
            }
        };
        let mut res = pending.status.into_response();
        res.extensions_mut().insert(pending);
        res
    }
}

/// One invalid field, translated.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldError {
    /// Index of the item in a bulk request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<usize>,
    /// Category code.
    pub category: String,
    /// Stable code.
    pub code: String,
    /// Finer stable code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Translated message.
    pub message: String,
}

/// An RFC 9457 problem document (`application/problem+json`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:derbes:problem:<code>`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Short translated summary.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// Translated explanation.
    pub detail: String,
    /// Stable machine-readable code.
    pub code: String,
    /// Per-field problems, for `invalid_values`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Categories refused, for `category_not_allowed`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
}

/// Middleware: translate pending problems (and bare 404/405 from the router) into
/// problem+json in the language the client asked for.
pub async fn render(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let lang = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(Lang::from_accept_language)
        .unwrap_or_default();
    let mut res = next.run(req).await;
    let pending = match res.extensions_mut().remove::<PendingProblem>() {
        Some(p) => p,
        None => {
            // Pages render their own translated errors (crate::pages).
            let html = res
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/html"));
            if html {
                return res;
            }
            let status = res.status();
            let bare = res.headers().get(header::CONTENT_TYPE).is_none();
            let web = match status {
                StatusCode::METHOD_NOT_ALLOWED => WebError::MethodNotAllowed,
                StatusCode::NOT_FOUND if bare => WebError::NotFound,
                StatusCode::INTERNAL_SERVER_ERROR => WebError::Internal,
                StatusCode::PAYLOAD_TOO_LARGE => WebError::BodyTooLarge,
                StatusCode::UNSUPPORTED_MEDIA_TYPE => WebError::UnsupportedMediaType,
                _ => return res,
            };
            let r = ApiError::Web(web).into_response();
            let allow = res.headers().get(header::ALLOW).cloned();
            let mut p = match r.extensions().get::<PendingProblem>() {
                Some(p) => p.clone(),
                None => return res,
            };
            p.status = status;
            let mut out = build(&state, lang, p);
            if let Some(allow) = allow {
                out.headers_mut().insert(header::ALLOW, allow);
            }
            return out;
        }
    };
    let mut out = build(&state, lang, pending);
    if let Some(v) = res.headers().get(header::WWW_AUTHENTICATE) {
        out.headers_mut()
            .insert(header::WWW_AUTHENTICATE, v.clone());
    }
    out
}

fn build(state: &AppState, lang: Lang, p: PendingProblem) -> Response {
    let catalog = &state.catalog;
    let args: Vec<(&str, String)> = p.args.iter().map(|(k, v)| (*k, v.clone())).collect();
    let problem = Problem {
        type_: format!("urn:derbes:problem:{}", p.code),
        title: catalog.title(lang, p.code),
        status: p.status.as_u16(),
        detail: catalog.detail(lang, p.code, &args),
        code: p.code.to_string(),
        errors: p
            .fields
            .into_iter()
            .map(|f| FieldError {
                message: catalog.field(lang, &f.code, f.detail.as_deref()),
                item: f.item,
                category: f.category,
                code: f.code,
                detail: f.detail,
            })
            .collect(),
        categories: p.categories,
    };
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let mut res = (p.status, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    if let Ok(v) = HeaderValue::from_str(lang.as_str()) {
        h.insert(header::CONTENT_LANGUAGE, v);
    }
    if p.status == StatusCode::UNAUTHORIZED {
        h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    res
}

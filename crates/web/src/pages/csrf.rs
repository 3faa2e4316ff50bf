//! CSRF protection of every POST form of the pages (clauses 4.1, 5.5): one middleware
//! ([`guard`]) reads the form's hidden `csrf` field before any handler runs.
//!
//! - Signed-in forms: the field must equal the session's token (an HMAC of the session
//!   token under a key derived from the index root key, `Employees::csrf_token`). The
//!   checked session is handed to the handler in the request's extensions, so the handler
//!   never acts on an unchecked form. No live session → `303` to the login page.
//! - Forms before login (password, code): the browser holds a random *pre-session* cookie
//!   ([`pre_cookie_name`]); the field must equal the HMAC of `pre:` + its value (the same
//!   key, another domain: session tokens start with `drs_`).
//!
//! A missing or wrong token is a `403` page (`csrf_failed`) and nothing is done.

use super::{cookie, cookie_value, PageError, PageLang, PageOptions};
use crate::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use derbes_service::employees::{EmployeeSession, Employees};
use derbes_service::ServiceError;
use serde::Deserialize;

/// Largest form body accepted (bigger: 413 page).
pub const FORM_LIMIT: usize = 64 * 1024;

/// Paths whose forms are posted before login (checked against the pre-session cookie).
pub const PRE_SESSION_PATHS: &[&str] = &["/console/login", "/console/totp"];

/// The session cookie's name: the API's `__Host-derbes_session` with secure cookies.
pub fn session_cookie_name(opts: &PageOptions) -> &'static str {
    if opts.secure_cookies {
        crate::employees::SESSION_COOKIE
    } else {
        "derbes_session"
    }
}

/// The pre-session cookie's name.
pub fn pre_cookie_name(opts: &PageOptions) -> &'static str {
    if opts.secure_cookies {
        "__Host-derbes_pre"
    } else {
        "derbes_pre"
    }
}

/// The pending-login cookie's name (between password and code).
pub fn pending_cookie_name(opts: &PageOptions) -> &'static str {
    if opts.secure_cookies {
        "__Host-derbes_pending"
    } else {
        "derbes_pending"
    }
}

/// A new random pre-session value (244 random bits from two v4 UUIDs).
pub fn new_pre_value() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The form token of a pre-session value.
pub fn pre_token(employees: &Employees, pre_value: &str) -> String {
    employees.csrf_token(&format!("pre:{pre_value}"))
}

/// The pre-session value of the request, or a new one with its `Set-Cookie`.
pub fn pre_session(
    opts: &PageOptions,
    headers: &axum::http::HeaderMap,
) -> (String, Option<axum::http::HeaderValue>) {
    let name = pre_cookie_name(opts);
    match cookie_value(headers, name).filter(|v| v.len() == 64) {
        Some(v) => (v.to_string(), None),
        None => {
            let v = new_pre_value();
            let set = cookie(opts, name, &v, 3600);
            (v, set)
        }
    }
}

/// The session a signed-in form was checked against (set by [`guard`]).
#[derive(Clone)]
pub struct CheckedSession {
    /// The session.
    pub session: EmployeeSession,
    /// Its token.
    pub token: String,
}

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Resolve the signed-in session from the cookie; `None` when there is none or it ended
/// (idle or absolute timeout, logout, suspension).
pub async fn session_of(
    state: &AppState,
    headers: &axum::http::HeaderMap,
) -> Result<Option<CheckedSession>, ServiceError> {
    let Some(employees) = state.employees.as_ref() else {
        return Ok(None);
    };
    let Some(token) = cookie_value(headers, session_cookie_name(&state.pages.options)) else {
        return Ok(None);
    };
    match employees.authenticate(token).await {
        Ok(session) => Ok(Some(CheckedSession {
            session,
            token: token.to_string(),
        })),
        Err(ServiceError::Unauthenticated) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The middleware (see the module doc).
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let PageLang(lang) = PageLang::of(req.headers());
    if req.uri().path().starts_with("/cabinet") {
        return super::cabinet::guard(state, req, next).await;
    }
    let Some(employees) = state.employees.clone() else {
        return PageError::Service(ServiceError::Unavailable).page(&state, lang, None);
    };
    let (mut parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, FORM_LIMIT).await {
        Ok(b) => b,
        Err(_) => {
            return PageError::Web("body_too_large", StatusCode::PAYLOAD_TOO_LARGE)
                .page(&state, lang, None)
        }
    };
    let presented = serde_urlencoded::from_bytes::<CsrfField>(&bytes)
        .map(|f| f.csrf)
        .unwrap_or_default();
    let opts = &state.pages.options;
    let forbidden = |user| {
        tracing::warn!(
            code = "csrf_failed",
            "form refused: CSRF token missing or wrong"
        );
        PageError::Service(ServiceError::CsrfFailed).page(&state, lang, user)
    };
    if PRE_SESSION_PATHS.contains(&parts.uri.path()) {
        let Some(pre) = cookie_value(&parts.headers, pre_cookie_name(opts)) else {
            return forbidden(None);
        };
        if presented.is_empty() || !same(&pre_token(&employees, pre), &presented) {
            return forbidden(None);
        }
    } else {
        let checked = match session_of(&state, &parts.headers).await {
            Ok(Some(c)) => c,
            Ok(None) => return super::see_other("/console/login"),
            Err(e) => return PageError::Service(e).page(&state, lang, None),
        };
        if employees.verify_csrf(&checked.token, &presented).is_err() {
            return forbidden(None);
        }
        parts.extensions.insert(checked);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

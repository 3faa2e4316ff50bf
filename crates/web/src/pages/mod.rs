//! Server-rendered pages: the foundation shared by the employee console ([`console`]) and,
//! later, the borrower's personal cabinet.
//!
//! - **Templates**: askama, compiled into the binary (`crates/web/templates/`), rendered to
//!   a `String` and returned as [`Html`]. Every page extends `base.html`: `<html lang>`, a
//!   viewport for phones, a language switcher, one stylesheet, no script.
//! - **Language** ([`PageLang`]): the `derbes_lang` cookie set by `GET /lang/{code}?back=…`,
//!   else `Accept-Language`, else Russian. Texts come from `locales/*/pages.ftl`
//!   ([`texts::PageTexts`]); error pages reuse the API's translated problem messages.
//! - **Security headers** ([`security_headers`]) on every page: a strict
//!   `Content-Security-Policy` (no script at all, styles and images from this origin only,
//!   forms post only here, no framing), `X-Content-Type-Options: nosniff`,
//!   `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`, and `Cache-Control: no-store`.
//! - **CSRF** ([`csrf`]): every POST form carries a hidden `csrf` field, checked by one
//!   middleware before any handler runs — against the session (an HMAC of the session
//!   token) or, before login, against a signed pre-session cookie.
//! - **No personal value in a URL** (clauses 4.1–4.2): searches are POST bodies; subjects are
//!   addressed by their pseudonymous UUID; redirects carry paths only.
//! - **Errors** render a translated page ([`PageError`]) with the status of the problem —
//!   bad input is a 4xx page, never a 500.
//!
//! Cookies are `HttpOnly; SameSite=Strict; Path=/` and `Secure` with the `__Host-` prefix
//! (Chromium and Firefox treat `http://127.0.0.1` and `http://localhost` as secure contexts,
//! so this also works in local tests); [`PageOptions::secure_cookies`] can drop `Secure` and
//! the prefix for a plain-HTTP deployment behind nothing (not recommended).

pub mod apply;
pub mod cabinet;
pub mod console;
pub mod csrf;
pub mod incidents;
pub mod staff;
pub mod texts;
mod views;

use crate::i18n::Lang;
use crate::AppState;
use askama::Template;
use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use derbes_service::ServiceError;
use serde::Deserialize;
use std::sync::Arc;

/// The language cookie (not personal: a preference).
pub const LANG_COOKIE: &str = "derbes_lang";

/// The page stylesheet, embedded.
pub const CSS: &str = include_str!("../../static/derbes.css");

/// The Content-Security-Policy of every page: nothing but this origin's stylesheet and
/// images, forms posting here, no frames, no `<base>`.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
    form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// How pages behave.
#[derive(Debug, Clone)]
pub struct PageOptions {
    /// Set `Secure` (and use `__Host-` cookie names). Default on; turn off only for plain
    /// HTTP on a host a browser does not treat as a secure context.
    pub secure_cookies: bool,
}

impl Default for PageOptions {
    fn default() -> Self {
        PageOptions {
            secure_cookies: true,
        }
    }
}

/// A cookie header value with the flags every page cookie carries.
pub fn cookie(opts: &PageOptions, name: &str, value: &str, max_age: i64) -> Option<HeaderValue> {
    let secure = if opts.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .ok()
}

/// A cookie's value from the request headers.
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The language of a page request: the `derbes_lang` cookie, else `Accept-Language`, else
/// Russian. An unknown cookie value is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLang(pub Lang);

impl PageLang {
    /// From request headers.
    pub fn of(headers: &HeaderMap) -> PageLang {
        if let Some(l) = cookie_value(headers, LANG_COOKIE).and_then(|v| Lang::parse(v).ok()) {
            return PageLang(l);
        }
        PageLang(
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .map(Lang::from_accept_language)
                .unwrap_or_default(),
        )
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PageLang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PageLang::of(&parts.headers))
    }
}

/// A link of the language switcher.
#[derive(Debug, Clone)]
pub struct LangLink {
    /// `ru`, `kk`, `en`.
    pub code: &'static str,
    /// The language's own name.
    pub label: &'static str,
    /// `/lang/<code>?back=<path>`.
    pub href: String,
    /// `true` for the language in force (`aria-current`).
    pub current: bool,
}

/// The signed-in person, as the page frame shows them.
#[derive(Debug, Clone)]
pub struct UserNav {
    /// "Signed in as …".
    pub signed_in_as: String,
    /// The session's CSRF token (the logout form).
    pub csrf: String,
    /// Whether the incidents menu is shown.
    pub security: bool,
    /// Whether the employee administration menu is shown (roles that may manage accounts or
    /// record undertakings and trainings).
    pub staff: bool,
}

/// What every page's frame (`base.html`) needs.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The language.
    pub lang: Lang,
    /// Its code, for `<html lang>`.
    pub lang_code: &'static str,
    /// The page title.
    pub title: String,
    /// The language switcher.
    pub langs: Vec<LangLink>,
    /// The signed-in person, if any.
    pub user: Option<UserNav>,
    /// A page of the borrower's cabinet (brand link and name).
    pub cabinet: bool,
    texts: Arc<texts::PageTexts>,
}

impl Chrome {
    /// A frame in `lang` for the page at `path` (a path without personal values; the
    /// language switcher returns to it). `title_id` is a message id.
    pub fn new(state: &AppState, lang: Lang, path: &str, title_id: &str) -> Chrome {
        let texts = state.pages.texts.clone();
        let title = texts.text(lang, title_id);
        let back = encode_path(path);
        let langs = Lang::ALL
            .iter()
            .map(|l| LangLink {
                code: l.as_str(),
                label: native_name(*l),
                href: format!("/lang/{}?back={back}", l.as_str()),
                current: *l == lang,
            })
            .collect();
        Chrome {
            lang,
            lang_code: lang.as_str(),
            title,
            langs,
            user: None,
            cabinet: path.starts_with("/cabinet"),
            texts,
        }
    }

    /// The text of a message id in the page's language.
    pub fn t(&self, id: &str) -> String {
        self.texts.text(self.lang, id)
    }

    /// The text of a message id with one argument.
    pub fn t1(&self, id: &str, name: &str, value: &str) -> String {
        self.texts.text_with(self.lang, id, name, value)
    }
}

/// A language's name in itself.
pub fn native_name(l: Lang) -> &'static str {
    match l {
        Lang::Ru => "Русский",
        Lang::Kk => "Қазақша",
        Lang::En => "English",
    }
}

/// Percent-encode a path for a query value (unreserved characters and `/` stay).
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A local path to return to (already percent-decoded): must start with one `/`, no
/// scheme, host or backslash, no control characters — otherwise the console's start page
/// (no open redirect).
pub fn safe_back(raw: Option<&str>) -> String {
    let fallback = "/console".to_string();
    let Some(p) = raw.map(str::to_string) else {
        return fallback;
    };
    let ok = p.starts_with('/')
        && !p.starts_with("//")
        && !p.contains('\\')
        && !p.chars().any(char::is_control)
        && p.len() <= 512;
    if ok {
        p
    } else {
        fallback
    }
}

/// Rendered template as a page; a template failure (a defect) becomes a plain 500 page.
pub fn render<T: Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => {
            tracing::error!(code = "template_failed", "a page template failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<!DOCTYPE html><title>500</title><p>Internal error</p>".to_string()),
            )
                .into_response()
        }
    }
}

/// A 303 redirect to a local path.
pub fn see_other(path: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(path) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    c: Chrome,
    title: String,
    detail: String,
    back: String,
}

/// An error shown as a translated page: the problem code's title and detail from the API's
/// catalog, with the problem's status.
#[derive(Debug)]
pub enum PageError {
    /// A service refusal or failure.
    Service(ServiceError),
    /// A web-layer problem code with its status (e.g. `not_found`, `malformed_json`).
    Web(&'static str, StatusCode),
}

impl From<ServiceError> for PageError {
    fn from(e: ServiceError) -> Self {
        PageError::Service(e)
    }
}

impl PageError {
    /// Status and code.
    pub fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            PageError::Service(e) => (crate::problem::service_status(e), e.code()),
            PageError::Web(code, status) => (*status, code),
        }
    }

    /// The page in `lang`, for the employee console.
    pub fn page(&self, state: &AppState, lang: Lang, user: Option<UserNav>) -> Response {
        self.page_at(state, lang, user, "/console")
    }

    /// The page in `lang` within the part of the site at `home` (`/console`, `/cabinet`):
    /// its header and its "back" link lead there.
    pub fn page_at(
        &self,
        state: &AppState,
        lang: Lang,
        user: Option<UserNav>,
        home: &str,
    ) -> Response {
        let (status, code) = self.parts();
        if status.is_server_error() {
            tracing::error!(code, "page request failed");
        }
        let args: Vec<(&str, String)> = match self {
            PageError::Service(ServiceError::CategoryNotAllowed(c)) => {
                vec![("categories", c.join(", "))]
            }
            PageError::Service(ServiceError::InvalidInput(field)) => {
                vec![("field", (*field).to_string())]
            }
            PageError::Service(
                ServiceError::IncidentWrongStatus(s) | ServiceError::RequestWrongStatus(s),
            ) => vec![("status", s.clone())],
            _ => Vec::new(),
        };
        let mut c = Chrome::new(state, lang, home, "error-back");
        c.title = state.catalog.title(lang, code);
        c.user = user;
        let page = ErrorPage {
            title: c.title.clone(),
            detail: state.catalog.detail(lang, code, &args),
            back: home.to_string(),
            c,
        };
        render(status, &page)
    }
}

/// Page state: texts and options.
#[derive(Debug, Clone)]
pub struct PagesState {
    /// Page texts.
    pub texts: Arc<texts::PageTexts>,
    /// Options.
    pub options: PageOptions,
}

impl PagesState {
    /// Load the embedded texts.
    pub fn load(options: PageOptions) -> Result<PagesState, crate::i18n::I18nError> {
        Ok(PagesState {
            texts: Arc::new(texts::PageTexts::load()?),
            options,
        })
    }
}

/// Middleware: the security headers of every page, and bare error responses of the router
/// (404, 405, 413, 415, …) replaced by translated pages.
pub async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let lang = PageLang::of(req.headers()).0;
    let is_static = req.uri().path().starts_with("/static/");
    let mut res = next.run(req).await;
    let bare = res.headers().get(header::CONTENT_TYPE).is_none();
    if bare && (res.status().is_client_error() || res.status().is_server_error()) {
        let status = res.status();
        let code = match status {
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            s if s.is_server_error() => "internal",
            _ => "malformed_json",
        };
        res = PageError::Web(code, status).page(&state, lang, None);
    }
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !is_static {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// `GET /static/derbes.css`: the stylesheet, cacheable for a day.
pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        CSS,
    )
        .into_response()
}

/// `?back=` of the language switcher.
#[derive(Debug, Deserialize)]
pub struct BackQuery {
    back: Option<String>,
}

/// `GET /lang/{code}?back=/path`: remember the language in the `derbes_lang` cookie (one
/// year) and return to `back` (a local path only). An unknown code changes nothing.
pub async fn switch_language(
    State(state): State<AppState>,
    Path(code): Path<String>,
    query: Result<Query<BackQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let back = safe_back(query.as_ref().ok().and_then(|q| q.back.as_deref()));
    let mut res = see_other(&back);
    if let Ok(lang) = Lang::parse(&code) {
        if let Some(v) = cookie(
            &state.pages.options,
            LANG_COOKIE,
            lang.as_str(),
            365 * 24 * 3600,
        ) {
            res.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    res
}

/// Fallback of unknown page paths: a translated 404 page.
pub async fn not_found(State(state): State<AppState>, PageLang(lang): PageLang) -> Response {
    PageError::Web("not_found", StatusCode::NOT_FOUND).page(&state, lang, None)
}

/// The page routes (console, language switch, static files), with their middleware.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/static/derbes.css", get(stylesheet))
        .route("/lang/{code}", get(switch_language))
        .merge(console::routes())
        .merge(incidents::routes())
        .merge(staff::routes())
        .merge(cabinet::routes())
        .route("/cabinet/{*rest}", get(not_found).post(not_found))
        .route("/console/{*rest}", get(not_found).post(not_found))
        .route("/static/{*rest}", get(not_found))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf::guard,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(csrf::FORM_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            state,
            security_headers,
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c4_1_back_paths_are_local_only() {
        assert_eq!(safe_back(Some("/console/profile")), "/console/profile");
        assert_eq!(
            safe_back(Some("/console/search?x=1")),
            "/console/search?x=1"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil",
            "javascript:alert(1)",
            "/a\r\nSet-Cookie:x",
            "console",
        ] {
            assert_eq!(safe_back(Some(bad)), "/console", "{bad}");
        }
        assert_eq!(safe_back(None), "/console");
    }

    #[test]
    fn the_switcher_encoding_keeps_paths_and_escapes_the_query() {
        let p = "/console/subjects/0190?purpose=identification&x=a b";
        assert_eq!(
            encode_path(p),
            "/console/subjects/0190%3Fpurpose%3Didentification%26x%3Da%20b"
        );
    }
}

//! `derbes-web`: the HTTP layer. Thin: parse, call a service, render.
//!
//! The JSON API lives under `/api/v1` and is described by an OpenAPI 3.1 document served at
//! `/api/v1/openapi.json` (and committed as `docs/openapi.json`). Errors are RFC 9457
//! problems with stable codes, translated by `Accept-Language` ([`problem`], [`i18n`]).
//! Request logs carry method, route template, status and latency — never a query value, a
//! body or a personal value.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![forbid(unsafe_code)]

pub mod api;
pub mod cabinet;
pub mod employees;
pub mod i18n;
pub mod notices;
pub mod pages;
pub mod problem;
pub mod security;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{header, HeaderValue};
use axum::routing::{get, post, put};
use axum::Router;
use derbes_service::consent_service::{ConsentService, ConsentSettings};
use derbes_service::Vault;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;

/// Request bodies above this size are refused with 413 (clause: bad input gets a clear 4xx).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Shared state of all handlers.
#[derive(Clone)]
pub struct AppState {
    /// The vault service.
    pub vault: Vault,
    /// Translated messages.
    pub catalog: Arc<i18n::Catalog>,
    /// The audit checkpoint signing key's public half, if this server signs checkpoints.
    pub audit_key: Option<api::AuditKey>,
    /// Policy versions, consent ledger, applications, loans and withdrawals.
    pub consent: ConsentService,
    /// Employee accounts and sessions (absent: employee endpoints answer 503).
    pub employees: Option<derbes_service::employees::Employees>,
    /// The reloadable access policy (clause 5.4), if the server runs one.
    pub access: Option<Arc<derbes_access::AccessControl>>,
    /// Incidents of unauthorised access (clause 5.5).
    pub incidents: Option<derbes_service::incidents::Incidents>,
    /// Server-rendered pages: texts and options.
    pub pages: pages::PagesState,
    /// The personal cabinet (7.1a–d); absent: cabinet routes answer 503.
    pub cabinet: Option<derbes_service::cabinet::Cabinet>,
}

/// Why the application state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The message catalog is broken.
    #[error(transparent)]
    I18n(#[from] i18n::I18nError),
    /// The embedded working-day calendar is broken.
    #[error("working-day calendar: {0}")]
    Calendar(#[from] derbes_core::calendar::CalendarError),
}

impl AppState {
    /// State over a vault, with the embedded message catalog.
    /// The consent service uses the embedded Kazakhstan calendar and default settings;
    /// replace it with [`AppState::with_consent`].
    pub fn new(vault: Vault) -> Result<AppState, StateError> {
        let calendar = Arc::new(derbes_core::calendar::WorkCalendar::embedded_kz()?);
        let consent = ConsentService::new(vault.clone(), calendar, ConsentSettings::default());
        Ok(AppState {
            vault,
            catalog: Arc::new(i18n::Catalog::load()?),
            audit_key: None,
            consent,
            employees: None,
            access: None,
            incidents: None,
            pages: pages::PagesState::load(pages::PageOptions::default())?,
            cabinet: None,
        })
    }

    /// Page options (e.g. `Secure` cookies off for plain HTTP on a non-local host).
    pub fn with_page_options(mut self, options: pages::PageOptions) -> AppState {
        self.pages.options = options;
        self
    }

    /// Use this consent service (an operator's calendar file, settings).
    pub fn with_consent(mut self, consent: ConsentService) -> AppState {
        self.consent = consent;
        self
    }

    /// Serve the personal cabinet and the staff API of subjects' requests.
    pub fn with_cabinet(mut self, cabinet: derbes_service::cabinet::Cabinet) -> AppState {
        self.cabinet = Some(cabinet);
        self
    }

    /// Serve employee login, sessions and administration.
    pub fn with_employees(mut self, employees: derbes_service::employees::Employees) -> AppState {
        self.employees = Some(employees);
        self
    }

    /// Serve the incident API (and detection, if `incidents` has a detector).
    pub fn with_incidents(mut self, incidents: derbes_service::incidents::Incidents) -> AppState {
        self.incidents = Some(incidents);
        self
    }

    /// Let security officers reload `access` with `POST /api/v1/access/reload`.
    pub fn with_access(mut self, access: Arc<derbes_access::AccessControl>) -> AppState {
        self.access = Some(access);
        self
    }

    /// Publish the audit signing key's public half at `/api/v1/audit/public-key`.
    pub fn with_audit_key(mut self, key_id: String, public_key: String) -> AppState {
        self.audit_key = Some(api::AuditKey { key_id, public_key });
        self
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "derbes API",
        description = "Personal-data vault of a Kazakhstan microfinance lender: encrypted \
            subject records, purpose-bound access (policy clauses 1.1, 3.2), sources and \
            verification of every value (PRE-2, 2.2). Every call on personal data names a \
            `purpose`; errors are RFC 9457 problems translated by Accept-Language (ru, kk, en).",
        license(name = "Apache-2.0")
    ),
    paths(
        api::health, api::registry, api::purposes, api::categories,
        api::create_subject, api::create_bulk, api::search, api::read_subject,
        api::correct_values, api::supplement_values, api::history, api::verify,
        api::reveal, api::subject_audit,
        api::audit_public_key, api::audit_checkpoints, api::audit_inclusion,
        api::audit_consistency,
        api::consent::current_policy, api::consent::policy_versions,
        api::consent::policy_version, api::consent::publish_policy,
        api::consent::create_application,
        api::consent::submit_application, api::consent::abandon_application,
        api::consent::consents, api::consent::record_consents, api::consent::withdraw,
        api::consent::obligations, api::consent::report_loan_application,
        api::consent::report_offer, api::consent::accept_offer, api::consent::report_contract,
        api::consent::contract_status,
        employees::login, employees::totp, employees::logout, employees::me,
        employees::create_employee, employees::list_employees, employees::employee_profile,
        employees::disable, employees::suspend, employees::activate, employees::set_role,
        employees::unlock, employees::enroll_totp, employees::record_undertaking,
        employees::record_training,
        notices::jobs, notices::job,
        security::list_incidents, security::get_incident, security::acknowledge_incident,
        security::close_incident, security::note_incident, security::reload_access,
        cabinet::request_code, cabinet::verify_code, cabinet::logout, cabinet::me,
        cabinet::access_page,
        cabinet::export_json, cabinet::export_pdf, cabinet::exports, cabinet::my_requests,
        cabinet::file_request, cabinet::my_request, cabinet::consents, cabinet::set_publication,
        cabinet::withdraw, cabinet::staff_list, cabinet::staff_get, cabinet::staff_update
    ),
    modifiers(&SecurityAddon),
    tags(
        (name = "subjects", description = "Borrowers' personal data"),
        (name = "registry", description = "The approved list of personal data (L-LIST)"),
        (name = "incidents", description = "Incidents of unauthorised access and the access policy (5.5)"),
        (name = "audit", description = "The tamper-evident audit log: checkpoints and proofs (8.1)"),
        (name = "policy", description = "Published policy versions in ru/kk/en (PRE-1, 9.2)"),
        (name = "consent", description = "Consent ledger, applications and withdrawal (6.1, 6.2, 7.1c, 7.1d, L-CONSENT)"),
        (name = "loans", description = "Loan applications, offers and contracts reported by the loan system (2.1, 7.1c)"),
        (name = "employees", description = "Employee login (password + TOTP), sessions, accounts, undertakings (4.3) and trainings (5.4)"),
        (name = "notices", description = "Policy-change notices by e-mail: jobs, progress, summary (9.2)"),
        (name = "cabinet", description = "The borrower's personal cabinet: login by phone + one-time code, my data, exports, requests, consents (7.1a-d, 5.4)"),
        (name = "subject-requests", description = "Subjects' requests for staff, with legal deadlines in working days (L-RIGHTS-DEADLINES)"),
        (name = "service", description = "Operations")
    )
)]
struct ApiDoc;

struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key (`drb_…`) created with `derbes apikey create`; each key may \
                         name only its own purposes.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An employee session token (`drs_…`) from `POST /api/v1/auth/totp`, as \
                         a bearer token or in the `__Host-derbes_session` cookie (then \
                         state-changing requests also need the `X-CSRF-Token` header).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "cabinet",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A subject's cabinet session token (`drc_…`) from `POST \
                         /api/v1/cabinet/login/verify`, as a bearer token or in the \
                         `__Host-derbes_cabinet` cookie (then state-changing requests also need \
                         the `X-CSRF-Token` header).",
                    ))
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document as pretty JSON (what `docs/openapi.json` holds).
pub fn openapi_json() -> String {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").to_string();
        let mut s = doc.to_pretty_json().unwrap_or_else(|_| "{}".to_string());
        s.push('\n');
        s
    })
    .clone()
}

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/health", get(api::health))
        .route("/openapi.json", get(api::openapi))
        .route("/registry", get(api::registry))
        .route("/registry/purposes", get(api::purposes))
        .route("/registry/categories", get(api::categories))
        .route("/subjects", post(api::create_subject))
        .route("/subjects/bulk", post(api::create_bulk))
        .route("/subjects/search", post(api::search))
        .route("/subjects/{id}", get(api::read_subject))
        .route("/subjects/{id}/audit", get(api::subject_audit))
        .route("/subjects/{id}/values/{category}/reveal", post(api::reveal))
        .route(
            "/subjects/{id}/values",
            post(api::supplement_values).patch(api::correct_values),
        )
        .route(
            "/subjects/{id}/values/{category}/history",
            get(api::history),
        )
        .route(
            "/subjects/{id}/values/{category}/verification",
            put(api::verify),
        )
        .route("/audit/public-key", get(api::audit_public_key))
        .route("/audit/checkpoints", get(api::audit_checkpoints))
        .route("/audit/entries/{seq}/proof", get(api::audit_inclusion))
        .route("/audit/consistency", get(api::audit_consistency))
        .route("/policy/current", get(api::consent::current_policy))
        .route(
            "/policy/versions",
            get(api::consent::policy_versions).post(api::consent::publish_policy),
        )
        .route("/policy/versions/{id}", get(api::consent::policy_version))
        .route("/applications", post(api::consent::create_application))
        .route(
            "/applications/{id}/submit",
            post(api::consent::submit_application),
        )
        .route(
            "/applications/{id}/abandon",
            post(api::consent::abandon_application),
        )
        .route(
            "/subjects/{id}/consents",
            get(api::consent::consents).post(api::consent::record_consents),
        )
        .route("/subjects/{id}/withdrawal", post(api::consent::withdraw))
        .route("/subjects/{id}/obligations", get(api::consent::obligations))
        .route(
            "/loans/applications",
            post(api::consent::report_loan_application),
        )
        .route("/loans/offers", post(api::consent::report_offer))
        .route(
            "/loans/offers/{id}/accept",
            post(api::consent::accept_offer),
        )
        .route("/loans/contracts", post(api::consent::report_contract))
        .route(
            "/loans/contracts/{id}/status",
            post(api::consent::contract_status),
        )
        .route("/auth/login", post(employees::login))
        .route("/auth/totp", post(employees::totp))
        .route("/auth/logout", post(employees::logout))
        .route("/me", get(employees::me))
        .route(
            "/employees",
            post(employees::create_employee).get(employees::list_employees),
        )
        .route("/employees/{id}", get(employees::employee_profile))
        .route("/employees/{id}/disable", post(employees::disable))
        .route("/employees/{id}/suspend", post(employees::suspend))
        .route("/employees/{id}/activate", post(employees::activate))
        .route("/employees/{id}/role", post(employees::set_role))
        .route("/employees/{id}/unlock", post(employees::unlock))
        .route("/employees/{id}/totp", post(employees::enroll_totp))
        .route(
            "/employees/{id}/undertakings",
            post(employees::record_undertaking),
        )
        .route(
            "/employees/{id}/trainings",
            post(employees::record_training),
        )
        .route("/notices/jobs", get(notices::jobs))
        .route("/notices/jobs/{id}", get(notices::job))
        .route("/incidents", get(security::list_incidents))
        .route("/incidents/{id}", get(security::get_incident))
        .route(
            "/incidents/{id}/acknowledge",
            post(security::acknowledge_incident),
        )
        .route("/incidents/{id}/close", post(security::close_incident))
        .route("/incidents/{id}/notes", post(security::note_incident))
        .route("/access/reload", post(security::reload_access))
        .route("/cabinet/login/code", post(cabinet::request_code))
        .route("/cabinet/login/verify", post(cabinet::verify_code))
        .route("/cabinet/logout", post(cabinet::logout))
        .route("/cabinet/me", get(cabinet::me))
        .route("/cabinet/me/accesses", get(cabinet::access_page))
        .route("/cabinet/export.json", get(cabinet::export_json))
        .route("/cabinet/export.pdf", get(cabinet::export_pdf))
        .route("/cabinet/exports", get(cabinet::exports))
        .route(
            "/cabinet/requests",
            get(cabinet::my_requests).post(cabinet::file_request),
        )
        .route("/cabinet/requests/{id}", get(cabinet::my_request))
        .route("/cabinet/consents", get(cabinet::consents))
        .route(
            "/cabinet/consents/publication",
            put(cabinet::set_publication),
        )
        .route("/cabinet/withdrawal", post(cabinet::withdraw))
        .route("/subject-requests", get(cabinet::staff_list))
        .route("/subject-requests/{id}", get(cabinet::staff_get))
        .route("/subject-requests/{id}/status", post(cabinet::staff_update))
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            problem::render,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    Router::new()
        .nest("/api/v1", api)
        .merge(pages::router(state.clone()))
        .fallback(api::not_found)
        .layer(CatchPanicLayer::new())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            problem::render,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    // The route template, never the concrete path or query.
                    let route = req
                        .extensions()
                        .get::<MatchedPath>()
                        .map(|m| m.as_str().to_string())
                        .unwrap_or_else(|| "unmatched".to_string());
                    tracing::info_span!("http", method = %req.method(), route = %route)
                })
                .on_request(())
                .on_response(
                    |res: &axum::response::Response, latency: Duration, _span: &tracing::Span| {
                        tracing::info!(
                            status = res.status().as_u16(),
                            latency_us = latency.as_micros() as u64,
                            "response"
                        );
                    },
                ),
        )
        .with_state(state)
}

/// Serve until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

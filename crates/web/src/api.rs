//! The JSON API under `/api/v1`: thin handlers that parse, call the vault, and return JSON.
//! Personal values travel only in request and response bodies — never in a URL: lookups by
//! IIN, phone, e-mail or IBAN are `POST /subjects/search` with the value in the body.

use crate::problem::{ApiError, Problem, WebError};
use crate::AppState;
use axum::extract::{FromRequest, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use derbes_core::registry::{Bank, CategoryDef, PurposeDef};
use derbes_service::apikeys;
use derbes_service::{
    Actor, AuditTrailEntry, Call, NewSubjectInput, SubjectView, ValueInput, ValueView,
    Verification, VerificationInput,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub mod consent;

/// A JSON body whose rejections become problems.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// A query string whose rejections become problems.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// The authenticated client (an API key with its purposes).
pub struct Caller(pub Actor);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // [employees] An employee session (bearer `drs_…` or the session cookie).
        let bearer = crate::employees::bearer(&parts.headers);
        if bearer.is_none_or(|t| t.starts_with(crate::employees::SESSION_PREFIX)) {
            let auth = crate::employees::employee_from_parts(parts, state).await?;
            return Ok(Caller(auth.session.actor));
        }
        let token = bearer.ok_or(ApiError::Service(
            derbes_service::ServiceError::Unauthenticated,
        ))?;
        let actor = apikeys::authenticate(state.vault.store().as_ref(), token).await?;
        Ok(Caller(actor))
    }
}

/// Every call on personal data names its purpose (clause 1.1).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PurposeQuery {
    /// Purpose code from `GET /api/v1/registry/purposes`, e.g. `contract`.
    pub purpose: Option<String>,
    /// Comma-separated category codes to return (all must be allowed by the purpose);
    /// default: every category the purpose allows.
    pub categories: Option<String>,
}

impl PurposeQuery {
    fn call(&self, actor: Actor) -> Result<Call, ApiError> {
        match &self.purpose {
            Some(p) if !p.is_empty() => Ok(Call::new(actor, p.clone())),
            _ => Err(WebError::MissingPurpose.into()),
        }
    }

    fn categories(&self) -> Option<Vec<String>> {
        self.categories.as_ref().map(|c| {
            c.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
    }
}

fn subject_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| WebError::BadSubjectId.into())
}

/// Service health.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Version of the registry (the approved list of personal data) in force.
    pub registry_version: String,
    /// derbes version.
    pub version: &'static str,
}

#[utoipa::path(get, path = "/api/v1/health", tag = "service",
    responses((status = 200, body = Health)))]
/// Liveness and what the service runs on.
pub async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        backend: state.vault.store().backend().as_str(),
        registry_version: state.vault.registry().version().to_string(),
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// The OpenAPI document of this API.
pub async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi_json(),
    )
        .into_response()
}

/// Names in the three languages.
#[derive(Debug, Serialize, ToSchema)]
pub struct NamesDto {
    /// Russian.
    pub ru: String,
    /// Kazakh.
    pub kk: String,
    /// English.
    pub en: String,
}

impl From<&derbes_core::registry::Names> for NamesDto {
    fn from(n: &derbes_core::registry::Names) -> Self {
        NamesDto {
            ru: n.ru.clone(),
            kk: n.kk.clone(),
            en: n.en.clone(),
        }
    }
}

/// A data category of the approved list (clause 2.1, L-LIST).
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryDto {
    /// Stable code.
    pub code: String,
    /// Value kind (`iin`, `phone`, `bank_account`, …).
    pub kind: &'static str,
    /// `identifying`, `web`, `financial` or `document`.
    pub group: &'static str,
    /// Can be found by exact value.
    pub searchable: bool,
    /// At most one subject may hold a value.
    pub unique: bool,
    /// Names.
    pub name: NamesDto,
    /// Options, for choice categories.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<ChoiceDto>,
    /// Purposes that may use it.
    pub purposes: Vec<String>,
}

/// An option of a choice category.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChoiceDto {
    /// Code.
    pub code: String,
    /// Names.
    pub name: NamesDto,
}

/// A purpose of processing (clause 1.1) with its legal basis and its categories (3.2).
#[derive(Debug, Serialize, ToSchema)]
pub struct PurposeDto {
    /// Stable code.
    pub code: String,
    /// Policy clause.
    pub clause: String,
    /// `consent`, `contract`, `legal_obligation` or `legitimate_interest`.
    pub legal_basis: &'static str,
    /// Names.
    pub name: NamesDto,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<NamesDto>,
    /// The only categories it may touch.
    pub categories: Vec<String>,
}

/// A bank by its IBAN bank code.
#[derive(Debug, Serialize, ToSchema)]
pub struct BankDto {
    /// 3-digit code.
    pub code: String,
    /// BIC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bic: Option<String>,
    /// Names.
    pub name: NamesDto,
}

/// The whole registry: the lender's approved list of personal data (L-LIST).
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistryDto {
    /// Version of the list.
    pub version: String,
    /// Categories.
    pub categories: Vec<CategoryDto>,
    /// Purposes.
    pub purposes: Vec<PurposeDto>,
    /// Banks.
    pub banks: Vec<BankDto>,
}

fn category_dto(state: &AppState, c: &CategoryDef) -> CategoryDto {
    CategoryDto {
        code: c.code.as_str().to_string(),
        kind: c.kind.as_str(),
        group: c.group.as_str(),
        searchable: c.searchable,
        unique: c.unique,
        name: (&c.name).into(),
        choices: c
            .choices
            .iter()
            .map(|ch| ChoiceDto {
                code: ch.code.clone(),
                name: (&ch.name).into(),
            })
            .collect(),
        purposes: state
            .vault
            .registry()
            .purposes_for(c.code.as_str())
            .map(|p| p.code.as_str().to_string())
            .collect(),
    }
}

fn purpose_dto(p: &PurposeDef) -> PurposeDto {
    PurposeDto {
        code: p.code.as_str().to_string(),
        clause: p.clause.clone(),
        legal_basis: p.legal_basis.as_str(),
        name: (&p.name).into(),
        description: p.description.as_ref().map(Into::into),
        categories: p
            .categories
            .iter()
            .map(|c| c.as_str().to_string())
            .collect(),
    }
}

fn bank_dto(b: &Bank) -> BankDto {
    BankDto {
        code: b.code.clone(),
        bic: b.bic.clone(),
        name: (&b.name).into(),
    }
}

#[utoipa::path(get, path = "/api/v1/registry", tag = "registry",
    responses((status = 200, body = RegistryDto)))]
/// The approved list of personal data: categories, purposes and which categories each purpose
/// may use, and the bank-code table. Public: it holds no personal data.
pub async fn registry(State(state): State<AppState>) -> Json<RegistryDto> {
    let r = state.vault.registry();
    Json(RegistryDto {
        version: r.version().to_string(),
        categories: r
            .categories()
            .values()
            .map(|c| category_dto(&state, c))
            .collect(),
        purposes: r.purposes().values().map(purpose_dto).collect(),
        banks: r.banks().values().map(bank_dto).collect(),
    })
}

#[utoipa::path(get, path = "/api/v1/registry/purposes", tag = "registry",
    responses((status = 200, body = [PurposeDto])))]
/// The purposes of processing (clause 1.1).
pub async fn purposes(State(state): State<AppState>) -> Json<Vec<PurposeDto>> {
    Json(
        state
            .vault
            .registry()
            .purposes()
            .values()
            .map(purpose_dto)
            .collect(),
    )
}

#[utoipa::path(get, path = "/api/v1/registry/categories", tag = "registry",
    responses((status = 200, body = [CategoryDto])))]
/// The data categories (clause 2.1).
pub async fn categories(State(state): State<AppState>) -> Json<Vec<CategoryDto>> {
    Json(
        state
            .vault
            .registry()
            .categories()
            .values()
            .map(|c| category_dto(&state, c))
            .collect(),
    )
}

#[utoipa::path(post, path = "/api/v1/subjects", tag = "subjects",
    params(PurposeQuery), request_body = NewSubjectInput,
    security(("api_key" = [])),
    responses(
        (status = 201, body = SubjectView, description = "Created; answered after the commit is durable"),
        (status = 400, body = Problem, description = "Malformed JSON, missing or unknown purpose"),
        (status = 401, body = Problem, description = "No, unknown or revoked API key"),
        (status = 403, body = Problem, description = "Purpose not permitted for the key, or a category outside the purpose (3.2)"),
        (status = 409, body = Problem, description = "A unique value (IIN, mobile) is held by another subject"),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),
        (status = 422, body = Problem, description = "Invalid values, all listed in errors[]")))]
/// Create a subject (a borrower) with values of any categories the purpose allows.
pub async fn create_subject(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<PurposeQuery>,
    ApiJson(input): ApiJson<NewSubjectInput>,
) -> Result<Response, ApiError> {
    let call = q.call(actor)?;
    let view = state.vault.create_subject(&call, input).await?;
    let location = format!("/api/v1/subjects/{}", view.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view),
    )
        .into_response())
}

/// Many subjects in one request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkInput {
    /// The subjects (at most 10,000; the body at most 1 MiB).
    pub subjects: Vec<NewSubjectInput>,
}

/// Ids of the subjects created, in request order.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkCreated {
    /// Ids.
    pub ids: Vec<Uuid>,
}

#[utoipa::path(post, path = "/api/v1/subjects/bulk", tag = "subjects",
    params(PurposeQuery), request_body = BulkInput, security(("api_key" = [])),
    responses(
        (status = 201, body = BulkCreated),
        (status = 400, body = Problem, description = "Malformed JSON, missing or unknown purpose"),
        (status = 401, body = Problem, description = "No, unknown or revoked API key"),
        (status = 403, body = Problem, description = "Purpose not permitted for the key, or a category outside the purpose (3.2)"),
        (status = 409, body = Problem, description = "A unique value is held by another subject, or repeated in the request"),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),
        (status = 422, body = Problem, description = "Invalid values, all listed in errors[]")))]
/// Create many subjects at once, all or nothing: any invalid item (named by index) or
/// conflict means none is written.
pub async fn create_bulk(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<PurposeQuery>,
    ApiJson(input): ApiJson<BulkInput>,
) -> Result<Response, ApiError> {
    let call = q.call(actor)?;
    let ids = state.vault.create_subjects(&call, input.subjects).await?;
    Ok((StatusCode::CREATED, Json(BulkCreated { ids })).into_response())
}

/// A lookup by exact value. The value is in the body, never in the URL.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchInput {
    /// A searchable category: `iin`, `mobile_phone`, `email` or `bank_account`.
    pub category: String,
    /// The value, as it would be submitted (a phone in any common format).
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
}

/// Subjects found.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResult {
    /// Each through the purpose.
    pub subjects: Vec<SubjectView>,
}

#[utoipa::path(post, path = "/api/v1/subjects/search", tag = "subjects",
    params(PurposeQuery), request_body = SearchInput, security(("api_key" = [])),
    responses(
        (status = 200, body = SearchResult),
        (status = 400, body = Problem, description = "Malformed JSON, missing or unknown purpose"),
        (status = 401, body = Problem, description = "No, unknown or revoked API key"),
        (status = 403, body = Problem, description = "Purpose not permitted for the key, or a category outside the purpose (3.2)"),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),
        (status = 422, body = Problem, description = "Invalid values, all listed in errors[]")))]
/// Find subjects by IIN, mobile phone, e-mail or IBAN through blind indexes (the database
/// holds none of these in plaintext). The purpose must allow the category searched by.
pub async fn search(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<PurposeQuery>,
    ApiJson(input): ApiJson<SearchInput>,
) -> Result<Json<SearchResult>, ApiError> {
    let call = q.call(actor)?;
    let cats = q.categories();
    let subjects = state
        .vault
        .find_subjects(&call, &input.category, &input.value, cats.as_deref())
        .await?;
    Ok(Json(SearchResult { subjects }))
}

#[utoipa::path(get, path = "/api/v1/subjects/{id}", tag = "subjects",
    params(("id" = Uuid, Path, description = "Subject id"), PurposeQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, body = SubjectView),
        (status = 400, body = Problem, description = "Bad subject id, missing or unknown purpose"),
        (status = 401, body = Problem, description = "No, unknown or revoked API key"),
        (status = 403, body = Problem, description = "Purpose not permitted for the key, or a category outside the purpose (3.2)"),
        (status = 404, body = Problem, description = "No such subject"),
        (status = 422, body = Problem, description = "Unknown category asked for")))]
/// Read a subject's current values of the categories the purpose allows.
pub async fn read_subject(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PurposeQuery>,
) -> Result<Json<SubjectView>, ApiError> {
    let id = subject_id(&id)?;
    let call = q.call(actor)?;
    let cats = q.categories();
    Ok(Json(
        state.vault.read_subject(&call, id, cats.as_deref()).await?,
    ))
}

/// Values to write.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValuesInput {
    /// One per category.
    pub values: Vec<ValueInput>,
}

#[utoipa::path(patch, path = "/api/v1/subjects/{id}/values", tag = "subjects",
    params(("id" = Uuid, Path, description = "Subject id"), PurposeQuery),
    request_body = ValuesInput, security(("api_key" = [])),
    responses(
        (status = 200, body = SubjectView, description = "The corrected categories"),
        (status = 400, body = Problem, description = "Malformed JSON, bad subject id, missing or unknown purpose"),
        (status = 401, body = Problem, description = "No, unknown or revoked API key"),
        (status = 403, body = Problem, description = "Purpose not permitted for the key, or a category outside the purpose (3.2)"),
        (status = 404, body = Problem, description = "No such subject"),
        (status = 409, body = Problem, description = "No value to correct, or a unique value held by another subject"),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),
        (status = 422, body = Problem, description = "Invalid values, all listed in errors[]")))]
/// Correct current values; earlier versions are kept as history.
pub async fn correct_values(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PurposeQuery>,
    ApiJson(input): ApiJson<ValuesInput>,
) -> Result<Json<SubjectView>, ApiError> {
    let id = subject_id(&id)?;
    let call = q.call(actor)?;
    Ok(Json(
        state.vault.correct_values(&call, id, input.values).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/subjects/{id}/values", tag = "subjects",
    params(("id" = Uuid, Path, description = "Subject id"), PurposeQuery),
    request_body = ValuesInput, security(("api_key" = [])),
    responses(
        (status = 200, body = SubjectView, description = "The supplemented categories"),
        (status = 400, body = Problem, description = "Malformed JSON, bad subject id, missing or unknown purpose"),
        (status = 401, body = Problem, description = "No, unknown or revoked API key"),
        (status = 403, body = Problem, description = "Purpose not permitted for the key, or a category outside the purpose (3.2)"),
        (status = 404, body = Problem, description = "No such subject"),
        (status = 409, body = Problem, description = "The category already has a value, or a unique value held by another subject"),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),
        (status = 422, body = Problem, description = "Invalid values, all listed in errors[]")))]
/// Supplement: add values for categories that have none yet.
pub async fn supplement_values(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PurposeQuery>,
    ApiJson(input): ApiJson<ValuesInput>,
) -> Result<Json<SubjectView>, ApiError> {
    let id = subject_id(&id)?;
    let call = q.call(actor)?;
    Ok(Json(
        state
            .vault
            .supplement_values(&call, id, input.values)
            .await?,
    ))
}

/// All versions of a value.
#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    /// Oldest first.
    pub versions: Vec<ValueView>,
}

#[utoipa::path(get, path = "/api/v1/subjects/{id}/values/{category}/history", tag = "subjects",
    params(("id" = Uuid, Path, description = "Subject id"),
        ("category" = String, Path, description = "Category code"), PurposeQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, body = History),
        (status = 400, body = Problem, description = "Bad subject id, missing or unknown purpose"),
        (status = 401, body = Problem, description = "No, unknown or revoked API key"),
        (status = 403, body = Problem, description = "Purpose not permitted for the key, or a category outside the purpose (3.2)"),
        (status = 404, body = Problem, description = "No such subject"),
        (status = 422, body = Problem, description = "Unknown category")))]
/// Every version of one category's value.
pub async fn history(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((id, category)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<PurposeQuery>,
) -> Result<Json<History>, ApiError> {
    let id = subject_id(&id)?;
    let call = q.call(actor)?;
    let versions = state.vault.history(&call, id, &category).await?;
    Ok(Json(History { versions }))
}

#[utoipa::path(post, path = "/api/v1/subjects/{id}/values/{category}/reveal", tag = "subjects",
    params(("id" = Uuid, Path, description = "Subject id"),
        ("category" = String, Path, description = "Category code"), PurposeQuery),
    security(("api_key" = []), ("session" = [])),
    responses(
        (status = 200, body = ValueView, description = "The current value in clear"),
        (status = 400, body = Problem, description = "Bad subject id, missing or unknown purpose"),
        (status = 401, body = Problem, description = "No, unknown or revoked API key or session"),
        (status = 403, body = Problem, description = "Purpose not permitted, a category outside the purpose (3.2), or the access policy does not allow a reveal (4.1)"),
        (status = 404, body = Problem, description = "No such subject"),
        (status = 409, body = Problem, description = "The category has no current value"),
        (status = 422, body = Problem, description = "Unknown category")))]
/// Reveal one value in clear (clause 4.1): an employee who sees it masked may see it in clear
/// only where the access policy allows a reveal (e.g. a call-centre operator's IIN for
/// identification). Audited as a read with detail `reveal`.
pub async fn reveal(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((id, category)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<PurposeQuery>,
) -> Result<Json<ValueView>, ApiError> {
    let id = subject_id(&id)?;
    let call = q.call(actor)?;
    Ok(Json(state.vault.reveal(&call, id, &category).await?))
}

/// A subject's audit trail, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditTrail {
    /// At most 500 entries, newest first; codes only, never values.
    pub entries: Vec<AuditTrailEntry>,
}

#[utoipa::path(get, path = "/api/v1/subjects/{id}/audit", tag = "audit",
    params(("id" = Uuid, Path, description = "Subject id"), PurposeQuery),
    security(("api_key" = []), ("session" = [])),
    responses(
        (status = 200, body = AuditTrail),
        (status = 400, body = Problem, description = "Bad subject id, missing or unknown purpose"),
        (status = 401, body = Problem, description = "No, unknown or revoked API key or session"),
        (status = 403, body = Problem, description = "The purpose is not `security` or `requests`, or not permitted"),
        (status = 404, body = Problem, description = "No such subject")))]
/// Who did what with a subject's data, for which purpose, under which rule (clause 8.1). For
/// the purposes `security` and `requests`; the reading is itself audited.
pub async fn subject_audit(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PurposeQuery>,
) -> Result<Json<AuditTrail>, ApiError> {
    let id = subject_id(&id)?;
    let call = q.call(actor)?;
    let entries = state.vault.audit_trail(&call, id).await?;
    Ok(Json(AuditTrail { entries }))
}

#[utoipa::path(put, path = "/api/v1/subjects/{id}/values/{category}/verification", tag = "subjects",
    params(("id" = Uuid, Path, description = "Subject id"),
        ("category" = String, Path, description = "Category code"), PurposeQuery),
    request_body = VerificationInput, security(("api_key" = [])),
    responses(
        (status = 200, body = Verification),
        (status = 400, body = Problem, description = "Malformed JSON, bad subject id, missing or unknown purpose"),
        (status = 401, body = Problem, description = "No, unknown or revoked API key"),
        (status = 403, body = Problem, description = "Purpose not permitted for the key, or a category outside the purpose (3.2)"),
        (status = 404, body = Problem, description = "No such subject"),
        (status = 409, body = Problem, description = "The category has no current value"),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),
        (status = 422, body = Problem, description = "Invalid values, all listed in errors[]")))]
/// Record the result of verifying the current value against a source (clause 2.2).
pub async fn verify(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((id, category)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<PurposeQuery>,
    ApiJson(input): ApiJson<VerificationInput>,
) -> Result<Json<Verification>, ApiError> {
    let id = subject_id(&id)?;
    let call = q.call(actor)?;
    Ok(Json(
        state
            .vault
            .record_verification(&call, id, &category, input)
            .await?,
    ))
}

/// Unknown routes under `/api`.
pub async fn not_found() -> ApiError {
    WebError::NotFound.into()
}

/// The purpose an API key needs to read the audit log's checkpoints and proofs: information
/// security (the person responsible for PD processing and internal control, L-PROTECTION).
pub const AUDIT_PURPOSE: &str = "security";

fn auditor(actor: &Actor) -> Result<(), ApiError> {
    if actor.may_use(AUDIT_PURPOSE) {
        Ok(())
    } else {
        Err(derbes_service::ServiceError::PurposeNotPermitted.into())
    }
}

/// The audit log's signing key, for verifying checkpoints and proofs.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditKey {
    /// Key id (first 8 bytes of SHA-256 of the public key, hex).
    pub key_id: String,
    /// Ed25519 public key, base64.
    pub public_key: String,
}

#[utoipa::path(get, path = "/api/v1/audit/public-key", tag = "audit",
    responses((status = 200, body = AuditKey), (status = 404, body = Problem)))]
/// The public key that signs audit checkpoints. Public: a third party needs only this to
/// verify proofs (see crates/audit/PROOFS.md).
pub async fn audit_public_key(State(state): State<AppState>) -> Result<Json<AuditKey>, ApiError> {
    state.audit_key.clone().map(Json).ok_or(ApiError::Service(
        derbes_service::ServiceError::NoAuditProof("this server signs no checkpoints"),
    ))
}

#[utoipa::path(get, path = "/api/v1/audit/checkpoints", tag = "audit",
    security(("api_key" = [])),
    responses((status = 200, body = Object, description = "Signed checkpoints, by tree size"),
        (status = 401, body = Problem), (status = 403, body = Problem, description = "The key lacks the `security` purpose")))]
/// Signed checkpoints of the audit log.
pub async fn audit_checkpoints(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    auditor(&actor)?;
    let cps = state
        .vault
        .store()
        .checkpoints()
        .await
        .map_err(derbes_service::ServiceError::from)?;
    Ok(Json(
        serde_json::to_value(cps).map_err(|_| WebError::Internal)?,
    ))
}

#[utoipa::path(get, path = "/api/v1/audit/entries/{seq}/proof", tag = "audit",
    params(("seq" = u64, Path, description = "Entry sequence number")),
    security(("api_key" = [])),
    responses((status = 200, body = Object, description = "Inclusion proof with the entry and the signed checkpoint (PROOFS.md)"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "No checkpoint covers the entry yet")))]
/// An inclusion proof of one audit entry in the latest signed checkpoint.
pub async fn audit_inclusion(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(seq): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    auditor(&actor)?;
    let seq: u64 = seq.parse().map_err(|_| WebError::BadQuery)?;
    let proof = derbes_service::audit::inclusion_proof(state.vault.store().as_ref(), seq).await?;
    Ok(Json(
        serde_json::to_value(proof).map_err(|_| WebError::Internal)?,
    ))
}

/// Sizes of two checkpoints.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// Tree size of the older checkpoint.
    pub old: u64,
    /// Tree size of the newer checkpoint.
    pub new: u64,
}

#[utoipa::path(get, path = "/api/v1/audit/consistency", tag = "audit",
    params(ConsistencyQuery), security(("api_key" = [])),
    responses((status = 200, body = Object, description = "Consistency proof between two signed checkpoints (PROOFS.md)"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
/// A consistency proof: the log at `new` extends the log at `old` without rewriting it.
pub async fn audit_consistency(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<ConsistencyQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    auditor(&actor)?;
    let proof =
        derbes_service::audit::consistency_proof(state.vault.store().as_ref(), q.old, q.new)
            .await?;
    Ok(Json(
        serde_json::to_value(proof).map_err(|_| WebError::Internal)?,
    ))
}

//! The JSON API of the versioned policy, the consent ledger, the application channel, the
//! loan obligations and the withdrawal of consent (PRE-1, 2.1, 6.1, 6.2, 7.1c, 7.1d, 9.2;
//! L-CONSENT-1..3). Thin: parse, call [`derbes_service::ConsentService`], render.
//!
//! The policy is public (`GET /policy/current`, `/policy/versions/{id}`): no API key. Every
//! other route names a purpose like the rest of the API: consents under `contract` or
//! `requests`, withdrawal under `requests`, applications under `contract`, loans under
//! `contract` or `performance_control`.

use super::{subject_id, ApiJson, ApiQuery, Caller, PurposeQuery};
use crate::problem::{ApiError, Problem, WebError};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use derbes_core::registry::Lang;
use derbes_service::consent_service::{
    ApplicationInput, ApplicationView, ConsentInput, ConsentService, ConsentState, ContractInput,
    ContractStatusInput, ContractView, LoanApplicationInput, Obligations, OfferInput, OfferView,
    PolicyText, PolicyVersionInfo, PublishInput, WithdrawalDecision, WithdrawalInput,
};
use derbes_service::ServiceError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The language to serve a policy text in.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LangQuery {
    /// `ru`, `kk` or `en`; default: from `Accept-Language`, else Russian.
    pub lang: Option<String>,
}

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

fn with_language(text: PolicyText) -> Response {
    let lang = text.lang.clone();
    ([(header::CONTENT_LANGUAGE, lang)], Json(text)).into_response()
}

fn service(state: &AppState) -> &ConsentService {
    &state.consent
}

#[utoipa::path(get, path = "/api/v1/policy/current", tag = "policy",
    params(LangQuery),
    responses(
        (status = 200, body = PolicyText, description = "The version in force, in the language asked for"),
        (status = 400, body = Problem, description = "Unknown language"),
        (status = 404, body = Problem, description = "No version in force yet")))]
/// The policy version in force now (PRE-1, 9.2), in Russian, Kazakh or English.
pub async fn current_policy(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<LangQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let lang = lang_of(&q, &headers)?;
    let v = service(&state).current_policy_record().await?;
    Ok(with_language(ConsentService::policy_text(&v, lang)))
}

#[utoipa::path(get, path = "/api/v1/policy/versions", tag = "policy",
    responses((status = 200, body = Vec<PolicyVersionInfo>)))]
/// Every published version (numbers, times, significance, content hashes).
pub async fn policy_versions(
    State(state): State<AppState>,
) -> Result<Json<Vec<PolicyVersionInfo>>, ApiError> {
    Ok(Json(service(&state).policy_versions().await?))
}

#[utoipa::path(get, path = "/api/v1/policy/versions/{id}", tag = "policy",
    params(("id" = i64, Path, description = "Version number"), LangQuery),
    responses(
        (status = 200, body = PolicyText),
        (status = 400, body = Problem, description = "Not a version number, or unknown language"),
        (status = 404, body = Problem, description = "No such version")))]
/// A past (or future) version by number, in the language asked for.
pub async fn policy_version(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    ApiQuery(q): ApiQuery<LangQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let number: i64 = raw.parse().map_err(|_| ApiError::Web(WebError::BadQuery))?;
    let lang = lang_of(&q, &headers)?;
    let v = service(&state).policy_record(number).await?;
    Ok(with_language(ConsentService::policy_text(&v, lang)))
}

/// A policy version to publish (PRE-1, 9.2).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// Russian text (required).
    pub text_ru: String,
    /// Kazakh text (required).
    pub text_kk: String,
    /// English text (optional).
    #[serde(default)]
    pub text_en: Option<String>,
    /// When it takes effect; default: on publication. Never before publication (9.2).
    #[serde(default)]
    pub effective_at: Option<chrono::DateTime<chrono::Utc>>,
    /// "Especially significant change" (9.2): with `notice_url`, every subject with an
    /// e-mail is notified.
    #[serde(default)]
    pub significant: bool,
    /// The operator's name as stated in the consent (L-CONSENT-2).
    pub operator_name: String,
    /// The operator's BIN (12 digits, checked).
    pub operator_bin: String,
    /// For a significant change: the page the notice links to (`https://…`).
    #[serde(default)]
    pub notice_url: Option<String>,
}

/// A published version, and the notice job a significant change started.
#[derive(Debug, Serialize, ToSchema)]
pub struct Published {
    /// The new version.
    pub version: PolicyVersionInfo,
    /// The notice job (9.2), when the change is significant and a `notice_url` was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice_job: Option<String>,
}

/// Whether a notice link is an absolute http(s) URL of reasonable length without spaces.
fn notice_url_ok(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 500
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[utoipa::path(post, path = "/api/v1/policy/versions", tag = "policy",
    params(PurposeQuery), request_body = PublishRequest,
    security(("api_key" = []), ("session" = [])),
    responses(
        (status = 201, body = Published, description = "Published; immutable from now on"),
        (status = 400, body = Problem, description = "Malformed JSON, missing or unknown purpose"),
        (status = 401, body = Problem, description = "No, unknown or revoked API key or session"),
        (status = 403, body = Problem, description = "The purpose is not `record_keeping`, or not permitted to the caller"),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),
        (status = 422, body = Problem, description = "Missing text, bad BIN or operator name, effective before publication, bad notice URL")))]
/// Publish a new policy version (PRE-1, 9.2): Russian and Kazakh text (English optional), the
/// effective time (may be later than now), the "significant change" flag. For the
/// `record_keeping` purpose (the data-protection officer, or a key of the lender's site).
/// A significant change with a `notice_url` enqueues the e-mail notice job at once.
pub async fn publish_policy(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<PurposeQuery>,
    ApiJson(input): ApiJson<PublishRequest>,
) -> Result<(StatusCode, Json<Published>), ApiError> {
    let call = q.call(actor)?;
    if call.purpose != "record_keeping" || !call.actor.may_use(&call.purpose) {
        return Err(ApiError::Service(ServiceError::PurposeNotPermitted));
    }
    let notice = match (&input.notice_url, input.significant) {
        (Some(url), _) if !notice_url_ok(url) => {
            return Err(ApiError::Service(ServiceError::InvalidRequest(
                "bad_notice_url",
            )))
        }
        (Some(_), false) => {
            return Err(ApiError::Service(ServiceError::InvalidRequest(
                "notice_only_for_significant",
            )))
        }
        (url, _) => url.clone(),
    };
    let version = service(&state)
        .publish_policy(
            &call.actor.id(),
            PublishInput {
                text_ru: input.text_ru,
                text_kk: input.text_kk,
                text_en: input.text_en,
                effective_at: input.effective_at,
                significant: input.significant,
                operator_name: input.operator_name,
                operator_bin: input.operator_bin,
            },
        )
        .await?;
    let mut notice_job = None;
    if let Some(url) = notice {
        let texts = derbes_notify::NoticeTexts::standard(version.number, &url)
            .map_err(|_| ApiError::Service(ServiceError::InvalidRequest("bad_notice_url")))?;
        let (job, _) = derbes_notify::enqueue_policy_change(
            state.vault.store().as_ref(),
            state.vault.clock().as_ref(),
            &texts,
        )
        .await
        .map_err(|e| {
            tracing::error!(code = e.code(), "enqueuing the policy-change notice failed");
            ApiError::Service(ServiceError::Unavailable)
        })?;
        notice_job = Some(job.id.to_string());
    }
    Ok((
        StatusCode::CREATED,
        Json(Published {
            version,
            notice_job,
        }),
    ))
}

#[utoipa::path(post, path = "/api/v1/applications", tag = "consent",
    params(PurposeQuery), request_body = ApplicationInput,
    security(("api_key" = [])),
    responses(
        (status = 201, body = ApplicationView, description = "Subject and policy consent created together"),
        (status = 400, body = Problem, description = "Malformed JSON, missing or unknown purpose"),
        (status = 401, body = Problem, description = "No, unknown or revoked API key"),
        (status = 403, body = Problem, description = "Purpose not permitted (applications: `contract`)"),
        (status = 404, body = Problem, description = "No policy version in force"),
        (status = 409, body = Problem, description = "Not the current policy version, or a unique value is taken"),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),
        (status = 422, body = Problem, description = "No consent to the policy (nothing stored), invalid values or evidence")))]
/// An application through the site (6.1): the applicant's values and the consent to the
/// current policy, stored together or not at all (6.2).
pub async fn create_application(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<PurposeQuery>,
    ApiJson(input): ApiJson<ApplicationInput>,
) -> Result<Response, ApiError> {
    let call = q.call(actor)?;
    let view = service(&state).create_application(&call, input).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

#[utoipa::path(post, path = "/api/v1/applications/{id}/submit", tag = "consent",
    params(("id" = String, Path, description = "Application id"), PurposeQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, body = ApplicationView, description = "Submitted: the data are kept"),
        (status = 400, body = Problem, description = "Missing or unknown purpose"),
        (status = 401, body = Problem, description = "No, unknown or revoked API key"),
        (status = 403, body = Problem, description = "Purpose not permitted"),
        (status = 404, body = Problem, description = "No such application"),
        (status = 409, body = Problem, description = "Not open any more (submitted, expired or purged)"),
        (status = 422, body = Problem, description = "Malformed id")))]
/// Finish an application (its data are kept from now on).
pub async fn submit_application(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PurposeQuery>,
) -> Result<Json<ApplicationView>, ApiError> {
    let call = q.call(actor)?;
    Ok(Json(service(&state).submit_application(&call, &id).await?))
}

#[utoipa::path(post, path = "/api/v1/applications/{id}/abandon", tag = "consent",
    params(("id" = String, Path, description = "Application id"), PurposeQuery),
    security(("api_key" = [])),
    responses(
        (status = 204, description = "Purged: no personal data of the application remain (6.2)"),
        (status = 400, body = Problem, description = "Missing or unknown purpose"),
        (status = 401, body = Problem, description = "No, unknown or revoked API key"),
        (status = 403, body = Problem, description = "Purpose not permitted"),
        (status = 404, body = Problem, description = "No such application"),
        (status = 409, body = Problem, description = "Already submitted"),
        (status = 422, body = Problem, description = "Malformed id")))]
/// Abandon (or refuse) an open application: everything it stored is deleted (6.2).
pub async fn abandon_application(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PurposeQuery>,
) -> Result<StatusCode, ApiError> {
    let call = q.call(actor)?;
    service(&state).abandon_application(&call, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/subjects/{id}/consents", tag = "consent",
    params(("id" = Uuid, Path, description = "Subject id"), PurposeQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, body = ConsentState),
        (status = 400, body = Problem, description = "Bad subject id, missing or unknown purpose"),
        (status = 401, body = Problem, description = "No, unknown or revoked API key"),
        (status = 403, body = Problem, description = "Purpose not permitted (`contract` or `requests`)"),
        (status = 404, body = Problem, description = "No such subject")))]
/// A subject's consents: every consent-based purpose's state and the full history
/// (L-CONSENT-1/2; 7.1d publication is refused until granted).
pub async fn consents(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(raw): Path<String>,
    ApiQuery(q): ApiQuery<PurposeQuery>,
) -> Result<Json<ConsentState>, ApiError> {
    let id = subject_id(&raw)?;
    let call = q.call(actor)?;
    Ok(Json(service(&state).consents(&call, id).await?))
}

#[utoipa::path(post, path = "/api/v1/subjects/{id}/consents", tag = "consent",
    params(("id" = Uuid, Path, description = "Subject id"), PurposeQuery),
    request_body = ConsentInput,
    security(("api_key" = [])),
    responses(
        (status = 200, body = ConsentState, description = "Recorded; a withdrawn purpose stops at once"),
        (status = 400, body = Problem, description = "Malformed JSON, bad subject id, missing or unknown purpose"),
        (status = 401, body = Problem, description = "No, unknown or revoked API key"),
        (status = 403, body = Problem, description = "Purpose not permitted (`contract` or `requests`)"),
        (status = 404, body = Problem, description = "No such subject, or no policy in force"),
        (status = 409, body = Problem, description = "Not the current policy version"),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),
        (status = 422, body = Problem, description = "Not a consent-based purpose, bad evidence or language")))]
/// Grant, refuse or withdraw consent-based purposes one by one (L-PURPOSE, 7.1d), or record
/// consent to the current policy, with the evidence (L-CONSENT-1).
pub async fn record_consents(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(raw): Path<String>,
    ApiQuery(q): ApiQuery<PurposeQuery>,
    ApiJson(input): ApiJson<ConsentInput>,
) -> Result<Json<ConsentState>, ApiError> {
    let id = subject_id(&raw)?;
    let call = q.call(actor)?;
    Ok(Json(
        service(&state).record_consents(&call, id, input).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/subjects/{id}/withdrawal", tag = "consent",
    params(("id" = Uuid, Path, description = "Subject id"), PurposeQuery),
    request_body = WithdrawalInput,
    security(("api_key" = [])),
    responses(
        (status = 200, body = WithdrawalDecision, description = "Accepted, or refused with the reason and rule (`outcome`), in the subject's language; recorded with its 15-working-day deadline"),
        (status = 400, body = Problem, description = "Malformed JSON, bad subject id, missing or unknown purpose"),
        (status = 401, body = Problem, description = "No, unknown or revoked API key"),
        (status = 403, body = Problem, description = "Purpose not permitted (`requests`)"),
        (status = 404, body = Problem, description = "No such subject"),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),
        (status = 422, body = Problem, description = "Bad evidence or language")))]
/// Withdraw consent (7.1c, L-CONSENT-3): refused while a contract is unfulfilled.
pub async fn withdraw(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(raw): Path<String>,
    ApiQuery(q): ApiQuery<PurposeQuery>,
    ApiJson(input): ApiJson<WithdrawalInput>,
) -> Result<Response, ApiError> {
    let id = subject_id(&raw)?;
    let call = q.call(actor)?;
    let d: WithdrawalDecision = service(&state).withdraw(&call, id, input).await?;
    let lang = d.lang.clone();
    Ok(([(header::CONTENT_LANGUAGE, lang)], Json(d)).into_response())
}

#[utoipa::path(get, path = "/api/v1/subjects/{id}/obligations", tag = "loans",
    params(("id" = Uuid, Path, description = "Subject id"), PurposeQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, body = Obligations),
        (status = 400, body = Problem, description = "Bad subject id, missing or unknown purpose"),
        (status = 401, body = Problem, description = "No, unknown or revoked API key"),
        (status = 403, body = Problem, description = "Purpose not permitted (`contract`, `performance_control`)"),
        (status = 404, body = Problem, description = "No such subject")))]
/// A subject's loan applications, offers (with their terms) and contracts with history.
pub async fn obligations(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(raw): Path<String>,
    ApiQuery(q): ApiQuery<PurposeQuery>,
) -> Result<Json<Obligations>, ApiError> {
    let id = subject_id(&raw)?;
    let call = q.call(actor)?;
    Ok(Json(service(&state).obligations(&call, id).await?))
}

#[utoipa::path(post, path = "/api/v1/loans/applications", tag = "loans",
    params(PurposeQuery), request_body = LoanApplicationInput,
    security(("api_key" = [])),
    responses(
        (status = 201, description = "Recorded"),
        (status = 400, body = Problem, description = "Malformed JSON, missing or unknown purpose"),
        (status = 401, body = Problem, description = "No, unknown or revoked API key"),
        (status = 403, body = Problem, description = "Purpose not permitted"),
        (status = 404, body = Problem, description = "No such subject"),
        (status = 409, body = Problem, description = "Reference already used"),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),
        (status = 422, body = Problem, description = "Bad reference or time")))]
/// The loan system reports a loan application.
pub async fn report_loan_application(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<PurposeQuery>,
    ApiJson(input): ApiJson<LoanApplicationInput>,
) -> Result<StatusCode, ApiError> {
    let call = q.call(actor)?;
    service(&state)
        .report_loan_application(&call, input)
        .await?;
    Ok(StatusCode::CREATED)
}

#[utoipa::path(post, path = "/api/v1/loans/offers", tag = "loans",
    params(PurposeQuery), request_body = OfferInput,
    security(("api_key" = [])),
    responses(
        (status = 201, body = OfferView, description = "Recorded; the terms are stored encrypted (2.1)"),
        (status = 400, body = Problem, description = "Malformed JSON, missing or unknown purpose"),
        (status = 401, body = Problem, description = "No, unknown or revoked API key"),
        (status = 403, body = Problem, description = "Purpose not permitted"),
        (status = 404, body = Problem, description = "No such subject or application"),
        (status = 409, body = Problem, description = "Reference already used"),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),
        (status = 422, body = Problem, description = "Bad reference, terms or time")))]
/// The loan system reports an offer sent to the subject (2.1).
pub async fn report_offer(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<PurposeQuery>,
    ApiJson(input): ApiJson<OfferInput>,
) -> Result<Response, ApiError> {
    let call = q.call(actor)?;
    let view = service(&state).report_offer(&call, input).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// When an offer was accepted.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInput {
    /// Default now.
    #[serde(default)]
    pub accepted_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[utoipa::path(post, path = "/api/v1/loans/offers/{id}/accept", tag = "loans",
    params(("id" = String, Path, description = "Offer reference"), PurposeQuery),
    request_body = AcceptInput,
    security(("api_key" = [])),
    responses(
        (status = 204, description = "Recorded"),
        (status = 400, body = Problem, description = "Malformed JSON, missing or unknown purpose"),
        (status = 401, body = Problem, description = "No, unknown or revoked API key"),
        (status = 403, body = Problem, description = "Purpose not permitted"),
        (status = 404, body = Problem, description = "No such offer"),
        (status = 409, body = Problem, description = "Already accepted"),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),
        (status = 422, body = Problem, description = "Bad reference or time")))]
/// The subject accepted the offer.
pub async fn accept_offer(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PurposeQuery>,
    ApiJson(input): ApiJson<AcceptInput>,
) -> Result<StatusCode, ApiError> {
    let call = q.call(actor)?;
    service(&state)
        .accept_offer(&call, &id, input.accepted_at)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/loans/contracts", tag = "loans",
    params(PurposeQuery), request_body = ContractInput,
    security(("api_key" = [])),
    responses(
        (status = 201, body = ContractView),
        (status = 400, body = Problem, description = "Malformed JSON, missing or unknown purpose"),
        (status = 401, body = Problem, description = "No, unknown or revoked API key"),
        (status = 403, body = Problem, description = "Purpose not permitted"),
        (status = 404, body = Problem, description = "No such subject or offer"),
        (status = 409, body = Problem, description = "Reference already used"),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),
        (status = 422, body = Problem, description = "Bad reference, status or time")))]
/// The loan system reports a concluded contract.
pub async fn report_contract(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<PurposeQuery>,
    ApiJson(input): ApiJson<ContractInput>,
) -> Result<Response, ApiError> {
    let call = q.call(actor)?;
    let view = service(&state).report_contract(&call, input).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

#[utoipa::path(post, path = "/api/v1/loans/contracts/{id}/status", tag = "loans",
    params(("id" = String, Path, description = "Contract reference"), PurposeQuery),
    request_body = ContractStatusInput,
    security(("api_key" = [])),
    responses(
        (status = 200, body = ContractView),
        (status = 400, body = Problem, description = "Malformed JSON, missing or unknown purpose"),
        (status = 401, body = Problem, description = "No, unknown or revoked API key"),
        (status = 403, body = Problem, description = "Purpose not permitted"),
        (status = 404, body = Problem, description = "No such contract"),
        (status = 413, body = Problem, description = "Body over 1 MiB"),
        (status = 415, body = Problem, description = "Body is not application/json"),
        (status = 422, body = Problem, description = "Bad status, cessionary or time")))]
/// A contract's new status: active, overdue, repaid, assigned (with the cessionary) or
/// written off; the history is kept.
pub async fn contract_status(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PurposeQuery>,
    ApiJson(input): ApiJson<ContractStatusInput>,
) -> Result<Json<ContractView>, ApiError> {
    let call = q.call(actor)?;
    Ok(Json(
        service(&state)
            .set_contract_status(&call, &id, input)
            .await?,
    ))
}

//! Policy-change notice jobs (clause 9.2): progress and summary, for keys that may name the
//! purpose `correspondence` (the purpose under which the notices are sent). Counts and codes
//! only: no address and no subject appears in these answers.

use crate::api::Caller;
use crate::problem::{ApiError, Problem, WebError};
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use derbes_notify::{JobStatus, NotifyError, NOTICE_PURPOSE};
use derbes_service::ServiceError;

fn permitted(caller: &Caller) -> Result<(), ApiError> {
    if caller.0.may_use(NOTICE_PURPOSE) {
        Ok(())
    } else {
        Err(ServiceError::PurposeNotPermitted.into())
    }
}

fn map(e: NotifyError) -> ApiError {
    match e {
        NotifyError::JobNotFound => WebError::NoticeJobNotFound.into(),
        NotifyError::Store(s) => ServiceError::Store(s).into(),
        NotifyError::Texts(_) | NotifyError::Settings(_) => WebError::Internal.into(),
    }
}

#[utoipa::path(get, path = "/api/v1/notices/jobs", tag = "notices",
    security(("api_key" = [])),
    responses(
        (status = 200, body = [JobStatus], description = "Every notice job, newest first, with its progress"),
        (status = 401, body = Problem, description = "No, unknown or revoked API key"),
        (status = 403, body = Problem, description = "The key lacks the `correspondence` purpose")))]
/// Policy-change notice jobs (9.2): state, deliveries per status, progress, error codes.
pub async fn jobs(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<JobStatus>>, ApiError> {
    permitted(&caller)?;
    derbes_notify::job_statuses(state.vault.store().as_ref())
        .await
        .map(Json)
        .map_err(map)
}

#[utoipa::path(get, path = "/api/v1/notices/jobs/{id}", tag = "notices",
    params(("id" = uuid::Uuid, Path, description = "Job id")),
    security(("api_key" = [])),
    responses(
        (status = 200, body = JobStatus, description = "The job's state, deliveries per status, progress and error codes"),
        (status = 401, body = Problem, description = "No, unknown or revoked API key"),
        (status = 400, body = Problem, description = "The job id is not a UUID"),
        (status = 403, body = Problem, description = "The key lacks the `correspondence` purpose"),
        (status = 404, body = Problem, description = "No such job")))]
/// One policy-change notice job (9.2).
pub async fn job(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<JobStatus>, ApiError> {
    permitted(&caller)?;
    let id = derbes_notify::parse_job_id(&id).map_err(|_| WebError::BadJobId)?;
    derbes_notify::job_status(state.vault.store().as_ref(), id)
        .await
        .map(Json)
        .map_err(map)
}

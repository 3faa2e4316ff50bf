//! Incidents of unauthorised access (clause 5.5; L-PROTECTION; 8.1).
//!
//! [`Incidents::observe`] feeds one access event to the [`Detector`]; each alert becomes
//! evidence on the one open incident of its (rule, employee), opened if there is none. When
//! a rule asks for containment and its incident has just opened, the [`Suspender`] (wired by
//! the application to the employee store) suspends the employee, and the outcome goes on the
//! incident's timeline. The security officer lists, reads, acknowledges, annotates and
//! closes incidents ([`Incidents::list`] …), with the `security` purpose; every such call is
//! audited.

use crate::audit::{entry, Auditor};
use crate::error::ServiceError;
use crate::model::Actor;
use chrono::{DateTime, Utc};
use derbes_access::detect::{Alert, Containment};
use derbes_access::{AccessControl, AccessEvent, Detector, ReloadReport};
use derbes_audit::{Action, Outcome};
use derbes_core::clock::{from_micros, to_micros, Clock};
use derbes_store::{
    IncidentEventRecord, IncidentRecord, NewIncident, Raised, Store, Transition, TransitionResult,
};
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use utoipa::ToSchema;
use uuid::Uuid;

/// The purpose under which incidents are handled (information security, 1.1 (18)).
pub const INCIDENT_PURPOSE: &str = "security";

/// The actor id the detector records under.
pub const DETECTOR_ACTOR: &str = "system:detector";

/// The longest note.
pub const MAX_NOTE_CHARS: usize = 2000;

/// Executes a containment step. The application wires it to the employee accounts (suspend
/// the account, end its sessions).
pub trait Suspender: Send + Sync + 'static {
    /// Suspend `employee` (an actor id) because of `incident`. An error is recorded on the
    /// incident's timeline as `auto_suspend_failed`.
    fn suspend<'a>(
        &'a self,
        employee: &'a str,
        incident: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;
}

/// An incident as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct IncidentView {
    /// Incident id.
    pub id: String,
    /// The detection rule that raised it.
    pub rule: String,
    /// The employee (actor id).
    pub employee: String,
    /// `low`, `medium`, `high`.
    pub severity: String,
    /// `open`, `acknowledged`, `closed`.
    pub status: String,
    /// When it was opened.
    pub opened_at: DateTime<Utc>,
    /// When the first evidence happened.
    pub discovered_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When acknowledged.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Who acknowledged.
    pub acknowledged_by: Option<String>,
    /// When closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// Who closed.
    pub closed_by: Option<String>,
    /// Distinct subjects named by the evidence.
    pub affected_subjects: i64,
    /// Breach workflow (later): regulator notice deadline.
    pub regulator_deadline_at: Option<DateTime<Utc>>,
    /// Breach workflow (later): regulator notified at.
    pub regulator_notified_at: Option<DateTime<Utc>>,
    /// Breach workflow (later): subjects notified at.
    pub subjects_notified_at: Option<DateTime<Utc>>,
}

impl From<IncidentRecord> for IncidentView {
    fn from(r: IncidentRecord) -> Self {
        IncidentView {
            id: r.id,
            rule: r.rule,
            employee: r.employee,
            severity: r.severity,
            status: r.status,
            opened_at: from_micros(r.opened_at),
            discovered_at: from_micros(r.discovered_at),
            updated_at: from_micros(r.updated_at),
            acknowledged_at: r.acknowledged_at.map(from_micros),
            acknowledged_by: r.acknowledged_by,
            closed_at: r.closed_at.map(from_micros),
            closed_by: r.closed_by,
            affected_subjects: r.affected_subjects,
            regulator_deadline_at: r.regulator_deadline_at.map(from_micros),
            regulator_notified_at: r.regulator_notified_at.map(from_micros),
            subjects_notified_at: r.subjects_notified_at.map(from_micros),
        }
    }
}

/// One entry of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct IncidentEventView {
    /// 1, 2, … within the incident.
    pub seq: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// `raised`, `evidence`, `auto_suspended`, `auto_suspend_failed`, `acknowledged`, `note`,
    /// `closed`.
    pub kind: String,
    /// Who (`system:detector` or an actor id).
    pub actor: String,
    /// Evidence (`kind`, `subjects`, `count`, `purpose`, `at`) or `{ "note": … }`.
    #[schema(value_type = Object)]
    pub detail: Option<serde_json::Value>,
}

impl From<IncidentEventRecord> for IncidentEventView {
    fn from(r: IncidentEventRecord) -> Self {
        IncidentEventView {
            seq: r.seq,
            at: from_micros(r.at),
            kind: r.kind,
            actor: r.actor,
            detail: r
                .detail
                .map(|d| serde_json::from_str(&d).unwrap_or(serde_json::Value::String(d))),
        }
    }
}

/// An incident with its subjects and timeline.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct IncidentDetail {
    /// The incident.
    #[serde(flatten)]
    pub incident: IncidentView,
    /// Subjects (pseudonyms) the evidence names.
    pub subjects: Vec<String>,
    /// The timeline, oldest first.
    pub timeline: Vec<IncidentEventView>,
}

/// What observing one event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Incidents opened (ids).
    pub opened: Vec<String>,
    /// Incidents that gathered more evidence (ids).
    pub appended: Vec<String>,
    /// Containment steps asked for by the rules of newly opened incidents (executed through
    /// the [`Suspender`] when one is set).
    pub containment: Vec<Containment>,
}

struct Inner {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    auditor: Auditor,
    detector: Option<Mutex<Detector>>,
    suspender: Option<Arc<dyn Suspender>>,
}

/// The incident service. Cheap to clone.
#[derive(Clone)]
pub struct Incidents {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Incidents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incidents").finish_non_exhaustive()
    }
}

fn check_note(note: Option<&str>) -> Result<Option<String>, ServiceError> {
    let Some(n) = note else { return Ok(None) };
    let n = n.trim();
    if n.is_empty()
        || n.chars().count() > MAX_NOTE_CHARS
        || n.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(ServiceError::InvalidNote);
    }
    Ok(Some(serde_json::json!({ "note": n }).to_string()))
}

impl Incidents {
    /// Incidents over `store`, without a detector (API only). Starts an audit writer: call
    /// inside a Tokio runtime.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Incidents {
        Incidents::build(store, clock, None, None)
    }

    /// Incidents with a detector and, optionally, a suspender for containment.
    pub fn with_detector(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        detector: Detector,
        suspender: Option<Arc<dyn Suspender>>,
    ) -> Incidents {
        Incidents::build(store, clock, Some(detector), suspender)
    }

    fn build(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        detector: Option<Detector>,
        suspender: Option<Arc<dyn Suspender>>,
    ) -> Incidents {
        Incidents {
            inner: Arc::new(Inner {
                auditor: Auditor::start(store.clone()),
                store,
                clock,
                detector: detector.map(Mutex::new),
                suspender,
            }),
        }
    }

    /// Stop the audit writer after pending appends.
    pub async fn shutdown(&self) {
        self.inner.auditor.shutdown().await;
    }

    fn now(&self) -> i64 {
        to_micros(self.inner.clock.now())
    }

    /// Feed one access event to the detector and record what it raises.
    pub async fn observe(&self, ev: &AccessEvent) -> Result<Observed, ServiceError> {
        let alerts: Vec<Alert> = match &self.inner.detector {
            Some(d) => match d.lock() {
                Ok(mut d) => d.observe(ev),
                Err(poisoned) => poisoned.into_inner().observe(ev),
            },
            None => Vec::new(),
        };
        let mut out = Observed {
            opened: Vec::new(),
            appended: Vec::new(),
            containment: Vec::new(),
        };
        for alert in alerts {
            let now = self.now();
            let evidence =
                serde_json::to_string(&alert.evidence).map_err(|_| ServiceError::Unavailable)?;
            let new = NewIncident {
                id: Uuid::now_v7().to_string(),
                rule: alert.rule.clone(),
                employee: alert.employee.clone(),
                severity: alert.severity.as_str().to_string(),
                at: now,
                evidence_at: to_micros(alert.evidence.at),
                evidence,
                subjects: alert.evidence.subjects.clone(),
                actor: DETECTOR_ACTOR.to_string(),
            };
            let raised = self.inner.store.raise_incident(&new).await?;
            let id = raised.incident().id.clone();
            let opened = matches!(raised, Raised::Opened(_));
            self.inner
                .auditor
                .record(vec![entry(
                    now,
                    DETECTOR_ACTOR,
                    Action::INCIDENT,
                    Outcome::Allowed,
                    None,
                    Some(INCIDENT_PURPOSE),
                    Vec::new(),
                    Some(alert.rule.clone()),
                    Some(format!(
                        "{}:{id}:{}",
                        if opened { "raised" } else { "evidence" },
                        alert.employee
                    )),
                )])
                .await?;
            if opened {
                tracing::warn!(rule = %alert.rule, incident = %id, severity = alert.severity.as_str(), "incident raised");
                out.opened.push(id.clone());
                for c in alert.containment {
                    self.contain(&id, &c).await?;
                    out.containment.push(c);
                }
            } else {
                out.appended.push(id);
            }
        }
        Ok(out)
    }

    async fn contain(&self, incident: &str, c: &Containment) -> Result<(), ServiceError> {
        let Containment::Suspend { employee } = c;
        let Some(s) = &self.inner.suspender else {
            return Ok(());
        };
        let (kind, detail) = match s.suspend(employee, incident).await {
            Ok(()) => (
                "auto_suspended",
                serde_json::json!({ "employee": employee }),
            ),
            Err(e) => (
                "auto_suspend_failed",
                serde_json::json!({ "employee": employee, "error": e }),
            ),
        };
        self.inner
            .store
            .append_incident_event(
                incident,
                self.now(),
                kind,
                DETECTOR_ACTOR,
                Some(&detail.to_string()),
            )
            .await?;
        Ok(())
    }

    /// Check the caller may handle incidents; refusals are audited.
    async fn authorize(&self, actor: &Actor, what: &str) -> Result<(), ServiceError> {
        if actor.may_use(INCIDENT_PURPOSE) {
            return Ok(());
        }
        self.inner
            .auditor
            .record(vec![entry(
                self.now(),
                &actor.id(),
                Action::DENIED,
                Outcome::Denied,
                None,
                Some(INCIDENT_PURPOSE),
                Vec::new(),
                Some("purpose_not_permitted:1.1".into()),
                Some(format!("incident_{what}")),
            )])
            .await?;
        Err(ServiceError::PurposeNotPermitted)
    }

    async fn audit(&self, actor: &Actor, detail: String) -> Result<(), ServiceError> {
        self.inner
            .auditor
            .record(vec![entry(
                self.now(),
                &actor.id(),
                Action::INCIDENT,
                Outcome::Allowed,
                None,
                Some(INCIDENT_PURPOSE),
                Vec::new(),
                None,
                Some(detail),
            )])
            .await
    }

    /// Incidents, newest first (`status`: `open`, `acknowledged`, `closed`, or all).
    pub async fn list(
        &self,
        actor: &Actor,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<IncidentView>, ServiceError> {
        self.authorize(actor, "list").await?;
        if let Some(s) = status {
            if !["open", "acknowledged", "closed"].contains(&s) {
                return Err(ServiceError::InvalidIncidentStatus);
            }
        }
        let rows = self.inner.store.list_incidents(status, limit).await?;
        self.audit(actor, "list".into()).await?;
        Ok(rows.into_iter().map(IncidentView::from).collect())
    }

    /// One incident with its subjects and timeline.
    pub async fn get(&self, actor: &Actor, id: &str) -> Result<IncidentDetail, ServiceError> {
        self.authorize(actor, "read").await?;
        let Some(rec) = self.inner.store.incident(id).await? else {
            return Err(ServiceError::IncidentNotFound);
        };
        let subjects = self.inner.store.incident_subjects(id).await?;
        let timeline = self.inner.store.incident_events(id).await?;
        self.audit(actor, format!("read:{id}")).await?;
        Ok(IncidentDetail {
            incident: rec.into(),
            subjects,
            timeline: timeline.into_iter().map(IncidentEventView::from).collect(),
        })
    }

    async fn transition(
        &self,
        actor: &Actor,
        id: &str,
        t: Transition,
        note: Option<&str>,
    ) -> Result<IncidentView, ServiceError> {
        let what = match t {
            Transition::Acknowledge => "acknowledge",
            Transition::Close => "close",
        };
        self.authorize(actor, what).await?;
        let note = check_note(note)?;
        match self
            .inner
            .store
            .transition_incident(id, t, self.now(), &actor.id(), note.as_deref())
            .await?
        {
            TransitionResult::Done(rec) => {
                self.audit(actor, format!("{what}:{id}")).await?;
                Ok((*rec).into())
            }
            TransitionResult::NotFound => Err(ServiceError::IncidentNotFound),
            TransitionResult::WrongStatus(s) => Err(ServiceError::IncidentWrongStatus(s)),
        }
    }

    /// `open` → `acknowledged`.
    pub async fn acknowledge(
        &self,
        actor: &Actor,
        id: &str,
        note: Option<&str>,
    ) -> Result<IncidentView, ServiceError> {
        self.transition(actor, id, Transition::Acknowledge, note)
            .await
    }

    /// `open`/`acknowledged` → `closed`.
    pub async fn close(
        &self,
        actor: &Actor,
        id: &str,
        note: Option<&str>,
    ) -> Result<IncidentView, ServiceError> {
        self.transition(actor, id, Transition::Close, note).await
    }

    /// Add a note to the timeline.
    pub async fn note(
        &self,
        actor: &Actor,
        id: &str,
        note: &str,
    ) -> Result<IncidentEventView, ServiceError> {
        self.authorize(actor, "note").await?;
        let detail = check_note(Some(note))?;
        let Some(ev) = self
            .inner
            .store
            .append_incident_event(id, self.now(), "note", &actor.id(), detail.as_deref())
            .await?
        else {
            return Err(ServiceError::IncidentNotFound);
        };
        self.audit(actor, format!("note:{id}")).await?;
        Ok(ev.into())
    }

    /// Re-read the access policy (clauses 5.4, 8.1): a security officer's action, audited as
    /// a policy change; a bad file keeps the policy in force and the error says why.
    pub async fn reload_access_policy(
        &self,
        actor: &Actor,
        control: &AccessControl,
    ) -> Result<ReloadReport, ServiceError> {
        self.authorize(actor, "access_reload").await?;
        let result = control.reload();
        let (outcome, detail) = match &result {
            Ok(r) => (Outcome::Allowed, format!("access_reload:{}", r.rules.len())),
            Err(e) => (
                Outcome::Denied,
                format!("access_reload_rejected:{}", e.code()),
            ),
        };
        self.inner
            .auditor
            .record(vec![entry(
                self.now(),
                &actor.id(),
                Action::POLICY_CHANGE,
                outcome,
                None,
                Some(INCIDENT_PURPOSE),
                Vec::new(),
                None,
                Some(detail),
            )])
            .await?;
        match result {
            Ok(r) => {
                tracing::info!(rules = r.rules.len(), "access policy reloaded");
                Ok(r)
            }
            Err(e) => {
                tracing::warn!(
                    code = e.code(),
                    "access policy reload rejected; old policy kept"
                );
                Err(ServiceError::AccessPolicyRejected(e.to_string()))
            }
        }
    }
}

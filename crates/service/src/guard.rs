//! Employee access under the access policy (clauses 4.1, 5.3–5.5; L-PROTECTION).
//!
//! Systems and API keys are bounded by their purposes and the registry's purpose → category
//! map (1.1, 3.2, [`Vault::authorize`]). An employee is bounded further: for every category a
//! call touches, the access policy ([`derbes_access::AccessControl`], Cedar) decides by
//! role × purpose × category × condition (the subject's contract is overdue, the employee asks
//! to reveal a masked value, the access is within working hours) whether the value is shown in
//! clear, masked, or not at all. Deny by default: an employee call on a vault without an
//! access policy is refused. Every decision names its rule, and that rule is what the audit
//! entry records. Every employee access — allowed, masked or denied — is fed to the incident
//! detector (5.5), whose rules may suspend the employee at once.

use crate::error::ServiceError;
use crate::incidents::{Incidents, Suspender};
use crate::model::{Actor, AuditTrailEntry, Call, SubjectView, ValueView, Withheld};
use crate::vault::Vault;
use derbes_access::{
    AccessControl, AccessEvent, AccessRequest, Decision, Effect, Outcome as Seen, Role,
    WorkingHours,
};
use derbes_audit::Action;
use derbes_core::clock::from_micros;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use uuid::Uuid;

/// Rule named when an employee calls a vault that runs without an access policy.
pub const NO_POLICY_RULE: &str = "access_policy_missing:4.1";
/// Rule named when an employee's role is not one the access policy knows.
pub const UNKNOWN_ROLE_RULE: &str = "unknown_role:4.1";
/// Purposes for which an employee may read a subject's audit trail (8.1): information
/// security and the handling of subjects' requests.
pub const AUDIT_TRAIL_PURPOSES: &[&str] = &["security", "requests"];
/// The most audit-trail entries one call returns (newest first).
pub const AUDIT_TRAIL_LIMIT: i64 = 500;

/// The employee access guard of a vault: the access policy in force, the working hours its
/// `working_hours` condition uses, and the incident service detection reports to.
#[derive(Clone)]
pub struct AccessGuard {
    control: Arc<AccessControl>,
    hours: WorkingHours,
    incidents: Option<Incidents>,
}

impl std::fmt::Debug for AccessGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessGuard").finish_non_exhaustive()
    }
}

impl AccessGuard {
    /// A guard deciding with `control`, within `hours`, reporting every employee access to
    /// `incidents` (detection, clause 5.5) when given.
    pub fn new(
        control: Arc<AccessControl>,
        hours: WorkingHours,
        incidents: Option<Incidents>,
    ) -> AccessGuard {
        AccessGuard {
            control,
            hours,
            incidents,
        }
    }

    /// A guard with the working hours of the embedded detection rules and the embedded
    /// Kazakhstan calendar (what `derbes serve` runs without `--detection-rules`).
    pub fn with_embedded_hours(
        control: Arc<AccessControl>,
        incidents: Option<Incidents>,
    ) -> Result<AccessGuard, String> {
        let cfg = derbes_access::DetectionConfig::embedded().map_err(|e| e.to_string())?;
        let calendar =
            derbes_core::calendar::WorkCalendar::embedded_kz().map_err(|e| e.to_string())?;
        let hours =
            WorkingHours::new(cfg.start, cfg.end, Arc::new(calendar)).map_err(|e| e.to_string())?;
        Ok(AccessGuard::new(control, hours, incidents))
    }
}

/// The access policy's decisions for one employee call on one subject, by category.
#[derive(Debug, Clone, Default)]
pub(crate) struct Decisions {
    by_category: BTreeMap<String, Decision>,
}

impl Decisions {
    /// The denied categories and their rules.
    fn denied(&self) -> Vec<Withheld> {
        self.by_category
            .iter()
            .filter(|(_, d)| !d.allows())
            .map(|(c, d)| Withheld {
                category: c.clone(),
                rule: d.rule_id.clone(),
            })
            .collect()
    }

    /// The refusal of a call that asked for exactly these categories: every one must be
    /// allowed (masked or in clear; in clear when `clear` is asked).
    fn refusal(&self, clear: bool) -> Option<ServiceError> {
        let refused: Vec<(&String, &Decision)> = self
            .by_category
            .iter()
            .filter(|(_, d)| !d.allows() || (clear && d.effect != Effect::Allow))
            .collect();
        let (_, first) = refused.first()?;
        Some(ServiceError::AccessDenied {
            rule: first.rule_id.clone(),
            categories: refused.iter().map(|(c, _)| (*c).clone()).collect(),
        })
    }

    /// The rule that decided on `category`.
    pub(crate) fn rule_of(&self, category: &str) -> String {
        self.by_category.get(category).map_or_else(
            || derbes_access::policy::DEFAULT_DENY.to_string(),
            |d| d.rule_id.clone(),
        )
    }

    /// Whether `category` may be shown at all.
    pub(crate) fn allows(&self, category: &str) -> bool {
        self.by_category.get(category).is_some_and(Decision::allows)
    }

    /// The categories that may be shown at all.
    pub(crate) fn allowed(&self) -> BTreeSet<String> {
        self.by_category
            .iter()
            .filter(|(_, d)| d.allows())
            .map(|(c, _)| c.clone())
            .collect()
    }

    /// The distinct rules that allowed the shown categories, for the audit entry.
    fn rules_of<'a>(&self, shown: impl IntoIterator<Item = &'a str>) -> String {
        let rules: BTreeSet<&str> = shown
            .into_iter()
            .filter_map(|c| self.by_category.get(c))
            .map(|d| d.rule_id.as_str())
            .collect();
        let joined = rules.into_iter().collect::<Vec<_>>().join(",");
        format!("access:{joined}")
    }
}

/// What to do when a call's categories are not all allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The caller named these categories: any refusal refuses the call.
    Exact,
    /// The caller took the purpose's default set: withhold what is refused, show the rest
    /// (refuse only when nothing is left).
    Default,
    /// A write or a reveal: every category must be allowed in clear.
    Clear,
}

impl Vault {
    /// Put employee access under `guard` (once, at start-up). Returns `false` when a guard
    /// was already installed (the first one stays).
    pub fn install_access_guard(&self, guard: AccessGuard) -> bool {
        self.inner.guard.set(guard).is_ok()
    }

    /// Whether employee calls are decided by an access policy.
    pub fn has_access_guard(&self) -> bool {
        self.inner.guard.get().is_some()
    }

    /// The access policy's decisions for an employee call on subject `id` over `categories`
    /// (`None` for any other actor). A refusal is returned as the error to audit.
    pub(crate) async fn employee_decisions<'a, I>(
        &self,
        call: &Call,
        id: Uuid,
        categories: I,
        reveal: bool,
        scope: Scope,
    ) -> Result<Option<Decisions>, ServiceError>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let Actor::Employee { role, .. } = &call.actor else {
            return Ok(None);
        };
        let categories: Vec<&str> = categories.into_iter().collect();
        let refuse = |rule: &str| ServiceError::AccessDenied {
            rule: rule.to_string(),
            categories: categories.iter().map(|c| c.to_string()).collect(),
        };
        let Some(guard) = self.inner.guard.get() else {
            return Err(refuse(NO_POLICY_RULE));
        };
        let Ok(role) = Role::parse(role) else {
            return Err(refuse(UNKNOWN_ROLE_RULE));
        };
        let overdue = self.contract_overdue(id).await?;
        let now = self.now();
        let policy = guard.control.current();
        let by_category = categories
            .iter()
            .map(|c| {
                let req = AccessRequest::new(role, &call.purpose, c)
                    .overdue(overdue)
                    .reveal(reveal)
                    .at(now, &guard.hours);
                (c.to_string(), policy.decide(&req))
            })
            .collect();
        let d = Decisions { by_category };
        let refusal = match scope {
            Scope::Exact => d.refusal(false),
            Scope::Clear => d.refusal(true),
            Scope::Default if !d.by_category.values().any(Decision::allows) => d.refusal(false),
            Scope::Default => None,
        };
        match refusal {
            Some(e) => Err(e),
            None => Ok(Some(d)),
        }
    }

    /// Admit a call on one category of one subject: the category exists, the purpose and
    /// minimisation checks (1.1, 3.2), the access policy for an employee (4.1, 5.3) and the
    /// consent gate (L-PURPOSE); refusals are audited as `action`.
    pub(crate) async fn admit_one(
        &self,
        call: &Call,
        id: Uuid,
        category: &str,
        action: Action,
        reveal: bool,
        scope: Scope,
    ) -> Result<Option<Decisions>, ServiceError> {
        if self.inner.registry.category(category).is_none() {
            return Err(crate::vault::unknown_category(category));
        }
        if let Err(e) = self.authorize(call, [category]) {
            return Err(self.denied(call, action, Some(id), e).await);
        }
        let decisions = match self
            .employee_decisions(call, id, [category], reveal, scope)
            .await
        {
            Ok(d) => d,
            Err(e) => return Err(self.denied(call, action, Some(id), e).await),
        };
        self.consent_gate(call, action, id).await?;
        Ok(decisions)
    }

    /// Whether any contract of the subject is overdue (the `contract_overdue` condition).
    async fn contract_overdue(&self, id: Uuid) -> Result<bool, ServiceError> {
        let contracts = self.inner.store.contracts_of(id.as_bytes()).await?;
        Ok(contracts.iter().any(|c| c.status == "overdue"))
    }

    /// Apply decisions to a view: drop what is denied (listing it as withheld), mask what is
    /// to be masked, and name each value's rule.
    pub(crate) fn apply_decisions(
        &self,
        view: &mut SubjectView,
        d: &Decisions,
    ) -> Result<(), ServiceError> {
        view.values.retain(|v| d.allows(&v.category));
        for v in &mut view.values {
            if let Some(decision) = d.by_category.get(&v.category) {
                self.apply_one(v, decision)?;
            }
        }
        view.withheld = d.denied();
        Ok(())
    }

    fn apply_one(&self, v: &mut ValueView, decision: &Decision) -> Result<(), ServiceError> {
        v.rule = Some(decision.rule_id.clone());
        if decision.effect == Effect::AllowMasked {
            let def = self
                .inner
                .registry
                .category(&v.category)
                .ok_or(ServiceError::Integrity)?;
            let parsed = def
                .parse_value(&v.value)
                .map_err(|_| ServiceError::Integrity)?;
            v.value = serde_json::Value::String(derbes_access::mask::masked(&parsed));
            v.masked = true;
            // A verification note may quote the value; a masked view carries none of it.
            if let Some(ver) = &mut v.verification {
                ver.note = None;
            }
        }
        Ok(())
    }

    /// The audit rule of an allowed call: the access rules for an employee, the purpose map
    /// for anyone else.
    pub(crate) fn rule_for<'a>(
        &self,
        call: &Call,
        decisions: Option<&Decisions>,
        shown: impl IntoIterator<Item = &'a str>,
    ) -> String {
        match decisions {
            Some(d) => d.rules_of(shown),
            None => self.rule(call),
        }
    }

    /// Report an employee's access to the incident detector (5.5). Detection never fails a
    /// call: a failure is logged (codes only) and the access stands as audited.
    pub(crate) async fn observe(&self, call: &Call, subject: Option<Uuid>, seen: Seen) {
        if !matches!(call.actor, Actor::Employee { .. }) {
            return;
        }
        let Some(incidents) = self.inner.guard.get().and_then(|g| g.incidents.as_ref()) else {
            return;
        };
        let ev = AccessEvent {
            employee: call.actor.id(),
            subject: subject.map(|s| s.to_string()),
            purpose: call.purpose.clone(),
            outcome: seen,
            at: self.now(),
        };
        if let Err(e) = incidents.observe(&ev).await {
            tracing::error!(code = e.code(), "incident detection failed");
        }
    }

    /// Reveal one masked value in clear (clause 4.1: e.g. a call-centre operator's IIN for
    /// identification). The access policy decides with `reveal = true`; the reveal is audited
    /// as a read with detail `reveal`. For systems it is a plain read of one category.
    pub async fn reveal(
        &self,
        call: &Call,
        id: Uuid,
        category: &str,
    ) -> Result<ValueView, ServiceError> {
        let decisions = self
            .admit_one(call, id, category, Action::READ, true, Scope::Clear)
            .await?;
        let sid = *id.as_bytes();
        let (subject, values) = self
            .inner
            .store
            .subject_with_values(&sid)
            .await?
            .ok_or(ServiceError::SubjectNotFound)?;
        let rec = values
            .iter()
            .find(|r| r.category == category)
            .ok_or_else(|| ServiceError::ValueMissing(category.to_string()))?;
        let dek = self.unwrap(&subject)?;
        let mut view = crate::vault::value_view(&dek, &sid, rec)?;
        if let Some(d) = decisions.as_ref().and_then(|d| d.by_category.get(category)) {
            view.rule = Some(d.rule_id.clone());
        }
        let rule = self.rule_for(call, decisions.as_ref(), [category]);
        self.record_rule(
            call,
            Action::READ,
            Some(id),
            vec![category.to_string()],
            rule,
            Some("reveal".into()),
            Seen::Allowed,
        )
        .await?;
        Ok(view)
    }

    /// The audit trail of one subject, newest first (clause 8.1): for information security
    /// and the handling of subjects' requests ([`AUDIT_TRAIL_PURPOSES`]). The reading itself
    /// is audited. Entries carry codes only, never values.
    pub async fn audit_trail(
        &self,
        call: &Call,
        id: Uuid,
    ) -> Result<Vec<AuditTrailEntry>, ServiceError> {
        if let Err(e) = self.authorize(call, std::iter::empty()) {
            return Err(self.denied(call, Action::READ, Some(id), e).await);
        }
        if !AUDIT_TRAIL_PURPOSES.contains(&call.purpose.as_str()) {
            let e = ServiceError::AccessDenied {
                rule: "audit_trail_purposes:8.1".into(),
                categories: Vec::new(),
            };
            return Err(self.denied(call, Action::READ, Some(id), e).await);
        }
        if self.inner.store.subject(id.as_bytes()).await?.is_none() {
            return Err(ServiceError::SubjectNotFound);
        }
        let entries = self
            .inner
            .store
            .audit_for_subject(&id.to_string(), AUDIT_TRAIL_LIMIT)
            .await?;
        let rule = format!("audit_trail:8.1,{}", self.rule(call));
        self.record_rule(
            call,
            Action::READ,
            Some(id),
            Vec::new(),
            rule,
            Some("audit_trail".into()),
            Seen::Allowed,
        )
        .await?;
        Ok(entries
            .into_iter()
            .map(|e| AuditTrailEntry {
                seq: e.seq,
                at: from_micros(e.at),
                actor: e.actor,
                action: e.action.as_str().to_string(),
                purpose: e.purpose,
                categories: e.categories,
                rule: e.rule,
                outcome: e.outcome.as_str().to_string(),
                detail: e.detail,
            })
            .collect())
    }

    /// Apply an employee's decisions to history views (masked versions stay masked).
    pub(crate) fn mask_history(
        &self,
        views: &mut [ValueView],
        d: Option<&Decisions>,
    ) -> Result<(), ServiceError> {
        let Some(d) = d else { return Ok(()) };
        for v in views.iter_mut() {
            if let Some(decision) = d.by_category.get(&v.category) {
                self.apply_one(v, decision)?;
            }
        }
        Ok(())
    }
}

/// Automatic containment (clause 5.5): a detection rule with `suspend = true` suspends the
/// employee through the employee service, which ends their sessions at once.
impl Suspender for crate::employees::Employees {
    fn suspend<'a>(
        &'a self,
        employee: &'a str,
        _incident: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let id = employee.strip_prefix("employee:").unwrap_or(employee);
            crate::employees::Employees::suspend(self, id, "incident_detector")
                .await
                .map_err(|e| e.code().to_string())
        })
    }
}

/// What an employee's access outcome was, for detection.
pub(crate) fn seen_of(view: &SubjectView) -> Seen {
    if view.values.iter().any(|v| v.masked) {
        Seen::Masked
    } else {
        Seen::Allowed
    }
}

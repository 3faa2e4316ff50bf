//! What the console shows of a subject: thin view models over the vault's employee API.
//! The vault applies the access policy (clauses 4.1, 5.3): it masks values, withholds
//! categories with their rule, reveals only where a permit allows it, audits every decision
//! and reports it to detection (5.5); this module only reshapes its answers for the templates.

use crate::AppState;
use chrono::{DateTime, Utc};
use derbes_service::{Call, ServiceError, SubjectView, ValueView};
use uuid::Uuid;

/// A value as the employee may see it.
#[derive(Debug, Clone)]
pub struct Shown {
    /// The value (in clear, or its masked form as a JSON string when `masked`).
    pub view: ValueView,
    /// Whether `view.value` is the masked form.
    pub masked: bool,
    /// The deciding rule, if a policy decided.
    pub rule: Option<String>,
}

/// A category the access policy withheld.
#[derive(Debug, Clone)]
pub struct Withheld {
    /// Category code.
    pub category: String,
    /// The deciding rule.
    pub rule: String,
}

/// A subject as the employee may see it.
#[derive(Debug, Clone)]
pub struct ShownSubject {
    /// Pseudonymous id.
    pub id: Uuid,
    /// The values shown.
    pub values: Vec<Shown>,
    /// The categories withheld.
    pub withheld: Vec<Withheld>,
}

/// One entry of a subject's audit trail.
#[derive(Debug, Clone)]
pub struct AuditTrailEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// Actor id (pseudonymous).
    pub actor: String,
    /// Action code.
    pub action: String,
    /// Purpose code.
    pub purpose: Option<String>,
    /// Category codes.
    pub categories: Vec<String>,
    /// `allowed` / `denied`.
    pub outcome: String,
    /// The deciding rule.
    pub rule: Option<String>,
}

fn shown(v: ValueView) -> Shown {
    Shown {
        masked: v.masked,
        rule: v.rule.clone(),
        view: v,
    }
}

fn subject(view: SubjectView) -> ShownSubject {
    ShownSubject {
        id: view.id,
        withheld: view
            .withheld
            .into_iter()
            .map(|w| Withheld {
                category: w.category,
                rule: w.rule,
            })
            .collect(),
        values: view.values.into_iter().map(shown).collect(),
    }
}

/// Read a subject for the call's purpose ([`derbes_service::Vault::read_subject`]).
pub async fn read(state: &AppState, call: &Call, id: Uuid) -> Result<ShownSubject, ServiceError> {
    Ok(subject(state.vault.read_subject(call, id, None).await?))
}

/// Search by an exact value ([`derbes_service::Vault::find_subjects`]).
pub async fn find(
    state: &AppState,
    call: &Call,
    category: &str,
    value: &serde_json::Value,
) -> Result<Vec<ShownSubject>, ServiceError> {
    let found = state
        .vault
        .find_subjects(call, category, value, None)
        .await?;
    Ok(found.into_iter().map(subject).collect())
}

/// Show one masked value in full where the access policy allows a reveal
/// ([`derbes_service::Vault::reveal`]; `access_denied` otherwise).
pub async fn reveal(
    state: &AppState,
    call: &Call,
    id: Uuid,
    category: &str,
) -> Result<Shown, ServiceError> {
    Ok(shown(state.vault.reveal(call, id, category).await?))
}

/// The subject's audit trail, newest first ([`derbes_service::Vault::audit_trail`]: for the
/// `security` and `requests` purposes; the reading is audited).
pub async fn audit_trail(
    state: &AppState,
    call: &Call,
    id: Uuid,
) -> Result<Vec<AuditTrailEntry>, ServiceError> {
    let rows = state.vault.audit_trail(call, id).await?;
    Ok(rows
        .into_iter()
        .map(|e| AuditTrailEntry {
            at: e.at,
            actor: e.actor,
            action: e.action,
            purpose: e.purpose,
            categories: e.categories,
            outcome: e.outcome,
            rule: e.rule,
        })
        .collect())
}

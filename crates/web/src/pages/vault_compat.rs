//! **Temporary adapters** to the `Vault` API that is being added on `main` (employee reads
//! pass the Cedar access decision). The console is written against the shapes of that API:
//!
//! - `ValueView { masked: bool, rule: Option<String>, .. }` → [`Shown`]
//! - `SubjectView { withheld: Vec<Withheld { category, rule }>, .. }` → [`ShownSubject`]
//! - `Vault::reveal(&Call, Uuid, &str) -> Result<ValueView, ServiceError>` → [`reveal`]
//! - `Vault::audit_trail(&Call, Uuid) -> Result<Vec<AuditTrailEntry>, ServiceError>` →
//!   [`audit_trail`]
//!
//! Until then, this module applies the access policy the server runs with
//! (`AppState::access`) to what the current vault returns: an employee's values are passed
//! through `AccessControl::decide` (conditions: `reveal` as asked; `contract_overdue` and
//! `working_hours` false — the stricter reading) and masked with `derbes_access::mask`.
//! The vault itself still reads and audits (clauses 1.1, 3.2, 4.3, 8.1 are enforced there).
//! **At merge**: replace each function's body by the vault call of the same name and delete
//! the masking here — the console handlers do not change.

use crate::AppState;
use chrono::{DateTime, Utc};
use derbes_access::{AccessRequest, Effect, Role};
use derbes_service::{Actor, Call, ServiceError, SubjectView, ValueView};
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

fn employee_role(call: &Call) -> Option<Role> {
    match &call.actor {
        Actor::Employee { role, .. } => Role::parse(role).ok(),
        _ => None,
    }
}

fn apply(state: &AppState, call: &Call, view: SubjectView, reveal: bool) -> ShownSubject {
    let role = employee_role(call);
    let mut values = Vec::with_capacity(view.values.len());
    let mut withheld = Vec::new();
    for v in view.values {
        let (Some(role), Some(access)) = (role, state.access.as_ref()) else {
            values.push(Shown {
                view: v,
                masked: false,
                rule: None,
            });
            continue;
        };
        let d = access.decide(&AccessRequest::new(role, &call.purpose, &v.category).reveal(reveal));
        match d.effect {
            Effect::Allow => values.push(Shown {
                view: v,
                masked: false,
                rule: Some(d.rule_id),
            }),
            Effect::AllowMasked => {
                let parsed = state
                    .vault
                    .registry()
                    .category(&v.category)
                    .and_then(|def| def.parse_value(&v.value).ok());
                let Some(parsed) = parsed else {
                    withheld.push(Withheld {
                        category: v.category,
                        rule: d.rule_id,
                    });
                    continue;
                };
                let mut view = v;
                view.value = serde_json::Value::String(derbes_access::mask::masked(&parsed));
                values.push(Shown {
                    view,
                    masked: true,
                    rule: Some(d.rule_id),
                });
            }
            Effect::Deny => withheld.push(Withheld {
                category: v.category,
                rule: d.rule_id,
            }),
        }
    }
    ShownSubject {
        id: view.id,
        values,
        withheld,
    }
}

/// Read a subject for the call's purpose (future `Vault::read_subject`).
pub async fn read(state: &AppState, call: &Call, id: Uuid) -> Result<ShownSubject, ServiceError> {
    let view = state.vault.read_subject(call, id, None).await?;
    Ok(apply(state, call, view, false))
}

/// Search by an exact value (future `Vault::find_subjects`).
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
    Ok(found
        .into_iter()
        .map(|v| apply(state, call, v, false))
        .collect())
}

/// Show one masked value in full if the policy allows it when asked (future
/// `Vault::reveal`); `reveal_refused` (as `RoleNotPermitted`) otherwise.
pub async fn reveal(
    state: &AppState,
    call: &Call,
    id: Uuid,
    category: &str,
) -> Result<Shown, ServiceError> {
    let only = [category.to_string()];
    let view = state.vault.read_subject(call, id, Some(&only)).await?;
    let shown = apply(state, call, view, true);
    shown
        .values
        .into_iter()
        .find(|v| v.view.category == category && !v.masked)
        .ok_or(ServiceError::RoleNotPermitted)
}

/// Purposes under which a subject's audit trail may be read in the adapter: information
/// security and data subjects' requests.
const TRAIL_PURPOSES: &[&str] = &["security", "requests"];

/// The subject's audit trail, newest first (future `Vault::audit_trail`).
pub async fn audit_trail(
    state: &AppState,
    call: &Call,
    id: Uuid,
) -> Result<Vec<AuditTrailEntry>, ServiceError> {
    state.vault.authorize(call, std::iter::empty::<&str>())?;
    if !TRAIL_PURPOSES.contains(&call.purpose.as_str()) {
        return Err(ServiceError::PurposeNotPermitted);
    }
    let rows = state
        .vault
        .store()
        .audit_for_subject(&id.to_string(), 200)
        .await?;
    Ok(rows
        .into_iter()
        .map(|e| AuditTrailEntry {
            at: derbes_core::clock::from_micros(e.at),
            actor: e.actor,
            action: e.action.as_str().to_string(),
            purpose: e.purpose,
            categories: e.categories,
            outcome: e.outcome.as_str().to_string(),
            rule: e.rule,
        })
        .collect())
}

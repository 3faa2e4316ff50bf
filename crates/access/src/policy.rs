//! The access policy: which role may see which data category for which purpose under which
//! conditions (clauses 4.1, 5.3, 5.4; L-PROTECTION), written in Cedar.
//!
//! # The model
//!
//! - **principal** `Role::"collector"`: the decision depends on the employee's role only (the
//!   employee's identity enters detection, [`crate::detect`], not the policy);
//! - **action** `Action::"collection"`: the purpose the access names (clause 1.1: every access
//!   names one); the actions are exactly the registry's purposes;
//! - **resource** `Category::"mobile_phone"`: the data category;
//! - **context** `{ contract_overdue, reveal, working_hours }`: the conditions.
//!
//! The Cedar schema is generated from the registry ([`schema_text`]): `Role` and `Category`
//! are enumerated entity types and the actions are the purposes, so a policy naming an unknown
//! role, purpose or category does not load. Every policy carries an `@id("…")` annotation,
//! which is the rule id every decision reports; a permit annotated `@view("masked")` lets the
//! value be seen masked only (`********2728`). Deny by default; `forbid` wins.
//!
//! # Compiled decisions
//!
//! The decision space is finite and small (6 roles × purposes × categories × 2³ conditions),
//! so [`AccessPolicy`] evaluates every point with Cedar once at load time and answers
//! [`AccessPolicy::decide`] from a table. Pairs the registry does not map (clause 3.2
//! minimisation) are denied without asking Cedar, with rule `registry-minimisation`.
//! [`AccessPolicy::decide_with_cedar`] asks Cedar directly; the tests check that both agree.

use crate::role::Role;
use cedar_policy::{
    Authorizer, Context, Entities, EntityId, EntityTypeName, EntityUid, PolicyId, PolicySet,
    RestrictedExpression, Schema, ValidationMode, Validator,
};
use derbes_core::registry::Registry;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, RwLock};

/// The default policy shipped with derbes (`crates/access/policy/default.cedar`).
pub const DEFAULT_POLICY: &str = include_str!("../policy/default.cedar");

/// Rule id of a request no policy permits.
pub const DEFAULT_DENY: &str = "default-deny";
/// Rule id of a category the purpose does not need (clause 3.2, from the registry).
pub const MINIMISATION: &str = "registry-minimisation";
/// Rule id of a purpose or category the registry does not know.
pub const UNKNOWN_CODE: &str = "registry-unknown";

/// What a decision lets the employee see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// The value in clear.
    Allow,
    /// The value masked (`Value::masked`), never in clear.
    AllowMasked,
    /// Nothing.
    Deny,
}

impl Effect {
    /// `allow`, `allow_masked` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::AllowMasked => "allow_masked",
            Effect::Deny => "deny",
        }
    }
}

/// The conditions a rule may depend on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Conditions {
    /// The subject's contract is overdue (from the loan system).
    pub contract_overdue: bool,
    /// The employee explicitly asks to see the value in clear ("reveal").
    pub reveal: bool,
    /// The access happens within working hours ([`crate::hours::WorkingHours`]).
    pub working_hours: bool,
}

impl Conditions {
    fn bits(self) -> usize {
        usize::from(self.contract_overdue)
            | (usize::from(self.reveal) << 1)
            | (usize::from(self.working_hours) << 2)
    }

    fn from_bits(b: usize) -> Conditions {
        Conditions {
            contract_overdue: b & 1 != 0,
            reveal: b & 2 != 0,
            working_hours: b & 4 != 0,
        }
    }
}

const CONDITION_COMBOS: usize = 8;

/// One access to decide: who (role), why (purpose), what (category), under which conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessRequest<'a> {
    /// The employee's role.
    pub role: Role,
    /// Purpose code (clause 1.1).
    pub purpose: &'a str,
    /// Category code (clause 2.1).
    pub category: &'a str,
    /// Conditions.
    pub conditions: Conditions,
}

impl<'a> AccessRequest<'a> {
    /// A request with every condition false.
    pub fn new(role: Role, purpose: &'a str, category: &'a str) -> AccessRequest<'a> {
        AccessRequest {
            role,
            purpose,
            category,
            conditions: Conditions::default(),
        }
    }

    /// Set whether the contract is overdue.
    pub fn overdue(mut self, yes: bool) -> Self {
        self.conditions.contract_overdue = yes;
        self
    }

    /// Set whether the employee asks to see the value in clear.
    pub fn reveal(mut self, yes: bool) -> Self {
        self.conditions.reveal = yes;
        self
    }

    /// Set the working-hours condition from the time of the access.
    pub fn at(mut self, time: chrono::DateTime<chrono::Utc>, hours: &crate::WorkingHours) -> Self {
        self.conditions.working_hours = hours.contains(time);
        self
    }
}

/// The answer, with the rule that gave it (clause 8.1: every decision is attributable).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Decision {
    /// What may be seen.
    pub effect: Effect,
    /// The `@id` of the deciding Cedar policy, or `default-deny`, `registry-minimisation`,
    /// `registry-unknown`.
    pub rule_id: String,
}

impl Decision {
    /// Whether anything (clear or masked) may be seen.
    pub fn allows(&self) -> bool {
        self.effect != Effect::Deny
    }
}

/// Why a policy did not load. Messages name policies, codes and lines — never data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read the access policy {path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        message: String,
    },
    /// Cedar could not parse the text.
    #[error("access policy syntax error{}: {message}", line.map(|l| format!(" at line {l}")).unwrap_or_default())]
    Syntax {
        /// 1-based line of the first error, if known.
        line: Option<usize>,
        /// Cedar's message.
        message: String,
    },
    /// Templates (policies with `?principal`/`?resource` slots) are not used.
    #[error("policy {id:?} is a template; the access policy takes static policies only")]
    Template {
        /// Cedar's id of the template.
        id: String,
    },
    /// A policy has no `@id("…")`.
    #[error("policy number {index} (from the top, starting at 1) has no @id(\"…\") annotation; every rule needs one so decisions can name it")]
    MissingId {
        /// 1-based position in the file.
        index: usize,
    },
    /// An `@id` is not `[a-z][a-z0-9_]{1,63}` or is a reserved rule id.
    #[error("policy id {id:?} is not a valid rule id (lower-case letters, digits, underscores; not a reserved id)")]
    BadId {
        /// The id.
        id: String,
    },
    /// Two policies share an `@id`.
    #[error("policy id {id:?} is used twice")]
    DuplicateId {
        /// The id.
        id: String,
    },
    /// `@view` other than `"masked"`, or on a forbid.
    #[error("policy {id:?}: @view may only be \"masked\" and only on a permit")]
    BadView {
        /// The policy.
        id: String,
    },
    /// A role code that is not a role.
    #[error("policy {policy:?} names unknown role {role:?}")]
    UnknownRole {
        /// The policy.
        policy: String,
        /// The code.
        role: String,
    },
    /// A purpose code not in the registry.
    #[error("policy {policy:?} names unknown purpose {purpose:?} (not in the registry)")]
    UnknownPurpose {
        /// The policy.
        policy: String,
        /// The code.
        purpose: String,
    },
    /// A category code not in the registry.
    #[error("policy {policy:?} names unknown category {category:?} (not in the registry)")]
    UnknownCategory {
        /// The policy.
        policy: String,
        /// The code.
        category: String,
    },
    /// An entity type the schema does not have.
    #[error(
        "policy {policy:?} names unknown entity type {entity_type:?} (use Role, Action, Category)"
    )]
    UnknownType {
        /// The policy.
        policy: String,
        /// The type.
        entity_type: String,
    },
    /// Cedar's validator refused a policy against the schema.
    #[error("policy {policy:?} does not type-check against the schema: {message}")]
    Invalid {
        /// The policy.
        policy: String,
        /// Cedar's message.
        message: String,
    },
    /// A policy failed while being evaluated.
    #[error("policy {policy:?} fails to evaluate: {message}")]
    Evaluation {
        /// The policy.
        policy: String,
        /// Cedar's message.
        message: String,
    },
    /// The schema generated from the registry is not valid Cedar (a bug).
    #[error("internal: the schema generated from the registry is invalid: {0}")]
    Schema(String),
}

impl PolicyError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            PolicyError::Io { .. } => "access_policy_io",
            PolicyError::Syntax { .. } => "access_policy_syntax",
            PolicyError::Template { .. } => "access_policy_template",
            PolicyError::MissingId { .. } => "access_policy_missing_id",
            PolicyError::BadId { .. } => "access_policy_bad_id",
            PolicyError::DuplicateId { .. } => "access_policy_duplicate_id",
            PolicyError::BadView { .. } => "access_policy_bad_view",
            PolicyError::UnknownRole { .. } => "access_policy_unknown_role",
            PolicyError::UnknownPurpose { .. } => "access_policy_unknown_purpose",
            PolicyError::UnknownCategory { .. } => "access_policy_unknown_category",
            PolicyError::UnknownType { .. } => "access_policy_unknown_type",
            PolicyError::Invalid { .. } => "access_policy_invalid",
            PolicyError::Evaluation { .. } => "access_policy_evaluation",
            PolicyError::Schema(_) => "access_policy_schema",
        }
    }
}

/// The Cedar schema of the access policy, generated from the registry.
pub fn schema_text(registry: &Registry) -> String {
    let quote = |codes: &mut dyn Iterator<Item = &str>| {
        codes
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let roles = quote(&mut Role::ALL.iter().map(|r| r.as_str()));
    let categories = quote(&mut registry.categories().keys().map(|c| c.as_str()));
    let purposes = quote(&mut registry.purposes().keys().map(|p| p.as_str()));
    format!(
        "// The schema of the derbes access policy. GENERATED from the registry (`derbes access schema`);\n\
         // do not edit: principal = role, action = purpose, resource = data category.\n\
         // Registry version {version}.\n\
         entity Role enum [{roles}];\n\
         entity Category enum [{categories}];\n\
         type Conditions = {{\n    \"contract_overdue\": Bool,\n    \"reveal\": Bool,\n    \"working_hours\": Bool,\n}};\n\
         action {purposes}\n    appliesTo {{ principal: [Role], resource: [Category], context: Conditions }};\n",
        version = registry.version()
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cell {
    effect: Effect,
    rule: u16,
}

const RULE_DEFAULT_DENY: u16 = 0;
const RULE_MINIMISATION: u16 = 1;

/// A loaded, validated and compiled access policy. Immutable; see [`AccessControl`] for the
/// reloadable handle.
pub struct AccessPolicy {
    policies: PolicySet,
    action_entities: Entities,
    role_uids: Vec<EntityUid>,
    purpose_uids: Vec<EntityUid>,
    category_uids: Vec<EntityUid>,
    purpose_index: HashMap<String, usize>,
    category_index: HashMap<String, usize>,
    /// Rule ids: 0 = default-deny, 1 = minimisation, then the policies' ids.
    rules: Vec<String>,
    masked: BTreeSet<String>,
    table: Vec<Cell>,
    registry_version: String,
}

impl std::fmt::Debug for AccessPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessPolicy")
            .field("rules", &self.rules)
            .field("registry_version", &self.registry_version)
            .finish()
    }
}

fn uid(type_name: &str, id: &str) -> Result<EntityUid, PolicyError> {
    let t = EntityTypeName::from_str(type_name).map_err(|e| PolicyError::Schema(e.to_string()))?;
    Ok(EntityUid::from_type_name_and_id(t, EntityId::new(id)))
}

fn is_rule_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some('a'..='z'))
        && (2..=64).contains(&id.len())
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |s| s.bytes().filter(|b| *b == b'\n').count())
        + 1
}

/// Every `{ "type": …, "id": … }` entity reference in a policy's JSON form.
fn entity_refs(v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(m) => {
            if let (Some(serde_json::Value::String(t)), Some(serde_json::Value::String(i))) =
                (m.get("type"), m.get("id"))
            {
                out.push((t.clone(), i.clone()));
            }
            m.values().for_each(|x| entity_refs(x, out));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| entity_refs(x, out)),
        _ => {}
    }
}

impl AccessPolicy {
    /// The shipped default policy, against `registry`.
    pub fn embedded(registry: &Registry) -> Result<AccessPolicy, PolicyError> {
        AccessPolicy::from_text(DEFAULT_POLICY, registry)
    }

    /// Load a policy file.
    pub fn load(path: &Path, registry: &Registry) -> Result<AccessPolicy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        AccessPolicy::from_text(&text, registry)
    }

    /// Parse, check against the registry, validate against the schema and compile.
    pub fn from_text(text: &str, registry: &Registry) -> Result<AccessPolicy, PolicyError> {
        let parsed = PolicySet::from_str(text).map_err(|e| PolicyError::Syntax {
            line: miette::Diagnostic::labels(&e)
                .and_then(|mut l| l.next())
                .map(|l| line_of(text, l.offset())),
            message: e.to_string(),
        })?;
        if let Some(t) = parsed.templates().next() {
            return Err(PolicyError::Template {
                id: t.id().to_string(),
            });
        }
        // Re-id every policy by its @id, in file order (Cedar names them policy0, policy1…).
        let mut in_order: Vec<&cedar_policy::Policy> = parsed.policies().collect();
        in_order.sort_by_key(|p| {
            p.id()
                .to_string()
                .trim_start_matches("policy")
                .parse::<usize>()
                .unwrap_or(usize::MAX)
        });
        let mut policies = PolicySet::new();
        let mut rules = vec![DEFAULT_DENY.to_string(), MINIMISATION.to_string()];
        let mut masked = BTreeSet::new();
        for (i, p) in in_order.iter().enumerate() {
            let id = p
                .annotation("id")
                .ok_or(PolicyError::MissingId { index: i + 1 })?
                .to_string();
            if !is_rule_id(&id) || [DEFAULT_DENY, MINIMISATION, UNKNOWN_CODE].contains(&id.as_str())
            {
                return Err(PolicyError::BadId { id });
            }
            if rules.contains(&id) {
                return Err(PolicyError::DuplicateId { id });
            }
            match p.annotation("view") {
                None => {}
                Some("masked") if p.effect() == cedar_policy::Effect::Permit => {
                    masked.insert(id.clone());
                }
                Some(_) => return Err(PolicyError::BadView { id }),
            }
            let json = p.to_json().map_err(|e| PolicyError::Invalid {
                policy: id.clone(),
                message: e.to_string(),
            })?;
            let mut refs = Vec::new();
            entity_refs(&json, &mut refs);
            for (t, code) in refs {
                match t.as_str() {
                    "Role" if Role::parse(&code).is_err() => {
                        return Err(PolicyError::UnknownRole {
                            policy: id,
                            role: code,
                        })
                    }
                    "Action" if registry.purpose(&code).is_none() => {
                        return Err(PolicyError::UnknownPurpose {
                            policy: id,
                            purpose: code,
                        })
                    }
                    "Category" if registry.category(&code).is_none() => {
                        return Err(PolicyError::UnknownCategory {
                            policy: id,
                            category: code,
                        })
                    }
                    "Role" | "Action" | "Category" => {}
                    _ => {
                        return Err(PolicyError::UnknownType {
                            policy: id,
                            entity_type: t,
                        })
                    }
                }
            }
            policies
                .add(p.new_id(PolicyId::new(&id)))
                .map_err(|e| PolicyError::Invalid {
                    policy: id.clone(),
                    message: e.to_string(),
                })?;
            rules.push(id);
        }
        let (schema, _warnings) = Schema::from_cedarschema_str(&schema_text(registry))
            .map_err(|e| PolicyError::Schema(e.to_string()))?;
        let result = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        if let Some(e) = result.validation_errors().next() {
            return Err(PolicyError::Invalid {
                policy: e.policy_id().to_string(),
                message: e.to_string(),
            });
        }
        let action_entities = schema
            .action_entities()
            .map_err(|e| PolicyError::Schema(e.to_string()))?;
        let role_uids = Role::ALL
            .iter()
            .map(|r| uid("Role", r.as_str()))
            .collect::<Result<Vec<_>, _>>()?;
        let purpose_codes: Vec<&str> = registry.purposes().keys().map(|p| p.as_str()).collect();
        let category_codes: Vec<&str> = registry.categories().keys().map(|c| c.as_str()).collect();
        let purpose_uids = purpose_codes
            .iter()
            .map(|p| uid("Action", p))
            .collect::<Result<Vec<_>, _>>()?;
        let category_uids = category_codes
            .iter()
            .map(|c| uid("Category", c))
            .collect::<Result<Vec<_>, _>>()?;
        let mut policy = AccessPolicy {
            policies,
            action_entities,
            role_uids,
            purpose_uids,
            category_uids,
            purpose_index: purpose_codes
                .iter()
                .enumerate()
                .map(|(i, p)| (p.to_string(), i))
                .collect(),
            category_index: category_codes
                .iter()
                .enumerate()
                .map(|(i, c)| (c.to_string(), i))
                .collect(),
            rules,
            masked,
            table: Vec::new(),
            registry_version: registry.version().to_string(),
        };
        policy.compile(registry, &purpose_codes, &category_codes)?;
        Ok(policy)
    }

    fn slot(&self, role: usize, purpose: usize, category: usize, bits: usize) -> usize {
        ((role * self.purpose_uids.len() + purpose) * self.category_uids.len() + category)
            * CONDITION_COMBOS
            + bits
    }

    fn compile(
        &mut self,
        registry: &Registry,
        purposes: &[&str],
        categories: &[&str],
    ) -> Result<(), PolicyError> {
        let size = Role::ALL.len() * purposes.len() * categories.len() * CONDITION_COMBOS;
        let mut table = Vec::with_capacity(size);
        for role in 0..Role::ALL.len() {
            for (p, purpose) in purposes.iter().enumerate() {
                for (c, category) in categories.iter().enumerate() {
                    let mapped = registry.allows(purpose, category);
                    for bits in 0..CONDITION_COMBOS {
                        table.push(if mapped {
                            self.evaluate(role, p, c, Conditions::from_bits(bits))?
                        } else {
                            Cell {
                                effect: Effect::Deny,
                                rule: RULE_MINIMISATION,
                            }
                        });
                    }
                }
            }
        }
        self.table = table;
        Ok(())
    }

    /// Ask Cedar.
    fn evaluate(
        &self,
        role: usize,
        purpose: usize,
        category: usize,
        cond: Conditions,
    ) -> Result<Cell, PolicyError> {
        let schema_err = |e: &dyn std::fmt::Display| PolicyError::Schema(e.to_string());
        let (Some(p), Some(a), Some(r)) = (
            self.role_uids.get(role),
            self.purpose_uids.get(purpose),
            self.category_uids.get(category),
        ) else {
            return Err(PolicyError::Schema("index out of range".into()));
        };
        let context = Context::from_pairs([
            (
                "contract_overdue".to_string(),
                RestrictedExpression::new_bool(cond.contract_overdue),
            ),
            (
                "reveal".to_string(),
                RestrictedExpression::new_bool(cond.reveal),
            ),
            (
                "working_hours".to_string(),
                RestrictedExpression::new_bool(cond.working_hours),
            ),
        ])
        .map_err(|e| schema_err(&e))?;
        let request = cedar_policy::Request::new(p.clone(), a.clone(), r.clone(), context, None)
            .map_err(|e| schema_err(&e))?;
        let response =
            Authorizer::new().is_authorized(&request, &self.policies, &self.action_entities);
        if let Some(e) = response.diagnostics().errors().next() {
            return Err(PolicyError::Evaluation {
                policy: match e {
                    cedar_policy::AuthorizationError::PolicyEvaluationError(pe) => {
                        pe.policy_id().to_string()
                    }
                },
                message: e.to_string(),
            });
        }
        let mut reasons: Vec<&str> = response
            .diagnostics()
            .reason()
            .map(|id| id.as_ref())
            .collect();
        reasons.sort_unstable();
        let rule_of = |id: &str| {
            self.rules
                .iter()
                .position(|r| r == id)
                .and_then(|i| u16::try_from(i).ok())
                .ok_or_else(|| PolicyError::Schema(format!("unknown deciding policy {id}")))
        };
        Ok(match response.decision() {
            cedar_policy::Decision::Allow => {
                if let Some(clear) = reasons.iter().find(|id| !self.masked.contains(**id)) {
                    Cell {
                        effect: Effect::Allow,
                        rule: rule_of(clear)?,
                    }
                } else {
                    Cell {
                        effect: Effect::AllowMasked,
                        rule: match reasons.first() {
                            Some(id) => rule_of(id)?,
                            None => RULE_DEFAULT_DENY,
                        },
                    }
                }
            }
            cedar_policy::Decision::Deny => Cell {
                effect: Effect::Deny,
                rule: match reasons.first() {
                    Some(id) => rule_of(id)?,
                    None => RULE_DEFAULT_DENY,
                },
            },
        })
    }

    fn indices(&self, req: &AccessRequest<'_>) -> Option<(usize, usize)> {
        Some((
            *self.purpose_index.get(req.purpose)?,
            *self.category_index.get(req.category)?,
        ))
    }

    fn to_decision(&self, cell: Cell) -> Decision {
        Decision {
            effect: cell.effect,
            rule_id: self
                .rules
                .get(usize::from(cell.rule))
                .map_or(DEFAULT_DENY, String::as_str)
                .to_string(),
        }
    }

    fn unknown() -> Decision {
        Decision {
            effect: Effect::Deny,
            rule_id: UNKNOWN_CODE.to_string(),
        }
    }

    /// Decide one access from the compiled table. Deny by default.
    pub fn decide(&self, req: &AccessRequest<'_>) -> Decision {
        let Some((p, c)) = self.indices(req) else {
            return AccessPolicy::unknown();
        };
        let cell = self
            .table
            .get(self.slot(req.role.index(), p, c, req.conditions.bits()))
            .copied()
            .unwrap_or(Cell {
                effect: Effect::Deny,
                rule: RULE_DEFAULT_DENY,
            });
        self.to_decision(cell)
    }

    /// Decide by asking Cedar now (for comparison and benchmarks); the registry's
    /// minimisation applies first, as in [`AccessPolicy::decide`].
    pub fn decide_with_cedar(&self, req: &AccessRequest<'_>) -> Decision {
        let Some((p, c)) = self.indices(req) else {
            return AccessPolicy::unknown();
        };
        let minimised = self
            .table
            .get(self.slot(req.role.index(), p, c, 0))
            .is_some_and(|cell| cell.rule == RULE_MINIMISATION);
        if minimised {
            return self.to_decision(Cell {
                effect: Effect::Deny,
                rule: RULE_MINIMISATION,
            });
        }
        match self.evaluate(req.role.index(), p, c, req.conditions) {
            Ok(cell) => self.to_decision(cell),
            Err(_) => Decision {
                effect: Effect::Deny,
                rule_id: DEFAULT_DENY.to_string(),
            },
        }
    }

    /// The policies' rule ids, in file order.
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().skip(2).map(String::as_str)
    }

    /// The registry version the policy was checked against.
    pub fn registry_version(&self) -> &str {
        &self.registry_version
    }

    /// Number of compiled decisions (roles × purposes × categories × condition combinations).
    pub fn compiled_size(&self) -> usize {
        self.table.len()
    }
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReloadReport {
    /// Rule ids of the policy now in force.
    pub rules: Vec<String>,
    /// Compiled decisions.
    pub compiled: usize,
}

/// The reloadable access policy: decisions read the current policy; a reload that fails
/// keeps the policy in force and reports why.
pub struct AccessControl {
    current: RwLock<Arc<AccessPolicy>>,
    registry: Arc<Registry>,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for AccessControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessControl")
            .field("path", &self.path)
            .finish()
    }
}

impl AccessControl {
    /// Load the policy from `path` (or the embedded default when `None`).
    pub fn open(
        path: Option<&Path>,
        registry: Arc<Registry>,
    ) -> Result<AccessControl, PolicyError> {
        let policy = match path {
            Some(p) => AccessPolicy::load(p, &registry)?,
            None => AccessPolicy::embedded(&registry)?,
        };
        Ok(AccessControl {
            current: RwLock::new(Arc::new(policy)),
            registry,
            path: path.map(Path::to_path_buf),
        })
    }

    /// The policy in force.
    pub fn current(&self) -> Arc<AccessPolicy> {
        match self.current.read() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Decide with the policy in force.
    pub fn decide(&self, req: &AccessRequest<'_>) -> Decision {
        match self.current.read() {
            Ok(p) => p.decide(req),
            Err(poisoned) => poisoned.into_inner().decide(req),
        }
    }

    /// The file the policy is read from (`None`: the embedded default).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Re-read the policy file (or the embedded default) and swap it in if it is valid.
    pub fn reload(&self) -> Result<ReloadReport, PolicyError> {
        let next = match &self.path {
            Some(p) => AccessPolicy::load(p, &self.registry)?,
            None => AccessPolicy::embedded(&self.registry)?,
        };
        Ok(self.swap(next))
    }

    /// Swap in a policy given as text if it is valid; otherwise keep the current one.
    pub fn reload_from_text(&self, text: &str) -> Result<ReloadReport, PolicyError> {
        let next = AccessPolicy::from_text(text, &self.registry)?;
        Ok(self.swap(next))
    }

    fn swap(&self, next: AccessPolicy) -> ReloadReport {
        let report = ReloadReport {
            rules: next.rule_ids().map(str::to_string).collect(),
            compiled: next.compiled_size(),
        };
        let next = Arc::new(next);
        match self.current.write() {
            Ok(mut g) => *g = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
        report
    }
}

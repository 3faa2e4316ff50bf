//! The access policy: the shipped default, load-time checks against the registry, reload.

use derbes_access::policy::{
    schema_text, DEFAULT_DENY, DEFAULT_POLICY, MINIMISATION, UNKNOWN_CODE,
};
use derbes_access::{
    AccessControl, AccessPolicy, AccessRequest, Conditions, Effect, PolicyError, Role,
};
use derbes_core::registry::Registry;
use proptest::prelude::*;
use std::sync::{Arc, OnceLock};

fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| Registry::embedded().unwrap())
}

fn default_policy() -> &'static AccessPolicy {
    static P: OnceLock<AccessPolicy> = OnceLock::new();
    P.get_or_init(|| AccessPolicy::embedded(registry()).unwrap())
}

fn decide(role: Role, purpose: &str, category: &str, c: Conditions) -> (Effect, String) {
    let mut req = AccessRequest::new(role, purpose, category);
    req.conditions = c;
    let d = default_policy().decide(&req);
    (d.effect, d.rule_id)
}

const NONE: Conditions = Conditions {
    contract_overdue: false,
    reveal: false,
    working_hours: true,
};
const OVERDUE: Conditions = Conditions {
    contract_overdue: true,
    reveal: false,
    working_hours: true,
};
const REVEAL: Conditions = Conditions {
    contract_overdue: false,
    reveal: true,
    working_hours: true,
};

fn load_err(text: &str) -> PolicyError {
    AccessPolicy::from_text(text, registry()).unwrap_err()
}

#[test]
fn c5_4_deny_by_default() {
    // The DPO has no permit for `contract`; the security officer none for `requests`.
    assert_eq!(
        decide(Role::Dpo, "contract", "iin", NONE),
        (Effect::Deny, DEFAULT_DENY.to_string())
    );
    assert_eq!(
        decide(Role::SecurityOfficer, "requests", "email", NONE),
        (Effect::Deny, DEFAULT_DENY.to_string())
    );
    // An empty policy denies everything, by the default rule.
    let empty = AccessPolicy::from_text("", registry()).unwrap();
    for role in Role::ALL {
        for p in registry().purposes().values() {
            for c in &p.categories {
                let d = empty.decide(&AccessRequest::new(role, p.code.as_str(), c.as_str()));
                assert_eq!(d.effect, Effect::Deny);
                assert_eq!(d.rule_id, DEFAULT_DENY);
            }
        }
    }
}

#[test]
fn c5_3_collector_sees_phone_and_address_only_when_contract_overdue() {
    for cat in [
        "mobile_phone",
        "home_phone",
        "residence_address",
        "registration_address",
    ] {
        assert_eq!(
            decide(Role::Collector, "collection", cat, NONE),
            (
                Effect::Deny,
                "c5_3_collector_no_contacts_unless_overdue".to_string()
            ),
            "{cat}"
        );
        assert_eq!(
            decide(Role::Collector, "collection", cat, OVERDUE),
            (
                Effect::Allow,
                "c5_3_collector_contacts_when_overdue".to_string()
            ),
            "{cat}"
        );
    }
    // The name is always visible for collection, the IIN masked only.
    assert_eq!(
        decide(Role::Collector, "collection", "full_name", NONE).0,
        Effect::Allow
    );
    assert_eq!(
        decide(Role::Collector, "collection", "iin", OVERDUE),
        (Effect::AllowMasked, "c5_3_collector_iin_masked".to_string())
    );
    // No other purpose for a collector.
    assert_eq!(
        decide(Role::Collector, "contract", "full_name", OVERDUE),
        (Effect::Deny, DEFAULT_DENY.to_string())
    );
}

#[test]
fn c4_1_call_centre_sees_iin_masked_and_reveals_only_for_identification() {
    assert_eq!(
        decide(Role::CallCentre, "identification", "iin", NONE),
        (
            Effect::AllowMasked,
            "c4_1_call_centre_iin_masked".to_string()
        )
    );
    assert_eq!(
        decide(Role::CallCentre, "identification", "iin", REVEAL),
        (
            Effect::Allow,
            "c4_1_call_centre_iin_reveal_for_identification".to_string()
        )
    );
    // The ID document stays masked even when a reveal is asked.
    assert_eq!(
        decide(Role::CallCentre, "identification", "id_document", REVEAL).0,
        Effect::AllowMasked
    );
    // Under any other purpose a reveal gives nothing in clear.
    for p in registry().purposes().keys() {
        if p.as_str() == "identification" {
            continue;
        }
        let (effect, _) = decide(Role::CallCentre, p.as_str(), "iin", REVEAL);
        assert_ne!(effect, Effect::Allow, "{p}");
    }
}

#[test]
fn c3_2_registry_minimisation_comes_before_any_permit() {
    // The credit officer's permit covers every category of `contract`, but not web data.
    assert_eq!(
        decide(Role::CreditOfficer, "contract", "ip_address", NONE),
        (Effect::Deny, MINIMISATION.to_string())
    );
    assert_eq!(
        decide(Role::CreditOfficer, "contract", "salary_amount", NONE),
        (Effect::Allow, "c5_4_credit_officer_lending".to_string())
    );
    // A purpose or category the registry does not know.
    assert_eq!(
        decide(Role::CreditOfficer, "contrakt", "iin", NONE),
        (Effect::Deny, UNKNOWN_CODE.to_string())
    );
    assert_eq!(
        decide(Role::CreditOfficer, "contract", "iinn", NONE),
        (Effect::Deny, UNKNOWN_CODE.to_string())
    );
}

#[test]
fn c5_4_admin_sees_no_personal_data() {
    for p in registry().purposes().values() {
        for c in &p.categories {
            let (effect, rule) = decide(Role::Admin, p.code.as_str(), c.as_str(), OVERDUE);
            assert_eq!(effect, Effect::Deny);
            assert_eq!(rule, "c5_4_admin_no_personal_data");
        }
    }
}

#[test]
fn c8_1_every_decision_of_the_default_policy_names_a_known_rule() {
    let p = default_policy();
    let rules: Vec<&str> = p.rule_ids().collect();
    assert!(rules.len() >= 10, "{rules:?}");
    assert_eq!(
        p.compiled_size(),
        Role::ALL.len() * registry().purposes().len() * registry().categories().len() * 8
    );
    // Every policy of the default file decides something somewhere (no dead rule).
    let mut used = std::collections::BTreeSet::new();
    for role in Role::ALL {
        for purpose in registry().purposes().keys() {
            for category in registry().categories().keys() {
                for bits in 0..8u8 {
                    let c = Conditions {
                        contract_overdue: bits & 1 != 0,
                        reveal: bits & 2 != 0,
                        working_hours: bits & 4 != 0,
                    };
                    let (_, rule) = decide(role, purpose.as_str(), category.as_str(), c);
                    used.insert(rule);
                }
            }
        }
    }
    for r in rules {
        assert!(used.contains(r), "rule {r} never decides anything");
    }
}

fn arb_request() -> impl Strategy<Value = (Role, String, String, Conditions)> {
    let purposes: Vec<String> = registry()
        .purposes()
        .keys()
        .map(|p| p.as_str().to_string())
        .chain(["nonsense".to_string()])
        .collect();
    let categories: Vec<String> = registry()
        .categories()
        .keys()
        .map(|c| c.as_str().to_string())
        .chain(["nonsense".to_string()])
        .collect();
    (
        prop::sample::select(Role::ALL.to_vec()),
        prop::sample::select(purposes),
        prop::sample::select(categories),
        any::<(bool, bool, bool)>(),
    )
        .prop_map(|(r, p, c, (o, v, w))| {
            (
                r,
                p,
                c,
                Conditions {
                    contract_overdue: o,
                    reveal: v,
                    working_hours: w,
                },
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// The compiled table answers exactly what Cedar answers, and names a rule that exists.
    #[test]
    fn c8_1_compiled_decision_equals_cedar_and_names_its_rule((role, purpose, category, c) in arb_request()) {
        let p = default_policy();
        let mut req = AccessRequest::new(role, &purpose, &category);
        req.conditions = c;
        let fast = p.decide(&req);
        let slow = p.decide_with_cedar(&req);
        prop_assert_eq!(&fast, &slow);
        let known = p.rule_ids().any(|r| r == fast.rule_id)
            || [DEFAULT_DENY, MINIMISATION, UNKNOWN_CODE].contains(&fast.rule_id.as_str());
        prop_assert!(known, "{}", fast.rule_id);
        // Out-of-map categories are never let through, whatever the policy says.
        if !registry().allows(&purpose, &category) {
            prop_assert_eq!(fast.effect, Effect::Deny);
        }
    }

    #[test]
    fn policy_loader_never_panics(s in ".{0,200}") {
        let _ = AccessPolicy::from_text(&s, registry());
    }
}

const ONE: &str = r#"@id("r1") permit (principal == Role::"dpo", action == Action::"requests", resource == Category::"email");"#;

#[test]
fn c5_4_bad_policy_is_rejected_with_a_clear_message() {
    let e = load_err(&ONE.replace("Action::\"requests\"", "Action::\"reqests\""));
    assert_eq!(
        e,
        PolicyError::UnknownPurpose {
            policy: "r1".into(),
            purpose: "reqests".into()
        }
    );
    assert_eq!(
        e.to_string(),
        r#"policy "r1" names unknown purpose "reqests" (not in the registry)"#
    );
    assert_eq!(e.code(), "access_policy_unknown_purpose");

    let e = load_err(&ONE.replace("Category::\"email\"", "Category::\"e_mail\""));
    assert_eq!(
        e.to_string(),
        r#"policy "r1" names unknown category "e_mail" (not in the registry)"#
    );
    let e = load_err(&ONE.replace("Role::\"dpo\"", "Role::\"ceo\""));
    assert_eq!(
        e,
        PolicyError::UnknownRole {
            policy: "r1".into(),
            role: "ceo".into()
        }
    );
    let e = load_err(&ONE.replace("Role::\"dpo\"", "User::\"dpo\""));
    assert_eq!(e.code(), "access_policy_unknown_type");

    // No @id, a duplicate id, a reserved id.
    assert_eq!(
        load_err(&ONE.replace("@id(\"r1\") ", "")),
        PolicyError::MissingId { index: 1 }
    );
    assert_eq!(
        load_err(&format!("{ONE}\n{ONE}")),
        PolicyError::DuplicateId { id: "r1".into() }
    );
    assert_eq!(
        load_err(&ONE.replace("r1", "default-deny")).code(),
        "access_policy_bad_id"
    );
    // @view only "masked", only on permits.
    assert_eq!(
        load_err(&ONE.replace("@id(\"r1\")", "@id(\"r1\") @view(\"blurred\")")),
        PolicyError::BadView { id: "r1".into() }
    );
    // Syntax errors name the line.
    let e = load_err(&format!("// comment\n\n{ONE}\npermit (principal,"));
    let PolicyError::Syntax { line, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(*line, Some(4), "{e}");
    assert!(
        e.to_string()
            .starts_with("access policy syntax error at line 4"),
        "{e}"
    );
    // A type error against the schema: a context attribute that does not exist.
    let e = load_err(&ONE.replace(";", " when { context.overdue };"));
    assert_eq!(e.code(), "access_policy_invalid", "{e}");
    assert!(e.to_string().contains("\"r1\""), "{e}");
    // Templates are refused.
    let t = r#"@id("t1") permit (principal == ?principal, action, resource);"#;
    assert_eq!(load_err(t).code(), "access_policy_template");
}

#[test]
fn c5_4_policy_file_errors_name_the_file() {
    let e =
        AccessPolicy::load(std::path::Path::new("/nonexistent/x.cedar"), registry()).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/x.cedar"), "{e}");
}

#[test]
fn c5_4_bad_reload_keeps_the_old_policy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.cedar");
    std::fs::write(&path, ONE).unwrap();
    let ac = AccessControl::open(Some(&path), Arc::new(registry().clone())).unwrap();
    let req = AccessRequest::new(Role::Dpo, "requests", "email");
    assert_eq!(ac.decide(&req).rule_id, "r1");

    // A broken file: the reload fails, says why, and the old rules stay in force.
    std::fs::write(
        &path,
        ONE.replace("Category::\"email\"", "Category::\"emial\""),
    )
    .unwrap();
    let e = ac.reload().unwrap_err();
    assert_eq!(e.code(), "access_policy_unknown_category");
    assert_eq!(ac.decide(&req).rule_id, "r1");
    assert_eq!(ac.decide(&req).effect, Effect::Allow);

    // A good file replaces it.
    std::fs::write(&path, ONE.replace("permit", "forbid").replace("r1", "r2")).unwrap();
    let report = ac.reload().unwrap();
    assert_eq!(report.rules, vec!["r2".to_string()]);
    assert_eq!(ac.decide(&req).rule_id, "r2");
    assert_eq!(ac.decide(&req).effect, Effect::Deny);

    // From text, too.
    assert!(ac.reload_from_text("permit (").is_err());
    assert_eq!(ac.decide(&req).rule_id, "r2");
}

#[test]
fn c5_4_default_policy_file_and_schema_ship_in_the_repo() {
    assert!(DEFAULT_POLICY.contains("@id(\"c5_3_collector_contacts_when_overdue\")"));
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/policy/schema.cedarschema");
    let generated = schema_text(registry());
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert_eq!(
        committed, generated,
        "policy/schema.cedarschema is stale: UPDATE_SCHEMA=1 cargo test -p derbes-access --test policy"
    );
}

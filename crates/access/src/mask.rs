//! What a decision lets through (clause 4.1): the value in clear, its masked form, or
//! nothing. Masked forms come from `derbes_core` (`Value::masked`: IIN `********2728`, phone
//! `+7 *** *** 45 67`, IBAN last 4, ID document `passport ***678`, names as initials,
//! everything else `***`), except e-mail, where the access layer also hides the domain
//! (`a***@d***.kz`: a corporate domain names the employer).

use crate::policy::Effect;
use derbes_core::value::Value;
use serde::Serialize;

/// A value as an employee may see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "view", content = "value", rename_all = "snake_case")]
pub enum Shown {
    /// In clear (the value's canonical JSON).
    Clear(serde_json::Value),
    /// Masked.
    Masked(String),
}

/// The masked form of a value for display under the access policy.
pub fn masked(value: &Value) -> String {
    match value {
        Value::Email(e) => mask_email(e.as_str()),
        other => other.masked(),
    }
}

/// `first***@d***.tld`: the first character of the local part and of the domain, and the
/// top-level domain.
pub fn mask_email(email: &str) -> String {
    let (local, domain) = email.rsplit_once('@').unwrap_or(("", email));
    let first = local.chars().next().unwrap_or('*');
    let d = domain.chars().next().unwrap_or('*');
    let tld = domain.rsplit_once('.').map_or("", |(_, t)| t);
    format!("{first}***@{d}***.{tld}")
}

/// Apply a decision's effect to a value.
pub fn show(effect: Effect, value: &Value) -> Option<Shown> {
    match effect {
        Effect::Allow => Some(Shown::Clear(value.to_json())),
        Effect::AllowMasked => Some(Shown::Masked(masked(value))),
        Effect::Deny => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use derbes_core::kind::ValueKind;
    use proptest::prelude::*;
    use serde_json::json;

    fn v(kind: ValueKind, j: serde_json::Value) -> Value {
        Value::parse(kind, &[], &j).unwrap()
    }

    #[test]
    fn c4_1_masked_forms_per_kind() {
        let iin = v(ValueKind::Iin, json!("791028302728"));
        assert_eq!(masked(&iin), format!("********{}", &"791028302728"[8..]));
        let phone = v(ValueKind::MobilePhone, json!("+77011234567"));
        assert_eq!(masked(&phone), "+7 *** *** 45 67");
        let email = v(ValueKind::Email, json!("aigerim@domain.kz"));
        assert_eq!(masked(&email), "a***@d***.kz");
        let iban = v(
            ValueKind::BankAccount,
            json!({"iban": "KZ86125KZT5004100100"}),
        );
        assert!(masked(&iban).ends_with("0100"), "{}", masked(&iban));
        assert!(!masked(&iban).contains("125KZT5004"));
    }

    #[test]
    fn c4_1_show_follows_the_effect() {
        let iin = v(ValueKind::Iin, json!("791028302728"));
        assert_eq!(
            show(Effect::Allow, &iin),
            Some(Shown::Clear(json!("791028302728")))
        );
        assert_eq!(
            show(Effect::AllowMasked, &iin),
            Some(Shown::Masked("********2728".into()))
        );
        assert_eq!(show(Effect::Deny, &iin), None);
    }

    proptest! {
        #[test]
        fn c4_1_masked_email_never_holds_local_part_or_domain(
            local in "[a-z]{2,12}", domain in "[a-z]{3,12}"
        ) {
            let e = format!("{local}@{domain}.kz");
            let m = mask_email(&e);
            prop_assert!(m.ends_with(".kz"));
            // Only the top-level domain is kept (a local part "kz" is in ".kz" itself).
            let head = &m[..m.len() - ".kz".len()];
            prop_assert!(!head.contains(&local));
            prop_assert!(!head.contains(&domain));
        }
    }
}

//! Employee roles as data (`registry/roles.toml`): each role's code, its names in Russian,
//! Kazakh and English, and the purposes (clause 1.1) its holders may name. An employee acts
//! only through the purposes of their role (clause 5.4: access for authorised persons only);
//! finer rules (category × condition, masking) are the access policy's job.
//!
//! Codes: `credit_officer`, `collector`, `call_centre`, `security_officer`, `dpo`, `admin`.
//! The file is checked against the purpose registry at load: a role naming an unknown
//! purpose, a duplicate role or a blank name is an error.

use crate::registry::{Names, Registry};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The embedded default roles file.
pub const EMBEDDED_ROLES_TOML: &str = include_str!("../registry/roles.toml");

/// One role.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleDef {
    /// Stable code, e.g. `credit_officer`.
    pub code: String,
    /// Names.
    pub name: Names,
    /// Purposes the role may name.
    pub purposes: Vec<String>,
    /// May manage employee accounts (create, disable, role, unlock, TOTP).
    #[serde(default)]
    pub admin: bool,
    /// May record confidentiality undertakings (4.3) and training acknowledgements (5.4).
    #[serde(default)]
    pub records: bool,
}

impl RoleDef {
    /// Whether the role may name `purpose`.
    pub fn may_use(&self, purpose: &str) -> bool {
        self.purposes.iter().any(|p| p == purpose)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RolesFile {
    version: String,
    role: Vec<RoleDef>,
}

/// Why a roles file was refused. Messages name codes only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RolesError {
    /// Not valid TOML of the expected shape.
    #[error("roles file is not valid: {0}")]
    Syntax(String),
    /// A role code is not `[a-z][a-z0-9_]{0,63}`.
    #[error("role code {0:?} is not a snake_case code")]
    BadCode(String),
    /// The same code twice.
    #[error("role {0} is defined twice")]
    Duplicate(String),
    /// A purpose not in the registry.
    #[error("role {role} names unknown purpose {purpose}")]
    UnknownPurpose {
        /// The role.
        role: String,
        /// The purpose.
        purpose: String,
    },
    /// A blank name.
    #[error("role {0} has a blank name")]
    BlankName(String),
    /// No role at all.
    #[error("the roles file defines no role")]
    Empty,
}

/// The roles in force.
#[derive(Debug, Clone)]
pub struct Roles {
    version: String,
    roles: BTreeMap<String, RoleDef>,
}

fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.as_bytes()[0].is_ascii_lowercase()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl Roles {
    /// Parse and check a roles file against the purpose registry.
    pub fn from_toml(text: &str, registry: &Registry) -> Result<Roles, RolesError> {
        let file: RolesFile =
            toml::from_str(text).map_err(|e| RolesError::Syntax(e.message().to_string()))?;
        if file.role.is_empty() {
            return Err(RolesError::Empty);
        }
        let mut roles = BTreeMap::new();
        for r in file.role {
            if !is_code(&r.code) {
                return Err(RolesError::BadCode(r.code));
            }
            if [&r.name.ru, &r.name.kk, &r.name.en]
                .iter()
                .any(|n| n.trim().is_empty())
            {
                return Err(RolesError::BlankName(r.code));
            }
            if let Some(p) = r.purposes.iter().find(|p| registry.purpose(p).is_none()) {
                return Err(RolesError::UnknownPurpose {
                    role: r.code.clone(),
                    purpose: p.clone(),
                });
            }
            if roles.contains_key(&r.code) {
                return Err(RolesError::Duplicate(r.code));
            }
            roles.insert(r.code.clone(), r);
        }
        Ok(Roles {
            version: file.version,
            roles,
        })
    }

    /// The embedded default roles, checked against `registry`.
    pub fn embedded(registry: &Registry) -> Result<Roles, RolesError> {
        Roles::from_toml(EMBEDDED_ROLES_TOML, registry)
    }

    /// The file's version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// A role by code.
    pub fn role(&self, code: &str) -> Option<&RoleDef> {
        self.roles.get(code)
    }

    /// All roles, by code.
    pub fn all(&self) -> impl Iterator<Item = &RoleDef> + '_ {
        self.roles.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> Registry {
        Registry::embedded().unwrap()
    }

    #[test]
    fn c5_4_embedded_roles_load_with_the_six_codes() {
        let roles = Roles::embedded(&registry()).unwrap();
        let codes: Vec<&str> = roles.all().map(|r| r.code.as_str()).collect();
        assert_eq!(
            codes,
            [
                "admin",
                "call_centre",
                "collector",
                "credit_officer",
                "dpo",
                "security_officer"
            ]
        );
        let admin = roles.role("admin").unwrap();
        assert!(admin.admin && admin.purposes.is_empty());
        assert!(roles.role("collector").unwrap().may_use("collection"));
        assert!(!roles.role("collector").unwrap().may_use("scoring"));
    }

    #[test]
    fn c5_4_unknown_purpose_duplicate_and_blank_name_refused() {
        let r = registry();
        let one = |code: &str, purpose: &str, en: &str| {
            format!(
                "[[role]]\ncode = \"{code}\"\nname = {{ ru = \"р\", kk = \"к\", en = \"{en}\" }}\npurposes = [\"{purpose}\"]\n"
            )
        };
        let v = "version = \"t\"\n";
        let e = Roles::from_toml(&format!("{v}{}", one("x", "no_such", "X")), &r).unwrap_err();
        assert!(matches!(e, RolesError::UnknownPurpose { .. }), "{e}");
        let e = Roles::from_toml(
            &format!(
                "{v}{}{}",
                one("x", "contract", "X"),
                one("x", "contract", "X")
            ),
            &r,
        )
        .unwrap_err();
        assert_eq!(e, RolesError::Duplicate("x".into()));
        let e = Roles::from_toml(&format!("{v}{}", one("x", "contract", " ")), &r).unwrap_err();
        assert_eq!(e, RolesError::BlankName("x".into()));
        let e = Roles::from_toml(&format!("{v}{}", one("X-1", "contract", "X")), &r).unwrap_err();
        assert_eq!(e, RolesError::BadCode("X-1".into()));
        assert_eq!(
            Roles::from_toml("version = \"t\"\nrole = []\n", &r).unwrap_err(),
            RolesError::Empty
        );
    }
}

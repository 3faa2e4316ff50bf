//! Employee roles. The list is closed and short on purpose: a role is what the access policy
//! keys its rules on (clause 5.4 "access only for authorised persons"), and the employee
//! accounts (branch `employees`) use the same codes.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The role of an employee of the lender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Credit officer: applications, contracts, scoring.
    CreditOfficer,
    /// Collector: overdue contracts.
    Collector,
    /// Call-centre operator: identification and communication with borrowers.
    CallCentre,
    /// Security officer: information security, incidents.
    SecurityOfficer,
    /// Data-protection officer (the person responsible for PD processing): subjects' requests.
    Dpo,
    /// Administrator: accounts and configuration, no personal data.
    Admin,
}

/// An unknown role code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?} (known: credit_officer, collector, call_centre, security_officer, dpo, admin)")]
pub struct UnknownRole(pub String);

impl Role {
    /// Every role, in a fixed order (the order of the compiled decision table).
    pub const ALL: [Role; 6] = [
        Role::CreditOfficer,
        Role::Collector,
        Role::CallCentre,
        Role::SecurityOfficer,
        Role::Dpo,
        Role::Admin,
    ];

    /// The stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::CreditOfficer => "credit_officer",
            Role::Collector => "collector",
            Role::CallCentre => "call_centre",
            Role::SecurityOfficer => "security_officer",
            Role::Dpo => "dpo",
            Role::Admin => "admin",
        }
    }

    /// Parse a role code.
    pub fn parse(code: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == code)
            .ok_or_else(|| UnknownRole(code.to_string()))
    }

    /// Position in [`Role::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip() {
        for (i, r) in Role::ALL.into_iter().enumerate() {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
            assert_eq!(r.index(), i);
        }
        assert_eq!(Role::parse("boss"), Err(UnknownRole("boss".into())));
    }
}

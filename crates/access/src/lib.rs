//! `derbes-access`: who may see what, and noticing when someone looks where they should not.
//!
//! - [`policy`]: the access policy — role × purpose × data category × condition — in Cedar,
//!   checked against the registry at load, compiled to a decision table, reloadable; every
//!   decision names its rule (clauses 4.1, 5.3, 5.4, 8.1; L-PROTECTION).
//! - [`mask`]: what a decision lets through: the value, its masked form, or nothing.
//! - [`detect`]: rules over access events that raise incidents (clause 5.5): bulk reads,
//!   access outside working hours, repeated denials; optionally suspending the employee.
//! - [`hours`]: working hours in Almaty time on the Kazakhstan working-day calendar.
//!
//! No I/O beyond reading the policy file; no async; time is an input.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![forbid(unsafe_code)]

pub mod detect;
pub mod hours;
pub mod mask;
pub mod policy;
pub mod role;

pub use detect::{
    AccessEvent, Alert, Containment, DetectionConfig, DetectionConfigError, Detector, Outcome,
    Severity,
};
pub use hours::WorkingHours;
pub use policy::{
    AccessControl, AccessPolicy, AccessRequest, Conditions, Decision, Effect, PolicyError,
    ReloadReport,
};
pub use role::Role;

//! The JSON API end to end: the real server (`derbes_web::serve`) on a random port over a
//! fresh database, on BOTH backends (SQLite and PostgreSQL). Test names carry the policy
//! clause they check (`c2_1_…` = clause 2.1, `pre_2_…` = PRE-2).
//!
//! One test binary; the modules under `tests/api/` group the tests by area.

#[path = "api/support.rs"]
mod support;

#[path = "api/cabinet.rs"]
mod cabinet;
#[path = "api/cabinet_pages.rs"]
mod cabinet_pages;
#[path = "api/concurrency.rs"]
mod concurrency;
#[path = "api/consent.rs"]
mod consent;
#[path = "api/employees.rs"]
mod employees;
#[path = "api/fuzz.rs"]
mod fuzz;
#[path = "api/incidents.rs"]
mod incidents;
#[path = "api/isolation.rs"]
mod isolation;
#[path = "api/language.rs"]
mod language;
#[path = "api/logs.rs"]
mod logs;
#[path = "api/notices.rs"]
mod notices;
#[path = "api/openapi.rs"]
mod openapi;
#[path = "api/pages.rs"]
mod pages;
#[path = "api/problems.rs"]
mod problems;
#[path = "api/subjects.rs"]
mod subjects;

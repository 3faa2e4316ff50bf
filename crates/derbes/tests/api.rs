//! The JSON API end to end: the real server (`derbes_web::serve`) on a random port over a
//! fresh database, on BOTH backends (SQLite and PostgreSQL). Test names carry the policy
//! clause they check (`c2_1_…` = clause 2.1, `pre_2_…` = PRE-2).
//!
//! One test binary; the modules under `tests/api/` group the tests by area.

#[macro_use]
mod support;

mod fuzz;
mod isolation;
mod language;
mod logs;
mod openapi;
mod problems;
mod subjects;

//! Integration tests of `derbes_service::Vault`, every one on SQLite and on PostgreSQL
//! (`derbes_store::testing::both()`). Test names carry the policy clause they check
//! (`shared/spec/policy-clauses.md`).

mod common;

mod audit;
mod changes;
mod consent;
mod create;
mod ingest;
mod integrity;
mod keys;
mod logs;
mod purposes;
mod search;
mod unique;
mod validation;

//! `derbes-service`: the use cases, and the one place where policy is enforced.
//!
//! Every call carries an [`model::Actor`] and a purpose ([`model::Call`]); the time comes from
//! a [`derbes_core::clock::Clock`]. [`vault::Vault::authorize`] checks the purpose (clause 1.1)
//! and minimisation (3.2) before anything is read or written, so no route can forget them.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![forbid(unsafe_code)]

pub mod apikeys;
pub mod audit;
pub mod batcher;
pub mod cabinet;
pub mod consent;
pub mod consent_service;
pub mod employees;
pub mod error;
pub mod guard;
pub mod incidents;
pub mod ingest;
pub mod model;
pub mod report;
pub mod sms;
pub mod totp;
pub mod vault;

pub use consent::ConsentLedger;
pub use consent_service::ConsentService;
pub use error::{FieldProblem, ServiceError};
pub use guard::AccessGuard;
pub use ingest::{IngestOptions, IngestReport};
pub use model::*;
pub use vault::{PreparedBatch, Vault, VaultOptions};

// The vault stores what the indexer computes: both sides must agree on a blind index's length.
const _: () = assert!(derbes_crypto::BLIND_INDEX_LEN == derbes_store::INDEX_HASH_LEN);

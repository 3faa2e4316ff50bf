//! `derbes-audit`: the tamper-evident audit log, as a pure library (no I/O, no SQL, no
//! async). The store persists [`Entry`] rows and [`Checkpoint`]s; this crate decides what
//! they contain and whether they are intact.
//!
//! Responsibilities (see `shared/spec/architecture.md`, "Audit"; clauses 8.1, 5.1–5.5;
//! L-PROTECTION "register and log actions on data"):
//!
//! - [`Entry`]: one record of an action on personal data — actor, action, subject
//!   pseudonym, purpose, categories, rule, outcome, time — with codes and pseudonyms only,
//!   never plaintext values ([`EntryFields::validate`]). Entries are hash-chained:
//!   `hash = SHA-256("derbes/audit/entry/v1" || prev_hash || canonical_bytes)`.
//! - [`merkle`]: the RFC 6962 Merkle tree over entry hashes, the incremental
//!   [`MerkleAccumulator`], and inclusion/consistency proofs.
//! - [`AuditSigner`] / [`Checkpoint`]: Ed25519-signed tree heads at a configurable interval.
//! - [`verify_log`]: one pass over the whole log against the signed checkpoints, reporting
//!   the first bad entry ([`Problem`]).
//! - [`InclusionProof`] / [`ConsistencyProof`]: JSON proofs a third party verifies with the
//!   public key alone (`PROOFS.md` documents every byte).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod b64;
mod checkpoint;
mod entry;
mod error;
pub mod merkle;
mod proof;
mod verify;

pub use checkpoint::{
    checkpoint_text, key_id, parse_public_key, public_key_to_base64, verify_checkpoint,
    AuditSigner, Checkpoint, CHECKPOINT_HEADER,
};
pub use ed25519_dalek::VerifyingKey;
pub use entry::{
    Action, Entry, EntryFields, Outcome, ENTRY_ENCODING_VERSION, ENTRY_HASH_DOMAIN,
    GENESIS_PREV_HASH, MAX_CATEGORIES, MAX_DETAIL_LEN, MAX_FIELD_LEN,
};
pub use error::{EntryError, MerkleError, ProofError};
pub use merkle::{
    consistency_proof, empty_root, inclusion_proof, leaf_hash, merkle_root, node_hash,
    verify_consistency, verify_inclusion, Hash, MerkleAccumulator,
};
pub use proof::{
    verify_checkpoint_json, verify_consistency_json, verify_inclusion_json, ConsistencyProof,
    InclusionProof,
};
pub use verify::{verify_log, CheckpointRef, Problem, ProblemKind, VerifyReport};

//! Error types, each variant with a stable code (`audit.*`). Messages hold codes, sizes and
//! indexes only — never entry field values.

use thiserror::Error;

/// A rejected entry.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EntryError {
    /// A field is empty, too long, or not a printable-ASCII code without spaces.
    #[error("audit entry field `{field}` is not a valid code")]
    InvalidField {
        /// Which field.
        field: &'static str,
    },
    /// The previous entry already has seq `u64::MAX`.
    #[error("audit log sequence number overflow")]
    SeqOverflow,
}

impl EntryError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            EntryError::InvalidField { .. } => "audit.entry.invalid_field",
            EntryError::SeqOverflow => "audit.entry.seq_overflow",
        }
    }
}

/// A proof could not be generated from the given leaves.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MerkleError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is outside a tree of {tree_size} leaves")]
    IndexOutOfRange {
        /// Requested leaf.
        index: u64,
        /// Tree size.
        tree_size: u64,
    },
    /// More leaves were asked for than given.
    #[error("tree size {tree_size} exceeds the {available} leaves available")]
    SizeOutOfRange {
        /// Requested size.
        tree_size: u64,
        /// Leaves given.
        available: u64,
    },
    /// A consistency proof from a larger tree to a smaller one.
    #[error("old tree size {old_size} exceeds new tree size {new_size}")]
    OldSizeGreater {
        /// Old size.
        old_size: u64,
        /// New size.
        new_size: u64,
    },
    /// A saved frontier does not match its size.
    #[error("frontier does not match the tree size")]
    BadFrontier,
}

impl MerkleError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            MerkleError::IndexOutOfRange { .. } => "audit.merkle.index_out_of_range",
            MerkleError::SizeOutOfRange { .. } => "audit.merkle.size_out_of_range",
            MerkleError::OldSizeGreater { .. } => "audit.merkle.old_size_greater",
            MerkleError::BadFrontier => "audit.merkle.bad_frontier",
        }
    }
}

/// A proof or checkpoint failed third-party verification.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProofError {
    /// Not valid proof JSON (or a public key that is not 32 bytes of base64/hex).
    #[error("malformed input: {0}")]
    Malformed(String),
    /// The public key is not a valid Ed25519 point.
    #[error("invalid Ed25519 public key")]
    InvalidPublicKey,
    /// No given public key has the checkpoint's key id.
    #[error("checkpoint key id {key_id} matches none of the given public keys")]
    UnknownKey {
        /// The checkpoint's key id.
        key_id: String,
    },
    /// A checkpoint signature does not verify.
    #[error("signature of the {which} checkpoint does not verify")]
    BadSignature {
        /// `checkpoint`, `old` or `new`.
        which: &'static str,
    },
    /// The proof's tree size differs from its checkpoint's, or the leaf index is outside it.
    #[error("proof tree size or leaf index does not match the checkpoint")]
    SizeMismatch,
    /// The enclosed entry does not hash to the proven leaf.
    #[error("enclosed entry does not match the leaf hash")]
    EntryMismatch,
    /// The audit path does not lead to the checkpoint root.
    #[error("inclusion proof does not lead to the checkpoint root")]
    InclusionFailed,
    /// The consistency proof does not connect the two checkpoint roots.
    #[error("consistency proof does not connect the two checkpoints")]
    ConsistencyFailed,
}

impl ProofError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ProofError::Malformed(_) => "audit.proof.malformed",
            ProofError::InvalidPublicKey => "audit.proof.invalid_public_key",
            ProofError::UnknownKey { .. } => "audit.proof.unknown_key",
            ProofError::BadSignature { .. } => "audit.proof.bad_signature",
            ProofError::SizeMismatch => "audit.proof.size_mismatch",
            ProofError::EntryMismatch => "audit.proof.entry_mismatch",
            ProofError::InclusionFailed => "audit.proof.inclusion_failed",
            ProofError::ConsistencyFailed => "audit.proof.consistency_failed",
        }
    }
}

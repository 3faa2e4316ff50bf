//! Proofs for third parties, as JSON (format in `PROOFS.md`): an [`InclusionProof`] shows one
//! entry is in a signed checkpoint; a [`ConsistencyProof`] shows a later signed checkpoint
//! extends an earlier one (nothing before it was changed or removed). Both verify with the
//! public key alone (clause 8.1).

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::b64;
use crate::checkpoint::Checkpoint;
use crate::entry::Entry;
use crate::error::{MerkleError, ProofError};
use crate::merkle::{self, Hash};

/// "Leaf `leaf_index` with hash `leaf_hash` is in the tree signed by `checkpoint`."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// The entry's seq.
    pub leaf_index: u64,
    /// Tree size of the checkpoint.
    pub tree_size: u64,
    /// `SHA-256(0x00 || entry.hash)`.
    #[serde(with = "b64::fixed")]
    pub leaf_hash: Hash,
    /// Sibling hashes from the leaf up (RFC 6962 §2.1.1).
    #[serde(with = "b64::vec32")]
    pub audit_path: Vec<Hash>,
    /// The signed checkpoint whose root the path leads to.
    pub checkpoint: Checkpoint,
    /// Optionally the entry itself; then its hash is recomputed and must give `leaf_hash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<Entry>,
}

impl InclusionProof {
    /// Builds the proof for leaf `index` from the log's leaf hashes (at least
    /// `checkpoint.tree_size` of them).
    pub fn build(
        leaves: &[Hash],
        index: u64,
        checkpoint: &Checkpoint,
    ) -> Result<Self, MerkleError> {
        let audit_path = merkle::inclusion_proof(leaves, index, checkpoint.tree_size)?;
        // `inclusion_proof` checked index < tree_size <= leaves.len().
        let leaf_hash =
            leaves
                .get(index as usize)
                .copied()
                .ok_or(MerkleError::IndexOutOfRange {
                    index,
                    tree_size: checkpoint.tree_size,
                })?;
        Ok(InclusionProof {
            leaf_index: index,
            tree_size: checkpoint.tree_size,
            leaf_hash,
            audit_path,
            checkpoint: checkpoint.clone(),
            entry: None,
        })
    }

    /// Encloses the entry so a verifier can check its fields too.
    pub fn with_entry(mut self, entry: Entry) -> Self {
        self.entry = Some(entry);
        self
    }

    /// Checks the checkpoint signature (with the key its key id names among `keys`), the
    /// enclosed entry if any, and the audit path.
    pub fn verify(&self, keys: &[VerifyingKey]) -> Result<(), ProofError> {
        self.checkpoint.verify_with_keys(keys)?;
        if self.tree_size != self.checkpoint.tree_size || self.leaf_index >= self.tree_size {
            return Err(ProofError::SizeMismatch);
        }
        if let Some(entry) = &self.entry {
            if entry.seq != self.leaf_index
                || !entry.hash_is_valid()
                || merkle::leaf_hash(&entry.hash) != self.leaf_hash
            {
                return Err(ProofError::EntryMismatch);
            }
        }
        if merkle::verify_inclusion(
            &self.leaf_hash,
            self.leaf_index,
            self.tree_size,
            &self.audit_path,
            &self.checkpoint.root,
        ) {
            Ok(())
        } else {
            Err(ProofError::InclusionFailed)
        }
    }
}

/// "The tree signed by `new` extends the tree signed by `old`."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// The earlier checkpoint.
    pub old: Checkpoint,
    /// The later checkpoint.
    pub new: Checkpoint,
    /// RFC 6962 §2.1.2 proof hashes.
    #[serde(with = "b64::vec32")]
    pub proof: Vec<Hash>,
}

impl ConsistencyProof {
    /// Builds the proof from the log's leaf hashes (at least `new.tree_size` of them).
    pub fn build(leaves: &[Hash], old: &Checkpoint, new: &Checkpoint) -> Result<Self, MerkleError> {
        let proof = merkle::consistency_proof(leaves, old.tree_size, new.tree_size)?;
        Ok(ConsistencyProof {
            old: old.clone(),
            new: new.clone(),
            proof,
        })
    }

    /// Checks both signatures (each with the key its key id names among `keys`) and the
    /// proof.
    pub fn verify(&self, keys: &[VerifyingKey]) -> Result<(), ProofError> {
        self.old
            .verify_with_keys(keys)
            .map_err(|e| rename(e, "old"))?;
        self.new
            .verify_with_keys(keys)
            .map_err(|e| rename(e, "new"))?;
        if self.old.tree_size > self.new.tree_size {
            return Err(ProofError::SizeMismatch);
        }
        if merkle::verify_consistency(
            self.old.tree_size,
            self.new.tree_size,
            &self.old.root,
            &self.new.root,
            &self.proof,
        ) {
            Ok(())
        } else {
            Err(ProofError::ConsistencyFailed)
        }
    }
}

fn rename(e: ProofError, which: &'static str) -> ProofError {
    match e {
        ProofError::BadSignature { .. } => ProofError::BadSignature { which },
        other => other,
    }
}

fn parse<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, ProofError> {
    serde_json::from_str(json).map_err(|e| ProofError::Malformed(e.to_string()))
}

/// Parses and verifies an inclusion proof in JSON; returns it when valid.
pub fn verify_inclusion_json(
    json: &str,
    keys: &[VerifyingKey],
) -> Result<InclusionProof, ProofError> {
    let proof: InclusionProof = parse(json)?;
    proof.verify(keys)?;
    Ok(proof)
}

/// Parses and verifies a consistency proof in JSON; returns it when valid.
pub fn verify_consistency_json(
    json: &str,
    keys: &[VerifyingKey],
) -> Result<ConsistencyProof, ProofError> {
    let proof: ConsistencyProof = parse(json)?;
    proof.verify(keys)?;
    Ok(proof)
}

/// Parses and verifies a checkpoint in JSON; returns it when valid.
pub fn verify_checkpoint_json(json: &str, keys: &[VerifyingKey]) -> Result<Checkpoint, ProofError> {
    let cp: Checkpoint = parse(json)?;
    cp.verify_with_keys(keys)?;
    Ok(cp)
}

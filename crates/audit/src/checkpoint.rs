//! Signed checkpoints: an Ed25519 signature over a short text note naming a tree size and
//! its Merkle root (clause 8.1: the log cannot be altered unnoticed, even by someone who can
//! rewrite the database, as long as they do not hold the signing key).
//!
//! The signed bytes are exactly [`checkpoint_text`]:
//!
//! ```text
//! derbes-audit-checkpoint/v1\n<tree_size>\n<base64 root>\n<at>\n
//! ```
//!
//! (decimal `tree_size`, standard padded base64 of the 32-byte root, `at` in decimal
//! microseconds since the Unix epoch, UTC). Each checkpoint names its signing key by
//! [`key_id`] (first 8 bytes of `SHA-256(public key)`, lower-case hex), so keys can rotate:
//! verifiers hold every public key that has signed.

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::b64;
use crate::error::ProofError;
use crate::merkle::Hash;

/// First line of the signed checkpoint text.
pub const CHECKPOINT_HEADER: &str = "derbes-audit-checkpoint/v1";

/// The exact bytes an [`AuditSigner`] signs for a checkpoint.
pub fn checkpoint_text(tree_size: u64, root: &Hash, at: i64) -> String {
    format!(
        "{CHECKPOINT_HEADER}\n{tree_size}\n{}\n{at}\n",
        b64::encode(root)
    )
}

/// The key id of a public key: the first 8 bytes of `SHA-256(public key bytes)`, hex.
pub fn key_id(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    hex::encode(&digest[..8])
}

/// A public key as standard base64 of its 32 bytes (the form [`parse_public_key`] reads).
pub fn public_key_to_base64(key: &VerifyingKey) -> String {
    b64::encode(key.as_bytes())
}

/// Reads a public key given as base64 or hex of its 32 bytes (surrounding whitespace is
/// ignored).
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, ProofError> {
    let t = text.trim();
    let bytes = if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut out = [0u8; 32];
        hex::decode_to_slice(t, &mut out)
            .map_err(|_| ProofError::Malformed("public key hex".into()))?;
        out
    } else {
        b64::decode_fixed::<32>(t).ok_or_else(|| {
            ProofError::Malformed("public key must be 32 bytes of base64 or hex".into())
        })?
    };
    VerifyingKey::from_bytes(&bytes).map_err(|_| ProofError::InvalidPublicKey)
}

/// A signed statement "the log had `tree_size` entries with Merkle root `root` at `at`".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Number of entries covered (entries with seq `0..tree_size`).
    pub tree_size: u64,
    /// Merkle tree hash of their leaves.
    #[serde(with = "b64::fixed")]
    pub root: Hash,
    /// When it was signed, microseconds since the Unix epoch (UTC).
    pub at: i64,
    /// [`key_id`] of the signing key.
    pub key_id: String,
    /// Ed25519 signature over [`Checkpoint::signed_text`].
    #[serde(with = "b64::fixed")]
    pub signature: [u8; 64],
}

impl Checkpoint {
    /// The signed bytes ([`checkpoint_text`]).
    pub fn signed_text(&self) -> String {
        checkpoint_text(self.tree_size, &self.root, self.at)
    }

    /// [`verify_checkpoint`].
    pub fn verify(&self, key: &VerifyingKey) -> bool {
        verify_checkpoint(self, key)
    }

    /// Finds the key with this checkpoint's key id and checks the signature.
    pub fn verify_with_keys(&self, keys: &[VerifyingKey]) -> Result<(), ProofError> {
        let key = keys
            .iter()
            .find(|k| key_id(k) == self.key_id)
            .ok_or_else(|| ProofError::UnknownKey {
                key_id: self.key_id.clone(),
            })?;
        if verify_checkpoint(self, key) {
            Ok(())
        } else {
            Err(ProofError::BadSignature {
                which: "checkpoint",
            })
        }
    }
}

/// Whether `cp` names `key` by its key id and carries a valid (strict) Ed25519 signature of
/// it over [`Checkpoint::signed_text`].
pub fn verify_checkpoint(cp: &Checkpoint, key: &VerifyingKey) -> bool {
    cp.key_id == key_id(key) && signature_ok(cp, key)
}

/// The signature check alone (the key id is not compared).
pub(crate) fn signature_ok(cp: &Checkpoint, key: &VerifyingKey) -> bool {
    let sig = Signature::from_bytes(&cp.signature);
    key.verify_strict(cp.signed_text().as_bytes(), &sig).is_ok()
}

/// The checkpoint signing key (Ed25519). The secret is wiped when dropped and never shown by
/// `Debug`.
pub struct AuditSigner {
    key: SigningKey,
    key_id: String,
}

impl AuditSigner {
    /// A new random key from the operating system's generator.
    pub fn generate() -> Self {
        Self::from_signing_key(SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// A key from its 32 secret bytes.
    pub fn from_bytes(secret: &[u8; 32]) -> Self {
        Self::from_signing_key(SigningKey::from_bytes(secret))
    }

    fn from_signing_key(key: SigningKey) -> Self {
        let key_id = key_id(&key.verifying_key());
        AuditSigner { key, key_id }
    }

    /// The 32 secret bytes (wiped when the returned value is dropped).
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.key.to_bytes())
    }

    /// The public key third parties verify with.
    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// [`key_id`] of the public key.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Signs a checkpoint of the tree of `tree_size` leaves with hash `root`.
    pub fn sign(&self, tree_size: u64, root: Hash, at: i64) -> Checkpoint {
        let sig = self
            .key
            .sign(checkpoint_text(tree_size, &root, at).as_bytes());
        Checkpoint {
            tree_size,
            root,
            at,
            key_id: self.key_id.clone(),
            signature: sig.to_bytes(),
        }
    }
}

impl fmt::Debug for AuditSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditSigner")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

//! Whole-log verification in one pass ([`verify_log`]), reporting the first problem
//! (clause 8.1; clauses 5.1–5.3: modification, destruction and reordering of the log are
//! detected; L-PROTECTION).
//!
//! What is checked, entry by entry in the order given (which must be the store's `seq`
//! order): `seq` is dense from 0, `prev_hash` equals the previous entry's `hash` (32 zero
//! bytes for seq 0), and the stored `hash` equals the recomputed one. Every entry hash is
//! folded into a [`MerkleAccumulator`]; when the accumulator reaches a checkpoint's
//! `tree_size`, the checkpoint's key must be known, its signature valid and its root equal to
//! the accumulator's root.
//!
//! What can be detected: any change, deletion, insertion or reordering of entries (even if
//! the attacker recomputes every hash: the next signed checkpoint's root no longer matches),
//! a truncation of entries that a checkpoint covered, a changed or forged checkpoint.
//! What cannot be detected from the database alone: removing entries after the last
//! checkpoint (the *unsigned tail*, reported as [`VerifyReport::unsigned_tail`]) together
//! with nothing else, or removing the newest checkpoints together with the entries they
//! covered. Both need a checkpoint kept outside the database (by a third party, or
//! the operator's copy of the latest one) passed in with the others.

use std::fmt;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::b64;
use crate::checkpoint::{key_id, signature_ok, Checkpoint};
use crate::entry::{Entry, GENESIS_PREV_HASH};
use crate::merkle::{leaf_hash, Hash, MerkleAccumulator};

/// What is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The entry at position `seq` is missing: a later seq came instead and `seq` never
    /// came after it (an entry was deleted).
    Gap,
    /// Entries are out of order: seq `seq` is not in its place but comes later (or a seq
    /// repeats or goes backwards).
    Reordered,
    /// The stored hash of entry `seq` is not the hash of its fields and `prev_hash`
    /// (a field was changed).
    HashMismatch,
    /// Entry `seq`'s `prev_hash` is not the hash of entry `seq - 1` (the entry before it was
    /// changed and rehashed, or this one was replaced).
    BrokenLink,
    /// A correctly signed checkpoint's root differs from the root of the entries: something
    /// in `seq..checkpoint.tree_size` was rewritten with recomputed hashes.
    CheckpointRootMismatch,
    /// A checkpoint's signature does not verify with the key its key id names.
    CheckpointBadSignature,
    /// A checkpoint names a key id that none of the given keys has.
    CheckpointUnknownKey,
    /// A validly signed checkpoint covers more entries than the log has: the tail from `seq`
    /// on was truncated.
    CheckpointBeyondLog,
    /// Checkpoints are not in non-decreasing `tree_size` order.
    CheckpointsNotIncreasing,
}

impl ProblemKind {
    /// Stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            ProblemKind::Gap => "gap",
            ProblemKind::Reordered => "reordered",
            ProblemKind::HashMismatch => "hash_mismatch",
            ProblemKind::BrokenLink => "broken_link",
            ProblemKind::CheckpointRootMismatch => "checkpoint_root_mismatch",
            ProblemKind::CheckpointBadSignature => "checkpoint_bad_signature",
            ProblemKind::CheckpointUnknownKey => "checkpoint_unknown_key",
            ProblemKind::CheckpointBeyondLog => "checkpoint_beyond_log",
            ProblemKind::CheckpointsNotIncreasing => "checkpoints_not_increasing",
        }
    }

    /// Whether the problem is about a checkpoint (then [`Problem::checkpoint`] is set).
    pub fn is_checkpoint(self) -> bool {
        matches!(
            self,
            ProblemKind::CheckpointRootMismatch
                | ProblemKind::CheckpointBadSignature
                | ProblemKind::CheckpointUnknownKey
                | ProblemKind::CheckpointBeyondLog
                | ProblemKind::CheckpointsNotIncreasing
        )
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The checkpoint a problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointRef {
    /// Position in the `checkpoints` slice given to [`verify_log`].
    pub index: usize,
    /// Its tree size.
    pub tree_size: u64,
}

/// The first problem found.
///
/// `seq` is the first entry that can no longer be trusted:
/// - entry problems (`gap`, `reordered`, `hash_mismatch`, `broken_link`): the position where
///   the problem is (the expected seq);
/// - `checkpoint_beyond_log`: the number of entries present (the first missing seq);
/// - other checkpoint problems: the tree size of the last checkpoint that verified (0 if
///   none): entries from there on are not vouched for by a valid checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// First untrusted seq (see above).
    pub seq: u64,
    /// What is wrong.
    pub kind: ProblemKind,
    /// For `gap` and `reordered`: the seq found where `seq` was expected.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub found_seq: Option<u64>,
    /// For checkpoint problems: which checkpoint.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub checkpoint: Option<CheckpointRef>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at seq {}", self.kind, self.seq)?;
        if let Some(found) = self.found_seq {
            write!(f, " (found seq {found})")?;
        }
        if let Some(cp) = self.checkpoint {
            write!(
                f,
                " (checkpoint #{} of tree size {})",
                cp.index, cp.tree_size
            )?;
        }
        Ok(())
    }
}

/// The result of [`verify_log`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Entries that passed every check (all of them when there is no problem).
    pub entries: u64,
    /// Checkpoints given.
    pub checkpoints: usize,
    /// Checkpoints whose key, signature and root verified.
    pub checkpoints_verified: usize,
    /// Tree size of the last verified checkpoint.
    pub last_checkpoint_size: Option<u64>,
    /// Entries after the last verified checkpoint: hash-linked but not yet signed, so their
    /// removal would go unnoticed until a later checkpoint.
    pub unsigned_tail: u64,
    /// Merkle root over the `entries` verified entries.
    #[serde(with = "b64::fixed")]
    pub root: Hash,
    /// The first problem, if any.
    pub problem: Option<Problem>,
}

impl VerifyReport {
    /// No problem found.
    pub fn is_ok(&self) -> bool {
        self.problem.is_none()
    }
}

struct CheckpointCursor<'a> {
    checkpoints: &'a [Checkpoint],
    keys: Vec<(String, &'a VerifyingKey)>,
    next: usize,
    verified: usize,
    last_good: Option<u64>,
}

impl CheckpointCursor<'_> {
    fn problem(&self, kind: ProblemKind, seq: u64) -> Problem {
        Problem {
            seq,
            kind,
            found_seq: None,
            checkpoint: self.checkpoints.get(self.next).map(|cp| CheckpointRef {
                index: self.next,
                tree_size: cp.tree_size,
            }),
        }
    }

    fn order_and_signature(&self, cp: &Checkpoint) -> Result<(), ProblemKind> {
        if let Some(prev) = self
            .next
            .checked_sub(1)
            .and_then(|i| self.checkpoints.get(i))
        {
            if cp.tree_size < prev.tree_size {
                return Err(ProblemKind::CheckpointsNotIncreasing);
            }
        }
        let Some((_, key)) = self.keys.iter().find(|(id, _)| *id == cp.key_id) else {
            return Err(ProblemKind::CheckpointUnknownKey);
        };
        if !signature_ok(cp, key) {
            return Err(ProblemKind::CheckpointBadSignature);
        }
        Ok(())
    }

    /// Checks every checkpoint of tree size `acc.size()` (or smaller: out of order).
    fn check_at(&mut self, acc: &MerkleAccumulator) -> Result<(), Problem> {
        while let Some(cp) = self.checkpoints.get(self.next) {
            if cp.tree_size > acc.size() {
                return Ok(());
            }
            let untrusted_from = self.last_good.unwrap_or(0);
            self.order_and_signature(cp)
                .map_err(|kind| self.problem(kind, untrusted_from))?;
            if cp.tree_size < acc.size() {
                // Only reachable when out of order (caught above); kept as a guard.
                return Err(self.problem(ProblemKind::CheckpointsNotIncreasing, untrusted_from));
            }
            if acc.root() != cp.root {
                return Err(self.problem(ProblemKind::CheckpointRootMismatch, untrusted_from));
            }
            self.verified += 1;
            self.last_good = Some(cp.tree_size);
            self.next += 1;
        }
        Ok(())
    }

    /// After the last entry: any checkpoint left covers more entries than exist.
    fn check_rest(&mut self, size: u64) -> Result<(), Problem> {
        if let Some(cp) = self.checkpoints.get(self.next) {
            let untrusted_from = self.last_good.unwrap_or(0);
            self.order_and_signature(cp)
                .map_err(|kind| self.problem(kind, untrusted_from))?;
            return Err(self.problem(ProblemKind::CheckpointBeyondLog, size));
        }
        Ok(())
    }
}

/// Verifies a whole log in one pass: `entries` in seq order, `checkpoints` in the order they
/// were made, `keys` every public key that may have signed (current and retired).
/// Stops at the first problem (after, for a missing seq, scanning the remaining seqs to tell
/// a deletion from a reordering).
pub fn verify_log<I>(entries: I, checkpoints: &[Checkpoint], keys: &[VerifyingKey]) -> VerifyReport
where
    I: IntoIterator<Item = Entry>,
{
    let mut cursor = CheckpointCursor {
        checkpoints,
        keys: keys.iter().map(|k| (key_id(k), k)).collect(),
        next: 0,
        verified: 0,
        last_good: None,
    };
    let mut acc = MerkleAccumulator::new();
    let mut prev_hash = GENESIS_PREV_HASH;
    let mut buf = Vec::with_capacity(256);
    let mut it = entries.into_iter();

    let problem = 'scan: {
        while let Some(entry) = it.next() {
            if let Err(p) = cursor.check_at(&acc) {
                break 'scan Some(p);
            }
            let expected = acc.size();
            if entry.seq != expected {
                let mut kind = if entry.seq > expected {
                    ProblemKind::Gap
                } else {
                    ProblemKind::Reordered
                };
                if kind == ProblemKind::Gap && it.any(|e| e.seq == expected) {
                    kind = ProblemKind::Reordered;
                }
                break 'scan Some(Problem {
                    seq: expected,
                    kind,
                    found_seq: Some(entry.seq),
                    checkpoint: None,
                });
            }
            let entry_problem = if entry.prev_hash != prev_hash {
                Some(ProblemKind::BrokenLink)
            } else if entry.compute_hash_with(&mut buf) != entry.hash {
                Some(ProblemKind::HashMismatch)
            } else {
                None
            };
            if let Some(kind) = entry_problem {
                break 'scan Some(Problem {
                    seq: expected,
                    kind,
                    found_seq: None,
                    checkpoint: None,
                });
            }
            acc.push(leaf_hash(&entry.hash));
            prev_hash = entry.hash;
        }
        cursor
            .check_at(&acc)
            .and_then(|()| cursor.check_rest(acc.size()))
            .err()
    };

    let entries = acc.size();
    let last = cursor.last_good;
    VerifyReport {
        entries,
        checkpoints: checkpoints.len(),
        checkpoints_verified: cursor.verified,
        last_checkpoint_size: last,
        unsigned_tail: entries - last.unwrap_or(0).min(entries),
        root: acc.root(),
        problem,
    }
}

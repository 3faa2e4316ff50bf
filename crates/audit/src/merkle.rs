//! The RFC 6962 Merkle tree over entry hashes: leaf and node hashes, the incremental
//! [`MerkleAccumulator`], and inclusion and consistency proofs (RFC 6962 §2.1, with the
//! verification algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2).
//!
//! Leaves are `SHA-256(0x00 || entry.hash)`, interior nodes `SHA-256(0x01 || left || right)`,
//! and the tree hash of `n > 1` leaves splits them at the largest power of two smaller than
//! `n`. The empty tree's hash is `SHA-256("")`.
//!
//! Proof generation takes the slice of leaf hashes (`&[[u8; 32]]`) and costs O(n) hashes;
//! verification costs O(log n) and needs only hashes.

use sha2::{Digest, Sha256};

use crate::error::MerkleError;

/// Prefix byte of a leaf hash.
pub const LEAF_PREFIX: u8 = 0x00;
/// Prefix byte of an interior node hash.
pub const NODE_PREFIX: u8 = 0x01;

/// A 32-byte SHA-256 hash.
pub type Hash = [u8; 32];

/// The leaf hash of an entry: `SHA-256(0x00 || entry_hash)`.
pub fn leaf_hash(entry_hash: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(entry_hash);
    h.finalize().into()
}

/// An interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 65];
    buf[0] = NODE_PREFIX;
    buf[1..33].copy_from_slice(left);
    buf[33..].copy_from_slice(right);
    Sha256::digest(buf).into()
}

/// The hash of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    1usize << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// The Merkle tree hash (MTH) of a list of leaf hashes, computed with a
/// [`MerkleAccumulator`] (O(n) hashes, O(log n) memory).
pub fn merkle_root(leaves: &[Hash]) -> Hash {
    let mut acc = MerkleAccumulator::new();
    for l in leaves {
        acc.push(*l);
    }
    acc.root()
}

/// An append-only Merkle tree kept as its "compact range": the roots of the perfect
/// subtrees that make up the first `size` leaves, largest (leftmost) first — one per set bit
/// of `size`. Appending costs amortised one node hash; [`MerkleAccumulator::root`] costs
/// O(log n).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MerkleAccumulator {
    size: u64,
    frontier: Vec<Hash>,
}

impl MerkleAccumulator {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Resumes from a saved frontier (see [`MerkleAccumulator::frontier`]); it must hold
    /// exactly one hash per set bit of `size`.
    pub fn from_frontier(size: u64, frontier: Vec<Hash>) -> Result<Self, MerkleError> {
        if frontier.len() != size.count_ones() as usize {
            return Err(MerkleError::BadFrontier);
        }
        Ok(MerkleAccumulator { size, frontier })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect-subtree roots, largest first.
    pub fn frontier(&self) -> &[Hash] {
        &self.frontier
    }

    /// Appends a leaf hash (already `SHA-256(0x00 || entry_hash)`).
    pub fn push(&mut self, leaf: Hash) {
        let mut h = leaf;
        let mut s = self.size;
        while s & 1 == 1 {
            match self.frontier.pop() {
                Some(left) => h = node_hash(&left, &h),
                None => break, // unreachable: one frontier hash per set bit of `size`
            }
            s >>= 1;
        }
        self.frontier.push(h);
        self.size += 1;
    }

    /// Appends the leaf of an entry hash.
    pub fn push_entry_hash(&mut self, entry_hash: &Hash) {
        self.push(leaf_hash(entry_hash));
    }

    /// The tree hash of the leaves so far.
    pub fn root(&self) -> Hash {
        let mut it = self.frontier.iter().rev();
        let Some(last) = it.next() else {
            return empty_root();
        };
        it.fold(*last, |right, left| node_hash(left, &right))
    }
}

fn check_size(leaves: &[Hash], tree_size: u64) -> Result<usize, MerkleError> {
    match usize::try_from(tree_size) {
        Ok(n) if n <= leaves.len() => Ok(n),
        _ => Err(MerkleError::SizeOutOfRange {
            tree_size,
            available: leaves.len() as u64,
        }),
    }
}

/// The audit path of leaf `index` in the tree of the first `tree_size` leaves
/// (RFC 6962 §2.1.1 `PATH(m, D[n])`), nearest sibling first.
pub fn inclusion_proof(
    leaves: &[Hash],
    index: u64,
    tree_size: u64,
) -> Result<Vec<Hash>, MerkleError> {
    let n = check_size(leaves, tree_size)?;
    if index >= tree_size {
        return Err(MerkleError::IndexOutOfRange { index, tree_size });
    }
    let mut out = Vec::new();
    path(index as usize, &leaves[..n], &mut out);
    Ok(out)
}

fn path(m: usize, d: &[Hash], out: &mut Vec<Hash>) {
    if d.len() <= 1 {
        return;
    }
    let k = split(d.len());
    if m < k {
        path(m, &d[..k], out);
        out.push(merkle_root(&d[k..]));
    } else {
        path(m - k, &d[k..], out);
        out.push(merkle_root(&d[..k]));
    }
}

/// The root an inclusion proof leads to, or `None` if its length does not fit the position
/// (RFC 9162 §2.1.3.2).
pub fn root_from_inclusion_proof(
    leaf: &Hash,
    index: u64,
    tree_size: u64,
    proof: &[Hash],
) -> Option<Hash> {
    if index >= tree_size {
        return None;
    }
    let mut f = index;
    let mut s = tree_size - 1;
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return None;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    (s == 0).then_some(r)
}

/// Whether `proof` shows the leaf hash `leaf` at `index` in the tree of `tree_size` leaves
/// with hash `root`.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    tree_size: u64,
    proof: &[Hash],
    root: &Hash,
) -> bool {
    root_from_inclusion_proof(leaf, index, tree_size, proof).is_some_and(|r| r == *root)
}

/// The consistency proof between the trees of the first `old_size` and `new_size` leaves
/// (RFC 6962 §2.1.2 `PROOF(m, D[n])`); empty when `old_size` is 0 or equals `new_size`.
pub fn consistency_proof(
    leaves: &[Hash],
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, MerkleError> {
    let n = check_size(leaves, new_size)?;
    if old_size > new_size {
        return Err(MerkleError::OldSizeGreater { old_size, new_size });
    }
    let mut out = Vec::new();
    if old_size > 0 {
        subproof(old_size as usize, &leaves[..n], true, &mut out);
    }
    Ok(out)
}

fn subproof(m: usize, d: &[Hash], whole: bool, out: &mut Vec<Hash>) {
    let n = d.len();
    if m == n {
        if !whole {
            out.push(merkle_root(d));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &d[..k], whole, out);
        out.push(merkle_root(&d[k..]));
    } else {
        subproof(m - k, &d[k..], false, out);
        out.push(merkle_root(&d[..k]));
    }
}

/// Whether `proof` shows the tree of `old_size` leaves with hash `old_root` is a prefix of
/// the tree of `new_size` leaves with hash `new_root` (RFC 9162 §2.1.4.2; equal sizes need an
/// empty proof and equal roots; an empty old tree needs an empty proof and the empty root).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old_size > new_size {
        return false;
    }
    if old_size == new_size {
        return proof.is_empty() && old_root == new_root;
    }
    if old_size == 0 {
        return proof.is_empty() && *old_root == empty_root();
    }
    let (first, rest): (&Hash, &[Hash]) = if old_size.is_power_of_two() {
        (old_root, proof)
    } else {
        match proof.split_first() {
            Some(x) => x,
            None => return false,
        }
    };
    let mut f = old_size - 1;
    let mut s = new_size - 1;
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let mut fr = *first;
    let mut sr = *first;
    for c in rest {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && fr == *old_root && sr == *new_root
}

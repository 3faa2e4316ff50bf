//! The Merkle tree against the RFC 6962 reference vectors and a naive recursive
//! implementation; inclusion and consistency proofs verify, and fail when anything is
//! changed (clause 8.1: a third party can check one entry, or that history only grew).

use derbes_audit::{
    consistency_proof, empty_root, inclusion_proof, merkle::root_from_inclusion_proof, merkle_root,
    node_hash, verify_consistency, verify_inclusion, Hash, MerkleAccumulator, MerkleError,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn h(hex_str: &str) -> Hash {
    hex::decode(hex_str).unwrap().try_into().unwrap()
}

/// RFC 6962 leaf hash of arbitrary data (the reference vectors use raw leaf data).
fn leaf_of_data(data: &[u8]) -> Hash {
    let mut s = Sha256::new();
    s.update([0u8]);
    s.update(data);
    s.finalize().into()
}

/// Naive MTH straight from RFC 6962 §2.1 (recursive, no accumulator).
fn naive_mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => Sha256::digest([]).into(),
        1 => d[0],
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            node_hash(&naive_mth(&d[..k]), &naive_mth(&d[k..]))
        }
    }
}

/// Leaf hashes 0..n, all distinct.
fn leaves(n: usize) -> Vec<Hash> {
    (0..n as u32)
        .map(|i| leaf_of_data(&i.to_be_bytes()))
        .collect()
}

const CT_DATA: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

const CT_ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn ct_leaves() -> Vec<Hash> {
    CT_DATA
        .iter()
        .map(|d| leaf_of_data(&hex::decode(d).unwrap()))
        .collect()
}

#[test]
fn c8_1_roots_match_the_rfc_6962_reference_vectors() {
    let l = ct_leaves();
    assert_eq!(empty_root(), h(CT_ROOTS[0]));
    let mut acc = MerkleAccumulator::new();
    assert_eq!(acc.root(), h(CT_ROOTS[0]));
    for n in 1..=8 {
        acc.push(l[n - 1]);
        assert_eq!(acc.root(), h(CT_ROOTS[n]), "size {n}");
        assert_eq!(merkle_root(&l[..n]), h(CT_ROOTS[n]), "size {n}");
    }
}

#[test]
fn c8_1_proofs_match_the_reference_vectors() {
    let l = ct_leaves();
    let p0 = inclusion_proof(&l, 0, 8).unwrap();
    assert_eq!(
        p0,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ]
    );
    let p5 = inclusion_proof(&l, 5, 8).unwrap();
    assert_eq!(
        p5,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ]
    );
    let root8 = h(CT_ROOTS[8]);
    assert!(verify_inclusion(&l[0], 0, 8, &p0, &root8));
    assert!(verify_inclusion(&l[5], 5, 8, &p5, &root8));
    let c = consistency_proof(&l, 2, 8).unwrap();
    assert_eq!(
        c,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ]
    );
    assert!(verify_consistency(2, 8, &h(CT_ROOTS[2]), &root8, &c));
}

#[test]
fn c8_1_accumulator_equals_naive_mth_at_every_size() {
    let l = leaves(1100);
    let mut acc = MerkleAccumulator::new();
    assert_eq!(acc.root(), naive_mth(&[]));
    for (i, leaf) in l.iter().enumerate() {
        acc.push(*leaf);
        assert_eq!(acc.size(), i as u64 + 1);
        assert_eq!(acc.frontier().len(), acc.size().count_ones() as usize);
        assert_eq!(acc.root(), naive_mth(&l[..=i]), "size {}", i + 1);
    }
    // Resuming from a saved frontier continues the same tree.
    let mut resumed =
        MerkleAccumulator::from_frontier(acc.size(), acc.frontier().to_vec()).unwrap();
    let mut again = acc.clone();
    resumed.push(l[0]);
    again.push(l[0]);
    assert_eq!(resumed, again);
    assert_eq!(
        MerkleAccumulator::from_frontier(3, vec![l[0]]),
        Err(MerkleError::BadFrontier)
    );
}

#[test]
fn c8_1_every_inclusion_and_consistency_proof_verifies_up_to_64_leaves() {
    let l = leaves(64);
    for n in 1..=64usize {
        let root = naive_mth(&l[..n]);
        for i in 0..n {
            let p = inclusion_proof(&l, i as u64, n as u64).unwrap();
            assert!(
                verify_inclusion(&l[i], i as u64, n as u64, &p, &root),
                "{i}/{n}"
            );
        }
        for m in 0..=n {
            let p = consistency_proof(&l, m as u64, n as u64).unwrap();
            assert!(
                verify_consistency(m as u64, n as u64, &naive_mth(&l[..m]), &root, &p),
                "{m}->{n}"
            );
        }
    }
}

#[test]
fn c8_1_proof_generation_rejects_out_of_range_requests() {
    let l = leaves(10);
    assert_eq!(
        inclusion_proof(&l, 10, 10),
        Err(MerkleError::IndexOutOfRange {
            index: 10,
            tree_size: 10
        })
    );
    assert_eq!(
        inclusion_proof(&l, 0, 11),
        Err(MerkleError::SizeOutOfRange {
            tree_size: 11,
            available: 10
        })
    );
    assert_eq!(
        consistency_proof(&l, 5, 4),
        Err(MerkleError::OldSizeGreater {
            old_size: 5,
            new_size: 4
        })
    );
    assert!(consistency_proof(&l, 0, 10).unwrap().is_empty());
    assert!(consistency_proof(&l, 10, 10).unwrap().is_empty());
    // Verification of degenerate cases.
    let r = merkle_root(&l);
    assert!(!verify_inclusion(&l[0], 10, 10, &[], &r));
    assert!(!verify_consistency(5, 4, &r, &r, &[]));
    assert!(verify_consistency(0, 10, &empty_root(), &r, &[]));
    assert!(!verify_consistency(0, 10, &r, &r, &[]));
    assert!(!verify_consistency(10, 10, &r, &r, &[r]));
    assert!(!verify_consistency(4, 10, &merkle_root(&l[..4]), &r, &[]));
}

fn flip(mut x: Hash) -> Hash {
    x[0] ^= 1;
    x
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn c8_1_inclusion_proofs_verify_and_reject_changes((n, i, j) in (1usize..=300).prop_flat_map(|n| (Just(n), 0..n, 0..n))) {
        let l = leaves(n);
        let root = merkle_root(&l);
        prop_assert_eq!(root, naive_mth(&l));
        let p = inclusion_proof(&l, i as u64, n as u64).unwrap();
        prop_assert!(verify_inclusion(&l[i], i as u64, n as u64, &p, &root));
        prop_assert_eq!(root_from_inclusion_proof(&l[i], i as u64, n as u64, &p), Some(root));
        // A different leaf, index, root or path fails.
        prop_assert!(!verify_inclusion(&flip(l[i]), i as u64, n as u64, &p, &root));
        if j != i {
            prop_assert!(!verify_inclusion(&l[j], i as u64, n as u64, &p, &root));
            prop_assert!(!verify_inclusion(&l[i], j as u64, n as u64, &p, &root));
        }
        prop_assert!(!verify_inclusion(&l[i], i as u64, n as u64, &p, &flip(root)));
        // (The tree size itself is not bound by the path — e.g. index 0 has the same path
        // shape in trees of 5 and 6 leaves — it is bound by the signed checkpoint.)
        prop_assert!(!verify_inclusion(&l[i], n as u64, n as u64, &p, &root));
        let mut longer = p.clone();
        longer.push(root);
        prop_assert!(!verify_inclusion(&l[i], i as u64, n as u64, &longer, &root));
        if !p.is_empty() {
            prop_assert!(!verify_inclusion(&l[i], i as u64, n as u64, &p[..p.len() - 1], &root));
            for k in 0..p.len() {
                let mut q = p.clone();
                q[k] = flip(q[k]);
                prop_assert!(!verify_inclusion(&l[i], i as u64, n as u64, &q, &root));
            }
        }
    }

    #[test]
    fn c8_1_consistency_proofs_verify_and_reject_changes((n, m) in (1usize..=300).prop_flat_map(|n| (Just(n), 1..=n))) {
        let l = leaves(n);
        let old = merkle_root(&l[..m]);
        let new = merkle_root(&l);
        prop_assert_eq!(old, naive_mth(&l[..m]));
        let p = consistency_proof(&l, m as u64, n as u64).unwrap();
        prop_assert!(verify_consistency(m as u64, n as u64, &old, &new, &p));
        prop_assert!(!verify_consistency(m as u64, n as u64, &flip(old), &new, &p));
        prop_assert!(!verify_consistency(m as u64, n as u64, &old, &flip(new), &p));
        for k in 0..p.len() {
            let mut q = p.clone();
            q[k] = flip(q[k]);
            prop_assert!(!verify_consistency(m as u64, n as u64, &old, &new, &q));
        }
        if m < n {
            prop_assert!(!verify_consistency(m as u64, n as u64, &old, &new, &p[..p.len() - 1]));
            let mut longer = p.clone();
            longer.push(new);
            prop_assert!(!verify_consistency(m as u64, n as u64, &old, &new, &longer));
            // A history rewritten anywhere before m is not consistent.
            let mut rewritten = l.clone();
            let at = m / 2;
            rewritten[at] = flip(rewritten[at]);
            let forged_new = merkle_root(&rewritten);
            let q = consistency_proof(&rewritten, m as u64, n as u64).unwrap();
            prop_assert!(!verify_consistency(m as u64, n as u64, &old, &forged_new, &q));
        }
        if m > 1 {
            prop_assert!(!verify_consistency(m as u64 - 1, n as u64, &old, &new, &p));
        }
    }

    #[test]
    fn c8_1_accumulator_equals_naive_mth(n in 0usize..=300) {
        let l = leaves(n);
        let mut acc = MerkleAccumulator::new();
        for x in &l {
            acc.push(*x);
        }
        prop_assert_eq!(acc.root(), naive_mth(&l));
    }
}

//! Verifies a derbes audit proof (inclusion or consistency JSON, see `PROOFS.md`) with only
//! the operator's public key:
//!
//! ```sh
//! cargo run -p derbes-audit --example verify_proof -- PUBLIC_KEY_FILE PROOF.json
//! ```
//!
//! `PUBLIC_KEY_FILE` holds base64 or hex of the 32-byte Ed25519 public key (more than one
//! key, one per line, for logs whose signing key was rotated). Exits 0 when the proof holds.

use std::process::ExitCode;

use derbes_audit::{parse_public_key, verify_consistency_json, verify_inclusion_json, ProofError};

fn run(key_file: &str, proof_file: &str) -> Result<String, ProofError> {
    let read = |p: &str| {
        std::fs::read_to_string(p).map_err(|e| ProofError::Malformed(format!("{p}: {e}")))
    };
    let keys = read(key_file)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(parse_public_key)
        .collect::<Result<Vec<_>, _>>()?;
    let json = read(proof_file)?;
    let value: serde_json::Value =
        serde_json::from_str(&json).map_err(|e| ProofError::Malformed(e.to_string()))?;
    if value.get("leaf_index").is_some() {
        let p = verify_inclusion_json(&json, &keys)?;
        Ok(format!(
            "OK entry {} is in the log of {} entries signed at {} by key {}",
            p.leaf_index, p.tree_size, p.checkpoint.at, p.checkpoint.key_id
        ))
    } else {
        let p = verify_consistency_json(&json, &keys)?;
        Ok(format!(
            "OK the log of {} entries extends the log of {} entries",
            p.new.tree_size, p.old.tree_size
        ))
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, key_file, proof_file] = args.as_slice() else {
        eprintln!("usage: verify_proof PUBLIC_KEY_FILE PROOF.json");
        return ExitCode::from(2);
    };
    match run(key_file, proof_file) {
        Ok(msg) => {
            println!("{msg}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("FAILED ({}): {e}", e.code());
            ExitCode::FAILURE
        }
    }
}

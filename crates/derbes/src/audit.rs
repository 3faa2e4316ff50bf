//! `derbes audit …`: verify the whole log against its signed checkpoints, sign a checkpoint,
//! print and verify proofs (clause 8.1: the log cannot be altered unnoticed).

use crate::app::{self, AnyError, Common};
use crate::AuditAction;
use derbes_audit::{parse_public_key, public_key_to_base64, verify_log, Entry, VerifyingKey};
use sha2::{Digest, Sha256};
use std::time::Instant;

/// Entries loaded per query while verifying.
const PAGE: u64 = 50_000;

pub async fn run(common: &Common, action: AuditAction) -> Result<(), AnyError> {
    match action {
        AuditAction::VerifyProof { public_key, file } => verify_proof(&public_key, &file),
        AuditAction::PublicKey => {
            let (signer, _) = app::load_audit_signer(common, false)?;
            println!("key id:     {}", signer.key_id());
            println!("public key: {}", public_key_to_base64(&signer.public_key()));
            Ok(())
        }
        AuditAction::Checkpoint => {
            let store = app::open_store(common, false).await?;
            let (signer, _) = app::load_audit_signer(common, false)?;
            let now = chrono::Utc::now().timestamp_micros();
            match derbes_service::audit::sign_checkpoint(store.as_ref(), &signer, now).await? {
                Some(cp) => println!(
                    "signed checkpoint: tree size {}, key {}",
                    cp.tree_size, cp.key_id
                ),
                None => println!("nothing new to sign"),
            }
            Ok(())
        }
        AuditAction::Proof { seq } => {
            let store = app::open_store(common, false).await?;
            let proof = derbes_service::audit::inclusion_proof(store.as_ref(), seq).await?;
            println!("{}", serde_json::to_string_pretty(&proof)?);
            Ok(())
        }
        AuditAction::Consistency { old, new } => {
            let store = app::open_store(common, false).await?;
            let proof = derbes_service::audit::consistency_proof(store.as_ref(), old, new).await?;
            println!("{}", serde_json::to_string_pretty(&proof)?);
            Ok(())
        }
        AuditAction::Verify { public_keys } => verify(common, &public_keys).await,
    }
}

async fn verify(common: &Common, extra_keys: &[String]) -> Result<(), AnyError> {
    let store = app::open_store(common, false).await?;
    let mut keys: Vec<VerifyingKey> = Vec::new();
    if let Ok((signer, _)) = app::load_audit_signer(common, false) {
        keys.push(signer.public_key());
    }
    for k in extra_keys {
        keys.push(parse_public_key(k).map_err(|e| format!("--public-key: {e}"))?);
    }
    if keys.is_empty() {
        return Err("no audit public key: give --public-key or the audit key file".into());
    }
    let checkpoints = store.checkpoints().await?;
    let load = Instant::now();
    let mut entries: Vec<Entry> = Vec::new();
    loop {
        let page = store.audit_entries(entries.len() as u64, PAGE).await?;
        let n = page.len();
        entries.extend(page);
        if (n as u64) < PAGE {
            break;
        }
    }
    let loaded = load.elapsed();

    // The raw SHA-256 of the same bytes, for scale: what hashing alone costs on this machine.
    let mut buf = Vec::with_capacity(512);
    let raw = Instant::now();
    let mut sink = 0u8;
    for e in &entries {
        buf.clear();
        e.write_hash_input(&mut buf);
        sink ^= Sha256::digest(&buf)[0];
    }
    let raw_time = raw.elapsed();
    std::hint::black_box(sink);

    let n = entries.len();
    let started = Instant::now();
    let report =
        tokio::task::spawn_blocking(move || verify_log(entries, &checkpoints, &keys)).await?;
    let took = started.elapsed();
    let rate = |d: std::time::Duration| {
        if d.as_secs_f64() > 0.0 {
            n as f64 / d.as_secs_f64()
        } else {
            f64::INFINITY
        }
    };
    println!(
        "entries: {}   checkpoints: {} ({} verified)   last checkpoint covers: {}   unsigned tail: {}",
        report.entries,
        report.checkpoints,
        report.checkpoints_verified,
        report
            .last_checkpoint_size
            .map(|s| s.to_string())
            .unwrap_or_else(|| "none".into()),
        report.unsigned_tail
    );
    println!(
        "verify: {:.3} s = {:.0} entries/s   (raw SHA-256 of the same bytes: {:.0} entries/s; loading from the database: {:.3} s)",
        took.as_secs_f64(),
        rate(took),
        rate(raw_time),
        loaded.as_secs_f64()
    );
    match report.problem {
        None => {
            println!("audit log OK");
            Ok(())
        }
        Some(p) => Err(format!("audit log FAILED verification: {p}").into()),
    }
}

fn verify_proof(public_key: &str, file: &std::path::Path) -> Result<(), AnyError> {
    let key = parse_public_key(public_key).map_err(|e| format!("--public-key: {e}"))?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|_| format!("{} is not JSON", file.display()))?;
    if value.get("audit_path").is_some() {
        let p = derbes_audit::verify_inclusion_json(&text, &[key])
            .map_err(|e| format!("inclusion proof does NOT hold: {e}"))?;
        println!(
            "inclusion proof holds: entry {} is in the log of size {} signed by key {}",
            p.leaf_index, p.tree_size, p.checkpoint.key_id
        );
    } else {
        let p = derbes_audit::verify_consistency_json(&text, &[key])
            .map_err(|e| format!("consistency proof does NOT hold: {e}"))?;
        println!(
            "consistency proof holds: the log of size {} extends the log of size {}",
            p.new.tree_size, p.old.tree_size
        );
    }
    Ok(())
}

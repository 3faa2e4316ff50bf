//! Recording actions on personal data in the tamper-evident audit log (clauses 8.1, 5.5;
//! L-PROTECTION: "register and log actions on data").
//!
//! Every vault call appends an entry — who, what, whose (pseudonym), which purpose and
//! categories, which rule allowed or denied it, when, and the outcome — before its answer
//! leaves the service, so an access is on the log before the data reaches the caller. Like
//! creates, appends are group-committed: one writer task gathers what concurrent calls
//! submitted while the previous append was being flushed and appends it in one transaction,
//! chaining each entry to the last and updating the Merkle frontier.
//!
//! Checkpoints ([`sign_checkpoint`]) sign the current Merkle root with the audit key.

use crate::batcher::{all_failed, Batcher};
use crate::error::ServiceError;
use derbes_audit::{Action, AuditSigner, Checkpoint, EntryFields, Outcome};
use derbes_store::Store;
use std::sync::Arc;

/// The most entries in one append transaction.
pub const MAX_APPEND: usize = 1024;

/// Handle to the audit writer task (a [`Batcher`] of entry lists).
pub struct Auditor(Batcher<Vec<EntryFields>>);

impl Auditor {
    /// Start the writer on the current runtime.
    pub fn start(store: Arc<dyn Store>) -> Auditor {
        Auditor(Batcher::start(MAX_APPEND, Vec::len, move |groups| {
            let store = store.clone();
            async move {
                let n = groups.len();
                let fields: Vec<EntryFields> = groups.into_iter().flatten().collect();
                match store.append_audit(&fields).await {
                    Ok(_) => (0..n).map(|_| Ok(())).collect(),
                    Err(e) => all_failed(n, e),
                }
            }
        }))
    }

    /// Append entries; returns once they are committed.
    pub async fn record(&self, entries: Vec<EntryFields>) -> Result<(), ServiceError> {
        if entries.is_empty() {
            return Ok(());
        }
        self.0.submit(entries).await?.map_err(|e| {
            tracing::error!(code = e.code(), "audit append failed");
            ServiceError::Store(e)
        })
    }

    /// Stop accepting entries and wait for pending appends.
    pub async fn shutdown(&self) {
        self.0.shutdown().await;
    }
}

/// Sign the log's current head if it grew since the last checkpoint. Returns the new
/// checkpoint, or `None` when there was nothing new to sign.
pub async fn sign_checkpoint(
    store: &dyn Store,
    signer: &AuditSigner,
    at: i64,
) -> Result<Option<Checkpoint>, ServiceError> {
    let head = store.audit_head().await?;
    let last = store
        .checkpoints()
        .await?
        .iter()
        .filter(|c| c.key_id == signer.key_id())
        .map(|c| c.tree_size)
        .max();
    if head.size == 0 || last == Some(head.size) {
        return Ok(None);
    }
    let cp = signer.sign(head.size, head.root, at);
    store.insert_checkpoint(&cp).await?;
    Ok(Some(cp))
}

/// Build the fields of one entry. Values that are not short codes (which only a bug could
/// produce) are dropped rather than stored, so the log never holds free text.
#[allow(clippy::too_many_arguments)] // one argument per field of an entry
pub fn entry(
    at: i64,
    actor: &str,
    action: Action,
    outcome: Outcome,
    subject: Option<String>,
    purpose: Option<&str>,
    categories: Vec<String>,
    rule: Option<String>,
    detail: Option<String>,
) -> EntryFields {
    let code = |s: &str| !s.is_empty() && s.len() <= 256 && s.bytes().all(|b| b.is_ascii_graphic());
    let mut f = EntryFields::new(at, actor, action, outcome);
    f.subject = subject.filter(|s| code(s));
    f.purpose = purpose.filter(|p| code(p)).map(str::to_string);
    f.categories = categories
        .into_iter()
        .filter(|c| code(c))
        .take(64)
        .collect();
    f.rule = rule.filter(|r| code(r));
    f.detail = detail.filter(|d| code(d));
    f
}

fn leaves(hashes: &[[u8; 32]]) -> Vec<[u8; 32]> {
    hashes.iter().map(derbes_audit::leaf_hash).collect()
}

/// An inclusion proof of entry `seq` in the latest signed checkpoint, with the entry
/// enclosed, verifiable by a third party with the audit public key alone (`PROOFS.md`).
pub async fn inclusion_proof(
    store: &dyn Store,
    seq: u64,
) -> Result<derbes_audit::InclusionProof, ServiceError> {
    let checkpoints = store.checkpoints().await?;
    let cp = checkpoints
        .iter()
        .filter(|c| c.tree_size > seq)
        .max_by_key(|c| (c.tree_size, c.at))
        .ok_or(ServiceError::NoAuditProof("no checkpoint covers the entry"))?;
    let hashes = store.audit_entry_hashes(cp.tree_size).await?;
    let entry = store
        .audit_entries(seq, 1)
        .await?
        .into_iter()
        .next()
        .ok_or(ServiceError::NoAuditProof("no such entry"))?;
    let proof = derbes_audit::InclusionProof::build(&leaves(&hashes), seq, cp)
        .map_err(|_| ServiceError::Integrity)?;
    Ok(proof.with_entry(entry))
}

/// A consistency proof between the checkpoints of sizes `old` and `new` (signed by the same
/// key): the log of size `new` extends the log of size `old` without rewriting it.
pub async fn consistency_proof(
    store: &dyn Store,
    old: u64,
    new: u64,
) -> Result<derbes_audit::ConsistencyProof, ServiceError> {
    let checkpoints = store.checkpoints().await?;
    let new_cp = checkpoints
        .iter()
        .filter(|c| c.tree_size == new)
        .max_by_key(|c| c.at)
        .ok_or(ServiceError::NoAuditProof("no checkpoint of the new size"))?;
    let old_cp = checkpoints
        .iter()
        .filter(|c| c.tree_size == old && c.key_id == new_cp.key_id)
        .max_by_key(|c| c.at)
        .ok_or(ServiceError::NoAuditProof("no checkpoint of the old size"))?;
    if old > new {
        return Err(ServiceError::NoAuditProof("old is larger than new"));
    }
    let hashes = store.audit_entry_hashes(new).await?;
    derbes_audit::ConsistencyProof::build(&leaves(&hashes), old_cp, new_cp)
        .map_err(|_| ServiceError::Integrity)
}

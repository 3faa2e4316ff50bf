//! Recording actions on personal data in the tamper-evident audit log (clauses 8.1, 5.5;
//! L-PROTECTION: "register and log actions on data").
//!
//! Every vault call appends an entry — who, what, whose (pseudonym), which purpose and
//! categories, which rule allowed or denied it, when, and the outcome — before its answer
//! leaves the service, so an access is on the log before the data reaches the caller (for
//! reads, by default, committed to the database's log and fsynced at most 50 ms later: see
//! [`ReadAudit`]). Like creates, appends are group-committed: one writer task gathers what
//! concurrent calls submitted while the previous append was being flushed and appends it in
//! one transaction, chaining each entry to the last and updating the Merkle frontier.
//!
//! Checkpoints ([`sign_checkpoint`]) sign the current Merkle root with the audit key.

use crate::batcher::{all_failed, Batcher, Gatherer, Next};
use crate::error::ServiceError;
use derbes_audit::{Action, AuditSigner, Checkpoint, EntryFields, Outcome};
use derbes_store::{Store, StoreError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The most entries in one append transaction.
pub const MAX_APPEND: usize = 1024;

/// When the entry of a read is durable relative to the read's answer (clause 8.1).
///
/// Entries of anything that changes data, consents, accounts or policy are always durable
/// before the answer. Entries that only record a read or a search (`read`, `search`, allowed
/// or denied) may be answered once they are committed to the database's log without waiting
/// for the disk: they are then safe from a crash of derbes (the database holds them) and
/// become durable with the next durable commit, at most `flush` later. Only a power cut or an
/// operating-system crash inside that window can lose them, and then only at the tail of the
/// log, so the chain and every signed checkpoint still verify (a checkpoint is a durable
/// commit, which syncs every entry it covers first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadAudit {
    /// Every entry is durable before the answer (one fsync per group commit).
    Durable,
    /// Read entries are durable at most `flush` after the answer (the default, 50 ms).
    Deferred {
        /// The longest a read entry waits for its fsync.
        flush: Duration,
    },
}

impl Default for ReadAudit {
    fn default() -> Self {
        ReadAudit::Deferred {
            flush: Duration::from_millis(50),
        }
    }
}

/// Whether these entries only record reads or searches.
fn only_reads(entries: &[EntryFields]) -> bool {
    entries
        .iter()
        .all(|e| e.action == Action::READ || e.action == Action::SEARCH)
}

/// One caller's entries, and whether they may be committed without waiting for the disk.
type Submission = (Vec<EntryFields>, bool);

/// Handle to the audit writer. Appends are group-committed: by a writer task of its own
/// (a [`Batcher`]; a group is deferred, [`ReadAudit::Deferred`], only when every member is),
/// or, for a store that writes concurrent appends together itself
/// ([`Store::groups_audit_appends`]: SQLite), by the store, with a task here that makes
/// deferred entries durable in time.
pub struct Auditor {
    writer: Writer,
    mode: ReadAudit,
}

enum Writer {
    Gathered(Batcher<Submission>),
    Direct(Direct),
}

/// Appends straight to a store that groups them; deferred ones are flushed by a task.
struct Direct {
    store: Arc<dyn Store>,
    flushing: Arc<Flushing>,
    flusher: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    closed: AtomicBool,
}

/// What the appenders and the flusher of a [`Writer::Direct`] share.
#[derive(Default)]
struct Flushing {
    /// Whether a deferred entry has been committed since the flusher last started a flush.
    unsynced: AtomicBool,
    /// Wakes the flusher for the first deferred entry after a flush.
    wake: Notify,
    stop: Notify,
}

impl Flushing {
    /// A deferred entry has been committed: have it flushed in time.
    fn committed(&self) {
        if !self.unsynced.swap(true, Ordering::AcqRel) {
            self.wake.notify_one();
        }
    }
}

impl Auditor {
    /// Start the writer on the current runtime, with read entries deferred by the default.
    pub fn start(store: Arc<dyn Store>) -> Auditor {
        Auditor::start_with(store, ReadAudit::default())
    }

    /// Start the writer with the given durability of read entries.
    pub fn start_with(store: Arc<dyn Store>, mode: ReadAudit) -> Auditor {
        if store.groups_audit_appends() {
            let flushing = Arc::new(Flushing::default());
            let after = match mode {
                ReadAudit::Deferred { flush } => flush,
                ReadAudit::Durable => Duration::ZERO,
            };
            let for_flusher = store.clone();
            let flusher = tokio::spawn(flusher(flushing.clone(), after, move || {
                let store = for_flusher.clone();
                async move { flush(store.as_ref()).await }
            }));
            return Auditor {
                writer: Writer::Direct(Direct {
                    store,
                    flushing,
                    flusher: tokio::sync::Mutex::new(Some(flusher)),
                    closed: AtomicBool::new(false),
                }),
                mode,
            };
        }
        let batcher = Batcher::start_with(
            MAX_APPEND,
            |s: &Submission| s.0.len(),
            move |groups| writer(store, groups, mode),
        );
        Auditor {
            writer: Writer::Gathered(batcher),
            mode,
        }
    }

    /// Append entries; returns once they are committed (see [`ReadAudit`] for when the
    /// entries of reads are durable).
    pub async fn record(&self, entries: Vec<EntryFields>) -> Result<(), ServiceError> {
        if entries.is_empty() {
            return Ok(());
        }
        let deferred = matches!(self.mode, ReadAudit::Deferred { .. }) && only_reads(&entries);
        let failed = |e: StoreError| {
            tracing::error!(code = e.code(), "audit append failed");
            ServiceError::Store(e)
        };
        match &self.writer {
            Writer::Gathered(batcher) => batcher.submit((entries, deferred)).await?.map_err(failed),
            Writer::Direct(d) => {
                if d.closed.load(Ordering::Acquire) {
                    return Err(ServiceError::Unavailable);
                }
                if deferred {
                    // On SQLite, into the log's journal: one write, folded into the log in
                    // large transactions (`derbes_store`'s `sqlite_journal`).
                    d.store
                        .append_audit_journaled(entries)
                        .await
                        .map_err(failed)?;
                    d.flushing.committed();
                } else {
                    d.store.append_audit(&entries).await.map_err(failed)?;
                }
                Ok(())
            }
        }
    }

    /// Stop accepting entries, wait for pending appends and make them durable.
    pub async fn shutdown(&self) {
        match &self.writer {
            Writer::Gathered(batcher) => batcher.shutdown().await,
            Writer::Direct(d) => {
                d.closed.store(true, Ordering::Release);
                d.flushing.stop.notify_one();
                if let Some(h) = d.flusher.lock().await.take() {
                    let _ = h.await;
                }
            }
        }
    }
}

/// The flusher of a [`Writer::Direct`]: the first deferred entry after a flush starts a wait
/// of `after` (the mode's `flush` time), then one durable commit (`flush`, `false` when it
/// failed) syncs every entry committed so far. So no deferred entry waits longer than `after`
/// (plus the flush itself) for the disk; a failed flush is retried `after` later. On stop,
/// entries not yet synced are flushed once more.
async fn flusher<F, Fut>(state: Arc<Flushing>, after: Duration, mut flush: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    loop {
        tokio::select! {
            () = state.stop.notified() => break,
            () = state.wake.notified() => {}
        }
        tokio::select! {
            () = state.stop.notified() => break,
            () = tokio::time::sleep(after) => {}
        }
        // Cleared first: an entry committed from here on sets it again and is synced by the
        // next round (this flush may or may not cover it).
        state.unsynced.store(false, Ordering::Release);
        if !flush().await {
            state.committed();
        }
    }
    if state.unsynced.swap(false, Ordering::AcqRel) {
        let _ = flush().await;
    }
}

/// The writer of a [`Writer::Gathered`]: appends each group (deferred or durable) and
/// answers its members; after a deferred append, flushes once the queue has been idle for the
/// mode's `flush` time, or as part of the next durable append, whichever comes first.
async fn writer(store: Arc<dyn Store>, mut groups: Gatherer<Submission>, mode: ReadAudit) {
    let flush_after = match mode {
        ReadAudit::Deferred { flush } => flush,
        ReadAudit::Durable => Duration::ZERO,
    };
    // When the oldest entry not yet durable must be flushed.
    let mut unsynced: Option<tokio::time::Instant> = None;
    loop {
        let mut group = match groups.next(unsynced).await {
            Next::Group(group) => group,
            Next::Closed => break,
            Next::Idle => {
                unsynced = if flush(store.as_ref()).await {
                    None
                } else {
                    Some(tokio::time::Instant::now() + flush_after)
                };
                continue;
            }
        };
        // A group waits for the disk if any member must, or if the oldest deferred entry
        // has waited long enough.
        let due = unsynced.is_some_and(|d| tokio::time::Instant::now() >= d);
        let deferred = !due && group.items.iter().all(|(_, d)| *d);
        let items = std::mem::take(&mut group.items);
        let n = items.len();
        let fields: Vec<EntryFields> = items.into_iter().flat_map(|(e, _)| e).collect();
        let result = if deferred {
            store.append_audit_deferred(fields).await
        } else {
            store.append_audit(&fields).await
        };
        group.answer(match result {
            Ok(_) => {
                if deferred {
                    unsynced.get_or_insert_with(|| tokio::time::Instant::now() + flush_after);
                } else {
                    unsynced = None;
                }
                (0..n).map(|_| Ok(())).collect()
            }
            Err(e) => all_failed(n, e),
        });
    }
    if unsynced.is_some() {
        let _ = flush(store.as_ref()).await;
    }
}

/// Make the deferred entries durable; `false` (logged) when that failed, to be retried.
async fn flush(store: &dyn Store) -> bool {
    match store.flush_audit().await {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(code = e.code(), "flushing deferred audit entries failed");
            false
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A flusher over a counting flush that fails while `failing` is set; returns the shared
    /// state, the flush count and the flusher's handle.
    fn start(
        after: Duration,
        failing: Arc<AtomicBool>,
    ) -> (Arc<Flushing>, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
        let state = Arc::new(Flushing::default());
        let flushes = Arc::new(AtomicUsize::new(0));
        let counted = flushes.clone();
        let handle = tokio::spawn(flusher(state.clone(), after, move || {
            let counted = counted.clone();
            let failing = failing.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                !failing.load(Ordering::SeqCst)
            }
        }));
        (state, flushes, handle)
    }

    /// Let the flusher run until it waits again, `by` of (paused) time later.
    async fn advance(by: Duration) {
        tokio::time::sleep(by).await;
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    const MS: Duration = Duration::from_millis(1);

    /// 8.1: a deferred read entry is fsynced at most the flush time (50 ms) after its commit:
    /// one flush for everything committed in that window, none while nothing is committed.
    #[tokio::test(start_paused = true)]
    async fn c8_1_deferred_entries_are_flushed_within_the_flush_time_once_per_window() {
        let (state, flushes, handle) = start(50 * MS, Arc::new(AtomicBool::new(false)));
        advance(500 * MS).await;
        assert_eq!(flushes.load(Ordering::SeqCst), 0, "nothing to flush");
        state.committed();
        advance(49 * MS).await;
        state.committed();
        state.committed();
        assert_eq!(flushes.load(Ordering::SeqCst), 0, "not before 50 ms");
        advance(2 * MS).await;
        assert_eq!(
            flushes.load(Ordering::SeqCst),
            1,
            "all three by 51 ms, in one flush"
        );
        advance(500 * MS).await;
        assert_eq!(flushes.load(Ordering::SeqCst), 1, "nothing new, no flush");
        state.committed();
        advance(51 * MS).await;
        assert_eq!(flushes.load(Ordering::SeqCst), 2);
        state.stop.notify_one();
        handle.await.unwrap();
        assert_eq!(
            flushes.load(Ordering::SeqCst),
            2,
            "nothing unsynced at stop"
        );
    }

    /// 8.1: a failed flush is retried a flush time later until it succeeds; entries committed
    /// but not yet flushed at shutdown are flushed before the flusher ends.
    #[tokio::test(start_paused = true)]
    async fn c8_1_a_failed_flush_is_retried_and_shutdown_flushes_the_rest() {
        let failing = Arc::new(AtomicBool::new(true));
        let (state, flushes, handle) = start(50 * MS, failing.clone());
        state.committed();
        advance(51 * MS).await;
        assert_eq!(flushes.load(Ordering::SeqCst), 1);
        advance(51 * MS).await;
        assert_eq!(flushes.load(Ordering::SeqCst), 2, "retried");
        failing.store(false, Ordering::SeqCst);
        advance(51 * MS).await;
        assert_eq!(flushes.load(Ordering::SeqCst), 3);
        advance(500 * MS).await;
        assert_eq!(flushes.load(Ordering::SeqCst), 3, "synced: no more flushes");
        state.committed();
        advance(10 * MS).await;
        state.stop.notify_one();
        handle.await.unwrap();
        assert_eq!(flushes.load(Ordering::SeqCst), 4, "flushed at stop");
    }
}

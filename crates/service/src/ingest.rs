//! Bulk loads: many new subjects, validated and encrypted on the blocking pool while the
//! store writes earlier ones (clauses PRE-2, 2.1, 5.3: every value still carries its source
//! and is encrypted under its subject's own data key; every subject's creation is audited).
//!
//! [`Vault::ingest`] cuts the inputs into **parts** (1,000 subjects by default), prepares up
//! to [`IngestOptions::workers`] parts at once with [`Vault::prepare_part`], and writes them
//! in order, [`IngestOptions::transaction`] subjects (10,000 by default) per transaction,
//! through [`derbes_store::Store::insert_subjects_streamed`]: on SQLite each part is inserted
//! into its open transaction as soon as it is prepared, so a transaction is written while its
//! later parts are being prepared, and once the last part is prepared only that part's
//! inserts and the commit remain. (Before, a transaction was written once all its parts were
//! prepared, and the last one's writes, about a tenth of a 100,000-subject load's, ran on
//! one core with nothing left to prepare beside them: docs/benchmarks.md, run S.)
//! On SQLite each part's audit entries are staged in the transaction and, after its commit,
//! appended to the log's file while the next transaction is written; the load returns once
//! every committed subject's creation is in the log.
//! At most one transaction's parts wait for the writer (a bounded channel), so a load of any
//! size uses bounded memory, and the inputs are taken from the iterator only as parts are
//! started.
//!
//! The store's write lock is held from a transaction's first part to its commit (on SQLite,
//! every write waits for it meanwhile: about a quarter of a second for 10,000 subjects on
//! the benchmark machine, as long as writing them took before). Feed a load from a source
//! that keeps up with preparing (memory, a local file, the demo generator); a slow source
//! would hold the lock while it is read, so give it smaller transactions.
//!
//! All or nothing per transaction: when a part is refused (an invalid value, a purpose that
//! does not allow a category), the open transaction is rolled back, the transactions
//! committed before it stay, and the error names the input's position in the whole load.

use crate::error::ServiceError;
use crate::model::{Call, NewSubjectInput};
use crate::vault::Vault;
use std::time::{Duration, Instant};

/// How a bulk load is cut up.
#[derive(Debug, Clone, Copy)]
pub struct IngestOptions {
    /// Subjects written per transaction.
    pub transaction: usize,
    /// Subjects prepared per task on the blocking pool.
    pub part: usize,
    /// Parts prepared at once.
    pub workers: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            transaction: 10_000,
            part: 1_000,
            workers: 2,
        }
    }
}

/// What a bulk load did.
#[derive(Debug, Clone, Default)]
pub struct IngestReport {
    /// The ids of the subjects written, in the order of the inputs (all of them when the
    /// load succeeded).
    pub ids: Vec<uuid::Uuid>,
    /// Transactions committed.
    pub transactions: usize,
    /// Time spent preparing parts, summed over the parts (parts run in parallel, so this can
    /// exceed the load's wall time).
    pub prepare: Duration,
    /// Time the load waited for the store: from asking a transaction to commit until it was
    /// committed (its last part's inserts and the commit; the earlier parts are written
    /// while later ones are prepared), and for the audit appends of committed transactions.
    pub write: Duration,
}

/// A part prepared on the blocking pool, and how long that took.
type PartResult = (
    Result<(Vec<derbes_store::NewSubject>, derbes_store::PartAudit), ServiceError>,
    Duration,
);

/// What went into one transaction of a bulk load.
#[derive(Default)]
struct Fed {
    /// Its subjects' ids, in order.
    ids: Vec<uuid::Uuid>,
    subjects: usize,
    /// Time its parts took to prepare, summed.
    prepare: Duration,
    /// When its commit was asked for (none when it was abandoned).
    commit: Option<Instant>,
    /// The error of a part that could not be prepared.
    refused: Option<ServiceError>,
}

impl Vault {
    /// Create every subject of `inputs` (see the module's documentation for how), each with
    /// its creation's audit entry. Returns what was done; on an error, the transactions
    /// committed before it stay and the error is returned.
    pub async fn ingest<I>(
        &self,
        call: &Call,
        inputs: I,
        options: IngestOptions,
    ) -> Result<IngestReport, ServiceError>
    where
        I: IntoIterator<Item = NewSubjectInput>,
        I::IntoIter: Send + 'static,
    {
        let transaction = options.transaction.max(1);
        let part = options.part.clamp(1, transaction);
        let workers = options.workers.max(1);
        // One transaction's parts may wait for the writer, besides those being prepared.
        let (tx, mut rx) =
            tokio::sync::mpsc::channel::<PartResult>(transaction.div_ceil(part).max(1));
        let producer = {
            let vault = self.clone();
            let call = call.clone();
            let mut inputs = inputs.into_iter();
            tokio::spawn(async move {
                let mut pending = std::collections::VecDeque::with_capacity(workers);
                let mut first = 0usize;
                loop {
                    while pending.len() < workers {
                        // No part straddles two transactions.
                        let size = part.min(transaction - first % transaction);
                        let chunk: Vec<NewSubjectInput> = inputs.by_ref().take(size).collect();
                        if chunk.is_empty() {
                            break;
                        }
                        let (v, c, at) = (vault.clone(), call.clone(), first);
                        first += chunk.len();
                        pending.push_back(tokio::task::spawn_blocking(move || {
                            let t = Instant::now();
                            // The entries' staging blob too, off the store's writer.
                            let prepared = v.prepare_part(&c, chunk, at).and_then(|p| {
                                let (subjects, audit) = p.into_parts();
                                Ok((subjects, v.inner.store.part_audit(audit)?))
                            });
                            (prepared, t.elapsed())
                        }));
                    }
                    let Some(next) = pending.pop_front() else {
                        break;
                    };
                    // A preparing task that did not finish (the runtime shutting down).
                    let result = next
                        .await
                        .unwrap_or((Err(ServiceError::Unavailable), Duration::ZERO));
                    let failed = result.0.is_err();
                    if tx.send(result).await.is_err() || failed {
                        break;
                    }
                }
            })
        };
        let mut report = IngestReport::default();
        // The audit append of the transaction committed last, still going on while the
        // next one is written.
        let mut settling: Option<derbes_store::Settle> = None;
        let mut failure = None;
        let mut next = rx.recv().await;
        while next.is_some() {
            // One transaction: its parts go to the store as they come, then its commit.
            let (parts, received) = tokio::sync::mpsc::channel(transaction.div_ceil(part).max(1));
            let write = self.inner.store.insert_subjects_streamed(received);
            let feed = async {
                // Owned by the feed, so that its end (a refused part too) closes the stream.
                let parts = parts;
                let mut fed = Fed::default();
                while let Some((prepared, took)) = next.take() {
                    fed.prepare += took;
                    let (subjects, audit) = match prepared {
                        Ok(p) => p,
                        Err(e) => {
                            // Dropping `parts` without a commit rolls the transaction back.
                            fed.refused = Some(e);
                            return fed;
                        }
                    };
                    fed.subjects += subjects.len();
                    fed.ids.extend(
                        subjects
                            .iter()
                            .map(|n| uuid::Uuid::from_bytes(n.subject.id)),
                    );
                    if parts
                        .send(derbes_store::BulkPart::Part(subjects, audit))
                        .await
                        .is_err()
                    {
                        // The store stopped (its error is the write's).
                        return fed;
                    }
                    if fed.subjects >= transaction {
                        break;
                    }
                    next = rx.recv().await;
                }
                fed.commit = Some(Instant::now());
                let _ = parts.send(derbes_store::BulkPart::Commit).await;
                fed
            };
            let (written, fed) = tokio::join!(write, feed);
            report.prepare += fed.prepare;
            if let Some(asked) = fed.commit {
                report.write += asked.elapsed();
            }
            if let Some(e) = fed.refused {
                failure = Some(e);
                break;
            }
            let settle = match written {
                Ok(settle) => settle,
                Err(e) => {
                    failure = Some(e.into());
                    break;
                }
            };
            report.ids.extend(fed.ids);
            report.transactions += 1;
            let t = Instant::now();
            let settled = match settling.replace(settle) {
                Some(earlier) => earlier.wait().await.map_err(ServiceError::from),
                None => Ok(()),
            };
            report.write += t.elapsed();
            if let Err(e) = settled {
                failure = Some(e);
                break;
            }
            // A full transaction: the load goes on with the next part, if any (the feed took
            // every part it received; one that ended the input left fewer subjects).
            if fed.subjects >= transaction {
                next = rx.recv().await;
            }
        }
        // The last transaction's entries (and, after a failure, those of the one before it):
        // a load has not ended until every committed subject's creation is in the log.
        if let Some(last) = settling.take() {
            let t = Instant::now();
            let settled = last.wait().await;
            report.write += t.elapsed();
            if let Err(e) = settled {
                failure.get_or_insert(e.into());
            }
        }
        drop(rx);
        // The producer stops at its next send once the receiver is gone.
        let _ = producer.await;
        match failure {
            None => Ok(report),
            Some(e @ ServiceError::InvalidValues(_)) => Err(e),
            // A refusal by the purpose or minimisation check is recorded (3.2); `denied`
            // passes any other error through.
            Some(e) => Err(self
                .denied(call, derbes_audit::Action::CREATE, None, e)
                .await),
        }
    }
}

//! Group commit for single creates.
//!
//! Each create is answered only after its transaction is durable (SQLite `synchronous=FULL`,
//! PostgreSQL's WAL flush). One fsync per subject caps throughput at the disk's flush rate, so
//! concurrent creates are gathered by one writer task and committed together: whatever
//! arrived while the previous commit was being flushed goes into the next one. If a batch
//! fails on a unique conflict, its members are retried one by one, so one duplicate IIN never
//! fails the others' requests.

use crate::error::ServiceError;
use derbes_store::{NewSubject, Store, StoreError};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};

/// The most subjects in one group commit.
pub const MAX_GROUP: usize = 256;

type Job = (NewSubject, oneshot::Sender<Result<(), StoreError>>);

/// Handle to the writer task.
pub struct GroupCommit {
    tx: Mutex<Option<mpsc::Sender<Job>>>,
    done: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl GroupCommit {
    /// Start the writer task on the current runtime.
    pub fn start(store: Arc<dyn Store>) -> GroupCommit {
        let (sender, rx) = mpsc::channel::<Job>(4 * MAX_GROUP);
        let handle = tokio::spawn(writer(store, rx));
        GroupCommit {
            tx: Mutex::new(Some(sender)),
            done: Mutex::new(Some(handle)),
        }
    }

    /// Write one subject; returns after its commit.
    pub async fn submit(&self, subject: NewSubject) -> Result<(), ServiceError> {
        let (reply, answer) = oneshot::channel();
        let sender = self
            .tx
            .lock()
            .await
            .clone()
            .ok_or(ServiceError::Unavailable)?;
        sender
            .send((subject, reply))
            .await
            .map_err(|_| ServiceError::Unavailable)?;
        match answer.await {
            Ok(result) => result.map_err(ServiceError::from),
            Err(_) => Err(ServiceError::Unavailable),
        }
    }

    /// Stop accepting work and wait for pending commits.
    pub async fn shutdown(&self) {
        self.tx.lock().await.take();
        if let Some(h) = self.done.lock().await.take() {
            let _ = h.await;
        }
    }
}

async fn writer(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Job>) {
    let mut subjects = Vec::with_capacity(MAX_GROUP);
    let mut replies = Vec::with_capacity(MAX_GROUP);
    while let Some((s, r)) = rx.recv().await {
        subjects.push(s);
        replies.push(r);
        while subjects.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok((s, r)) => {
                    subjects.push(s);
                    replies.push(r);
                }
                Err(_) => break,
            }
        }
        match store.insert_subjects(&subjects).await {
            Ok(()) => {
                for r in replies.drain(..) {
                    let _ = r.send(Ok(()));
                }
            }
            Err(StoreError::Conflict) if subjects.len() > 1 => {
                for (s, r) in subjects.iter().zip(replies.drain(..)) {
                    let _ = r.send(store.insert_subjects(std::slice::from_ref(s)).await);
                }
            }
            Err(StoreError::Conflict) => {
                // A single duplicate (e.g. an IIN already held): the caller's answer, not a fault.
                for r in replies.drain(..) {
                    let _ = r.send(Err(StoreError::Conflict));
                }
            }
            Err(e) => {
                let code = e.code();
                tracing::error!(code, batch = subjects.len(), "group commit failed");
                let mut first = Some(e);
                for r in replies.drain(..) {
                    let err = first.take().unwrap_or(StoreError::BatchFailed);
                    let _ = r.send(Err(err));
                }
            }
        }
        subjects.clear();
    }
}

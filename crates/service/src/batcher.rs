//! Group commit: one writer task commits what concurrent callers submitted, together.
//!
//! Each write is answered only after its transaction is durable (SQLite `synchronous=FULL`,
//! PostgreSQL's WAL flush). One fsync per write caps throughput at the disk's flush rate, so
//! a [`Batcher`] gathers whatever arrived while the previous commit was being flushed into the
//! next one. [`GroupCommit`] uses it for single creates; the audit log's
//! [`crate::audit::Auditor`] for appends.

use crate::error::ServiceError;
use derbes_audit::EntryFields;
use derbes_store::{NewSubject, Store, StoreError};
use std::future::Future;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};

type Reply = oneshot::Sender<Result<(), StoreError>>;

/// A writer task that commits submitted items in groups.
pub struct Batcher<T> {
    tx: Mutex<Option<mpsc::Sender<(T, Reply)>>>,
    done: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// What the writer task reads its groups from.
pub struct Gatherer<T> {
    rx: mpsc::Receiver<(T, Reply)>,
    max_group: usize,
    weight: fn(&T) -> usize,
}

/// One group gathered for a commit: its items, and the callers waiting for them.
pub struct Group<T> {
    /// The items, in the order they were submitted.
    pub items: Vec<T>,
    replies: Vec<Reply>,
}

/// What [`Gatherer::next`] found.
pub enum Next<T> {
    /// A group to commit.
    Group(Group<T>),
    /// Nothing arrived before the deadline.
    Idle,
    /// Every sender is gone ([`Batcher::shutdown`]): the writer should finish.
    Closed,
}

impl<T> Gatherer<T> {
    /// The next group: waits for a first item (until `deadline`, if given), then takes
    /// whatever else is already queued, until the items' total weight reaches `max_group`.
    pub async fn next(&mut self, deadline: Option<tokio::time::Instant>) -> Next<T> {
        let first = match deadline {
            None => self.rx.recv().await,
            Some(d) => match tokio::time::timeout_at(d, self.rx.recv()).await {
                Ok(first) => first,
                Err(_) => return Next::Idle,
            },
        };
        let Some((first, reply)) = first else {
            return Next::Closed;
        };
        let mut total = (self.weight)(&first);
        let mut group = Group {
            items: vec![first],
            replies: vec![reply],
        };
        while total < self.max_group {
            match self.rx.try_recv() {
                Ok((item, reply)) => {
                    total += (self.weight)(&item);
                    group.items.push(item);
                    group.replies.push(reply);
                }
                Err(_) => break,
            }
        }
        Next::Group(group)
    }
}

impl<T> Group<T> {
    /// Answer each waiting caller with its result, in order (a missing one: `BatchFailed`).
    pub fn answer(self, results: Vec<Result<(), StoreError>>) {
        let mut results = results.into_iter();
        for reply in self.replies {
            let _ = reply.send(results.next().unwrap_or(Err(StoreError::BatchFailed)));
        }
    }
}

impl<T: Send + 'static> Batcher<T> {
    /// Start the writer on the current runtime. A group holds items until their total
    /// `weight` reaches `max_group`; `commit` writes one group and returns one result per
    /// item, in order.
    pub fn start<F, Fut>(max_group: usize, weight: fn(&T) -> usize, mut commit: F) -> Batcher<T>
    where
        F: FnMut(Vec<T>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<Result<(), StoreError>>> + Send,
    {
        Batcher::start_with(max_group, weight, move |mut groups| async move {
            while let Next::Group(mut group) = groups.next(None).await {
                let items = std::mem::take(&mut group.items);
                group.answer(commit(items).await);
            }
        })
    }

    /// Start a writer task of its own making on the current runtime: `writer` reads groups
    /// from its [`Gatherer`] (with a deadline when it has work of its own to do when idle)
    /// and answers them; it should return once the gatherer says [`Next::Closed`].
    pub fn start_with<W, Fut>(max_group: usize, weight: fn(&T) -> usize, writer: W) -> Batcher<T>
    where
        W: FnOnce(Gatherer<T>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel::<(T, Reply)>(4 * max_group.max(1));
        let handle = tokio::spawn(writer(Gatherer {
            rx,
            max_group,
            weight,
        }));
        Batcher {
            tx: Mutex::new(Some(tx)),
            done: Mutex::new(Some(handle)),
        }
    }

    /// Submit one item; the outer result says whether the writer took it, the inner one how
    /// its commit ended.
    pub async fn submit(&self, item: T) -> Result<Result<(), StoreError>, ServiceError> {
        let sender = self
            .tx
            .lock()
            .await
            .clone()
            .ok_or(ServiceError::Unavailable)?;
        let (reply, answer) = oneshot::channel();
        sender
            .send((item, reply))
            .await
            .map_err(|_| ServiceError::Unavailable)?;
        answer.await.map_err(|_| ServiceError::Unavailable)
    }

    /// Stop accepting items and wait for pending commits.
    pub async fn shutdown(&self) {
        self.tx.lock().await.take();
        if let Some(h) = self.done.lock().await.take() {
            let _ = h.await;
        }
    }
}

/// The answer for every member of a group whose one transaction failed: the first gets the
/// error, the others learn that their group failed.
pub fn all_failed(n: usize, error: StoreError) -> Vec<Result<(), StoreError>> {
    let mut first = Some(error);
    (0..n)
        .map(|_| Err(first.take().unwrap_or(StoreError::BatchFailed)))
        .collect()
}

/// The most subjects in one group commit.
pub const MAX_GROUP: usize = 256;

/// One create for the group commit: the subject and, unless the audit log is off, its audit
/// entry, written in the same transaction.
pub type Create = (NewSubject, Option<EntryFields>);

/// Group commit of single creates. If a group fails on a unique conflict, its members are
/// retried one by one, so one duplicate IIN never fails the others' requests.
pub struct GroupCommit(Batcher<Create>);

impl GroupCommit {
    /// Start the writer task on the current runtime.
    pub fn start(store: Arc<dyn Store>) -> GroupCommit {
        GroupCommit(Batcher::start(
            MAX_GROUP,
            |_| 1,
            move |creates| {
                let store = store.clone();
                async move { commit_subjects(store.as_ref(), creates).await }
            },
        ))
    }

    /// Write one subject with its audit entry; returns after their commit.
    pub async fn submit(
        &self,
        subject: NewSubject,
        audit: Option<EntryFields>,
    ) -> Result<(), ServiceError> {
        self.0
            .submit((subject, audit))
            .await?
            .map_err(ServiceError::from)
    }

    /// Stop accepting work and wait for pending commits.
    pub async fn shutdown(&self) {
        self.0.shutdown().await;
    }
}

async fn commit_subjects(store: &dyn Store, creates: Vec<Create>) -> Vec<Result<(), StoreError>> {
    let (subjects, audit): (Vec<NewSubject>, Vec<Option<EntryFields>>) =
        creates.into_iter().unzip();
    let fields: Vec<EntryFields> = audit.iter().flatten().cloned().collect();
    match store.insert_subjects(&subjects, &fields).await {
        Ok(_) => subjects.iter().map(|_| Ok(())).collect(),
        Err(StoreError::Conflict) if subjects.len() > 1 => {
            let mut out = Vec::with_capacity(subjects.len());
            for (s, a) in subjects.iter().zip(&audit) {
                out.push(
                    store
                        .insert_subjects(std::slice::from_ref(s), a.as_slice())
                        .await
                        .map(|_| ()),
                );
            }
            out
        }
        // A single duplicate (e.g. an IIN already held): the caller's answer, not a fault.
        Err(StoreError::Conflict) => vec![Err(StoreError::Conflict)],
        Err(e) => {
            tracing::error!(
                code = e.code(),
                batch = subjects.len(),
                "group commit failed"
            );
            all_failed(subjects.len(), e)
        }
    }
}

//! The consent ledger and the in-process consent gate (PRE-1, 6.1, 7.1c, 7.1d, L-CONSENT-1..3,
//! L-PURPOSE, L-CB-CONSENT, L-AUTODECISION).
//!
//! Every decision of a subject — to the policy as a whole (`scope = "policy"`) or to one
//! consent-based purpose of the registry (`legal_basis = "consent"`: `advertising`,
//! `bureau_check`, `customer_database`, `publication`, `cross_border_transfer`,
//! `automated_decision`) — is one append-only row of the ledger, with the evidence that makes
//! it provable (L-CONSENT-1) and what Law 94-V Art. 8 asks a consent to hold (L-CONSENT-2).
//! The state of a (subject, scope) is its latest row; no row means "not given", so
//! publication (7.1d) is refused by default.
//!
//! [`ConsentLedger`] keeps the current state of every subject that has a grant or a full
//! withdrawal in memory, built from the whole ledger when the vault opens and updated by the
//! writers of this module right after each commit, under one write lock — so it is exact for
//! a single derbes process; with several processes on one PostgreSQL database each follows the
//! others' commits through the change feed ([`ConsentLedger::follow`], a `LISTEN` channel fed
//! by a trigger), within the notification's delivery time. The vault asks it on every call on an existing
//! subject ([`ConsentLedger::gate`]): a consent-based purpose needs a current grant; after an
//! accepted withdrawal only legal-obligation purposes (the legal hold) may touch the subject.

use crate::error::ServiceError;
use derbes_core::registry::{LegalBasis, PurposeDef};
use derbes_store::consent::ConsentEventRecord;
use derbes_store::{Store, SubjectId};
use std::collections::HashMap;
use std::sync::RwLock;

/// The scope of the decision about the policy as a whole (PRE-1, 6.1).
pub const POLICY_SCOPE: &str = "policy";

/// Current grants of one subject, and whether the subject withdrew consent (7.1c).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct SubjectState {
    /// The latest policy decision is an accepted withdrawal: legal hold only.
    withdrawn: bool,
    /// Consent-based purposes currently granted, with the end of their term (µs), if any.
    grants: Vec<(Box<str>, Option<i64>)>,
}

impl SubjectState {
    fn granted(&self, purpose: &str, now_us: i64) -> bool {
        self.grants
            .iter()
            .any(|(p, until)| &**p == purpose && until.is_none_or(|u| now_us < u))
    }

    fn is_empty(&self) -> bool {
        !self.withdrawn && self.grants.is_empty()
    }
}

/// The in-process view of the ledger that the consent gate reads. Cheap to check (a read
/// lock and one hash lookup); exact because every ledger write goes through
/// [`ConsentLedger::apply`] after its commit, while [`ConsentLedger::writer`] is held.
#[derive(Debug, Default)]
pub struct ConsentLedger {
    map: RwLock<HashMap<SubjectId, SubjectState>>,
    writes: tokio::sync::Mutex<()>,
}

impl ConsentLedger {
    /// An empty ledger (a database with no consents).
    pub fn new() -> ConsentLedger {
        ConsentLedger::default()
    }

    /// A ledger folded from decisions, oldest first (tests and benchmarks).
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a ConsentEventRecord>) -> Self {
        let ledger = ConsentLedger::new();
        ledger.apply_iter(events);
        ledger
    }

    /// Build the ledger from the whole stored ledger (read in pages).
    pub async fn load(store: &dyn Store) -> Result<ConsentLedger, ServiceError> {
        let ledger = ConsentLedger::new();
        let mut after = 0i64;
        loop {
            let page = store.consent_events_page(after, 10_000).await?;
            let Some((last, _)) = page.last() else {
                return Ok(ledger);
            };
            after = *last;
            ledger.apply_iter(page.iter().map(|(_, e)| e));
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<SubjectId, SubjectState>> {
        match self.map.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn apply_iter<'a>(&self, events: impl IntoIterator<Item = &'a ConsentEventRecord>) {
        let mut map = match self.map.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        for e in events {
            let state = map.entry(e.subject_id).or_default();
            if e.scope == POLICY_SCOPE {
                state.withdrawn = e.decision == "withdrawn";
            } else {
                state.grants.retain(|(p, _)| **p != *e.scope);
                if e.decision == "granted" {
                    state
                        .grants
                        .push((e.scope.clone().into_boxed_str(), e.valid_until));
                }
            }
            if state.is_empty() {
                map.remove(&e.subject_id);
            }
        }
    }

    /// Fold committed decisions into the in-memory state. Call only after the commit, while
    /// holding [`ConsentLedger::writer`].
    pub(crate) fn apply(&self, events: &[ConsentEventRecord]) {
        self.apply_iter(events.iter());
    }

    /// Replace one subject's state by the fold of its stored decisions (the change feed of
    /// another process said they changed). Call while holding [`ConsentLedger::writer`].
    pub(crate) fn replace_subject(&self, subject: &SubjectId, events: &[ConsentEventRecord]) {
        {
            let mut map = match self.map.write() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            map.remove(subject);
        }
        self.apply_iter(events.iter());
    }

    /// Replace the whole state by `fresh` (after the change feed lost its connection).
    pub(crate) fn replace_all(&self, fresh: ConsentLedger) {
        let new = match fresh.map.into_inner() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        let mut map = match self.map.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *map = new;
    }

    /// Follow the store's change feed (PostgreSQL, several processes): every decision another
    /// process commits reaches this ledger within the notification's delivery time; a lost
    /// connection reloads the whole ledger. Returns the follower task, or `None` when the
    /// store has no feed (SQLite: one process, exact already).
    pub async fn follow(
        self: &std::sync::Arc<Self>,
        store: std::sync::Arc<dyn Store>,
    ) -> Result<Option<tokio::task::JoinHandle<()>>, ServiceError> {
        let Some(mut feed) = store.consent_feed().await? else {
            return Ok(None);
        };
        let ledger = self.clone();
        Ok(Some(tokio::spawn(async move {
            use derbes_store::consent::FeedEvent;
            loop {
                let step = match feed.next().await {
                    Ok(FeedEvent::Changed(subject)) => {
                        let _w = ledger.writer().await;
                        store
                            .consent_events(&subject)
                            .await
                            .map(|events| ledger.replace_subject(&subject, &events))
                            .map_err(ServiceError::from)
                    }
                    Ok(FeedEvent::Resync) => {
                        tracing::warn!(
                            code = "consent_feed_resync",
                            "consent change feed reconnected; reloading the ledger"
                        );
                        let _w = ledger.writer().await;
                        ConsentLedger::load(store.as_ref())
                            .await
                            .map(|fresh| ledger.replace_all(fresh))
                    }
                    Err(e) => Err(ServiceError::from(e)),
                };
                if let Err(e) = step {
                    tracing::error!(code = e.code(), "consent change feed failed; retrying");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        })))
    }

    /// Forget a purged subject.
    pub(crate) fn forget(&self, subject: &SubjectId) {
        let mut map = match self.map.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        map.remove(subject);
    }

    /// The lock every ledger writer holds from before its commit until after
    /// [`ConsentLedger::apply`], so the memory state follows the commit order.
    pub(crate) async fn writer(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.writes.lock().await
    }

    /// Whether `subject` has a current grant of `purpose` at `now_us` (the hot path measured
    /// by `derbes bench consent`).
    pub fn is_granted(&self, subject: &SubjectId, purpose: &str, now_us: i64) -> bool {
        self.read()
            .get(subject)
            .is_some_and(|s| s.granted(purpose, now_us))
    }

    /// Whether the subject's consent was withdrawn (7.1c): only the legal hold remains.
    pub fn is_withdrawn(&self, subject: &SubjectId) -> bool {
        self.read().get(subject).is_some_and(|s| s.withdrawn)
    }

    /// The consent gate, asked by the vault for every call on an existing subject:
    /// - after an accepted withdrawal (7.1c, L-CONSENT-3), only purposes whose legal basis is
    ///   a legal obligation may touch the subject (data under a legal hold are kept but used
    ///   for nothing else) → [`ServiceError::ProcessingBlocked`];
    /// - a consent-based purpose (L-PURPOSE) needs a current, unexpired grant →
    ///   [`ServiceError::ConsentRequired`].
    pub fn gate(
        &self,
        purpose: &PurposeDef,
        subject: &SubjectId,
        now_us: i64,
    ) -> Result<(), ServiceError> {
        let map = self.read();
        let state = map.get(subject);
        if state.is_some_and(|s| s.withdrawn) && purpose.legal_basis != LegalBasis::LegalObligation
        {
            return Err(ServiceError::ProcessingBlocked);
        }
        if purpose.legal_basis == LegalBasis::Consent
            && !state.is_some_and(|s| s.granted(purpose.code.as_str(), now_us))
        {
            return Err(ServiceError::ConsentRequired);
        }
        Ok(())
    }

    /// Number of subjects held in memory (with a grant or a withdrawal).
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether no subject is held.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }
}

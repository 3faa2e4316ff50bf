//! The vault: create, find, read, correct and supplement subjects' values.
//!
//! Every call passes through [`Vault::authorize`] first: the purpose must exist (1.1), the
//! actor must be allowed to name it, and every category touched must be in the purpose's map
//! (3.2 minimisation). Values are parsed into valid-by-construction domain types, encrypted
//! with the subject's data key (AES-256-GCM, associated data = subject, category, key
//! version), and found through HMAC blind indexes, so the database never holds them in
//! plaintext (5.3).

use crate::audit::{entry, Auditor};
use crate::batcher::GroupCommit;
use crate::consent::ConsentLedger;
use crate::error::{FieldProblem, ServiceError};
use crate::guard::{seen_of, AccessGuard, Scope};
use crate::model::*;
use chrono::{DateTime, Utc};
use derbes_access::Outcome as Seen;
use derbes_audit::{Action, Outcome};
use derbes_core::clock::{from_micros, to_micros, Clock};
use derbes_core::registry::{CategoryDef, PurposeDef, Registry};
use derbes_core::value::{BankAccount, Value};
use derbes_crypto::{BlindIndexer, FieldAad, KeyRing, WrappedDek};
use derbes_store::{
    BlindIndexRecord, Expect, FirstValue, NewSubject, Store, SubjectRecord, SubjectWithValues,
    ValueRecord, ValueWrite,
};
use std::collections::BTreeSet;
use std::sync::Arc;
use uuid::Uuid;

/// The most subjects one bulk call may create.
pub const MAX_BULK: usize = 10_000;
/// The most values one call may carry per subject.
pub const MAX_VALUES: usize = 64;
const DEK_VERSION: u32 = 1;
/// The `meta` key holding the key check values of the key ring the data was made with.
pub const KEY_CHECK_META: &str = "key_check";

/// The vault service. Cheap to clone.
#[derive(Clone)]
pub struct Vault {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    keys: Arc<KeyRing>,
    indexer: BlindIndexer,
    pub(crate) registry: Arc<Registry>,
    clock: Arc<dyn Clock>,
    commits: GroupCommit,
    auditor: Option<Auditor>,
    /// The consent gate (crate::consent): asked on every call on an existing subject.
    ledger: Arc<ConsentLedger>,
    /// The employee access guard (crate::guard), installed at start-up.
    pub(crate) guard: std::sync::OnceLock<AccessGuard>,
    /// The task following the consent change feed (PostgreSQL), stopped on shutdown.
    follower: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(f) = &self.follower {
            f.abort();
        }
    }
}

/// How a vault runs.
#[derive(Debug, Clone, Copy)]
pub struct VaultOptions {
    /// Record every action in the audit log (default). Off only for benchmarks that
    /// measure the audit's cost.
    pub audit: bool,
    /// When the audit entries of reads are durable (default: deferred by at most 50 ms).
    pub read_audit: crate::audit::ReadAudit,
}

impl Default for VaultOptions {
    fn default() -> Self {
        VaultOptions {
            audit: true,
            read_audit: crate::audit::ReadAudit::default(),
        }
    }
}

/// Subjects validated, encrypted, indexed and packed, with the audit entries of their
/// creation, ready to be written by a bulk load ([`Vault::ingest`]).
#[derive(Debug)]
pub struct PreparedBatch {
    subjects: Vec<NewSubject>,
    audit: Vec<derbes_audit::EntryFields>,
}

impl PreparedBatch {
    /// The subjects and their audit entries, to write as a part of a bulk transaction
    /// ([`derbes_store::BulkPart::Part`]).
    pub(crate) fn into_parts(self) -> (Vec<NewSubject>, Vec<derbes_audit::EntryFields>) {
        (self.subjects, self.audit)
    }

    /// The subjects, without their audit entries (for a caller that records its own).
    pub(crate) fn into_subjects(self) -> Vec<NewSubject> {
        self.subjects
    }
}

/// A subject prepared for writing: validated, encrypted, indexed; with the caller's view of
/// it when asked for (a bulk write answers with ids only, and skips building it).
struct Prepared {
    record: NewSubject,
    view: Option<SubjectView>,
}

impl Vault {
    /// Open the vault over a migrated store. Checks that the key ring matches the database:
    /// the key check values of every master-key version ever used are kept in `meta`, and a
    /// key file that lacks one of them, or holds different keys, is refused — starting with the
    /// wrong keys would make every stored value unreadable.
    pub async fn open(
        store: Arc<dyn Store>,
        keys: Arc<KeyRing>,
        registry: Arc<Registry>,
        clock: Arc<dyn Clock>,
    ) -> Result<Vault, ServiceError> {
        Vault::open_with(store, keys, registry, clock, VaultOptions::default()).await
    }

    /// [`Vault::open`] with options.
    pub async fn open_with(
        store: Arc<dyn Store>,
        keys: Arc<KeyRing>,
        registry: Arc<Registry>,
        clock: Arc<dyn Clock>,
        options: VaultOptions,
    ) -> Result<Vault, ServiceError> {
        check_keys(store.as_ref(), &keys).await?;
        let indexer = keys.blind_indexer();
        let commits = GroupCommit::start(store.clone());
        let auditor = options
            .audit
            .then(|| Auditor::start_with(store.clone(), options.read_audit));
        let ledger = Arc::new(ConsentLedger::load(store.as_ref()).await?);
        // Several processes on one PostgreSQL database: follow the others' consent decisions.
        let follower = ledger.follow(store.clone()).await?;
        Ok(Vault {
            inner: Arc::new(Inner {
                store,
                keys,
                indexer,
                registry,
                clock,
                commits,
                auditor,
                ledger,
                guard: std::sync::OnceLock::new(),
                follower,
            }),
        })
    }

    /// The registry in force.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The store (for maintenance commands).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The service's clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The current time from the service's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// The in-process consent ledger the gate reads (crate::consent).
    pub fn consent_ledger(&self) -> &Arc<ConsentLedger> {
        &self.inner.ledger
    }

    /// The key ring (for the consent service's evidence and offer encryption).
    pub(crate) fn keys(&self) -> &KeyRing {
        &self.inner.keys
    }

    /// Consent gate (L-PURPOSE, 7.1c): a consent-based purpose needs a current grant, and
    /// after a withdrawal only legal-obligation purposes may touch the subject. A refusal is
    /// audited as a denial.
    pub(crate) async fn consent_gate(
        &self,
        call: &Call,
        action: Action,
        id: Uuid,
    ) -> Result<(), ServiceError> {
        let Some(purpose) = self.inner.registry.purpose(&call.purpose) else {
            return Ok(());
        };
        match self
            .inner
            .ledger
            .gate(purpose, id.as_bytes(), to_micros(self.now()))
        {
            Ok(()) => Ok(()),
            Err(e) => Err(self.denied(call, action, Some(id), e).await),
        }
    }

    /// Purpose check (1.1) and minimisation (3.2): the purpose exists, the actor may name it,
    /// and every category in `categories` is in its map. Returns the purpose's definition.
    pub fn authorize<'a, I>(&self, call: &Call, categories: I) -> Result<&PurposeDef, ServiceError>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let purpose = self
            .inner
            .registry
            .purpose(&call.purpose)
            .ok_or(ServiceError::UnknownPurpose)?;
        // [employees] Clause 4.3: an employee without a confidentiality undertaking in force
        // has no access to personal data at all (audited by `denied` as `undertaking:4.3`).
        if !call.actor.may_access_personal_data(self.now()) {
            return Err(ServiceError::NoUndertaking);
        }
        if !call.actor.may_use(&call.purpose) {
            return Err(ServiceError::PurposeNotPermitted);
        }
        let refused: BTreeSet<String> = categories
            .into_iter()
            .filter(|c| !purpose.allows(c))
            .map(str::to_string)
            .collect();
        if !refused.is_empty() {
            return Err(ServiceError::CategoryNotAllowed(
                refused.into_iter().collect(),
            ));
        }
        Ok(purpose)
    }

    /// Create one subject. The answer comes after the commit is durable; concurrent creates
    /// share commits (group commit).
    pub async fn create_subject(
        &self,
        call: &Call,
        input: NewSubjectInput,
    ) -> Result<SubjectView, ServiceError> {
        let prepared = match self.prepare(call, input, None, true) {
            Ok(p) => p,
            Err(e) => return Err(self.denied(call, Action::CREATE, None, e).await),
        };
        // The subject and its audit entry are committed in one transaction.
        let audit = self
            .audit_on()
            .then(|| self.created_entry(call, &prepared.record));
        self.inner.commits.submit(prepared.record, audit).await?;
        prepared.view.ok_or(ServiceError::Integrity)
    }

    /// Create many subjects in one transaction: all or nothing. Every item is validated before
    /// anything is written; problems name the item's index.
    pub async fn create_subjects(
        &self,
        call: &Call,
        inputs: Vec<NewSubjectInput>,
    ) -> Result<Vec<Uuid>, ServiceError> {
        if inputs.is_empty() {
            return Err(ServiceError::EmptyRequest);
        }
        if inputs.len() > MAX_BULK {
            return Err(ServiceError::TooMany(MAX_BULK));
        }
        let mut records = Vec::with_capacity(inputs.len());
        let mut problems = Vec::new();
        for (i, input) in inputs.into_iter().enumerate() {
            match self.prepare(call, input, Some(i), false) {
                Ok(p) => records.push(p.record),
                Err(ServiceError::InvalidValues(mut ps)) => problems.append(&mut ps),
                Err(e) => return Err(self.denied(call, Action::CREATE, None, e).await),
            }
        }
        if !problems.is_empty() {
            return Err(ServiceError::InvalidValues(problems));
        }
        let ids = records
            .iter()
            .map(|r| Uuid::from_bytes(r.subject.id))
            .collect();
        let audit = self.created_entries(call, &records);
        self.inner.store.insert_subjects(&records, &audit).await?;
        Ok(ids)
    }

    /// Validate and encrypt a batch of inputs without writing (used by the ingest pipeline,
    /// which runs this on worker threads while the database writes the previous batch).
    /// The subjects come packed, with their audit entries, so the writer only writes.
    pub fn prepare_batch(
        &self,
        call: &Call,
        inputs: Vec<NewSubjectInput>,
    ) -> Result<PreparedBatch, ServiceError> {
        self.prepare_part(call, inputs, 0)
    }

    /// [`Vault::prepare_batch`] of a part of a larger load whose first input is the load's
    /// `first`-th: a refused value names its position in the whole load.
    pub fn prepare_part(
        &self,
        call: &Call,
        inputs: Vec<NewSubjectInput>,
        first: usize,
    ) -> Result<PreparedBatch, ServiceError> {
        let subjects = inputs
            .into_iter()
            .enumerate()
            .map(|(i, input)| {
                self.prepare(call, input, Some(first + i), false)
                    .map(|p| p.record)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let audit = self.created_entries(call, &subjects);
        Ok(PreparedBatch { subjects, audit })
    }

    fn prepare(
        &self,
        call: &Call,
        input: NewSubjectInput,
        item: Option<usize>,
        with_view: bool,
    ) -> Result<Prepared, ServiceError> {
        if input.values.is_empty() {
            return Err(ServiceError::EmptyRequest);
        }
        if input.values.len() > MAX_VALUES {
            return Err(ServiceError::TooMany(MAX_VALUES));
        }
        self.authorize(call, self.known(&input.values))?;
        let now = self.now();
        let parsed = self.parse_values(&input.values, item, now)?;
        let id = Uuid::now_v7();
        let sid = *id.as_bytes();
        let (dek, wrapped) = self.inner.keys.new_dek(&sid)?;
        let verifications = cross_check(&parsed, None, now);
        let actor = call.actor.id();
        let now_us = to_micros(now);
        // Each value's ciphertext and verification, then the packed row made from them and
        // from borrowed texts (`NewSubject::created`; recorded when and by whom the subject
        // row says).
        let mut sealed = Vec::with_capacity(parsed.len());
        let mut views = Vec::with_capacity(if with_view { parsed.len() } else { 0 });
        let mut indexes = Vec::new();
        for p in &parsed {
            let code = p.def.code.as_str();
            let plaintext = serde_json::to_vec(&p.value).map_err(|_| ServiceError::Integrity)?;
            let ciphertext = dek.encrypt(&FieldAad::new(&sid, code, DEK_VERSION), &plaintext)?;
            let verification = verifications
                .iter()
                .find(|(c, _)| c == code)
                .map(|(_, v)| v.clone());
            if let Some(index) = self.index_for(p.def, &p.value) {
                indexes.push(index);
            }
            sealed.push((
                ciphertext,
                verification
                    .as_ref()
                    .and_then(|v| serde_json::to_string(v).ok()),
            ));
            if !with_view {
                continue;
            }
            views.push(ValueView {
                category: code.to_string(),
                value: p.value.to_json(),
                source: p.source.clone(),
                obtained_at: p.obtained_at,
                recorded_at: now,
                version: 1,
                change: "create".into(),
                superseded_at: None,
                verification,
                masked: false,
                rule: None,
            });
        }
        let values: Vec<FirstValue<'_>> = parsed
            .iter()
            .zip(&sealed)
            .map(|(p, (ciphertext, verification))| FirstValue {
                category: p.def.code.as_str(),
                ciphertext,
                source_kind: p.source.kind.as_str(),
                source_name: p.source.name.as_deref(),
                obtained_at: to_micros(p.obtained_at),
                verification: verification.as_deref(),
            })
            .collect();
        views.sort_by(|a, b| a.category.cmp(&b.category));
        Ok(Prepared {
            record: NewSubject::created(
                SubjectRecord {
                    id: sid,
                    created_at: now_us,
                    created_by: actor,
                    kek_version: wrapped.kek_version,
                    wrapped_dek: wrapped.bytes,
                    dek_version: DEK_VERSION,
                    status: "active".into(),
                },
                &call.purpose,
                &values,
                indexes,
            ),
            view: with_view.then(|| SubjectView {
                id,
                created_at: now,
                purpose: call.purpose.clone(),
                values: views,
                withheld: Vec::new(),
            }),
        })
    }

    /// The submitted categories that exist in the registry (unknown ones are reported by
    /// [`Vault::parse_values`] together with every other problem of the request).
    fn known<'a>(&'a self, values: &'a [ValueInput]) -> impl Iterator<Item = &'a str> + 'a {
        values
            .iter()
            .map(|v| v.category.as_str())
            .filter(|c| self.inner.registry.category(c).is_some())
    }

    fn index_for(&self, def: &CategoryDef, value: &Value) -> Option<BlindIndexRecord> {
        if !def.searchable {
            return None;
        }
        let key = value.blind_key()?;
        Some(BlindIndexRecord {
            category: def.code.as_str().to_string(),
            hash: self
                .inner
                .indexer
                .blind_index(def.code.as_str(), &key)
                .to_vec(),
            unique: def.unique,
        })
    }

    /// Parse every submitted value; collect all problems (nothing is written when any).
    fn parse_values<'r>(
        &'r self,
        inputs: &[ValueInput],
        item: Option<usize>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Parsed<'r>>, ServiceError> {
        let mut problems = Vec::new();
        // The categories parsed so far, by identity (a request has a few dozen values at
        // most: comparing addresses beats a set of their codes).
        let mut seen: Vec<&CategoryDef> = Vec::with_capacity(inputs.len());
        let mut out = Vec::with_capacity(inputs.len());
        for input in inputs {
            let problem = |code: &str, detail: Option<&str>| FieldProblem {
                item,
                category: echo_code(&input.category),
                code: code.to_string(),
                detail: detail.map(str::to_string),
            };
            let Some(def) = self.inner.registry.category(&input.category) else {
                problems.push(problem("unknown_category", None));
                continue;
            };
            if seen.iter().any(|d| std::ptr::eq(*d, def)) {
                problems.push(problem("duplicate_category", None));
                continue;
            }
            seen.push(def);
            if let Err(code) = check_source(&input.source) {
                problems.push(problem("invalid_source", Some(code)));
                continue;
            }
            let obtained_at = input.obtained_at.unwrap_or(now);
            if obtained_at > now + chrono::Duration::minutes(5) {
                problems.push(problem("invalid_obtained_at", Some("in_the_future")));
                continue;
            }
            match def.parse_value(&input.value) {
                Ok(value) => {
                    let value = self.complete(value);
                    out.push(Parsed {
                        def,
                        value,
                        source: input.source.clone(),
                        obtained_at,
                    });
                }
                Err(e) => problems.push(problem(e.code(), e.detail_code())),
            }
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(ServiceError::InvalidValues(problems))
        }
    }

    /// Fill what the registry knows: a bank account's bank name from its IBAN's bank code.
    fn complete(&self, value: Value) -> Value {
        match value {
            Value::BankAccount(acc) if acc.bank_name().is_none() => {
                match self.inner.registry.bank_for(acc.iban()) {
                    Some(bank) => {
                        match BankAccount::new(acc.iban().clone(), Some(bank.name.ru.as_str())) {
                            Ok(filled) => Value::BankAccount(filled),
                            Err(_) => Value::BankAccount(acc),
                        }
                    }
                    None => Value::BankAccount(acc),
                }
            }
            other => other,
        }
    }

    /// Read a subject through a purpose: the current values of the categories the purpose
    /// allows (or of `categories`, which must all be allowed).
    pub async fn read_subject(
        &self,
        call: &Call,
        id: Uuid,
        categories: Option<&[String]>,
    ) -> Result<SubjectView, ServiceError> {
        let wanted = match self.wanted(call, categories) {
            Ok(w) => w,
            Err(e) => return Err(self.denied(call, Action::READ, Some(id), e).await),
        };
        // Clauses 4.1, 5.3: an employee sees what the access policy allows, as it allows.
        let scope = match categories {
            Some(_) => Scope::Exact,
            None => Scope::Default,
        };
        let decisions = match self
            .employee_decisions(call, id, wanted.iter().map(String::as_str), false, scope)
            .await
        {
            Ok(d) => d,
            Err(e) => return Err(self.denied(call, Action::READ, Some(id), e).await),
        };
        self.consent_gate(call, Action::READ, id).await?;
        let loaded = self
            .inner
            .store
            .subject_with_values(id.as_bytes())
            .await?
            .ok_or(ServiceError::SubjectNotFound)?;
        let shown = match &decisions {
            Some(d) => d.allowed(),
            None => wanted,
        };
        let mut view = self.decrypt_view(call, loaded, &shown)?;
        if let Some(d) = &decisions {
            self.apply_decisions(&mut view, d)?;
        }
        let cats: Vec<String> = view.values.iter().map(|v| v.category.clone()).collect();
        let rule = self.rule_for(call, decisions.as_ref(), cats.iter().map(String::as_str));
        let detail = view
            .values
            .iter()
            .any(|v| v.masked)
            .then(|| "masked".to_string());
        self.record_rule(
            call,
            Action::READ,
            Some(id),
            cats,
            rule,
            detail,
            seen_of(&view),
        )
        .await?;
        Ok(view)
    }

    /// Find subjects by an exact value of a searchable category (IIN, phone, e-mail, IBAN)
    /// through its blind index, and return each through the purpose. The purpose must allow
    /// the category searched by.
    pub async fn find_subjects(
        &self,
        call: &Call,
        category: &str,
        value: &serde_json::Value,
        categories: Option<&[String]>,
    ) -> Result<Vec<SubjectView>, ServiceError> {
        let def = self
            .inner
            .registry
            .category(category)
            .ok_or_else(|| unknown_category(category))?;
        if let Err(e) = self.authorize(call, [category]) {
            return Err(self.denied(call, Action::SEARCH, None, e).await);
        }
        if !def.searchable {
            return Err(ServiceError::NotSearchable);
        }
        let wanted = match self.wanted(call, categories) {
            Ok(w) => w,
            Err(e) => return Err(self.denied(call, Action::SEARCH, None, e).await),
        };
        let parsed = def.parse_value(value).map_err(|e| {
            ServiceError::InvalidValues(vec![FieldProblem {
                item: None,
                category: category.to_string(),
                code: e.code().to_string(),
                detail: e.detail_code().map(str::to_string),
            }])
        })?;
        let key = parsed.blind_key().ok_or(ServiceError::NotSearchable)?;
        let hash = self.inner.indexer.blind_index(category, &key);
        let found = self.inner.store.load_by_index(category, &hash).await?;
        let mut out = Vec::with_capacity(found.len());
        for loaded in found {
            // The index row is only a pointer: confirm against the authenticated value, so a
            // tampered index can never hand out another person's data.
            let sid = loaded.0.id;
            match self
                .consent_gate(call, Action::SEARCH, Uuid::from_bytes(sid))
                .await
            {
                Ok(()) => {}
                Err(ServiceError::ConsentRequired | ServiceError::ProcessingBlocked) => continue,
                Err(e) => return Err(e),
            }
            let dek = self.unwrap(&loaded.0)?;
            let Some(rec) = loaded.1.iter().find(|v| v.category == category) else {
                continue;
            };
            let plain = dek.decrypt(
                &FieldAad::new(&sid, category, rec.dek_version),
                &rec.ciphertext,
            )?;
            let stored: serde_json::Value =
                serde_json::from_slice(&plain).map_err(|_| ServiceError::Integrity)?;
            let matches = def
                .parse_value(&stored)
                .ok()
                .and_then(|v| v.blind_key())
                .is_some_and(|k| k == key);
            if !matches {
                tracing::error!(
                    code = "index_mismatch",
                    "blind index points at a subject whose value differs"
                );
                return Err(ServiceError::Integrity);
            }
            // Clauses 4.1, 5.3: an employee finds only subjects whose searched category the
            // access policy lets them see, and sees each as the policy allows.
            let subject_id = Uuid::from_bytes(sid);
            let decisions = match self
                .employee_decisions(
                    call,
                    subject_id,
                    wanted.iter().map(String::as_str).chain([category]),
                    false,
                    Scope::Default,
                )
                .await
            {
                Ok(Some(d)) if !d.allows(category) => {
                    let e = ServiceError::AccessDenied {
                        rule: d.rule_of(category),
                        categories: vec![category.to_string()],
                    };
                    let _ = self.denied(call, Action::SEARCH, Some(subject_id), e).await;
                    continue;
                }
                Ok(d) => d,
                Err(e @ ServiceError::AccessDenied { .. }) => {
                    let _ = self.denied(call, Action::SEARCH, Some(subject_id), e).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut view = match &decisions {
                Some(d) => {
                    let shown: BTreeSet<String> =
                        d.allowed().intersection(&wanted).cloned().collect();
                    let mut v = self.view_with(call, &dek, loaded, &shown)?;
                    self.apply_decisions(&mut v, d)?;
                    v
                }
                None => self.view_with(call, &dek, loaded, &wanted)?,
            };
            view.withheld.retain(|w| w.category != category);
            let rule = self.rule_for(
                call,
                decisions.as_ref(),
                view.values
                    .iter()
                    .map(|v| v.category.as_str())
                    .chain([category]),
            );
            out.push((view, rule));
        }
        let now = to_micros(self.now());
        let actor = call.actor.id();
        let mut entries: Vec<_> = out
            .iter()
            .map(|(v, rule)| {
                let mut cats: Vec<String> = v.values.iter().map(|x| x.category.clone()).collect();
                cats.push(category.to_string());
                entry(
                    now,
                    &actor,
                    Action::SEARCH,
                    Outcome::Allowed,
                    Some(v.id.to_string()),
                    Some(&call.purpose),
                    cats,
                    Some(rule.clone()),
                    None,
                )
            })
            .collect();
        if entries.is_empty() {
            entries.push(entry(
                now,
                &actor,
                Action::SEARCH,
                Outcome::Allowed,
                None,
                Some(&call.purpose),
                vec![category.to_string()],
                Some(self.rule(call)),
                Some("no_match".into()),
            ));
        }
        self.append(entries).await?;
        for (v, _) in &out {
            self.observe(call, Some(v.id), seen_of(v)).await;
        }
        if out.is_empty() {
            self.observe(call, None, Seen::Allowed).await;
        }
        Ok(out.into_iter().map(|(v, _)| v).collect())
    }

    /// Correct current values (each category must have one); the old versions are kept as
    /// history (2.2: never a silent overwrite).
    pub async fn correct_values(
        &self,
        call: &Call,
        id: Uuid,
        values: Vec<ValueInput>,
    ) -> Result<SubjectView, ServiceError> {
        self.write_values(call, id, values, Expect::Existing).await
    }

    /// Supplement: add values for categories that have none yet.
    pub async fn supplement_values(
        &self,
        call: &Call,
        id: Uuid,
        values: Vec<ValueInput>,
    ) -> Result<SubjectView, ServiceError> {
        self.write_values(call, id, values, Expect::Absent).await
    }

    async fn write_values(
        &self,
        call: &Call,
        id: Uuid,
        values: Vec<ValueInput>,
        expect: Expect,
    ) -> Result<SubjectView, ServiceError> {
        if values.is_empty() {
            return Err(ServiceError::EmptyRequest);
        }
        if values.len() > MAX_VALUES {
            return Err(ServiceError::TooMany(MAX_VALUES));
        }
        let action = match expect {
            Expect::Existing => Action::CORRECT,
            Expect::Absent => Action::SUPPLEMENT,
        };
        if let Err(e) = self.authorize(call, self.known(&values)) {
            return Err(self.denied(call, action, Some(id), e).await);
        }
        // An employee writes only what the access policy lets them see in clear (4.1).
        if let Err(e) = self
            .employee_decisions(call, id, self.known(&values), false, Scope::Clear)
            .await
        {
            return Err(self.denied(call, action, Some(id), e).await);
        }
        self.consent_gate(call, action.clone(), id).await?;
        let now = self.now();
        let parsed = self.parse_values(&values, None, now)?;
        let sid = *id.as_bytes();
        let (subject, current) = self
            .inner
            .store
            .subject_with_values(&sid)
            .await?
            .ok_or(ServiceError::SubjectNotFound)?;
        let dek = self.unwrap(&subject)?;
        // Cross-check (2.2) against the values held, so a corrected birth date is compared
        // with the IIN on record (read internally; nothing is returned that the purpose does
        // not allow).
        let held = self.decrypt_for_check(&dek, &sid, &current)?;
        let verifications = cross_check(&parsed, Some(&held), now);
        let change = match expect {
            Expect::Existing => "correct",
            Expect::Absent => "supplement",
        };
        let mut writes = Vec::with_capacity(parsed.len());
        for p in &parsed {
            let code = p.def.code.as_str();
            let plaintext =
                serde_json::to_vec(&p.value.to_json()).map_err(|_| ServiceError::Integrity)?;
            let ciphertext =
                dek.encrypt(&FieldAad::new(&sid, code, subject.dek_version), &plaintext)?;
            let verification = verifications
                .iter()
                .find(|(c, _)| c == code)
                .and_then(|(_, v)| serde_json::to_string(v).ok());
            writes.push(ValueWrite {
                value: ValueRecord {
                    subject_id: sid,
                    category: code.to_string(),
                    seq: 0,
                    ciphertext,
                    dek_version: subject.dek_version,
                    source_kind: p.source.kind.as_str().to_string(),
                    source_name: p.source.name.clone(),
                    obtained_at: to_micros(p.obtained_at),
                    recorded_at: to_micros(now),
                    recorded_by: call.actor.id(),
                    purpose: call.purpose.clone(),
                    verification,
                    superseded_at: None,
                    change_kind: change.into(),
                },
                expect,
                index: self.index_for(p.def, &p.value),
            });
        }
        // A cross-check may also change the verdict on a value that was not written
        // (e.g. the birth date, when the IIN is corrected).
        let written: BTreeSet<&str> = parsed.iter().map(|p| p.def.code.as_str()).collect();
        self.inner
            .store
            .write_values(&sid, &writes, to_micros(now))
            .await
            .map_err(|e| match e {
                derbes_store::StoreError::Conflict => ServiceError::UniqueValueTaken,
                other => ServiceError::from(other),
            })?;
        for (category, v) in &verifications {
            if !written.contains(category.as_str()) {
                if let Ok(json) = serde_json::to_string(v) {
                    self.inner
                        .store
                        .set_verification(&sid, category, &json)
                        .await?;
                }
            }
        }
        let categories: Vec<String> = written.iter().map(|s| s.to_string()).collect();
        self.record(call, action, Some(id), categories.clone(), None)
            .await?;
        let loaded = self
            .inner
            .store
            .subject_with_values(&sid)
            .await?
            .ok_or(ServiceError::SubjectNotFound)?;
        self.decrypt_view(call, loaded, &categories.into_iter().collect())
    }

    /// Every version of one category's value, oldest first (the purpose must allow it).
    pub async fn history(
        &self,
        call: &Call,
        id: Uuid,
        category: &str,
    ) -> Result<Vec<ValueView>, ServiceError> {
        let decisions = self
            .admit_one(call, id, category, Action::READ, false, Scope::Exact)
            .await?;
        let sid = *id.as_bytes();
        let subject = self
            .inner
            .store
            .subject(&sid)
            .await?
            .ok_or(ServiceError::SubjectNotFound)?;
        let dek = self.unwrap(&subject)?;
        let rows = self.inner.store.history(&sid, category).await?;
        let mut views = rows
            .iter()
            .map(|r| value_view(&dek, &sid, r))
            .collect::<Result<Vec<_>, _>>()?;
        self.mask_history(&mut views, decisions.as_ref())?;
        let masked = views.iter().any(|v| v.masked);
        let rule = self.rule_for(call, decisions.as_ref(), [category]);
        self.record_rule(
            call,
            Action::READ,
            Some(id),
            vec![category.to_string()],
            rule,
            Some(if masked { "history,masked" } else { "history" }.into()),
            if masked { Seen::Masked } else { Seen::Allowed },
        )
        .await?;
        Ok(views)
    }

    /// Record the result of verifying a current value against a source (2.2).
    pub async fn record_verification(
        &self,
        call: &Call,
        id: Uuid,
        category: &str,
        input: VerificationInput,
    ) -> Result<Verification, ServiceError> {
        self.admit_one(call, id, category, Action::VERIFY, false, Scope::Clear)
            .await?;
        let problem = |code: &str, detail: &str| {
            ServiceError::InvalidValues(vec![FieldProblem {
                item: None,
                category: category.to_string(),
                code: code.to_string(),
                detail: Some(detail.to_string()),
            }])
        };
        check_source(&input.source).map_err(|d| problem("invalid_source", d))?;
        if let Some(note) = &input.note {
            if note.chars().count() > 200 || note.chars().any(char::is_control) {
                return Err(problem("invalid_note", "too_long_or_control"));
            }
        }
        let by = match &input.source.name {
            Some(name) => format!("{}:{name}", input.source.kind.as_str()),
            None => input.source.kind.as_str().to_string(),
        };
        let v = Verification {
            status: input.status,
            check: "source_check".into(),
            by,
            at: self.now(),
            note: input.note,
        };
        let json = serde_json::to_string(&v).map_err(|_| ServiceError::Integrity)?;
        let sid = *id.as_bytes();
        if self.inner.store.subject(&sid).await?.is_none() {
            return Err(ServiceError::SubjectNotFound);
        }
        self.inner
            .store
            .set_verification(&sid, category, &json)
            .await?;
        self.record(
            call,
            Action::VERIFY,
            Some(id),
            vec![category.to_string()],
            None,
        )
        .await?;
        Ok(v)
    }

    /// Rewrap every subject's data key under the current master key (after `keys rotate`).
    /// Values are not touched. Returns how many subjects were rewrapped.
    pub async fn rewrap_all(&self) -> Result<u64, ServiceError> {
        let current = self.inner.keys.current_version();
        let mut n = 0u64;
        loop {
            let batch = self
                .inner
                .store
                .subjects_wrapped_below(current, 1000)
                .await?;
            if batch.is_empty() {
                return Ok(n);
            }
            for s in batch {
                let wrapped = WrappedDek {
                    kek_version: s.kek_version,
                    bytes: s.wrapped_dek.clone(),
                };
                let new = self.inner.keys.rewrap(&s.id, &wrapped)?;
                self.inner
                    .store
                    .rewrap_subject(&s.id, new.kek_version, &new.bytes)
                    .await?;
                n += 1;
            }
        }
    }

    /// The rule that allowed a call: the purpose's map in this registry version (1.1, 3.2).
    pub(crate) fn rule(&self, call: &Call) -> String {
        format!(
            "purpose:{}@registry:{}",
            call.purpose,
            self.inner.registry.version()
        )
    }

    /// Append entries through the vault's audit writer (group commit; see
    /// [`crate::audit::ReadAudit`]). Nothing is recorded when the audit log is off (benchmarks).
    pub(crate) async fn append(
        &self,
        entries: Vec<derbes_audit::EntryFields>,
    ) -> Result<(), ServiceError> {
        match &self.inner.auditor {
            Some(a) => a.record(entries).await,
            None => Ok(()),
        }
    }

    /// Record an allowed action (clause 8.1: who, what, whose, which purpose and categories,
    /// which rule, when).
    async fn record(
        &self,
        call: &Call,
        action: Action,
        subject: Option<Uuid>,
        categories: Vec<String>,
        detail: Option<String>,
    ) -> Result<(), ServiceError> {
        let rule = self.rule(call);
        self.record_rule(
            call,
            action,
            subject,
            categories,
            rule,
            detail,
            Seen::Allowed,
        )
        .await
    }

    /// Record an allowed action under `rule`, and report an employee's access to detection
    /// (5.5) as `seen`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn record_rule(
        &self,
        call: &Call,
        action: Action,
        subject: Option<Uuid>,
        categories: Vec<String>,
        rule: String,
        detail: Option<String>,
        seen: Seen,
    ) -> Result<(), ServiceError> {
        let e = entry(
            to_micros(self.now()),
            &call.actor.id(),
            action,
            Outcome::Allowed,
            subject.map(|s| s.to_string()),
            Some(&call.purpose),
            categories,
            Some(rule),
            detail,
        );
        self.append(vec![e]).await?;
        self.observe(call, subject, seen).await;
        Ok(())
    }

    pub(crate) fn audit_on(&self) -> bool {
        self.inner.auditor.is_some()
    }

    /// The audit entry of a create (clause 8.1), written with the subject.
    fn created_entry(&self, call: &Call, n: &NewSubject) -> derbes_audit::EntryFields {
        created_entry(&call.actor.id(), &self.rule(call), call, n)
    }

    /// The audit entries of a batch of creates (none when the audit log is off).
    fn created_entries(&self, call: &Call, batch: &[NewSubject]) -> Vec<derbes_audit::EntryFields> {
        if !self.audit_on() {
            return Vec::new();
        }
        let (actor, rule) = (call.actor.id(), self.rule(call));
        batch
            .iter()
            .map(|n| created_entry(&actor, &rule, call, n))
            .collect()
    }

    /// Record a refusal by the purpose or minimisation check (3.2: "refused and audited") and
    /// hand the error back. Other errors pass through unrecorded.
    pub(crate) async fn denied(
        &self,
        call: &Call,
        action: Action,
        subject: Option<Uuid>,
        err: ServiceError,
    ) -> ServiceError {
        let (rule, categories) = match &err {
            ServiceError::UnknownPurpose => ("unknown_purpose:1.1".to_string(), Vec::new()),
            ServiceError::PurposeNotPermitted => {
                ("purpose_not_permitted:1.1".to_string(), Vec::new())
            }
            ServiceError::CategoryNotAllowed(c) => ("minimisation:3.2".to_string(), c.clone()),
            ServiceError::ConsentRequired => ("consent_required:L-PURPOSE".to_string(), Vec::new()),
            ServiceError::ProcessingBlocked => ("consent_withdrawn:7.1c".to_string(), Vec::new()),
            ServiceError::NoUndertaking => ("undertaking:4.3".to_string(), Vec::new()), // [employees]
            ServiceError::AccessDenied { rule, categories } => {
                (format!("access:{rule}"), categories.clone())
            }
            _ => return err,
        };
        let e = entry(
            to_micros(self.now()),
            &call.actor.id(),
            action,
            Outcome::Denied,
            subject.map(|s| s.to_string()),
            Some(&call.purpose),
            categories,
            Some(rule),
            Some(err.code().to_string()),
        );
        if let Err(audit_err) = self.append(vec![e]).await {
            return audit_err;
        }
        self.observe(call, subject, Seen::Denied).await;
        err
    }

    fn wanted(
        &self,
        call: &Call,
        categories: Option<&[String]>,
    ) -> Result<BTreeSet<String>, ServiceError> {
        if let Some(cats) = categories {
            for c in cats {
                if self.inner.registry.category(c).is_none() {
                    return Err(unknown_category(c));
                }
            }
        }
        let purpose = match categories {
            Some(cats) => self.authorize(call, cats.iter().map(String::as_str))?,
            None => self.authorize(call, std::iter::empty())?,
        };
        Ok(match categories {
            Some(cats) => cats.iter().cloned().collect(),
            None => purpose
                .categories
                .iter()
                .map(|c| c.as_str().to_string())
                .collect(),
        })
    }

    pub(crate) fn unwrap(&self, s: &SubjectRecord) -> Result<derbes_crypto::Dek, ServiceError> {
        let wrapped = WrappedDek {
            kek_version: s.kek_version,
            bytes: s.wrapped_dek.clone(),
        };
        self.inner.keys.unwrap_dek(&s.id, &wrapped).map_err(|e| {
            tracing::error!(code = e.code(), "a subject's data key failed to unwrap");
            ServiceError::from(e)
        })
    }

    fn decrypt_view(
        &self,
        call: &Call,
        loaded: SubjectWithValues,
        wanted: &BTreeSet<String>,
    ) -> Result<SubjectView, ServiceError> {
        let dek = self.unwrap(&loaded.0)?;
        self.view_with(call, &dek, loaded, wanted)
    }

    /// The view of a loaded subject through a purpose, with its already unwrapped data key.
    fn view_with(
        &self,
        call: &Call,
        dek: &derbes_crypto::Dek,
        (subject, values): SubjectWithValues,
        wanted: &BTreeSet<String>,
    ) -> Result<SubjectView, ServiceError> {
        let mut views = Vec::with_capacity(values.len());
        for r in values.iter().filter(|r| wanted.contains(&r.category)) {
            views.push(value_view(dek, &subject.id, r)?);
        }
        Ok(SubjectView {
            id: Uuid::from_bytes(subject.id),
            created_at: from_micros(subject.created_at),
            purpose: call.purpose.clone(),
            values: views,
            withheld: Vec::new(),
        })
    }

    fn decrypt_for_check(
        &self,
        dek: &derbes_crypto::Dek,
        sid: &[u8; 16],
        current: &[ValueRecord],
    ) -> Result<Vec<(String, Value)>, ServiceError> {
        let mut out = Vec::new();
        for r in current
            .iter()
            .filter(|r| r.category == "iin" || r.category == "birth_date")
        {
            let plain = dek.decrypt(
                &FieldAad::new(sid, &r.category, r.dek_version),
                &r.ciphertext,
            )?;
            let json: serde_json::Value =
                serde_json::from_slice(&plain).map_err(|_| ServiceError::Integrity)?;
            if let Some(def) = self.inner.registry.category(&r.category) {
                if let Ok(v) = def.parse_value(&json) {
                    out.push((r.category.clone(), v));
                }
            }
        }
        Ok(out)
    }

    /// Every current value of a loaded subject, decrypted — for the subject's own access
    /// (7.1a, L-RIGHTS: the subject may see all their data), not through a purpose's map.
    /// Only the cabinet calls it, for the session's own subject, and audits the read.
    pub(crate) fn all_values_for_subject(
        &self,
        loaded: &SubjectWithValues,
    ) -> Result<Vec<ValueView>, ServiceError> {
        let dek = self.unwrap(&loaded.0)?;
        let mut out = loaded
            .1
            .iter()
            .map(|r| value_view(&dek, &loaded.0.id, r))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| a.category.cmp(&b.category));
        Ok(out)
    }

    /// Shut down the group-commit writer after pending commits.
    pub async fn shutdown(&self) {
        if let Some(f) = &self.inner.follower {
            f.abort();
        }
        self.inner.commits.shutdown().await;
        if let Some(a) = &self.inner.auditor {
            a.shutdown().await;
        }
    }
}

fn created_entry(
    actor: &str,
    rule: &str,
    call: &Call,
    n: &NewSubject,
) -> derbes_audit::EntryFields {
    entry(
        n.subject.created_at,
        actor,
        Action::CREATE,
        Outcome::Allowed,
        Some(Uuid::from_bytes(n.subject.id).to_string()),
        Some(&call.purpose),
        n.categories().to_vec(),
        Some(rule.to_string()),
        None,
    )
}

struct Parsed<'r> {
    def: &'r CategoryDef,
    value: Value,
    source: Source,
    obtained_at: DateTime<Utc>,
}

/// A client-supplied category code as it may be echoed in a problem: only if it has the
/// syntax of a code, so a personal value typed into the wrong field never comes back (4.1).
fn echo_code(category: &str) -> String {
    match derbes_core::registry::CategoryCode::parse(category) {
        Ok(_) => category.to_string(),
        Err(_) => "(not a category code)".to_string(),
    }
}

pub(crate) fn unknown_category(category: &str) -> ServiceError {
    ServiceError::InvalidValues(vec![FieldProblem {
        item: None,
        category: echo_code(category),
        code: "unknown_category".into(),
        detail: None,
    }])
}

fn check_source(source: &Source) -> Result<(), &'static str> {
    match &source.name {
        None if source.kind.needs_name() => Err("source_name_required"),
        Some(name) => {
            let n = name.trim();
            if n.is_empty() || n.chars().count() > 100 || n.chars().any(char::is_control) {
                Err("source_name_invalid")
            } else {
                Ok(())
            }
        }
        None => Ok(()),
    }
}

pub(crate) fn value_view(
    dek: &derbes_crypto::Dek,
    sid: &[u8; 16],
    r: &ValueRecord,
) -> Result<ValueView, ServiceError> {
    let plain = dek
        .decrypt(&FieldAad::new(sid, &r.category, r.dek_version), &r.ciphertext)
        .map_err(|e| {
            tracing::error!(code = e.code(), category = %r.category, "a stored value failed to authenticate");
            ServiceError::from(e)
        })?;
    let value: serde_json::Value =
        serde_json::from_slice(&plain).map_err(|_| ServiceError::Integrity)?;
    Ok(ValueView {
        category: r.category.clone(),
        value,
        source: Source {
            kind: SourceKind::parse(&r.source_kind).unwrap_or(SourceKind::Automatic),
            name: r.source_name.clone(),
        },
        obtained_at: from_micros(r.obtained_at),
        recorded_at: from_micros(r.recorded_at),
        version: r.seq,
        change: r.change_kind.clone(),
        superseded_at: r.superseded_at.map(from_micros),
        verification: r
            .verification
            .as_deref()
            .and_then(|v| serde_json::from_str(v).ok()),
        masked: false,
        rule: None,
    })
}

/// Automatic cross-checks (clause 2.2): the birth date encoded in the IIN against the stated
/// birth date. Returns the verdicts to record, by category. A mismatch is a flag on the stated
/// birth date, never a silent correction.
fn cross_check(
    parsed: &[Parsed<'_>],
    held: Option<&[(String, Value)]>,
    now: DateTime<Utc>,
) -> Vec<(String, Verification)> {
    let find = |code: &str| -> Option<&Value> {
        parsed
            .iter()
            .find(|p| p.def.code.as_str() == code)
            .map(|p| &p.value)
            .or_else(|| held.and_then(|h| h.iter().find(|(c, _)| c == code).map(|(_, v)| v)))
    };
    let (Some(Value::Iin(iin)), Some(Value::Date(stated))) = (find("iin"), find("birth_date"))
    else {
        return Vec::new();
    };
    let Some(encoded) = iin.birth_date() else {
        return Vec::new();
    };
    let status = if encoded == *stated {
        VerificationStatus::Consistent
    } else {
        VerificationStatus::Mismatch
    };
    vec![(
        "birth_date".to_string(),
        Verification {
            status,
            check: "iin_birth_date".into(),
            by: "automatic".into(),
            at: now,
            note: None,
        },
    )]
}

async fn check_keys(store: &dyn Store, keys: &KeyRing) -> Result<(), ServiceError> {
    #[derive(serde::Serialize, serde::Deserialize, Default)]
    struct KeyCheck {
        index: String,
        keks: std::collections::BTreeMap<u32, String>,
    }
    let mine = KeyCheck {
        index: keys.index_check_value(),
        keks: keys
            .versions()
            .into_iter()
            .map(|k| (k.version, k.check_value))
            .collect(),
    };
    match store.get_meta(KEY_CHECK_META).await? {
        None => {
            if store.count_subjects().await? > 0 {
                return Err(ServiceError::KeyMismatch(
                    "the database holds subjects but no key check; refusing to guess".into(),
                ));
            }
        }
        Some(text) => {
            let theirs: KeyCheck = serde_json::from_str(&text)
                .map_err(|_| ServiceError::KeyMismatch("unreadable key check in meta".into()))?;
            if theirs.index != mine.index {
                return Err(ServiceError::KeyMismatch(
                    "the blind-index key differs from the one this database was made with".into(),
                ));
            }
            for (version, check) in &theirs.keks {
                match mine.keks.get(version) {
                    None => {
                        return Err(ServiceError::KeyMismatch(format!(
                            "master key version {version} is missing from the key ring"
                        )))
                    }
                    Some(c) if c != check => {
                        return Err(ServiceError::KeyMismatch(format!(
                            "master key version {version} differs from the one in use"
                        )))
                    }
                    Some(_) => {}
                }
            }
        }
    }
    let text = serde_json::to_string(&mine)
        .map_err(|_| ServiceError::KeyMismatch("cannot encode key check".into()))?;
    store.set_meta(KEY_CHECK_META, &text).await?;
    Ok(())
}

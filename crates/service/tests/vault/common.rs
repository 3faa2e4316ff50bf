//! Shared fixtures: a vault over each backend, demo subjects as inputs, raw SQL for tamper
//! tests, and a process-wide log capture.

use chrono::{DateTime, TimeZone, Utc};
use derbes_core::clock::FixedClock;
use derbes_core::registry::Registry;
use derbes_crypto::KeyRing;
use derbes_demo::DemoSubject;
use derbes_service::{
    Actor, Call, NewSubjectInput, ServiceError, Source, SourceKind, ValueInput, Vault,
};
use derbes_store::testing::{both, FreshDb};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// The time every vault's clock starts at.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 30, 0)
        .single()
        .expect("valid time")
}

/// One backend with a vault over it.
pub struct Env {
    pub vault: Vault,
    pub keys: Arc<KeyRing>,
    pub registry: Arc<Registry>,
    pub clock: Arc<FixedClock>,
    /// Last, so the vault (and its pools) go before the database is dropped.
    pub db: FreshDb,
}

impl Env {
    /// `sqlite` or `postgres`, for assertion messages.
    pub fn name(&self) -> &'static str {
        self.db.store.backend().as_str()
    }

    /// Number of subjects in the store.
    pub async fn count(&self) -> i64 {
        self.db.store.count_subjects().await.expect("count")
    }

    /// Open another vault on the same store with `keys`.
    pub async fn reopen(&self, keys: Arc<KeyRing>) -> Result<Vault, ServiceError> {
        Vault::open(
            self.db.store.clone(),
            keys,
            self.registry.clone(),
            self.clock.clone(),
        )
        .await
    }
}

/// A fresh SQLite and a fresh PostgreSQL store, each with a vault and a new key ring.
pub async fn envs() -> Vec<Env> {
    capture_logs();
    let mut out = Vec::new();
    for db in both()
        .await
        .expect("test databases (is PostgreSQL running?)")
    {
        let clock = Arc::new(FixedClock::new(t0()));
        let keys = Arc::new(KeyRing::generate(t0()).expect("key ring"));
        let registry = Arc::new(Registry::embedded().expect("embedded registry"));
        let vault = Vault::open(
            db.store.clone(),
            keys.clone(),
            registry.clone(),
            clock.clone(),
        )
        .await
        .expect("open vault");
        out.push(Env {
            vault,
            keys,
            registry,
            clock,
            db,
        });
    }
    out
}

/// A call by the system for `purpose`.
pub fn sys(purpose: &str) -> Call {
    Call::new(Actor::System("test"), purpose)
}

/// The subject as source.
pub fn from_subject() -> Source {
    Source {
        kind: SourceKind::Subject,
        name: None,
    }
}

/// A value given by the subject, obtained now.
pub fn val(category: &str, value: serde_json::Value) -> ValueInput {
    ValueInput {
        category: category.to_string(),
        value,
        source: from_subject(),
        obtained_at: None,
    }
}

/// A demo subject as a create input, every value from the subject.
pub fn input_of(s: &DemoSubject) -> NewSubjectInput {
    NewSubjectInput {
        values: s.values.iter().map(|(c, v)| val(c, v.clone())).collect(),
    }
}

/// `n` demo subjects from `seed`.
pub fn demo(seed: u64, n: usize) -> Vec<DemoSubject> {
    derbes_demo::generate(seed, n)
}

/// A demo subject's string value.
pub fn s<'a>(d: &'a DemoSubject, category: &str) -> &'a str {
    d.get_str(category).expect("demo string value")
}

/// The IBAN of a demo subject.
pub fn iban_of(d: &DemoSubject) -> String {
    d.get("bank_account")
        .and_then(|b| b.get("iban"))
        .and_then(|v| v.as_str())
        .expect("demo iban")
        .to_string()
}

/// The surname of a demo subject.
pub fn surname_of(d: &DemoSubject) -> String {
    d.get("full_name")
        .and_then(|b| b.get("surname"))
        .and_then(|v| v.as_str())
        .expect("demo surname")
        .to_string()
}

/// The personal values of a demo subject that must never appear in logs or errors.
pub fn secrets_of(d: &DemoSubject) -> Vec<String> {
    let phone = s(d, "mobile_phone").to_string();
    vec![
        s(d, "iin").to_string(),
        phone.trim_start_matches("+7").to_string(),
        phone,
        s(d, "email").to_string(),
        s(d, "email").to_ascii_lowercase(),
        iban_of(d),
        surname_of(d),
    ]
}

/// A valid IIN for a birth date, century-and-sex digit and serial, or `None` when that serial
/// would never be issued.
pub fn make_iin(yymmdd: &str, century_sex: u8, serial: u16) -> Option<String> {
    let text = format!("{yymmdd}{century_sex}{serial:04}");
    let mut d = [0u8; 11];
    for (i, c) in text.bytes().enumerate() {
        d[i] = c - b'0';
    }
    let check = derbes_demo::iin_check_digit(&d)?;
    Some(format!("{text}{check}"))
}

/// The first issuable IIN for `yymmdd` (century-and-sex digit 3: male, 1900s) from `serial`.
pub fn any_iin(yymmdd: &str, serial: u16) -> String {
    (serial..10_000)
        .find_map(|n| make_iin(yymmdd, 3, n))
        .expect("an issuable serial")
}

/// Unwrap an error, failing with the backend's name.
pub fn err<T: std::fmt::Debug>(env: &Env, r: Result<T, ServiceError>, what: &str) -> ServiceError {
    match r {
        Ok(v) => panic!("[{}] {what}: expected an error, got {v:?}", env.name()),
        Err(e) => e,
    }
}

/// The codes of an `InvalidValues` error as (item, category, code, detail).
pub fn problems(e: &ServiceError) -> Vec<(Option<usize>, String, String, Option<String>)> {
    match e {
        ServiceError::InvalidValues(ps) => ps
            .iter()
            .map(|p| (p.item, p.category.clone(), p.code.clone(), p.detail.clone()))
            .collect(),
        other => panic!("expected InvalidValues, got {other:?}"),
    }
}

// --- raw SQL on the store's database (tamper tests) ----------------------------------------

/// A second connection pool on the test database, outside the store.
pub enum Raw {
    Sqlite(sqlx::SqlitePool),
    Pg(sqlx::PgPool),
}

macro_rules! on_pool {
    ($raw:expr, $p:ident => $body:expr) => {
        match $raw {
            Raw::Sqlite($p) => $body,
            Raw::Pg($p) => $body,
        }
    };
}

impl Raw {
    pub async fn connect(db: &FreshDb) -> Raw {
        if db.url.starts_with("sqlite:") {
            Raw::Sqlite(
                sqlx::SqlitePool::connect(&db.url)
                    .await
                    .expect("sqlite pool"),
            )
        } else {
            Raw::Pg(sqlx::PgPool::connect(&db.url).await.expect("pg pool"))
        }
    }

    /// The subject's packed current values, decoded.
    pub async fn current(&self, id: uuid::Uuid) -> derbes_store::packed::Current {
        let vals: Vec<u8> = on_pool!(self, p => sqlx::query_scalar("SELECT vals FROM subjects WHERE id = $1")
            .bind(id.as_bytes().to_vec())
            .fetch_one(p)
            .await
            .expect("select vals"));
        derbes_store::packed::decode(id.as_bytes(), &vals).expect("packed values decode")
    }

    pub async fn ciphertext(&self, id: uuid::Uuid, category: &str) -> Vec<u8> {
        let current = self.current(id).await;
        current
            .values
            .iter()
            .find(|v| v.category == category)
            .expect("a current value of the category")
            .ciphertext
            .clone()
    }

    /// Replace one current value's ciphertext directly in the database (a tamper).
    pub async fn set_ciphertext(&self, id: uuid::Uuid, category: &str, ct: &[u8]) {
        let mut current = self.current(id).await;
        let v = current
            .values
            .iter_mut()
            .find(|v| v.category == category)
            .expect("tamper must hit a current value");
        v.ciphertext = ct.to_vec();
        let vals = derbes_store::packed::encode(&current.values, &current.indexes);
        let n = on_pool!(self, p => sqlx::query("UPDATE subjects SET vals = $1 WHERE id = $2")
            .bind(vals)
            .bind(id.as_bytes().to_vec())
            .execute(p)
            .await
            .expect("update vals")
            .rows_affected());
        assert_eq!(n, 1, "tamper must hit one row");
    }

    pub async fn wrapped_dek(&self, id: uuid::Uuid) -> Vec<u8> {
        on_pool!(self, p => sqlx::query_scalar("SELECT wrapped_dek FROM subjects WHERE id = $1")
            .bind(id.as_bytes().to_vec())
            .fetch_one(p)
            .await
            .expect("select wrapped_dek"))
    }

    pub async fn set_wrapped_dek(&self, id: uuid::Uuid, bytes: &[u8]) {
        let n = on_pool!(self, p => sqlx::query("UPDATE subjects SET wrapped_dek = $1 WHERE id = $2")
            .bind(bytes.to_vec())
            .bind(id.as_bytes().to_vec())
            .execute(p)
            .await
            .expect("update wrapped_dek")
            .rows_affected());
        assert_eq!(n, 1, "tamper must hit one row");
    }

    /// The hash of the subject's index row of `category`. The index tables hold hashes only
    /// (migration 0023); the packed row says which of the subject's hashes is the category's,
    /// and the row must be in a table.
    pub async fn index_hash(&self, id: uuid::Uuid, category: &str) -> Vec<u8> {
        let hash = self
            .current(id)
            .await
            .indexes
            .into_iter()
            .find(|i| i.category == category)
            .expect("the packed row holds an index of the category")
            .hash;
        let sql = "SELECT hash FROM unique_index WHERE subject_id = $1 AND hash = $2 \
                   UNION ALL SELECT hash FROM shared_index WHERE subject_id = $1 AND hash = $2";
        on_pool!(self, p => sqlx::query_scalar(sql)
            .bind(id.as_bytes().to_vec())
            .bind(hash)
            .fetch_one(p)
            .await
            .expect("select index hash"))
    }

    pub async fn delete_index(&self, id: uuid::Uuid, category: &str) {
        let hash = self.index_hash(id, category).await;
        for table in ["unique_index", "shared_index"] {
            let sql = format!("DELETE FROM {table} WHERE subject_id = $1 AND hash = $2");
            on_pool!(self, p => sqlx::query(&sql)
                .bind(id.as_bytes().to_vec())
                .bind(hash.clone())
                .execute(p)
                .await
                .expect("delete index")
                .rows_affected());
        }
    }

    pub async fn set_index_hash(&self, id: uuid::Uuid, category: &str, hash: &[u8]) {
        let old = self.index_hash(id, category).await;
        let mut n = 0;
        for table in ["unique_index", "shared_index"] {
            let sql = format!("UPDATE {table} SET hash = $1 WHERE subject_id = $2 AND hash = $3");
            n += on_pool!(self, p => sqlx::query(&sql)
                .bind(hash.to_vec())
                .bind(id.as_bytes().to_vec())
                .bind(old.clone())
                .execute(p)
                .await
                .expect("update index")
                .rows_affected());
        }
        assert_eq!(n, 1, "tamper must hit one row");
    }

    pub async fn close(self) {
        on_pool!(self, p => p.close().await)
    }
}

// --- log capture ----------------------------------------------------------------------------

#[derive(Clone)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Install (once per process) a global subscriber that records every event at TRACE, from
/// every thread (including the database drivers' worker threads), into one buffer. Every test
/// goes through it, so everything the service logs in any test is captured.
pub fn capture_logs() -> Arc<Mutex<Vec<u8>>> {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUF.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink(buf.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
        buf
    })
    .clone()
}

/// The captured log text so far.
pub fn captured() -> String {
    let buf = capture_logs();
    let bytes = buf.lock().unwrap_or_else(|p| p.into_inner()).clone();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Record the subject's consent to consent-based `purposes` (L-PURPOSE: the vault's consent
/// gate refuses such purposes without a current grant), publishing a policy version first if
/// none is in force.
pub async fn grant_consent(env: &Env, id: uuid::Uuid, purposes: &[&str]) {
    use derbes_service::consent_service::{
        Channel, ConsentChange, ConsentInput, ConsentService, ConsentSettings, Decision, Evidence,
        PublishInput,
    };
    let svc = ConsentService::new(
        env.vault.clone(),
        Arc::new(derbes_core::calendar::WorkCalendar::embedded_kz().expect("calendar")),
        ConsentSettings::default(),
    );
    let version = match svc.current_policy_record().await {
        Ok(v) => v.number,
        Err(_) => {
            svc.publish_policy(
                "system:test",
                PublishInput {
                    text_ru: "Политика".into(),
                    text_kk: "Саясат".into(),
                    text_en: None,
                    effective_at: None,
                    significant: false,
                    operator_name: "МФО".into(),
                    operator_bin: "100140005679".into(),
                },
            )
            .await
            .expect("publish policy")
            .number
        }
    };
    svc.record_consents(
        &sys("contract"),
        id,
        ConsentInput {
            policy_version: version,
            lang: "ru".into(),
            channel: Channel::Api,
            evidence: Evidence::default(),
            valid_until: None,
            changes: purposes
                .iter()
                .map(|p| ConsentChange {
                    scope: p.to_string(),
                    decision: Decision::Granted,
                })
                .collect(),
        },
    )
    .await
    .expect("record consent");
}

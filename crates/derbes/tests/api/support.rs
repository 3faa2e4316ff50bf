//! The test harness: the real server on a random port over a fresh database (SQLite file or
//! PostgreSQL schema), an API key for a chosen set of purposes, one global log capture, and
//! helpers to build bodies and check RFC 9457 problems.

use derbes_core::clock::{Clock, SystemClock};
use derbes_core::registry::Registry;
use derbes_crypto::KeyRing;
use derbes_service::{apikeys, Vault};
use derbes_store::testing::{self, FreshDb};
use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::oneshot;

/// Runs one async test body, `async fn $name(backend: Backend)`, on both backends: generates
/// `mod $name` (modules and functions live in different namespaces) with `#[tokio::test]`s
/// `sqlite` and `postgres`, so the full name is e.g. `subjects::c2_1_create::postgres`.
macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::support::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::support::Backend::Postgres).await
            }
        }
    };
}
pub(crate) use both_backends;

/// Which database the server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The purposes of the default test API key. `collection` (among others) is deliberately
/// left out, for the purpose_not_permitted tests.
pub const KEY_PURPOSES: &[&str] = &[
    "contract",
    "identification",
    "scoring",
    "statistics",
    "advertising",
    "settlements",
];

/// A running server.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// A token of an API key limited to [`KEY_PURPOSES`].
    pub token: String,
    /// The database (kept alive; removed on drop).
    pub db: FreshDb,
    /// The vault the server runs on (for making more API keys).
    pub vault: Vault,
    /// Every SMS the cabinet sent (7.1b).
    pub sms: derbes_service::sms::MemorySmsSink,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Start the server over a fresh database of `backend` with a key for [`KEY_PURPOSES`].
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, KEY_PURPOSES).await
}

/// Start the server over a fresh database with an API key for `purposes`.
pub async fn spawn_app_with(backend: Backend, purposes: &[&str]) -> TestApp {
    let _ = logs();
    let db = match backend {
        Backend::Sqlite => testing::fresh_sqlite().await,
        Backend::Postgres => testing::fresh_pg().await,
    }
    .expect("fresh database (PostgreSQL must be reachable: it is never skipped)");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let keys = KeyRing::generate(clock.now()).expect("key ring");
    let registry = Registry::embedded().expect("embedded registry");
    let vault = Vault::open(db.store.clone(), Arc::new(keys), Arc::new(registry), clock)
        .await
        .expect("vault");
    let state = derbes_web::AppState::new(vault.clone()).expect("message catalog");
    let sms = derbes_service::sms::MemorySmsSink::new();
    let cabinet = derbes_service::cabinet::Cabinet::new(
        state.consent.clone(),
        Arc::new(sms.clone()),
        derbes_service::cabinet::CabinetSettings::default(),
    );
    let state = state.with_cabinet(cabinet);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(derbes_web::serve(listener, state, async move {
        let _ = rx.await;
    }));
    let mut app = TestApp {
        base: format!("http://{addr}"),
        token: String::new(),
        db,
        vault,
        sms,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        shutdown: Some(tx),
    };
    app.token = app.new_key("test-client", purposes).await.1;
    app
}

impl TestApp {
    /// `base` + `/api/v1` + `path`.
    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    /// Create another API key; returns (id, token).
    pub async fn new_key(&self, name: &str, purposes: &[&str]) -> (String, String) {
        let purposes: Vec<String> = purposes.iter().map(|p| p.to_string()).collect();
        let (info, token) = apikeys::create(
            self.vault.store().as_ref(),
            self.vault.registry(),
            name,
            &purposes,
            self.vault.now(),
        )
        .await
        .expect("api key");
        (info.id, token)
    }

    /// Number of subjects in the database.
    pub async fn count(&self) -> i64 {
        self.db.store.count_subjects().await.expect("count")
    }

    /// A request with the default token.
    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.api(path))
            .bearer_auth(&self.token)
    }

    /// POST a JSON body with the default token.
    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.req(reqwest::Method::POST, path)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// PATCH a JSON body with the default token.
    pub async fn patch(&self, path: &str, body: &Value) -> Response {
        self.req(reqwest::Method::PATCH, path)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// PUT a JSON body with the default token.
    pub async fn put(&self, path: &str, body: &Value) -> Response {
        self.req(reqwest::Method::PUT, path)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// GET with the default token.
    pub async fn get(&self, path: &str) -> Response {
        self.req(reqwest::Method::GET, path)
            .send()
            .await
            .expect("request")
    }

    /// Create a subject for `contract`; asserts 201 and returns the view.
    pub async fn create(&self, body: &Value) -> Value {
        let res = self.post("/subjects?purpose=contract", body).await;
        let status = res.status();
        let text = res.text().await.expect("body");
        assert_eq!(status, StatusCode::CREATED, "create failed: {text}");
        serde_json::from_str(&text).expect("json")
    }

    /// Read a subject for `purpose`; asserts 200.
    pub async fn read(&self, id: &str, purpose: &str) -> Value {
        ok_json(self.get(&format!("/subjects/{id}?purpose={purpose}")).await).await
    }

    /// Search by `category` = `value` for `contract`; returns the ids found.
    pub async fn search_ids(&self, category: &str, value: Value) -> Vec<String> {
        let res = self
            .post(
                "/subjects/search?purpose=contract",
                &json!({"category": category, "value": value}),
            )
            .await;
        let body = ok_json(res).await;
        body["subjects"]
            .as_array()
            .expect("subjects")
            .iter()
            .map(|s| s["id"].as_str().expect("id").to_string())
            .collect()
    }
}

/// Asserts 200 and returns the JSON body.
pub async fn ok_json(res: Response) -> Value {
    let status = res.status();
    let text = res.text().await.expect("body");
    assert_eq!(status, StatusCode::OK, "expected 200, got {status}: {text}");
    serde_json::from_str(&text).expect("json")
}

/// Asserts an RFC 9457 problem with `status` and `code`; returns (headers, body).
pub async fn problem(res: Response, status: u16, code: &str) -> (HeaderMap, Value) {
    let got = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.expect("body");
    assert_eq!(got, status, "expected {status} {code}, got {got}: {text}");
    assert_eq!(
        headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "content type of {text}"
    );
    let body: Value = serde_json::from_str(&text).expect("problem body is JSON");
    assert_eq!(body["type"], format!("urn:derbes:problem:{code}"), "{text}");
    assert_eq!(body["code"], code, "{text}");
    assert_eq!(body["status"], status, "{text}");
    for field in ["title", "detail"] {
        assert!(
            body[field].as_str().is_some_and(|s| !s.trim().is_empty()),
            "{field} missing in {text}"
        );
    }
    (headers, body)
}

/// The `(category, code)` pairs of a 422 problem's `errors`.
pub fn field_codes(body: &Value) -> Vec<(String, String)> {
    body["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["category"].as_str().unwrap_or("").to_string(),
                        e["code"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Bodies

/// One value as the API takes it, from the subject.
pub fn value(category: &str, v: Value) -> Value {
    json!({"category": category, "value": v, "source": {"kind": "subject"}})
}

/// A create/values body.
pub fn values(vs: Vec<Value>) -> Value {
    json!({ "values": vs })
}

/// The `n` realistic demo subjects of `seed` as create bodies.
pub fn demo_bodies(seed: u64, n: usize) -> Vec<(derbes_demo::DemoSubject, Value)> {
    derbes_demo::generate(seed, n)
        .into_iter()
        .map(|s| {
            let body = values(s.values.iter().map(|(c, v)| value(c, v.clone())).collect());
            (s, body)
        })
        .collect()
}

/// A fixed, known borrower (values from kz-formats.md).
pub struct Known {
    pub iin: &'static str,
    pub birth_date: &'static str,
    pub phone_typed: &'static str,
    pub phone_e164: &'static str,
    pub email: &'static str,
    pub iban: &'static str,
    pub iban_typed: &'static str,
    pub surname: &'static str,
    pub given: &'static str,
}

pub const KNOWN: Known = Known {
    iin: "791028302728",
    birth_date: "1979-10-28",
    phone_typed: "8 777 123 45 67",
    phone_e164: "+77771234567",
    email: "Erzhan.Zhumabekov79@Example.KZ",
    iban: "KZ86125KZT5004100100",
    iban_typed: "kz86 125k zt50 0410 0100",
    surname: "Жұмабеков",
    given: "Ержан",
};

/// A second, different known borrower.
pub const OTHER: Known = Known {
    iin: "061211600012",
    birth_date: "2006-12-11",
    phone_typed: "+7(701)9876543",
    phone_e164: "+77019876543",
    email: "aigerim.sarsenbayeva06@mail.example",
    iban: "KZ11601KZT0001234567",
    iban_typed: "KZ11 601K ZT00 0123 4567",
    surname: "Сәрсенбаева",
    given: "Әйгерім",
};

impl Known {
    /// The create body: full name, IIN, birth date, mobile, e-mail, and (optionally) IBAN.
    pub fn body(&self, with_iban: bool) -> Value {
        let mut vs = vec![
            value(
                "full_name",
                json!({"surname": self.surname, "given": self.given}),
            ),
            value("iin", json!(self.iin)),
            value("birth_date", json!(self.birth_date)),
            value("mobile_phone", json!(self.phone_typed)),
            value("email", json!(self.email)),
            value("employer", json!("ТОО «Алматы Сауда»")),
        ];
        if with_iban {
            vs.push(value("bank_account", json!(self.iban_typed)));
        }
        values(vs)
    }
}

/// The value of `category` in a subject view.
pub fn view_value<'a>(view: &'a Value, category: &str) -> Option<&'a Value> {
    view["values"]
        .as_array()?
        .iter()
        .find(|v| v["category"] == category)
}

/// The categories of a subject view.
pub fn view_categories(view: &Value) -> Vec<String> {
    view["values"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v["category"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Log capture: one global subscriber for the whole test binary.

/// A shared, growable buffer the fmt subscriber writes every event to.
#[derive(Clone, Default)]
pub struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl LogBuf {
    /// Everything captured so far.
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl Write for LogBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuf {
    type Writer = LogBuf;

    fn make_writer(&'a self) -> LogBuf {
        self.clone()
    }
}

/// The captured log of this test binary (installs the global subscriber on first use).
pub fn logs() -> &'static LogBuf {
    static LOGS: OnceLock<LogBuf> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = LogBuf::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(buf.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("only this harness installs a global subscriber");
        buf
    })
}

//! The `derbes` binary as a new user runs it: `serve` on a fresh data folder (keys generated,
//! mode 0600, never in the database; no personal value in the database in plaintext), a
//! second start, a wrong key file, a missing database, the registry check, API keys, master
//! keys and their rotation, the OpenAPI document, and PostgreSQL.
//!
//! Test names carry the policy clause they check.

use base64::Engine;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_derbes");
const START_TIMEOUT: Duration = Duration::from_secs(60);
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// Environment variables of derbes that must not leak in from the test's environment.
const DERBES_VARS: &[&str] = &[
    "DERBES_DATABASE",
    "DERBES_KEY_FILE",
    "DERBES_KEYS",
    "DERBES_REGISTRY",
    "DERBES_LISTEN",
    "DERBES_LOG",
    "DERBES_LOG_FORMAT",
];

/// A `derbes` command with a clean environment and `DERBES_DATA_DIR` = `data`.
fn derbes(data: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    for v in DERBES_VARS {
        cmd.env_remove(v);
    }
    cmd.env("DERBES_DATA_DIR", data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// What a finished command printed.
#[derive(Debug)]
struct Output {
    ok: bool,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Run a command to completion (at most [`RUN_TIMEOUT`]).
fn run(mut cmd: Command) -> Output {
    let mut child = cmd.spawn().expect("spawn derbes");
    let out = drain(child.stdout.take().expect("stdout"));
    let err = drain(child.stderr.take().expect("stderr"));
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "derbes did not finish in {RUN_TIMEOUT:?}; stderr: {}",
                err.text()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (stdout, stderr) = (out.finish(), err.finish());
    Output {
        ok: status.success(),
        code: status.code(),
        stdout,
        stderr,
    }
}

/// Collects a pipe in a thread.
struct Drained {
    buf: Arc<Mutex<String>>,
    handle: std::thread::JoinHandle<()>,
}

impl Drained {
    fn text(&self) -> String {
        self.buf.lock().unwrap().clone()
    }

    fn finish(self) -> String {
        let _ = self.handle.join();
        let s = self.buf.lock().unwrap().clone();
        s
    }
}

fn drain(mut r: impl Read + Send + 'static) -> Drained {
    let buf = Arc::new(Mutex::new(String::new()));
    let b = buf.clone();
    let handle = std::thread::spawn(move || {
        let mut bytes = [0u8; 4096];
        loop {
            match r.read(&mut bytes) {
                Ok(0) | Err(_) => break,
                Ok(n) => b
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&bytes[..n])),
            }
        }
    });
    Drained { buf, handle }
}

/// A free local port (bound then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `derbes serve`.
struct Server {
    child: Child,
    lines: Receiver<String>,
    /// Every stdout line so far.
    stdout: Vec<String>,
    stderr: Drained,
    /// `http://127.0.0.1:<port>`.
    base: String,
}

impl Server {
    /// Start `derbes serve --listen 127.0.0.1:<free port> <args>` and wait for its
    /// "listening on" line.
    fn start(data: &Path, args: &[&str]) -> Server {
        match Server::try_start(data, args) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    /// As [`Server::start`]; `Err` (with what it printed) if it exits instead.
    fn try_start(data: &Path, args: &[&str]) -> Result<Server, String> {
        let listen = format!("127.0.0.1:{}", free_port());
        let mut cmd = derbes(data);
        cmd.arg("serve").arg("--listen").arg(&listen).args(args);
        let mut child = cmd.spawn().expect("spawn derbes serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = drain(child.stderr.take().expect("stderr"));
        let mut server = Server {
            child,
            lines,
            stdout: Vec::new(),
            stderr,
            base: format!("http://{listen}"),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match server
                .lines
                .recv_timeout(left.min(Duration::from_millis(200)))
            {
                Ok(line) => {
                    let listening = line.contains("listening on");
                    server.stdout.push(line);
                    if listening {
                        return Ok(server);
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(status) = server.child.try_wait().expect("wait") {
                        // Let the readers catch up, then report.
                        std::thread::sleep(Duration::from_millis(100));
                        server.stdout.extend(server.lines.try_iter());
                        return Err(format!(
                            "exit {:?}\nstdout:\n{}\nstderr:\n{}",
                            status.code(),
                            server.stdout.join("\n"),
                            server.stderr.text()
                        ));
                    }
                    if left.is_zero() {
                        let _ = server.child.kill();
                        panic!(
                            "no \"listening on\" line in {START_TIMEOUT:?}; stdout: {:?}; stderr: {}",
                            server.stdout,
                            server.stderr.text()
                        );
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    let status = server.child.wait().expect("wait");
                    return Err(format!(
                        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
                        status.code(),
                        server.stdout.join("\n"),
                        server.stderr.text()
                    ));
                }
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    /// The stdout line containing `needle`, if printed so far.
    fn line(&self, needle: &str) -> Option<&String> {
        self.stdout.iter().find(|l| l.contains(needle))
    }

    /// The demo API token printed at start.
    fn demo_token(&self) -> String {
        let line = self
            .line("demo: API key")
            .unwrap_or_else(|| panic!("no demo API key line in {:?}", self.stdout));
        let token = line.rsplit(' ').next().unwrap().to_string();
        assert!(token.starts_with("drb_"), "{line}");
        token
    }

    /// SIGTERM, wait for a clean exit; returns (stdout lines, stderr).
    fn stop(mut self) -> (Vec<String>, String) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break Some(s);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        std::thread::sleep(Duration::from_millis(50));
        self.stdout.extend(self.lines.try_iter());
        let stderr = self.stderr.text();
        assert!(
            status.is_some_and(|s| s.success()),
            "derbes serve did not stop cleanly on SIGTERM: {status:?}; stderr: {stderr}"
        );
        (std::mem::take(&mut self.stdout), stderr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The bytes of the SQLite database, its audit log's file, the log's subject index, their
/// WAL/SHM files, and the log's journal.
fn db_bytes(data: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for name in [
        "derbes.db",
        "derbes.db-wal",
        "derbes.db-shm",
        "derbes.audit.db",
        "derbes.audit.db-wal",
        "derbes.audit.db-shm",
        "derbes.audit.index.db",
        "derbes.audit.index.db-wal",
        "derbes.audit.index.db-shm",
        "derbes.audit.journal-a",
        "derbes.audit.journal-b",
    ] {
        if let Ok(b) = std::fs::read(data.join(name)) {
            all.extend_from_slice(&b);
        }
    }
    assert!(!all.is_empty(), "no database file in {}", data.display());
    all
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// The key material in a key file: each base64 string and its decoded bytes.
fn key_material(key_file: &Path) -> Vec<(String, Vec<u8>)> {
    let v: Value = serde_json::from_slice(&std::fs::read(key_file).unwrap()).unwrap();
    let mut keys: Vec<String> = v["keks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap().to_string())
        .collect();
    keys.push(v["index_root"].as_str().unwrap().to_string());
    keys.into_iter()
        .map(|b64| {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .unwrap();
            assert_eq!(raw.len(), 32);
            (b64, raw)
        })
        .collect()
}

/// `s` without ANSI escape sequences (`ESC [ … letter`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// A borrower created through the API in these tests (values from kz-formats.md).
const IIN: &str = "791028302728";
const PHONE_TYPED: &str = "8 777 123 45 67";
const PHONE_E164: &str = "+77771234567";
const EMAIL: &str = "erzhan.zhumabekov79@example.kz";
const IBAN: &str = "KZ86125KZT5004100100";
const SURNAME: &str = "Жұмабеков";

fn borrower() -> Value {
    let v = |category: &str, value: Value| json!({"category": category, "value": value, "source": {"kind": "subject"}});
    json!({"values": [
        v("full_name", json!({"surname": SURNAME, "given": "Ержан"})),
        v("iin", json!(IIN)),
        v("birth_date", json!("1979-10-28")),
        v("mobile_phone", json!(PHONE_TYPED)),
        v("email", json!(EMAIL)),
        v("bank_account", json!(IBAN)),
    ]})
}

/// POST /subjects/search for `contract`; returns (status, body).
async fn search(server: &Server, token: &str, category: &str, value: &str) -> (u16, Value) {
    let res = client()
        .post(server.url("/subjects/search?purpose=contract"))
        .bearer_auth(token)
        .json(&json!({"category": category, "value": value}))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The ids a search finds (asserting 200).
async fn found_ids(server: &Server, token: &str, category: &str, value: &str) -> Vec<String> {
    let (status, body) = search(server, token, category, value).await;
    assert_eq!(status, 200, "{body}");
    body["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

/// Create the [`borrower`]; returns its id.
async fn create_borrower(server: &Server, token: &str) -> String {
    let res = client()
        .post(server.url("/subjects?purpose=contract"))
        .bearer_auth(token)
        .json(&borrower())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

fn temp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    (dir, data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c5_3_first_start_with_demo_keys_0600_and_no_plaintext_in_db() {
    let (_dir, data) = temp();
    let server = Server::start(&data, &["--demo", "20"]);
    assert!(
        server.line("generated a new key ring").is_some(),
        "{:?}",
        server.stdout
    );
    assert!(
        server.line("demo: loaded 20").is_some(),
        "{:?}",
        server.stdout
    );

    let health: Value = client()
        .get(server.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["backend"], "sqlite");

    // The demo key works for a search and a read of the demo people (seed 1).
    let token = server.demo_token();
    let people = derbes_demo::generate(1, 20);
    let iin = people[0].get_str("iin").unwrap();
    let ids = found_ids(&server, &token, "iin", iin).await;
    assert_eq!(ids.len(), 1);
    let res = client()
        .get(server.url(&format!("/subjects/{}?purpose=identification", ids[0])))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let view: Value = res.json().await.unwrap();
    let got_iin = view["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["category"] == "iin")
        .unwrap()["value"]
        .clone();
    assert_eq!(got_iin, iin);

    // The key file: mode 0600 in a 0700 folder; none of its keys in the database.
    let key_file = data.join("keys.json");
    assert_eq!(mode(&key_file), 0o600, "key file mode");
    assert_eq!(mode(&data), 0o700, "data folder mode");
    let keys = key_material(&key_file);
    assert_eq!(keys.len(), 2);

    // A created borrower's values are nowhere in the database files in plaintext.
    create_borrower(&server, &token).await;
    assert_eq!(
        found_ids(&server, &token, "mobile_phone", PHONE_TYPED)
            .await
            .len(),
        1
    );
    let check_files = |when: &str| {
        let bytes = db_bytes(&data);
        // Positive control: these are the right files, and they hold the records (category
        // codes and purposes are not personal data and are stored as they are).
        assert!(
            contains(&bytes, b"mobile_phone") && contains(&bytes, b"contract"),
            "{when}"
        );
        for (b64, raw) in &keys {
            assert!(
                !contains(&bytes, b64.as_bytes()),
                "{when}: base64 key in the database"
            );
            assert!(
                !contains(&bytes, raw),
                "{when}: raw key bytes in the database"
            );
        }
        for needle in [IIN, PHONE_E164, "77771234567", EMAIL, IBAN, SURNAME] {
            assert!(
                !contains(&bytes, needle.as_bytes()),
                "{when}: `{needle}` in plaintext in the database files"
            );
        }
        // Demo people too.
        for p in &people {
            for c in ["iin", "mobile_phone", "email"] {
                let v = p.get_str(c).unwrap();
                assert!(
                    !contains(&bytes, v.as_bytes()),
                    "{when}: demo {c} in plaintext"
                );
            }
        }
    };
    check_files("running");
    let (stdout, stderr) = server.stop();
    assert!(
        stdout.iter().any(|l| l.contains("derbes stopped")),
        "{stdout:?}"
    );
    check_files("stopped");
    // 4.1: the service's own log (stderr) records the requests but names none of the
    // values nor the token.
    let plain = strip_ansi(&stderr);
    assert!(
        plain.contains("status=201"),
        "no request log lines: {plain}"
    );
    for needle in [IIN, PHONE_E164, EMAIL, IBAN, SURNAME, iin, token.as_str()] {
        assert!(
            !plain.contains(needle),
            "`{needle}` in the service log: {plain}"
        );
        assert!(
            !stderr.contains(needle),
            "`{needle}` in the service log: {stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c5_6_second_start_reuses_keys_and_a_wrong_key_file_is_refused() {
    let (dir, data) = temp();
    let first = Server::start(&data, &["--demo", "5"]);
    assert!(first.line("generated a new key ring").is_some());
    let token = first.demo_token();
    let id = create_borrower(&first, &token).await;
    let key_before = std::fs::read(data.join("keys.json")).unwrap();
    first.stop();

    let second = Server::start(&data, &["--demo", "5"]);
    assert!(
        second.line("generated a new key ring").is_none(),
        "a second start must reuse the key file: {:?}",
        second.stdout
    );
    assert!(
        second.line("database is not empty").is_some(),
        "{:?}",
        second.stdout
    );
    assert!(second.line("demo: API key").is_none(), "no second demo key");
    assert_eq!(std::fs::read(data.join("keys.json")).unwrap(), key_before);
    assert_eq!(found_ids(&second, &token, "iin", IIN).await, [id.as_str()]);
    let res = client()
        .get(second.url(&format!("/subjects/{id}?purpose=contract")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let view: Value = res.json().await.unwrap();
    assert_eq!(view["values"].as_array().unwrap().len(), 6);
    second.stop();

    // Another key file: refused with a clear error naming the key file; non-zero exit.
    let other = dir.path().join("other-keys.json");
    let other_s = other.to_str().unwrap();
    let err = match Server::try_start(&data, &["--key-file", other_s]) {
        Ok(_) => panic!("derbes started with a key file the database was not made with"),
        Err(e) => e,
    };
    assert!(!err.contains("exit Some(0)"), "{err}");
    assert!(err.contains("exit Some("), "{err}");
    assert!(err.contains("error:"), "{err}");
    assert!(err.contains(other_s), "the error names the key file: {err}");
    assert!(err.to_lowercase().contains("key"), "{err}");
    // It did not serve, and left no stray key file behind.
    assert!(!err.contains("listening on"), "{err}");
    assert!(
        !other.exists(),
        "a refused start must not generate a key file"
    );
    // The original keys still work afterwards.
    let third = Server::start(&data, &[]);
    assert_eq!(found_ids(&third, &token, "iin", IIN).await, [id.as_str()]);
    third.stop();
}

#[test]
fn ops_missing_sqlite_folder_without_create_fails_clearly() {
    let (_dir, data) = temp();
    let listen = format!("127.0.0.1:{}", free_port());
    let mut cmd = derbes(&data);
    cmd.args([
        "serve",
        "--listen",
        &listen,
        "--database",
        "sqlite:///nonexistent/dir/x.db",
    ]);
    let out = run(cmd);
    assert!(!out.ok, "{out:?}");
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("error:"), "{out:?}");
    assert!(out.stderr.contains("cannot open database"), "{out:?}");
    assert!(out.stderr.contains("/nonexistent/dir/x.db"), "{out:?}");
    assert!(!out.stdout.contains("listening on"), "{out:?}");
    assert!(!Path::new("/nonexistent/dir/x.db").exists());
}

#[test]
fn c1_1_registry_check_valid_and_broken() {
    let (dir, data) = temp();
    let mut cmd = derbes(&data);
    cmd.args(["registry", "check"]);
    let out = run(cmd);
    assert!(out.ok, "{out:?}");
    assert!(out.stdout.contains("is valid"), "{out:?}");
    assert!(out.stdout.contains("28 purposes"), "{out:?}");

    let mut cmd = derbes(&data);
    cmd.args(["registry", "export"]);
    let exported = run(cmd);
    assert!(exported.ok);
    let good = dir.path().join("good.toml");
    std::fs::write(&good, &exported.stdout).unwrap();
    let mut cmd = derbes(&data);
    cmd.args(["registry", "check", good.to_str().unwrap()]);
    assert!(run(cmd).stdout.contains("is valid"));

    // A purpose naming a category that does not exist.
    let marker = "code = \"scoring\"";
    let start = exported.stdout.find(marker).expect("scoring purpose");
    let cats =
        start + exported.stdout[start..].find("categories = [").unwrap() + "categories = [".len();
    let mut broken = exported.stdout.clone();
    broken.insert_str(cats, "\"salery\", ");
    let bad = dir.path().join("broken.toml");
    std::fs::write(&bad, &broken).unwrap();
    let mut cmd = derbes(&data);
    cmd.args(["registry", "check", bad.to_str().unwrap()]);
    let out = run(cmd);
    assert!(!out.ok, "{out:?}");
    assert!(out.stderr.contains("scoring"), "names the purpose: {out:?}");
    assert!(out.stderr.contains("salery"), "names the category: {out:?}");
    assert!(
        out.stderr.contains("broken.toml"),
        "names the file: {out:?}"
    );

    // The service refuses to start on it.
    let mut cmd = derbes(&data);
    cmd.args([
        "--registry",
        bad.to_str().unwrap(),
        "serve",
        "--listen",
        "127.0.0.1:0",
    ]);
    let out = run(cmd);
    assert!(!out.ok, "{out:?}");
    assert!(out.stderr.contains("salery"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c1_1_apikey_create_list_revoke() {
    let (_dir, data) = temp();
    let mut cmd = derbes(&data);
    cmd.args(["apikey", "create", "--name", "ci", "--purpose", "contract"]);
    let out = run(cmd);
    assert!(out.ok, "{out:?}");
    let token = out
        .stdout
        .lines()
        .find(|l| l.starts_with("drb_"))
        .unwrap_or_else(|| panic!("no drb_ token printed: {out:?}"))
        .trim()
        .to_string();
    assert!(token.len() > 40);
    let id = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("created API key "))
        .and_then(|rest| rest.split(' ').next())
        .expect("key id")
        .to_string();
    assert!(out.stdout.contains("purposes: contract"), "{out:?}");

    let mut cmd = derbes(&data);
    cmd.args([
        "apikey",
        "create",
        "--name",
        "bad",
        "--purpose",
        "curiosity",
    ]);
    let bad = run(cmd);
    assert!(!bad.ok && bad.stderr.contains("curiosity"), "{bad:?}");

    let list = || {
        let mut cmd = derbes(&data);
        cmd.args(["apikey", "list"]);
        let out = run(cmd);
        assert!(out.ok, "{out:?}");
        out.stdout
    };
    let listed = list();
    let line = listed
        .lines()
        .find(|l| l.contains(&id))
        .expect("key listed");
    assert!(
        line.contains("ci") && line.contains("active") && line.contains("contract"),
        "{line}"
    );
    assert!(!listed.contains(&token), "the token is never listed");
    assert!(!listed.contains("bad"), "{listed}");

    // The key works on the server for its purpose only.
    let server = Server::start(&data, &[]);
    create_borrower(&server, &token).await;
    let (status, _) = search(&server, &token, "iin", IIN).await;
    assert_eq!(status, 200);
    let res = client()
        .post(server.url("/subjects/search?purpose=identification"))
        .bearer_auth(&token)
        .json(&json!({"category": "iin", "value": IIN}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    let mut cmd = derbes(&data);
    cmd.args(["apikey", "revoke", &id]);
    let out = run(cmd);
    assert!(out.ok, "{out:?}");
    assert!(out.stdout.contains(&format!("revoked {id}")), "{out:?}");
    let listed = list();
    let line = listed
        .lines()
        .find(|l| l.contains(&id))
        .expect("key listed");
    assert!(line.contains("revoked"), "{line}");
    // Revocation is immediate, even for the running server.
    let (status, _) = search(&server, &token, "iin", IIN).await;
    assert_eq!(status, 401);
    server.stop();

    let mut cmd = derbes(&data);
    cmd.args(["apikey", "revoke", "no-such-key"]);
    let out = run(cmd);
    assert!(!out.ok && out.stderr.contains("no-such-key"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c5_6_keys_list_and_rotate_keep_old_subjects_readable() {
    let (_dir, data) = temp();
    let mut cmd = derbes(&data);
    cmd.args(["demo", "--count", "5", "--seed", "7"]);
    let out = run(cmd);
    assert!(out.ok, "{out:?}");
    assert!(out.stdout.contains("loaded 5"), "{out:?}");

    let mut cmd = derbes(&data);
    cmd.args([
        "apikey",
        "create",
        "--name",
        "ops",
        "--purpose",
        "contract,identification",
    ]);
    let out = run(cmd);
    assert!(out.ok, "{out:?}");
    let token = out
        .stdout
        .lines()
        .find(|l| l.starts_with("drb_"))
        .unwrap()
        .trim()
        .to_string();

    let key_file = data.join("keys.json");
    let keys_list = || {
        let mut cmd = derbes(&data);
        cmd.args(["keys", "list"]);
        let out = run(cmd);
        assert!(out.ok, "{out:?}");
        out
    };
    let out = keys_list();
    let v1 = out
        .stdout
        .lines()
        .find(|l| l.starts_with('1'))
        .unwrap_or_else(|| panic!("no version 1 in {out:?}"));
    assert!(v1.contains("yes"), "version 1 is current: {v1}");
    assert!(
        !out.stdout.contains("(generated"),
        "the key file already exists: {out:?}"
    );
    for (b64, _) in key_material(&key_file) {
        assert!(
            !out.stdout.contains(&b64) && !out.stderr.contains(&b64),
            "key bytes printed"
        );
    }

    let mut cmd = derbes(&data);
    cmd.args(["keys", "rotate"]);
    let out = run(cmd);
    assert!(out.ok, "{out:?}");
    assert!(
        out.stdout.contains("master key version 2 is now current"),
        "{out:?}"
    );
    assert!(out.stdout.contains("rewrapped 5 subjects"), "{out:?}");
    assert_eq!(mode(&key_file), 0o600, "key file mode after rotation");
    let material = key_material(&key_file);
    assert_eq!(material.len(), 3, "two master keys and the index root");

    let out = keys_list();
    assert!(out.stdout.lines().any(|l| l.starts_with('1')), "{out:?}");
    let v2 = out
        .stdout
        .lines()
        .find(|l| l.starts_with('2'))
        .expect("version 2");
    assert!(v2.contains("yes"), "version 2 is current: {v2}");
    for (b64, _) in &material {
        assert!(!out.stdout.contains(b64.as_str()), "key bytes printed");
    }

    // The server reads the subjects written under version 1.
    let server = Server::start(&data, &[]);
    assert!(server.line("generated a new key ring").is_none());
    for p in derbes_demo::generate(7, 5) {
        let iin = p.get_str("iin").unwrap();
        let ids = found_ids(&server, &token, "iin", iin).await;
        assert_eq!(ids.len(), 1, "{iin}");
        let res = client()
            .get(server.url(&format!("/subjects/{}?purpose=contract", ids[0])))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let view: Value = res.json().await.unwrap();
        assert_eq!(view["values"].as_array().unwrap().len(), 15);
    }
    // And writes new ones.
    create_borrower(&server, &token).await;
    assert_eq!(found_ids(&server, &token, "email", EMAIL).await.len(), 1);
    server.stop();
}

#[test]
fn c4_1_openapi_command_prints_the_committed_document() {
    let (_dir, data) = temp();
    let mut cmd = derbes(&data);
    cmd.arg("openapi");
    let out = run(cmd);
    assert!(out.ok, "{out:?}");
    let committed = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json"),
    )
    .expect("docs/openapi.json (UPDATE_OPENAPI=1 cargo test -p derbes --test api openapi)");
    assert!(
        out.stdout == committed,
        "`derbes openapi` differs from docs/openapi.json"
    );
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(!data.exists(), "`derbes openapi` creates no data folder");
}

/// Drops the PostgreSQL schema made for a test.
struct PgSchema(String);

impl Drop for PgSchema {
    fn drop(&mut self) {
        derbes_store::testing::drop_schema(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c3_1_serve_on_postgres() {
    let (url, schema) = derbes_store::testing::fresh_pg_url()
        .await
        .expect("PostgreSQL must be reachable: it is never skipped");
    let _guard = PgSchema(schema);
    let (_dir, data) = temp();
    let server = Server::start(&data, &["--database", &url, "--demo", "5"]);
    assert!(
        server.line("listening on").unwrap().contains("postgres"),
        "{:?}",
        server.stdout
    );
    let health: Value = client()
        .get(server.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["backend"], "postgres");
    let token = server.demo_token();
    for p in derbes_demo::generate(1, 5) {
        assert_eq!(
            found_ids(&server, &token, "iin", p.get_str("iin").unwrap())
                .await
                .len(),
            1
        );
    }
    let id = create_borrower(&server, &token).await;
    assert_eq!(
        found_ids(&server, &token, "mobile_phone", PHONE_TYPED).await,
        [id.as_str()]
    );
    assert!(
        !data.join("derbes.db").exists(),
        "no SQLite file when PostgreSQL is used"
    );
    assert_eq!(mode(&data.join("keys.json")), 0o600);
    server.stop();

    // A second start on the same schema and keys reads the data.
    let again = Server::start(&data, &["--database", &url]);
    assert!(again.line("generated a new key ring").is_none());
    assert_eq!(found_ids(&again, &token, "iin", IIN).await, [id.as_str()]);
    again.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_log_written_to_a_pipe_has_no_terminal_colour_codes() {
    let (_dir, data) = temp();
    let server = Server::start(&data, &[]);
    let res = client().get(server.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let (_, stderr) = server.stop();
    assert!(strip_ansi(&stderr).contains("status=200"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "the log written to a pipe/file (journald, docker, log files) carries ANSI colour \
         codes: {stderr:?}"
    );
}

#[test]
fn ops_port_in_use_fails_clearly() {
    let (_dir, data) = temp();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut cmd = derbes(&data);
    cmd.args(["serve", "--listen", &addr]);
    let out = run(cmd);
    assert!(!out.ok, "{out:?}");
    assert!(out.stderr.contains("cannot listen on"), "{out:?}");
    assert!(out.stderr.contains(&addr), "{out:?}");
    assert!(!out.stdout.contains("listening on"), "{out:?}");
}

/// Clause 5.4 (backups): `derbes backup` copies the live SQLite database consistently, checks
/// the copy, refuses to overwrite, and the copy serves the same data with the same key file.
/// The entries of `action` in the SQLite audit log at `data`, read from its file directly
/// (nothing derbes would fold first).
async fn logged(data: &Path, action: &str) -> i64 {
    let url = format!("sqlite://{}", data.join("derbes.audit.db").display());
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_entries WHERE action = $1")
        .bind(action)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    sqlx::Connection::close(conn).await.unwrap();
    n
}

/// 8.1 on SQLite: searches answered just before `derbes serve` is killed (SIGKILL: no
/// shutdown, no flush) are all on the log afterwards. Their entries went to the log's journal
/// (`sqlite_journal`) and had been folded into the log or not; the next process to open the
/// log (here `derbes audit verify`) folds what the journal holds before anything else, and
/// the log verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c8_1_searches_answered_before_a_kill_are_on_the_log_after_it() {
    let (_dir, data) = temp();
    let mut server = Server::start(&data, &["--demo", "3"]);
    let token = server.demo_token();
    create_borrower(&server, &token).await;
    const SEARCHES: i64 = 40;
    for _ in 0..SEARCHES {
        assert_eq!(found_ids(&server, &token, "iin", IIN).await.len(), 1);
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let before = logged(&data, "search").await;
    let journaled: u64 = derbes_store::journal_files_of(&data.join("derbes.audit.db"))
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    eprintln!("at the kill: {before} searches in the log, {journaled} bytes in its journal");

    let mut cmd = derbes(&data);
    cmd.args(["audit", "verify"]);
    let out = run(cmd);
    assert!(out.ok, "{out:?}");
    assert!(out.stdout.contains("audit log OK"), "{out:?}");
    assert_eq!(logged(&data, "search").await, SEARCHES, "{out:?}");
    for f in derbes_store::journal_files_of(&data.join("derbes.audit.db")) {
        assert_eq!(
            std::fs::metadata(&f).map(|m| m.len()).ok(),
            Some(0),
            "{f:?}"
        );
    }
}

#[tokio::test]
async fn c5_4_backup_copies_a_live_database_that_serves_the_same_data() {
    let (_dir, data) = temp();
    let server = Server::start(&data, &["--demo", "5"]);
    let token = server.demo_token();
    let id = create_borrower(&server, &token).await;
    let out_file = data.join("backup-copy.db");
    let mut cmd = derbes(&data);
    cmd.args(["backup", "--out", out_file.to_str().unwrap()]);
    let out = run(cmd);
    assert!(out.ok, "{out:?}");
    assert!(out.stdout.contains("(6 subjects)"), "{out:?}");
    assert!(
        out.stdout.contains("audit entries), integrity ok"),
        "{out:?}"
    );
    // The audit log (its own SQLite file) is copied beside the database's copy.
    let audit_copy = derbes_store::audit_file_of(&out_file);
    assert!(audit_copy.exists(), "{out:?}");
    // Refuses to overwrite an existing file.
    let mut cmd = derbes(&data);
    cmd.args(["backup", "--out", out_file.to_str().unwrap()]);
    let again = run(cmd);
    assert!(!again.ok, "{again:?}");
    server.stop();

    // Restore: the copy, with the original key file, serves the subject created before.
    let (_dir2, restored) = temp();
    std::fs::create_dir_all(&restored).unwrap();
    std::fs::copy(&out_file, restored.join("derbes.db")).unwrap();
    std::fs::copy(&audit_copy, restored.join("derbes.audit.db")).unwrap();
    let keys = data.join("keys.json");
    let second = Server::start(&restored, &["--key-file", keys.to_str().unwrap()]);
    assert_eq!(found_ids(&second, &token, "iin", IIN).await, [id.as_str()]);
    second.stop();
    // The restored log holds the original's entries (the create above among them) and more.
    let restored_store = derbes_store::SqliteStore::open(
        &format!("sqlite://{}", restored.join("derbes.db").display()),
        Default::default(),
    )
    .await
    .unwrap();
    use derbes_store::Store;
    let entries = restored_store.audit_entries(0, 100_000).await.unwrap();
    assert!(
        entries.iter().any(|e| e.action.as_str() == "create"),
        "the backup's audit log lost the creates"
    );
}

/// The API body of a demo subject (all its values, given by the subject).
fn demo_body(s: &derbes_demo::DemoSubject) -> Value {
    let values: Vec<Value> = s
        .values
        .iter()
        .map(|(c, v)| json!({"category": c, "value": v, "source": {"kind": "subject"}}))
        .collect();
    json!({ "values": values })
}

/// Issue 3, multi-process (clause 8.1, L-PROTECTION): two `derbes serve` processes on one
/// PostgreSQL database append to ONE audit log — creates and searches interleaved across both,
/// both signing checkpoints — and `derbes audit verify` then checks every entry and every
/// checkpoint of that one log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c8_1_two_servers_on_one_postgres_append_to_one_log_that_verifies() {
    let (url, schema) = derbes_store::testing::fresh_pg_url()
        .await
        .expect("PostgreSQL must be reachable: it is never skipped");
    let _guard = PgSchema(schema);
    let (_dir, data) = temp();
    let a = Server::start(
        &data,
        &["--database", &url, "--demo", "3", "--checkpoint-every", "1"],
    );
    let token = a.demo_token();
    let b = Server::start(&data, &["--database", &url, "--checkpoint-every", "1"]);

    let people = derbes_demo::generate(8_031, 24);
    // Two rounds, a checkpoint interval apart, so checkpoints are signed in the middle of the
    // interleaved log as well as at its end.
    for round in people.chunks(12) {
        let mut tasks = Vec::new();
        for (i, person) in round.iter().enumerate() {
            let server_url = if i % 2 == 0 {
                a.url("/subjects?purpose=contract")
            } else {
                b.url("/subjects?purpose=contract")
            };
            let search_url = if i % 2 == 0 {
                b.url("/subjects/search?purpose=contract")
            } else {
                a.url("/subjects/search?purpose=contract")
            };
            let body = demo_body(person);
            let iin = person.get_str("iin").unwrap().to_string();
            let token = token.clone();
            tasks.push(tokio::spawn(async move {
                let c = client();
                let res = c
                    .post(&server_url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status().as_u16(), 201, "{:?}", res.text().await);
                // Read it back through the OTHER process.
                let res = c
                    .post(&search_url)
                    .bearer_auth(&token)
                    .json(&json!({"category": "iin", "value": iin}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status().as_u16(), 200);
                let found: Value = res.json().await.unwrap();
                assert_eq!(found["subjects"].as_array().unwrap().len(), 1);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(2_500)).await;
    }
    // Stop both (each signs a last checkpoint at shutdown, if the log grew).
    a.stop();
    b.stop();

    let mut cmd = derbes(&data);
    cmd.args(["audit", "verify", "--database", &url]);
    let out = run(cmd);
    assert!(out.ok, "{out:?}");
    assert!(out.stdout.contains("audit log OK"), "{out:?}");
    // 3 demo creates + 24 creates + 24 searches, at least, in one chain.
    let entries: u64 = out
        .stdout
        .split("entries: ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no entry count in {out:?}"));
    assert!(entries >= 51, "{out:?}");
    let checkpoints: u64 = out
        .stdout
        .split("checkpoints: ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no checkpoint count in {out:?}"));
    assert!(checkpoints >= 2, "{out:?}");
    assert!(out.stdout.contains("unsigned tail: 0"), "{out:?}");
}

#[test]
fn c9_2_policy_publish_list_show_and_calendar_deadline() {
    let (dir, data) = temp();
    let ru = dir.path().join("policy.ru.txt");
    let kk = dir.path().join("policy.kk.txt");
    std::fs::write(&ru, "Политика, редакция 1").unwrap();
    std::fs::write(&kk, "Саясат, 1-редакция").unwrap();
    // The language comes from the file name; Kazakh is required.
    let mut cmd = derbes(&data);
    cmd.args(["policy", "publish", ru.to_str().unwrap()])
        .args(["--operator-bin", "100140005679"]);
    let out = run(cmd);
    assert!(!out.ok && out.stderr.contains("Kazakh"), "{out:?}");
    let mut cmd = derbes(&data);
    cmd.args([
        "policy",
        "publish",
        ru.to_str().unwrap(),
        kk.to_str().unwrap(),
    ])
    .args(["--operator-bin", "100140005679", "--significant"])
    .args(["--notice-url", "https://example.kz/policy"]);
    let out = run(cmd);
    assert!(out.ok, "{out:?}");
    assert!(out.stdout.contains("published policy version 1"), "{out:?}");
    assert!(out.stdout.contains("significant: yes"), "{out:?}");
    // 9.2: a significant version enqueues its notice job at once.
    assert!(
        out.stdout.contains("enqueued notice job") && out.stdout.contains("for policy version 1"),
        "{out:?}"
    );
    let mut cmd = derbes(&data);
    cmd.args(["notices", "status"]);
    let status = run(cmd);
    assert!(
        status.ok && !status.stdout.contains("no notice jobs"),
        "{status:?}"
    );
    let mut cmd = derbes(&data);
    cmd.args(["policy", "show", "--lang", "kk"]);
    let out = run(cmd);
    assert!(out.ok, "{out:?}");
    assert_eq!(out.stdout.trim(), "Саясат, 1-редакция");
    let mut cmd = derbes(&data);
    cmd.args(["policy", "list"]);
    let out = run(cmd);
    assert!(out.ok && out.stdout.contains("in effect"), "{out:?}");

    // L-CONSENT-3: 15 working days from Mon 27 April 2026 skip 1, 7 and 11 May.
    let mut cmd = derbes(&data);
    cmd.args(["calendar", "deadline", "2026-04-27"]);
    let out = run(cmd);
    assert!(out.ok, "{out:?}");
    assert_eq!(out.stdout.trim(), "2026-05-21");
    // The operator keeps the calendar as data: a broken file is refused, naming the problem.
    let mut cmd = derbes(&data);
    cmd.args(["calendar", "export"]);
    let exported = run(cmd);
    assert!(exported.ok);
    let broken = dir.path().join("calendar.toml");
    std::fs::write(&broken, exported.stdout.replace("version =", "versio =")).unwrap();
    let mut cmd = derbes(&data);
    cmd.args(["calendar", "check", broken.to_str().unwrap()]);
    let out = run(cmd);
    assert!(!out.ok && out.stderr.contains("invalid"), "{out:?}");
}

/// The value after `label` on the stdout line that starts with it.
fn printed<'a>(out: &'a Output, label: &str) -> &'a str {
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {label:?} line: {out:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c4_3_employee_bootstrap_admin_login_list_unlock_disable() {
    let (_dir, data) = temp();
    let mut cmd = derbes(&data);
    cmd.args(["employee", "create", "--login", "Boss", "--role", "admin"]);
    let out = run(cmd);
    assert!(out.ok, "{out:?}");
    let password = printed(&out, "initial password (shown once):").to_string();
    let secret = printed(&out, "TOTP secret (shown once):").to_string();
    let uri = printed(&out, "TOTP enrolment URI (shown once):").to_string();
    assert!(
        uri.starts_with("otpauth://totp/derbes:boss?secret="),
        "{uri}"
    );
    assert!(uri.contains(&secret));
    let id = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("created employee "))
        .and_then(|r| r.split(' ').next())
        .expect("employee id")
        .to_string();
    // The secret and password are in the database only as ciphertext and an Argon2id hash.
    let db = db_bytes(&data);
    assert!(!contains(&db, password.as_bytes()));
    assert!(!contains(&db, secret.as_bytes()));
    assert!(contains(&db, b"$argon2id$v=19$m=19456,t=2,p=1$"));

    let mut cmd = derbes(&data);
    cmd.args(["employee", "create", "--login", "boss", "--role", "admin"]);
    let dup = run(cmd);
    assert!(!dup.ok, "{dup:?}");

    let server = Server::start(&data, &[]);
    let c = client();
    let login = |pw: String| {
        let c = c.clone();
        let url = server.url("/auth/login");
        async move {
            c.post(url)
                .json(&json!({"login": "boss", "password": pw}))
                .send()
                .await
                .unwrap()
        }
    };
    let res = login(password.clone()).await;
    assert_eq!(res.status(), 200);
    let pending: Value = res.json().await.unwrap();
    let key = derbes_service::totp::base32_decode(&secret).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let code = derbes_service::totp::code_at(&key, derbes_service::totp::step_of(now));
    let res = c
        .post(server.url("/auth/totp"))
        .json(&json!({"pending_token": pending["pending_token"], "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let session: Value = res.json().await.unwrap();
    let token = session["token"].as_str().unwrap().to_string();
    let me = c
        .get(server.url("/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);

    // Lock the login with wrong passwords; the CLI unlocks it.
    for _ in 0..5 {
        assert_eq!(login("wrong-password".into()).await.status(), 401);
    }
    assert_eq!(login(password.clone()).await.status(), 401);
    let mut cmd = derbes(&data);
    cmd.args(["employee", "unlock", "boss"]);
    let out = run(cmd);
    assert!(
        out.ok && out.stdout.contains(&format!("unlocked {id}")),
        "{out:?}"
    );
    assert_eq!(login(password.clone()).await.status(), 200);

    let mut cmd = derbes(&data);
    cmd.args(["employee", "list"]);
    let out = run(cmd);
    assert!(out.ok, "{out:?}");
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains(&id))
        .expect("listed");
    assert!(line.contains("boss") && line.contains("admin") && line.contains("active"));
    assert!(!out.stdout.contains(&password));

    // Disabling from the CLI ends the running server's session at once.
    let mut cmd = derbes(&data);
    cmd.args(["employee", "disable", &id]);
    let out = run(cmd);
    assert!(out.ok, "{out:?}");
    let me = c
        .get(server.url("/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
    let (_, stderr) = server.stop();
    assert!(!stderr.contains(&password) && !stderr.contains(&token));
}

/// `derbes notices enqueue / run / status` against a real SMTP server (the sink) started by the
/// test (clause 9.2): one job per version, every demo borrower notified once, the summary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c9_2_notices_cli_enqueue_run_status() {
    let (_dir, data) = temp();
    let notices = |args: &[&str]| {
        let mut cmd = derbes(&data);
        for v in [
            "DERBES_SMTP_HOST",
            "DERBES_SMTP_PORT",
            "DERBES_SMTP_TLS",
            "DERBES_SMTP_FROM",
        ] {
            cmd.env_remove(v);
        }
        cmd.arg("notices").args(args);
        run(cmd)
    };
    let mut cmd = derbes(&data);
    cmd.args(["demo", "--count", "6", "--seed", "9"]);
    let out = run(cmd);
    assert!(out.ok, "{out:?}");

    let out = notices(&["status"]);
    assert!(out.ok && out.stdout.contains("no notice jobs"), "{out:?}");
    let url = "https://mfo.example.kz/policy/3";
    let out = notices(&["enqueue", "--version", "3", "--url", url]);
    assert!(out.ok && out.stdout.contains("6 subjects"), "{out:?}");
    let out = notices(&["enqueue", "--version", "3", "--url", url]);
    assert!(
        out.ok && out.stdout.contains("already has notice job"),
        "{out:?}"
    );
    // Sending needs an SMTP server.
    let out = notices(&["run"]);
    assert!(!out.ok && out.stderr.contains("--smtp-host"), "{out:?}");

    let sink = derbes_notify::sink::Sink::start().await.unwrap();
    let port = sink.addr().port().to_string();
    let smtp = [
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        port.as_str(),
        "--smtp-tls",
        "none",
        "--smtp-from",
        "privacy@mfo.example.kz",
    ];
    let out = notices(&[&["run"][..], &smtp[..]].concat());
    assert!(out.ok, "{out:?}");
    assert!(
        out.stdout.contains("6 sent") && out.stdout.contains("done"),
        "{out:?}"
    );
    let messages = sink.messages();
    assert_eq!(messages.len(), 6);
    let mut rcpts: Vec<&String> = messages.iter().flat_map(|m| &m.rcpt_to).collect();
    rcpts.sort();
    rcpts.dedup();
    assert_eq!(rcpts.len(), 6, "one message per borrower");
    assert!(messages
        .iter()
        .all(|m| m.raw_header("X-Policy-Version").as_deref() == Some("3")));
    // No address is printed.
    assert!(
        !out.stdout.contains('@') && !out.stderr.contains('@'),
        "{out:?}"
    );

    let out = notices(&["status"]);
    assert!(
        out.ok && out.stdout.contains("6 sent") && out.stdout.contains("done"),
        "{out:?}"
    );
    let out = notices(&["status", "--json"]);
    let jobs: Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(jobs[0]["counts"]["sent"], 6);
    assert_eq!(jobs[0]["policy_version"], 3);
    let id = jobs[0]["id"].as_str().unwrap().to_string();
    let out = notices(&["status", &id]);
    assert!(out.ok && out.stdout.contains("100.0%"), "{out:?}");
    let out = notices(&["status", "0190f1f2-0000-7000-8000-000000000000"]);
    assert!(!out.ok && out.stderr.contains("no notice job"), "{out:?}");
    // A second run sends nothing more.
    let out = notices(&[&["run"][..], &smtp[..]].concat());
    assert!(out.ok, "{out:?}");
    assert_eq!(sink.messages().len(), 6);
}

/// `derbes bench` (docs/benchmarks.md), small: every figure is printed with its baseline, the
/// ingest's rounds each load fresh files (derbes first in even rounds) and the figure is their
/// median; the scratch files, the rounds' included, are removed at the end, and a leftover
/// file of a round makes the benchmark refuse to start rather than measure on old data.
#[test]
fn ops_bench_prints_every_figure_with_ingest_rounds_and_leaves_no_files() {
    let (dir, data) = temp();
    let scratch = dir.path().join("scratch");
    let bench = |scratch: &Path| {
        let mut cmd = derbes(&data);
        cmd.args([
            "bench",
            "--subjects",
            "300",
            "--reads",
            "60",
            "--creates",
            "40",
            "--clients",
            "4",
            "--read-tasks",
            "4",
            "--audit-rounds",
            "2",
            "--ingest-rounds",
            "3",
            "--log",
            "warn",
            "--dir",
        ])
        .arg(scratch);
        run(cmd)
    };
    let out = bench(&scratch);
    assert!(out.ok, "{out:?}");
    for row in [
        "1. bulk ingest",
        "2. reads by IIN",
        "2b. audit cost",
        "2c. the same",
        "3. durable",
    ] {
        assert!(out.stdout.contains(row), "no row {row}: {out:?}");
    }
    assert!(
        out.stdout.contains("median of 3 rounds (subjects/s)"),
        "{out:?}"
    );
    let line_with = |needle: &str| {
        out.stdout
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle}: {out:?}"))
    };
    let rounds = line_with("ingest rounds (subjects/s");
    assert_eq!(rounds.matches("×)").count(), 3, "{rounds}");
    // The figure is the middle one of the rounds' ratios.
    let mut ratios: Vec<f64> = rounds
        .split(" (")
        .skip(1)
        .filter_map(|p| p.split("×)").next()?.parse().ok())
        .collect();
    ratios.sort_by(f64::total_cmp);
    assert_eq!(ratios.len(), 3, "{rounds}");
    assert!(
        rounds.contains(&format!("median ratio {:.2}×", ratios[1])),
        "{rounds}"
    );
    // Each audit round shows both sides' rates and their CPU per read.
    let audit = line_with("reads/s with the audit log on / off per round");
    assert_eq!(audit.matches("; CPU per read ").count(), 2, "{audit}");
    assert_eq!(audit.matches(" µs / ").count(), 2, "{audit}");
    for order in [
        "running ingest round 2: derbes",
        "running ingest round 2: baseline",
        "running ingest round 3: baseline",
        "running ingest round 3: derbes",
    ] {
        assert!(out.stdout.contains(order), "no {order}: {out:?}");
    }
    let at = |what: &str| out.stdout.find(what).unwrap();
    assert!(
        at("running ingest: baseline") < at("running ingest: derbes"),
        "{out:?}"
    );
    assert!(at("round 2: derbes") < at("round 2: baseline"), "{out:?}");
    assert!(at("round 3: baseline") < at("round 3: derbes"), "{out:?}");
    let left: Vec<_> = std::fs::read_dir(&scratch)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "files left behind: {left:?}");

    // A round's file left over from an earlier run: refused before anything is measured.
    std::fs::create_dir_all(&scratch).unwrap();
    std::fs::write(scratch.join("derbes-ingest-round.db"), b"old").unwrap();
    let out = bench(&scratch);
    assert!(!out.ok, "{out:?}");
    assert!(
        out.stderr.contains("derbes-ingest-round.db already exists"),
        "{out:?}"
    );
    assert!(!out.stdout.contains("running ingest"), "{out:?}");
}

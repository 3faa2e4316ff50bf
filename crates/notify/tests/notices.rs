//! Policy-change notices (clause 9.2) end to end: a vault on SQLite and on PostgreSQL, the
//! notice runner, and a real SMTP server (the sink) on a local port. Time is a FixedClock:
//! back-off is tested by moving it, never by sleeping.

use chrono::{DateTime, TimeZone, Utc};
use derbes_core::clock::{to_micros, Clock, FixedClock};
use derbes_core::registry::{Lang, Registry};
use derbes_crypto::KeyRing;
use derbes_notify::sink::{ReceivedMessage, Sink, SinkMode};
use derbes_notify::{
    enqueue_policy_change, job_status, message_id, DefaultLanguage, NoticeTexts, Notifier,
    RecipientError, RunOptions, SmtpSettings, SubjectLanguage, VaultRecipients,
};
use derbes_service::{Actor, Call, NewSubjectInput, Source, SourceKind, ValueInput, Vault};
use derbes_store::testing::{both, FreshDb};
use derbes_store::SubjectId;
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use uuid::Uuid;

const FROM: &str = "privacy@mfo.example.kz";
const URL: &str = "https://mfo.example.kz/policy/4";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 1, 10, 0, 0).single().unwrap()
}

struct Env {
    vault: Vault,
    clock: Arc<FixedClock>,
    sink: Sink,
    db: FreshDb,
}

impl Env {
    fn name(&self) -> &'static str {
        self.db.store.backend().as_str()
    }
}

async fn envs() -> Vec<Env> {
    capture_logs();
    let mut out = Vec::new();
    for db in both()
        .await
        .expect("test databases (is PostgreSQL running?)")
    {
        let clock = Arc::new(FixedClock::new(t0()));
        let keys = Arc::new(KeyRing::generate(t0()).unwrap());
        let registry = Arc::new(Registry::embedded().unwrap());
        let vault = Vault::open(db.store.clone(), keys, registry, clock.clone())
            .await
            .unwrap();
        let sink = Sink::start().await.unwrap();
        out.push(Env {
            vault,
            clock,
            sink,
            db,
        });
    }
    out
}

/// A subject of the test: its id and address (if it has one).
#[derive(Clone)]
struct Person {
    id: Uuid,
    email: Option<String>,
}

impl Person {
    fn sid(&self) -> SubjectId {
        *self.id.as_bytes()
    }
}

fn address(backend: &str, i: usize) -> String {
    format!("borrower.{backend}.{i}@post.example.kz")
}

/// `n` demo borrowers; those in `no_email` have no e-mail address.
async fn people(env: &Env, n: usize, no_email: &[usize]) -> Vec<Person> {
    let call = Call::new(Actor::System("test"), "contract");
    let mut out = Vec::new();
    for (i, d) in derbes_demo::generate(7, n).into_iter().enumerate() {
        let email = (!no_email.contains(&i)).then(|| address(env.name(), i));
        let values = d
            .values
            .into_iter()
            .filter(|(c, _)| *c != "email")
            .map(|(c, v)| (c.to_string(), v))
            .chain(email.clone().map(|e| ("email".to_string(), e.into())))
            .map(|(category, value)| ValueInput {
                category,
                value,
                source: Source {
                    kind: SourceKind::Subject,
                    name: None,
                },
                obtained_at: None,
            })
            .collect();
        let view = env
            .vault
            .create_subject(&call, NewSubjectInput { values })
            .await
            .unwrap();
        out.push(Person { id: view.id, email });
    }
    out
}

/// Languages chosen per subject (as the consent ledger will give them); Russian otherwise.
struct Languages(HashMap<SubjectId, Lang>);

#[async_trait::async_trait]
impl SubjectLanguage for Languages {
    async fn language(&self, subject: &SubjectId) -> Result<Lang, RecipientError> {
        Ok(self.0.get(subject).copied().unwrap_or(Lang::Ru))
    }
}

fn opts() -> RunOptions {
    RunOptions {
        batch: 16,
        concurrency: 4,
        max_attempts: 3,
        backoff_base: chrono::Duration::seconds(60),
        backoff_max: chrono::Duration::hours(1),
        claim_lease: chrono::Duration::minutes(10),
    }
}

fn notifier(env: &Env, langs: Arc<dyn SubjectLanguage>, opts: RunOptions) -> Notifier {
    let mut smtp = SmtpSettings::local(env.sink.addr().port(), FROM);
    smtp.connections = 4;
    Notifier::new(
        env.db.store.clone(),
        Arc::new(VaultRecipients::new(env.vault.clone())),
        langs,
        env.clock.clone(),
        &smtp,
        opts,
    )
    .unwrap()
}

async fn enqueue(env: &Env, version: i64) -> String {
    let texts = NoticeTexts::standard(version, URL).unwrap();
    let (status, created) =
        enqueue_policy_change(env.db.store.as_ref(), env.clock.as_ref(), &texts)
            .await
            .unwrap();
    assert!(created);
    status.id.to_string()
}

/// How many messages each recipient received.
fn per_recipient(messages: &[ReceivedMessage]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for msg in messages {
        for r in &msg.rcpt_to {
            *m.entry(r.clone()).or_insert(0) += 1;
        }
    }
    m
}

fn parsed(msg: &ReceivedMessage) -> mail_parser::Message<'_> {
    mail_parser::MessageParser::default()
        .parse(&msg.data)
        .expect("a parsable message")
}

#[tokio::test]
async fn c9_2_each_subject_with_email_gets_the_notice_in_their_language() {
    for env in envs().await {
        let people = people(&env, 9, &[2, 7]).await;
        let langs: HashMap<SubjectId, Lang> = [
            (people[0].sid(), Lang::Kk),
            (people[1].sid(), Lang::En),
            (people[3].sid(), Lang::Kk),
        ]
        .into_iter()
        .collect();
        let job = enqueue(&env, 4).await;
        // Publishing again does not create a second job.
        let texts = NoticeTexts::standard(4, URL).unwrap();
        let (again, created) =
            enqueue_policy_change(env.db.store.as_ref(), env.clock.as_ref(), &texts)
                .await
                .unwrap();
        assert!(!created);
        assert_eq!(again.id.to_string(), job);

        let n = notifier(&env, Arc::new(Languages(langs.clone())), opts());
        let report = n.run_job(&job).await.unwrap();
        assert_eq!(
            (
                report.sent,
                report.skipped_no_email,
                report.failed,
                report.done
            ),
            (7, 2, 0, true),
            "[{}]",
            env.name()
        );

        let messages = env.sink.messages();
        assert_eq!(messages.len(), 7);
        let by_rcpt: HashMap<String, &ReceivedMessage> =
            messages.iter().map(|m| (m.rcpt_to[0].clone(), m)).collect();
        for p in &people {
            let Some(email) = &p.email else {
                continue;
            };
            let msg = by_rcpt.get(email).expect("a message for every address");
            assert_eq!(msg.rcpt_to.len(), 1);
            assert_eq!(msg.mail_from, FROM);
            let lang = langs.get(&p.sid()).copied().unwrap_or(Lang::Ru);
            let (want, used) = texts.for_lang(lang);
            assert_eq!(used, lang, "every language has its text here");
            let m = parsed(msg);
            assert_eq!(m.subject(), Some(want.subject.as_str()));
            // Mail travels with CRLF line ends.
            let body = m.body_text(0).expect("a text body").replace("\r\n", "\n");
            assert_eq!(body.trim_end(), want.body.trim_end());
            assert!(body.contains(URL) && body.contains('4'));
            assert_eq!(
                msg.raw_header("Content-Language").as_deref(),
                Some(lang.as_str())
            );
            assert_eq!(msg.raw_header("X-Policy-Version").as_deref(), Some("4"));
            assert_eq!(
                msg.raw_header("Message-ID"),
                Some(message_id(&job, &p.sid(), "mfo.example.kz"))
            );
            assert_eq!(
                m.to().and_then(|a| a.first()).and_then(|a| a.address()),
                Some(email.as_str())
            );
        }
        // Per-subject statuses, and the summary.
        let store = env.db.store.as_ref();
        let rows = store.notice_deliveries(&job, None, 100).await.unwrap();
        assert_eq!(rows.len(), 9);
        for p in &people {
            let row = rows.iter().find(|r| r.subject_id == p.sid()).unwrap();
            match &p.email {
                Some(_) => {
                    assert_eq!(row.status, "sent");
                    assert_eq!(row.attempts, 1);
                    assert_eq!(row.sent_at, Some(to_micros(t0())));
                    assert_eq!(
                        row.message_id,
                        Some(message_id(&job, &p.sid(), "mfo.example.kz"))
                    );
                }
                None => assert_eq!(row.status, "skipped_no_email"),
            }
        }
        let status = job_status(store, Uuid::parse_str(&job).unwrap())
            .await
            .unwrap();
        assert_eq!(status.state, "done");
        assert_eq!(
            (
                status.counts.sent,
                status.counts.skipped_no_email,
                status.counts.total
            ),
            (7, 2, 9)
        );
        assert_eq!(status.progress_percent, 100.0);
        assert!(status.summary().contains("7 sent"));
        // Every address was read through the vault under `correspondence`, and audited.
        let audit = store
            .audit_for_subject(&people[0].id.to_string(), 10)
            .await
            .unwrap();
        assert!(audit.iter().any(|e| e.actor == "system:notices"
            && e.purpose.as_deref() == Some("correspondence")
            && e.categories == vec!["email".to_string()]));
        // A second run sends nothing more.
        let again = n.run_job(&job).await.unwrap();
        assert_eq!((again.attempted, again.done), (0, true));
        assert_eq!(env.sink.messages().len(), 7);
    }
}

#[tokio::test]
async fn c9_2_transient_refusals_back_off_exponentially_then_fail() {
    for env in envs().await {
        let people = people(&env, 3, &[]).await;
        let job = enqueue(&env, 5).await;
        let n = notifier(&env, Arc::new(DefaultLanguage), opts());
        let store = env.db.store.as_ref();
        env.sink.set_mode(SinkMode::TempFail);

        let r = n.run_job(&job).await.unwrap();
        assert_eq!(
            (r.retried, r.sent, r.done),
            (3, 0, false),
            "[{}]",
            env.name()
        );
        let due = |rows: &[derbes_store::notices::NoticeDeliveryRecord]| {
            rows.iter().map(|r| r.next_attempt_at).collect::<Vec<_>>()
        };
        let rows = store.notice_deliveries(&job, None, 10).await.unwrap();
        let first_retry = to_micros(t0() + chrono::Duration::seconds(60));
        assert_eq!(due(&rows), vec![first_retry; 3]);
        assert!(rows
            .iter()
            .all(|r| r.last_error.as_deref() == Some("smtp_451") && r.status == "pending"));

        // Not due yet: nothing is attempted.
        env.clock.advance(chrono::Duration::seconds(59));
        assert_eq!(n.run_job(&job).await.unwrap().attempted, 0);
        env.clock.advance(chrono::Duration::seconds(1));
        assert_eq!(n.run_job(&job).await.unwrap().retried, 3);
        // The second wait is twice the first.
        let rows = store.notice_deliveries(&job, None, 10).await.unwrap();
        let second_retry = to_micros(env.clock.now() + chrono::Duration::seconds(120));
        assert_eq!(due(&rows), vec![second_retry; 3]);

        // One mailbox recovers on the third attempt; the others stay refused and fail.
        env.clock.advance(chrono::Duration::seconds(120));
        env.sink.set_mode(SinkMode::Accept);
        let victim = people[1].email.clone().unwrap();
        env.sink.reject_recipient(&people[0].email.clone().unwrap());
        env.sink.reject_recipient(&victim);
        let r = n.run_job(&job).await.unwrap();
        assert_eq!((r.sent, r.failed, r.done), (1, 2, true));
        let status = job_status(store, Uuid::parse_str(&job).unwrap())
            .await
            .unwrap();
        assert_eq!((status.counts.sent, status.counts.failed), (1, 2));
        assert_eq!(status.errors.len(), 1);
        assert_eq!(
            (
                status.errors[0].status.as_str(),
                status.errors[0].code.as_str(),
                status.errors[0].count
            ),
            ("failed", "smtp_550", 2)
        );
        assert_eq!(
            per_recipient(&env.sink.messages()).get(people[2].email.as_ref().unwrap()),
            Some(&1)
        );
    }
}

#[tokio::test]
async fn c9_2_attempts_are_limited_and_permanent_refusals_are_not_retried() {
    for env in envs().await {
        let people = people(&env, 2, &[]).await;
        let job = enqueue(&env, 6).await;
        let n = notifier(&env, Arc::new(DefaultLanguage), opts());
        env.sink.reject_recipient(people[0].email.as_ref().unwrap());
        env.sink.set_mode(SinkMode::TempFail);
        let r = n.run_job(&job).await.unwrap();
        // 550 at RCPT comes before the 451 at the end of DATA.
        assert_eq!((r.failed, r.retried), (1, 1), "[{}]", env.name());
        for wait in [60, 120] {
            env.clock.advance(chrono::Duration::seconds(wait));
            n.run_job(&job).await.unwrap();
        }
        let rows = env
            .db
            .store
            .notice_deliveries(&job, None, 10)
            .await
            .unwrap();
        let temp = rows
            .iter()
            .find(|r| r.subject_id == people[1].sid())
            .unwrap();
        assert_eq!(
            (
                temp.status.as_str(),
                temp.attempts,
                temp.last_error.as_deref()
            ),
            ("failed", 3, Some("smtp_451"))
        );
        let perm = rows
            .iter()
            .find(|r| r.subject_id == people[0].sid())
            .unwrap();
        assert_eq!((perm.status.as_str(), perm.attempts), ("failed", 1));
        assert!(env.db.store.notice_job(&job).await.unwrap().unwrap().state == "done");
        assert!(env.sink.messages().is_empty());
    }
}

#[tokio::test]
async fn c9_2_server_failing_mid_run_loses_no_notice_and_sends_none_twice() {
    for env in envs().await {
        let people = people(&env, 40, &[]).await;
        let job = enqueue(&env, 7).await;
        let n = notifier(&env, Arc::new(DefaultLanguage), opts());
        env.sink.fail_after(13);
        let r = n.run_job(&job).await.unwrap();
        assert_eq!(r.stopped, Some("server_unavailable"), "[{}]", env.name());
        assert_eq!(env.sink.mode(), SinkMode::Down);
        assert_eq!(r.sent, 13, "every 250 is recorded as sent");
        assert!(!r.done);
        // The runner stopped claiming: most deliveries were never attempted.
        let c = env.db.store.notice_counts(&job).await.unwrap();
        assert_eq!((c.sent, c.sending, c.pending), (13, 0, 27));
        assert!(r.retried <= 4, "only the transactions in flight failed");

        // The server comes back; the job is resumed once the back-off has passed.
        env.sink.set_mode(SinkMode::Accept);
        env.clock.advance(chrono::Duration::seconds(60));
        let r = n.run_job(&job).await.unwrap();
        assert!(r.done, "[{}] {r:?}", env.name());
        let got = per_recipient(&env.sink.messages());
        assert_eq!(got.len(), 40);
        for p in &people {
            assert_eq!(
                got.get(p.email.as_ref().unwrap()),
                Some(&1),
                "exactly one each"
            );
        }
        let c = env.db.store.notice_counts(&job).await.unwrap();
        assert_eq!(c.sent, 40);
    }
}

#[tokio::test]
async fn c9_2_a_runner_that_died_mid_job_is_resumed_after_its_claim_lease() {
    for env in envs().await {
        let people = people(&env, 12, &[]).await;
        let job = enqueue(&env, 8).await;
        // A runner claims five deliveries and dies before any SMTP transaction.
        let dead = env
            .db
            .store
            .claim_notice_deliveries(&job, to_micros(t0()), 5)
            .await
            .unwrap();
        assert_eq!(dead.len(), 5);
        let n = notifier(&env, Arc::new(DefaultLanguage), opts());
        // While its lease runs, its claims are left alone (it might still be sending).
        env.clock.advance(chrono::Duration::minutes(1));
        let r = n.run_job(&job).await.unwrap();
        assert_eq!(
            (r.sent, r.released_stale, r.done),
            (7, 0, false),
            "[{}]",
            env.name()
        );
        env.clock.advance(chrono::Duration::minutes(10));
        let r = n.run_job(&job).await.unwrap();
        assert_eq!((r.sent, r.released_stale, r.done), (5, 5, true));
        let got = per_recipient(&env.sink.messages());
        for p in &people {
            assert_eq!(got.get(p.email.as_ref().unwrap()), Some(&1));
        }
        let rows = env
            .db
            .store
            .notice_deliveries(&job, None, 20)
            .await
            .unwrap();
        for d in &dead {
            let row = rows.iter().find(|r| r.subject_id == d.subject_id).unwrap();
            assert_eq!((row.status.as_str(), row.attempts), ("sent", 2));
        }
    }
}

#[tokio::test]
async fn c9_2_a_lost_final_reply_is_retried_with_the_same_message_id() {
    // The one window SMTP cannot close: the server took the message but its 250 never
    // arrived. The runner retries (at-least-once); the copy carries the same Message-ID.
    for env in envs().await {
        let people = people(&env, 1, &[]).await;
        let job = enqueue(&env, 9).await;
        let n = notifier(&env, Arc::new(DefaultLanguage), opts());
        env.sink.drop_after_data(1);
        let r = n.run_job(&job).await.unwrap();
        assert_eq!((r.sent, r.retried), (0, 1), "[{}]", env.name());
        env.clock.advance(chrono::Duration::seconds(60));
        let r = n.run_job(&job).await.unwrap();
        assert_eq!((r.sent, r.done), (1, true));
        let msgs = env.sink.messages();
        assert_eq!(msgs.len(), 2);
        let want = Some(message_id(&job, &people[0].sid(), "mfo.example.kz"));
        assert!(msgs.iter().all(|m| m.raw_header("Message-ID") == want));
    }
}

#[tokio::test]
async fn c4_1_no_address_in_logs_statuses_or_error_codes() {
    let mut addresses = Vec::new();
    for env in envs().await {
        let people = people(&env, 4, &[]).await;
        addresses.extend(people.iter().filter_map(|p| p.email.clone()));
        let job = enqueue(&env, 10).await;
        let n = notifier(&env, Arc::new(DefaultLanguage), opts());
        // Real servers quote the address in refusals; the sink does too.
        env.sink.reject_recipient(people[0].email.as_ref().unwrap());
        env.sink.fail_after(2);
        n.run_job(&job).await.unwrap();
        env.sink.set_mode(SinkMode::Accept);
        env.clock.advance(chrono::Duration::seconds(60));
        n.run_job(&job).await.unwrap();
        let rows = env
            .db
            .store
            .notice_deliveries(&job, None, 10)
            .await
            .unwrap();
        let mut texts: Vec<String> = rows
            .iter()
            .map(|r| format!("{:?} {:?}", r.last_error, r.status))
            .collect();
        let status = job_status(env.db.store.as_ref(), Uuid::parse_str(&job).unwrap())
            .await
            .unwrap();
        texts.push(serde_json::to_string(&status).unwrap());
        texts.push(format!("{status:?}"));
        for t in &texts {
            assert!(!t.contains('@'), "[{}] {t}", env.name());
        }
        let failed = rows
            .iter()
            .find(|r| r.subject_id == people[0].sid())
            .unwrap();
        assert_eq!(failed.last_error.as_deref(), Some("smtp_550"));
    }
    let logs = captured();
    assert!(
        logs.contains("notice pass finished"),
        "the runner logs its passes"
    );
    for a in &addresses {
        assert!(
            !logs.contains(a.as_str()),
            "an address leaked into the logs"
        );
    }
}

// --- log capture ----------------------------------------------------------------------------

#[derive(Clone)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuf {
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

/// Record every event at TRACE from every thread, once per process.
fn capture_logs() -> Arc<Mutex<Vec<u8>>> {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUF.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = LogBuf(buf.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buf
    })
    .clone()
}

fn captured() -> String {
    let bytes = capture_logs()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    String::from_utf8_lossy(&bytes).into_owned()
}

//! `derbes bench --only cabinet`: the cost of "what is held about me" (7.1a) and of the JSON
//! export (7.1b) for a subject with 50 stored values (15 current + 35 corrected versions of
//! `employer`), 20 consent decisions and 1,000 audit entries about them — server-side (the
//! service call alone) and over HTTP, beside a baseline measured in the same run: a static
//! body of the same size served by the same server (same router, middleware, loopback).

use crate::app::AnyError;
use derbes_audit::{Action, Outcome};
use derbes_core::clock::{Clock, SystemClock};
use derbes_core::registry::{Lang, Registry};
use derbes_crypto::KeyRing;
use derbes_service::audit::entry;
use derbes_service::cabinet::{Cabinet, CabinetSettings, ExportFormat, SubjectSession};
use derbes_service::consent_service::{
    Channel, ConsentChange, ConsentInput, ConsentService, ConsentSettings, Decision, Evidence,
    PublishInput,
};
use derbes_service::sms::MemorySmsSink;
use derbes_service::{Actor, Call, Source, SourceKind, ValueInput, Vault};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Timed calls per measurement.
const N: usize = 300;

/// One measurement's latencies.
pub struct Timing(Vec<Duration>);

impl Timing {
    fn pct(&self, p: f64) -> Duration {
        let mut v = self.0.clone();
        v.sort();
        let i = ((v.len() as f64 - 1.0) * p).round() as usize;
        v.get(i).copied().unwrap_or_default()
    }

    fn line(&self) -> String {
        format!(
            "p50 {:>8.2} ms  p99 {:>8.2} ms",
            self.pct(0.50).as_secs_f64() * 1e3,
            self.pct(0.99).as_secs_f64() * 1e3
        )
    }
}

async fn time<F, Fut>(mut f: F) -> Result<Timing, AnyError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), AnyError>>,
{
    for _ in 0..20 {
        f().await?;
    }
    let mut out = Vec::with_capacity(N);
    for _ in 0..N {
        let t = Instant::now();
        f().await?;
        out.push(t.elapsed());
    }
    Ok(Timing(out))
}

/// Run the cabinet benchmark in `dir`; returns Markdown rows for docs/benchmarks.md.
pub async fn run(dir: &Path) -> Result<String, AnyError> {
    let path = dir.join("cabinet-bench.db");
    let store = derbes_store::open(
        &format!("sqlite:{}", path.display()),
        derbes_store::OpenOptions {
            create_if_missing: true,
        },
    )
    .await?;
    store.migrate().await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let keys = Arc::new(KeyRing::generate(clock.now())?);
    let registry = Arc::new(Registry::embedded()?);
    let vault = Vault::open(store.clone(), keys, registry, clock).await?;
    let consent = ConsentService::new(
        vault.clone(),
        Arc::new(derbes_core::calendar::WorkCalendar::embedded_kz()?),
        ConsentSettings::default(),
    );
    consent
        .publish_policy(
            "system:bench",
            PublishInput {
                text_ru: "Политика".into(),
                text_kk: "Саясат".into(),
                text_en: None,
                effective_at: None,
                significant: false,
                operator_name: "ТОО «МФО»".into(),
                operator_bin: "100140005679".into(),
            },
        )
        .await?;
    let settings = CabinetSettings {
        access_log_limit: 1000,
        ..CabinetSettings::default()
    };
    let cabinet = Cabinet::new(consent.clone(), Arc::new(MemorySmsSink::new()), settings);

    // The subject: 15 current values + 35 corrections = 50 stored values.
    let call = Call::new(Actor::System("bench"), "contract");
    let person = derbes_demo::generate(7, 1)
        .into_iter()
        .next()
        .ok_or("no demo subject")?;
    let src = Source {
        kind: SourceKind::Subject,
        name: None,
    };
    let values: Vec<ValueInput> = person
        .values
        .iter()
        .map(|(c, v)| ValueInput {
            category: c.to_string(),
            value: v.clone(),
            source: src.clone(),
            obtained_at: None,
        })
        .collect();
    let current = values.len();
    let view = vault
        .create_subject(&call, derbes_service::NewSubjectInput { values })
        .await?;
    let id = view.id;
    let has_employer = view.values.iter().any(|v| v.category == "employer");
    let mut stored = current;
    for i in 0..(50usize.saturating_sub(current)) {
        let input = ValueInput {
            category: "employer".into(),
            value: json!(format!("ТОО «Работодатель {i}»")),
            source: src.clone(),
            obtained_at: None,
        };
        if i == 0 && !has_employer {
            vault.supplement_values(&call, id, vec![input]).await?;
        } else {
            vault.correct_values(&call, id, vec![input]).await?;
        }
        stored += 1;
    }
    // 20 consent decisions: the policy, then publication given and refused in turn.
    let ccall = Call::new(Actor::System("bench"), "requests");
    let mut decisions = vec![("policy", Decision::Granted)];
    for i in 0..19 {
        decisions.push((
            "publication",
            if i % 2 == 0 {
                Decision::Granted
            } else {
                Decision::Refused
            },
        ));
    }
    for (scope, decision) in &decisions {
        consent
            .record_consents(
                &ccall,
                id,
                ConsentInput {
                    policy_version: 1,
                    lang: "kk".into(),
                    channel: Channel::Api,
                    evidence: Evidence::default(),
                    valid_until: None,
                    changes: vec![ConsentChange {
                        scope: scope.to_string(),
                        decision: *decision,
                    }],
                },
            )
            .await?;
    }
    // 1,000 audit entries about the subject, by 5 employees, some under financial monitoring.
    let now = chrono::Utc::now().timestamp_micros();
    let purposes = [
        "contract",
        "collection",
        "performance_control",
        "aml",
        "financial_monitoring",
    ];
    let entries: Vec<_> = (0..1000)
        .map(|i| {
            entry(
                now - 1000 + i as i64,
                &format!("employee:{}", Uuid::from_u128(i as u128 % 5)),
                Action::READ,
                Outcome::Allowed,
                Some(id.to_string()),
                Some(purposes[i % purposes.len()]),
                vec!["full_name".into(), "mobile_phone".into()],
                Some("purpose:bench".into()),
                None,
            )
        })
        .collect();
    store.append_audit(&entries).await?;

    let session = SubjectSession {
        subject: id,
        actor: Actor::Subject { id },
    };
    let sample = cabinet.my_data(&session, Lang::Kk).await?;
    let json_size = serde_json::to_vec_pretty(&sample)?.len();
    println!(
        "cabinet subject: {stored} stored values ({} current), {} consent decisions, {} accesses shown (of 1,000 audit entries + its own), JSON export {} bytes",
        sample.values.len(),
        sample.consents.history.len(),
        sample.accesses.len(),
        json_size
    );

    let svc_me = time(|| {
        let c = cabinet.clone();
        let s = session.clone();
        async move {
            c.my_data(&s, Lang::Kk).await?;
            Ok(())
        }
    })
    .await?;
    let svc_export = time(|| {
        let c = cabinet.clone();
        let s = session.clone();
        async move {
            c.export(&s, ExportFormat::Json, Lang::Kk).await?;
            Ok(())
        }
    })
    .await?;

    // Over HTTP, with a static body of the same size from the same server as the baseline.
    let state = derbes_web::AppState::new(vault.clone())?
        .with_consent(consent)
        .with_cabinet(cabinet.clone());
    let body = bytes_of(json_size);
    let router = derbes_web::router(state).route(
        "/bench/static",
        axum::routing::get(move || {
            let b = body.clone();
            async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], b) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = rx.await;
        })
        .await;
    });
    // A session token through the real login path is not needed: the service call above
    // is the server-side figure; over HTTP we log in once with the in-memory SMS sink.
    let token = http_login(&cabinet, &person).await?;
    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    let get = |path: String, bearer: Option<String>| {
        let client = client.clone();
        async move {
            let mut req = client.get(path);
            if let Some(t) = bearer {
                req = req.bearer_auth(t);
            }
            let res = req.send().await?;
            if !res.status().is_success() {
                return Err(format!("status {}", res.status()).into());
            }
            res.bytes().await?;
            Ok::<(), AnyError>(())
        }
    };
    let http_me = time(|| {
        get(
            format!("{base}/api/v1/cabinet/me?lang=kk"),
            Some(token.clone()),
        )
    })
    .await?;
    let http_export = time(|| {
        get(
            format!("{base}/api/v1/cabinet/export.json?lang=kk"),
            Some(token.clone()),
        )
    })
    .await?;
    let http_static = time(|| get(format!("{base}/bench/static"), None)).await?;
    let _ = tx.send(());
    let _ = server.await;
    drop(store);
    for file in derbes_store::sqlite_files_of(&path) {
        let _ = std::fs::remove_file(file);
    }

    println!("cabinet (7.1a, 7.1b), {N} sequential calls each:");
    println!("  service my_data            {}", svc_me.line());
    println!("  service export (JSON)      {}", svc_export.line());
    println!("  HTTP GET /cabinet/me       {}", http_me.line());
    println!("  HTTP GET /cabinet/export   {}", http_export.line());
    println!("  HTTP static {json_size} B body  {}", http_static.line());
    let ms = |t: &Timing, p: f64| format!("{:.2}", t.pct(p).as_secs_f64() * 1e3);
    Ok(format!(
        "| service `my_data` (7.1a) | {} | {} |\n\
         | service JSON export, registered and audited (7.1b, 5.4) | {} | {} |\n\
         | HTTP `GET /cabinet/me` | {} | {} |\n\
         | HTTP `GET /cabinet/export.json` | {} | {} |\n\
         | baseline: HTTP static body of {json_size} B, same server | {} | {} |\n",
        ms(&svc_me, 0.5),
        ms(&svc_me, 0.99),
        ms(&svc_export, 0.5),
        ms(&svc_export, 0.99),
        ms(&http_me, 0.5),
        ms(&http_me, 0.99),
        ms(&http_export, 0.5),
        ms(&http_export, 0.99),
        ms(&http_static, 0.5),
        ms(&http_static, 0.99),
    ))
}

fn bytes_of(n: usize) -> axum::body::Bytes {
    let mut v = vec![b' '; n];
    if let Some(first) = v.first_mut() {
        *first = b'{';
    }
    if let Some(last) = v.last_mut() {
        *last = b'}';
    }
    axum::body::Bytes::from(v)
}

/// Log in through the service's code path (the in-memory sink holds the code).
async fn http_login(
    _cabinet: &Cabinet,
    person: &derbes_demo::DemoSubject,
) -> Result<String, AnyError> {
    let phone = person
        .values
        .iter()
        .find(|(c, _)| *c == "mobile_phone")
        .map(|(_, v)| v.clone())
        .ok_or("the demo subject has no mobile phone")?;
    let sink = MemorySmsSink::new();
    let cabinet = Cabinet::new_for_bench(_cabinet, Arc::new(sink.clone()));
    let phone = phone.as_str().ok_or("phone is not a string")?.to_string();
    let c = cabinet.request_code(&phone, None, Lang::Kk).await?;
    let mut code = None;
    for _ in 0..200 {
        if let Some((_, text)) = sink.sent().last() {
            code = derbes_service::sms::extract_code(text);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let code = code.ok_or("no code was sent")?;
    Ok(cabinet.verify_code(&c.challenge_id, &code).await?.token)
}

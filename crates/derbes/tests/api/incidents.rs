//! Incidents of unauthorised access (clause 5.5) and the access-policy reload (5.4) through
//! the API, on both backends: the detector raises incidents from access events, the
//! security officer handles them, every call is audited (8.1).

use crate::support::*;
use chrono::{DateTime, Duration, TimeZone, Utc};
use derbes_access::{
    AccessControl, AccessEvent, AccessRequest, DetectionConfig, Detector, Outcome, Role,
};
use derbes_core::calendar::WorkCalendar;
use derbes_core::clock::{Clock, FixedClock};
use derbes_core::registry::Registry;
use derbes_crypto::KeyRing;
use derbes_service::incidents::{Incidents, Suspender};
use derbes_service::{apikeys, Vault};
use derbes_store::testing::{self, FreshDb};
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

const RULES: &str = r#"
[working_hours]
start = "09:00"
end = "18:00"

[[rule]]
id = "c5_5_bulk_reads"
kind = "distinct_subjects"
threshold = 3
window_minutes = 60
severity = "high"
suspend = true

[[rule]]
id = "c5_5_outside_working_hours"
kind = "outside_working_hours"
severity = "medium"
"#;

/// Records the suspensions it is asked for (the lead wires the employee store here).
#[derive(Default)]
struct Recorder(Mutex<Vec<(String, String)>>);

impl Suspender for Recorder {
    fn suspend<'a>(
        &'a self,
        employee: &'a str,
        incident: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            self.0
                .lock()
                .unwrap()
                .push((employee.to_string(), incident.to_string()));
            Ok(())
        })
    }
}

struct SecApp {
    base: String,
    client: reqwest::Client,
    security_token: String,
    other_token: String,
    incidents: Incidents,
    access: Arc<AccessControl>,
    policy_path: std::path::PathBuf,
    suspended: Arc<Recorder>,
    clock: Arc<FixedClock>,
    db: FreshDb,
    _dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for SecApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

const POLICY: &str = r#"@id("r1") permit (principal == Role::"dpo", action == Action::"requests", resource == Category::"email");"#;

/// Wednesday 25 November 2026, 10:00 in Almaty.
fn ten_am() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 5, 0, 0).unwrap()
}

async fn spawn(backend: Backend) -> SecApp {
    let _ = logs();
    let db = match backend {
        Backend::Sqlite => testing::fresh_sqlite().await,
        Backend::Postgres => testing::fresh_pg().await,
    }
    .expect("fresh database");
    let clock = Arc::new(FixedClock::new(ten_am()));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let registry = Arc::new(Registry::embedded().unwrap());
    let keys = KeyRing::generate(clock.now()).unwrap();
    let vault = Vault::open(
        db.store.clone(),
        Arc::new(keys),
        registry.clone(),
        dyn_clock.clone(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let policy_path = dir.path().join("access.cedar");
    std::fs::write(&policy_path, POLICY).unwrap();
    let access = Arc::new(AccessControl::open(Some(&policy_path), registry.clone()).unwrap());
    let detector = Detector::new(
        DetectionConfig::from_toml(RULES).unwrap(),
        Arc::new(WorkCalendar::embedded_kz().unwrap()),
    )
    .unwrap();
    let suspended = Arc::new(Recorder::default());
    let incidents = Incidents::with_detector(
        db.store.clone(),
        dyn_clock,
        detector,
        Some(suspended.clone() as Arc<dyn Suspender>),
    );
    let state = derbes_web::AppState::new(vault.clone())
        .unwrap()
        .with_access(access.clone())
        .with_incidents(incidents.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(derbes_web::serve(listener, state, async move {
        let _ = rx.await;
    }));
    let key = |name: &'static str, purposes: Vec<String>| {
        let vault = vault.clone();
        async move {
            apikeys::create(
                vault.store().as_ref(),
                vault.registry(),
                name,
                &purposes,
                vault.now(),
            )
            .await
            .unwrap()
            .1
        }
    };
    SecApp {
        base: format!("http://{addr}/api/v1"),
        client: reqwest::Client::new(),
        security_token: key("security-desk", vec!["security".into()]).await,
        other_token: key("loan-system", vec!["contract".into()]).await,
        incidents,
        access,
        policy_path,
        suspended,
        clock,
        db,
        _dir: dir,
        shutdown: Some(tx),
    }
}

impl SecApp {
    async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.security_token)
            .send()
            .await
            .unwrap()
    }

    async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.security_token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn read_event(&self, employee: &str, subject: &str, at: DateTime<Utc>) {
        self.clock.set(at);
        self.incidents
            .observe(&AccessEvent {
                employee: employee.into(),
                subject: Some(subject.into()),
                purpose: "collection".into(),
                outcome: Outcome::Allowed,
                at,
            })
            .await
            .unwrap();
    }
}

fn kinds(detail: &Value) -> Vec<String> {
    detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

/// Bulk reads raise exactly one incident per (rule, employee), whose timeline grows; the
/// rule suspends the employee once; the security officer acknowledges, annotates and closes.
async fn c5_5_incident_raised_once_handled_through_the_api(backend: Backend) {
    let app = spawn(backend).await;
    let t = ten_am();
    for (i, s) in ["s1", "s2", "s3", "s4", "s5"].iter().enumerate() {
        app.read_event("employee:e1", s, t + Duration::minutes(i as i64))
            .await;
    }
    // Another employee below the threshold: nothing.
    app.read_event("employee:e2", "s1", t + Duration::minutes(6))
        .await;

    let list = ok_json(app.get("/incidents").await).await;
    let incidents = list["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{list}");
    let inc = &incidents[0];
    assert_eq!(inc["rule"], "c5_5_bulk_reads");
    assert_eq!(inc["employee"], "employee:e1");
    assert_eq!(inc["severity"], "high");
    assert_eq!(inc["status"], "open");
    assert_eq!(inc["affected_subjects"], 5);
    assert_eq!(inc["regulator_deadline_at"], Value::Null);
    let id = inc["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.suspended.0.lock().unwrap().clone(),
        vec![("employee:e1".to_string(), id.clone())]
    );

    let detail = ok_json(app.get(&format!("/incidents/{id}")).await).await;
    assert_eq!(kinds(&detail), vec!["raised", "auto_suspended", "evidence"]);
    assert_eq!(detail["subjects"], json!(["s1", "s2", "s3", "s4", "s5"]));
    assert_eq!(detail["timeline"][0]["detail"]["count"], 4);
    assert_eq!(detail["timeline"][2]["detail"]["subjects"], json!(["s5"]));

    let ack = ok_json(
        app.post(&format!("/incidents/{id}/acknowledge"), &json!({}))
            .await,
    )
    .await;
    assert_eq!(ack["status"], "acknowledged");
    assert!(ack["acknowledged_by"]
        .as_str()
        .unwrap()
        .starts_with("api_key:"));
    problem(
        app.post(&format!("/incidents/{id}/acknowledge"), &json!({}))
            .await,
        409,
        "incident_wrong_status",
    )
    .await;
    let note = ok_json(
        app.post(
            &format!("/incidents/{id}/notes"),
            &json!({"note": "spoke to the employee's manager"}),
        )
        .await,
    )
    .await;
    assert_eq!(note["kind"], "note");
    assert_eq!(note["detail"]["note"], "spoke to the employee's manager");
    for bad in [
        json!({}),
        json!({"note": "  "}),
        json!({"note": "x".repeat(2001)}),
    ] {
        problem(
            app.post(&format!("/incidents/{id}/notes"), &bad).await,
            422,
            "invalid_note",
        )
        .await;
    }
    let closed = ok_json(
        app.post(
            &format!("/incidents/{id}/close"),
            &json!({"note": "training given"}),
        )
        .await,
    )
    .await;
    assert_eq!(closed["status"], "closed");
    let detail = ok_json(app.get(&format!("/incidents/{id}")).await).await;
    assert_eq!(
        kinds(&detail),
        vec![
            "raised",
            "auto_suspended",
            "evidence",
            "acknowledged",
            "note",
            "closed"
        ]
    );

    // After closing, more bulk reads open a new incident (and suspend again).
    app.read_event("employee:e1", "s9", t + Duration::minutes(30))
        .await;
    let open = ok_json(app.get("/incidents?status=open").await).await;
    assert_eq!(open["incidents"].as_array().unwrap().len(), 1);
    assert_ne!(open["incidents"][0]["id"], id.as_str());
    assert_eq!(app.suspended.0.lock().unwrap().len(), 2);
    let closed = ok_json(app.get("/incidents?status=closed").await).await;
    assert_eq!(closed["incidents"].as_array().unwrap().len(), 1);

    problem(
        app.get("/incidents?status=bogus").await,
        400,
        "invalid_incident_status",
    )
    .await;
    problem(
        app.get("/incidents/no-such-id").await,
        404,
        "incident_not_found",
    )
    .await;
    problem(
        app.post("/incidents/no-such-id/close", &json!({})).await,
        404,
        "incident_not_found",
    )
    .await;

    // Without the security purpose: 403, and the refusal is audited.
    let res = app
        .client
        .get(format!("{}/incidents", app.base))
        .bearer_auth(&app.other_token)
        .send()
        .await
        .unwrap();
    problem(res, 403, "purpose_not_permitted").await;
    let res = app
        .client
        .get(format!("{}/incidents", app.base))
        .send()
        .await
        .unwrap();
    problem(res, 401, "unauthenticated").await;

    // Audited (8.1): the detector's raise, the officer's reads and changes, the refusal.
    let entries = app.db.store.audit_entries(0, 1000).await.unwrap();
    let details: Vec<String> = entries
        .iter()
        .filter(|e| e.action.as_str() == "incident" || e.action.as_str() == "denied")
        .filter_map(|e| e.detail.clone())
        .collect();
    for want in [
        format!("raised:{id}:employee:e1"),
        format!("evidence:{id}:employee:e1"),
        "list".to_string(),
        format!("read:{id}"),
        format!("acknowledge:{id}"),
        format!("note:{id}"),
        format!("close:{id}"),
        "incident_list".to_string(),
    ] {
        assert!(
            details.contains(&want),
            "missing audit detail {want}: {details:?}"
        );
    }
    // No note text in the audit log.
    assert!(!details.iter().any(|d| d.contains("manager")));
}
both_backends!(c5_5_incident_raised_once_handled_through_the_api);

/// Access outside working hours (Almaty time) raises an incident; within hours it does not.
async fn c5_5_outside_working_hours_incident(backend: Backend) {
    let app = spawn(backend).await;
    // 16:00Z = 21:00 in Almaty.
    app.read_event(
        "employee:e3",
        "s1",
        Utc.with_ymd_and_hms(2026, 11, 25, 16, 0, 0).unwrap(),
    )
    .await;
    app.read_event(
        "employee:e3",
        "s1",
        Utc.with_ymd_and_hms(2026, 11, 25, 16, 5, 0).unwrap(),
    )
    .await;
    app.read_event("employee:e4", "s1", ten_am()).await;
    let list = ok_json(app.get("/incidents").await).await;
    let incidents = list["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{list}");
    assert_eq!(incidents[0]["rule"], "c5_5_outside_working_hours");
    assert_eq!(incidents[0]["employee"], "employee:e3");
    let id = incidents[0]["id"].as_str().unwrap();
    let detail = ok_json(app.get(&format!("/incidents/{id}")).await).await;
    assert_eq!(kinds(&detail), vec!["raised", "evidence"]);
    // The rule does not suspend.
    assert!(app.suspended.0.lock().unwrap().is_empty());
}
both_backends!(c5_5_outside_working_hours_incident);

/// A security officer reloads the access policy; a bad file keeps the old one and the answer
/// says why.
async fn c5_4_access_policy_reload_keeps_the_old_policy_on_error(backend: Backend) {
    let app = spawn(backend).await;
    let req = AccessRequest::new(Role::Dpo, "requests", "email");
    assert_eq!(app.access.decide(&req).rule_id, "r1");

    std::fs::write(
        &app.policy_path,
        POLICY.replace("Action::\"requests\"", "Action::\"reqests\""),
    )
    .unwrap();
    let (_, body) = problem(
        app.post("/access/reload", &json!({})).await,
        422,
        "access_policy_rejected",
    )
    .await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("reqests"), "{detail}");
    assert_eq!(app.access.decide(&req).rule_id, "r1");

    std::fs::write(&app.policy_path, POLICY.replace("r1", "r2")).unwrap();
    let ok = ok_json(app.post("/access/reload", &json!({})).await).await;
    assert_eq!(ok["rules"], json!(["r2"]));
    assert_eq!(app.access.decide(&req).rule_id, "r2");

    let res = app
        .client
        .post(format!("{}/access/reload", app.base))
        .bearer_auth(&app.other_token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    problem(res, 403, "purpose_not_permitted").await;
    let changes: Vec<String> = app
        .db
        .store
        .audit_entries(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.as_str() == "policy_change")
        .filter_map(|e| e.detail)
        .collect();
    assert_eq!(
        changes,
        vec![
            "access_reload_rejected:access_policy_unknown_purpose".to_string(),
            "access_reload:1".to_string()
        ]
    );
}
both_backends!(c5_4_access_policy_reload_keeps_the_old_policy_on_error);

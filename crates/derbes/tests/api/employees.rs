//! Employees through the real server (clauses 4.3, 5.4, 8.1): login with both factors,
//! session token as bearer and as cookie (with CSRF), disabling, lockout without account
//! enumeration, role changes, undertakings, and the vault refusing an employee without a
//! current confidentiality undertaking. The server runs on a `FixedClock`, so expiry is
//! tested by moving the clock, never by sleeping.

use crate::support::{both_backends, logs, ok_json, problem, Backend, KNOWN};
use chrono::{DateTime, Duration, TimeZone, Utc};
use derbes_access::{AccessControl, DetectionConfig, Detector};
use derbes_core::calendar::WorkCalendar;
use derbes_core::clock::{Clock, FixedClock};
use derbes_core::registry::Registry;
use derbes_core::roles::Roles;
use derbes_crypto::KeyRing;
use derbes_service::employees::{EmployeeOptions, Employees, NewEmployee, PasswordParams};
use derbes_service::incidents::{Incidents, Suspender};
use derbes_service::{totp, AccessGuard, Actor, Vault};
use derbes_store::testing::{self, FreshDb};
use reqwest::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::oneshot;

/// Detection rules of these tests: more than 3 distinct subjects in an hour suspends.
const DETECTION: &str = r#"
[working_hours]
start = "09:00"
end = "18:00"

[[rule]]
id = "c5_5_many_subjects"
kind = "distinct_subjects"
threshold = 3
window_minutes = 60
severity = "high"
suspend = true
"#;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 30, 0).unwrap()
}

struct StaffApp {
    base: String,
    client: reqwest::Client,
    clock: Arc<FixedClock>,
    emp: Employees,
    vault: Vault,
    db: FreshDb,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for StaffApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// An account's credentials as handed out at creation.
#[derive(Clone)]
struct Cred {
    id: String,
    login: String,
    password: String,
    secret: Vec<u8>,
}

async fn spawn(backend: Backend) -> StaffApp {
    let _ = logs();
    let db = match backend {
        Backend::Sqlite => testing::fresh_sqlite().await,
        Backend::Postgres => testing::fresh_pg().await,
    }
    .expect("fresh database");
    let clock = Arc::new(FixedClock::new(t0()));
    let keys = Arc::new(KeyRing::generate(t0()).unwrap());
    let registry = Arc::new(Registry::embedded().unwrap());
    let roles = Arc::new(Roles::embedded(&registry).unwrap());
    let vault = Vault::open(
        db.store.clone(),
        keys.clone(),
        registry.clone(),
        clock.clone(),
    )
    .await
    .unwrap();
    let emp = Employees::open(
        db.store.clone(),
        keys,
        roles,
        clock.clone(),
        EmployeeOptions {
            password: PasswordParams::INSECURE_TEST,
            ..EmployeeOptions::default()
        },
    )
    .await
    .unwrap();
    // As `derbes serve` runs: the embedded access policy decides employee reads, and every
    // employee access is reported to detection, whose rules may suspend (clause 5.5).
    let access = Arc::new(AccessControl::open(None, registry.clone()).unwrap());
    let detector = Detector::new(
        DetectionConfig::from_toml(DETECTION).unwrap(),
        Arc::new(WorkCalendar::embedded_kz().unwrap()),
    )
    .unwrap();
    let hours = detector.hours().clone();
    let incidents = Incidents::with_detector(
        db.store.clone(),
        clock.clone(),
        detector,
        Some(Arc::new(emp.clone()) as Arc<dyn Suspender>),
    );
    assert!(vault.install_access_guard(AccessGuard::new(
        access.clone(),
        hours,
        Some(incidents.clone())
    )));
    let state = derbes_web::AppState::new(vault.clone())
        .unwrap()
        .with_employees(emp.clone())
        .with_access(access)
        .with_incidents(incidents);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(derbes_web::serve(listener, state, async move {
        let _ = rx.await;
    }));
    StaffApp {
        base: format!("http://{addr}/api/v1"),
        client: reqwest::Client::new(),
        clock,
        emp,
        vault,
        db,
        shutdown: Some(tx),
    }
}

impl StaffApp {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        let mut r = self.client.post(self.url(path)).json(body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.unwrap()
    }

    async fn get(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    fn code(&self, c: &Cred, offset: i64) -> String {
        totp::code_at(
            &c.secret,
            totp::step_of(self.clock.now().timestamp()) + offset,
        )
    }

    /// Bootstrap an administrator as the CLI does (the system creates it).
    async fn bootstrap_admin(&self) -> Cred {
        let c = self
            .emp
            .create(
                &Actor::System("cli"),
                NewEmployee {
                    login: "root.admin".into(),
                    display_name: "Administrator".into(),
                    role: "admin".into(),
                },
            )
            .await
            .unwrap();
        Cred {
            id: c.employee.id.to_string(),
            login: c.employee.login,
            password: c.password,
            secret: totp::base32_decode(&c.totp.secret).unwrap(),
        }
    }

    /// Create an account through the API as `admin`.
    async fn hire(&self, admin: &str, login: &str, role: &str) -> Cred {
        let res = self
            .post(
                "/employees",
                Some(admin),
                &json!({"login": login, "display_name": "Айгерім Сәрсенова", "role": role}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let body: Value = res.json().await.unwrap();
        Cred {
            id: body["employee"]["id"].as_str().unwrap().to_string(),
            login: body["employee"]["login"].as_str().unwrap().to_string(),
            password: body["password"].as_str().unwrap().to_string(),
            secret: totp::base32_decode(body["totp"]["secret"].as_str().unwrap()).unwrap(),
        }
    }

    async fn pending(&self, c: &Cred) -> String {
        let res = self
            .post(
                "/auth/login",
                None,
                &json!({"login": c.login, "password": c.password}),
            )
            .await;
        ok_json(res).await["pending_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Both steps; returns the `/auth/totp` response.
    async fn login_res(&self, c: &Cred) -> Response {
        let pending = self.pending(c).await;
        self.post(
            "/auth/totp",
            None,
            &json!({"pending_token": pending, "code": self.code(c, 0)}),
        )
        .await
    }

    async fn login(&self, c: &Cred) -> String {
        ok_json(self.login_res(c).await).await["token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn subject(&self) -> String {
        let view = self
            .vault
            .create_subject(
                &derbes_service::Call::new(Actor::System("test"), "contract"),
                serde_json::from_value(KNOWN.body(false)).unwrap(),
            )
            .await
            .unwrap();
        view.id.to_string()
    }
}

async fn c4_3_employee_needs_a_current_undertaking_for_personal_data(backend: Backend) {
    let app = spawn(backend).await;
    let admin = app.bootstrap_admin().await;
    let admin_token = app.login(&admin).await;
    let officer = app
        .hire(&admin_token, "credit.officer", "credit_officer")
        .await;
    let subject = app.subject().await;
    let token = app.login(&officer).await;
    let read = format!("/subjects/{subject}?purpose=contract");

    let (_, body) = problem(app.get(&read, &token).await, 403, "no_undertaking").await;
    assert!(!body.to_string().contains(KNOWN.iin));
    let search = app
        .post(
            "/subjects/search?purpose=contract",
            Some(&token),
            &json!({"category": "iin", "value": KNOWN.iin}),
        )
        .await;
    problem(search, 403, "no_undertaking").await;

    // An expired undertaking does not count.
    let path = format!("/employees/{}/undertakings", officer.id);
    let res = app
        .post(
            &path,
            Some(&admin_token),
            &json!({"text_version": "nda-2025", "signed_on": "2025-01-01", "expires_on": "2026-01-01"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    problem(app.get(&read, &token).await, 403, "no_undertaking").await;

    // A current one opens the role's purposes.
    let res = app
        .post(
            &path,
            Some(&admin_token),
            &json!({"text_version": "nda-2026", "signed_on": "2026-03-02", "expires_on": "2027-03-02"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let view = ok_json(app.get(&read, &token).await).await;
    assert_eq!(view["id"], subject.as_str());
    problem(
        app.get(&format!("/subjects/{subject}?purpose=collection"), &token)
            .await,
        403,
        "purpose_not_permitted",
    )
    .await;

    // The profile shows both undertakings; the administrator has no personal data at all.
    let me = ok_json(app.get("/me", &token).await).await;
    assert_eq!(me["profile"]["personal_data_access"], true);
    assert_eq!(me["profile"]["undertakings"].as_array().unwrap().len(), 2);
    assert_eq!(me["profile"]["undertakings"][0]["in_force"], true);
    assert_eq!(me["profile"]["undertakings"][1]["in_force"], false);
    problem(app.get(&read, &admin_token).await, 403, "no_undertaking").await;

    // A year later the same session (kept alive) is refused again.
    for _ in 0..2 {
        app.clock.advance(Duration::minutes(20));
        ok_json(app.get("/me", &token).await).await;
    }
    app.clock
        .set(Utc.with_ymd_and_hms(2027, 3, 2, 0, 0, 0).unwrap());
    let token = app.login(&officer).await;
    problem(app.get(&read, &token).await, 403, "no_undertaking").await;

    let log = app.db.store.audit_entries(0, 1000).await.unwrap();
    let denied = log
        .iter()
        .filter(|e| e.rule.as_deref() == Some("undertaking:4.3"))
        .count();
    assert_eq!(denied, 5, "{backend:?}");
}
both_backends!(c4_3_employee_needs_a_current_undertaking_for_personal_data);

async fn login_needs_both_factors_and_sets_a_strict_cookie(backend: Backend) {
    let app = spawn(backend).await;
    let admin = app.bootstrap_admin().await;
    let pending = app.pending(&admin).await;
    // The pending token opens nothing.
    problem(app.get("/me", &pending).await, 401, "unauthenticated").await;
    // A wrong code is refused with the one login answer.
    let wrong = format!(
        "{:06}",
        (app.code(&admin, 0).parse::<u32>().unwrap() + 1) % 1_000_000
    );
    let res = app
        .post(
            "/auth/totp",
            None,
            &json!({"pending_token": pending, "code": wrong}),
        )
        .await;
    problem(res, 401, "invalid_credentials").await;
    let res = app
        .post(
            "/auth/totp",
            None,
            &json!({"pending_token": pending, "code": app.code(&admin, 0)}),
        )
        .await;
    let cookie = res
        .headers()
        .get(SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let body = ok_json(res).await;
    let token = body["token"].as_str().unwrap().to_string();
    let csrf = body["csrf_token"].as_str().unwrap().to_string();
    assert!(token.starts_with("drs_"));
    assert!(cookie.starts_with(&format!("__Host-derbes_session={token};")));
    for attr in [
        "Secure",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=28800",
    ] {
        assert!(cookie.contains(attr), "{attr} missing in {cookie}");
    }
    // The same code again (replay) is refused.
    let again = app.pending(&admin).await;
    let res = app
        .post(
            "/auth/totp",
            None,
            &json!({"pending_token": again, "code": app.code(&admin, 0)}),
        )
        .await;
    problem(res, 401, "invalid_credentials").await;

    // The cookie authenticates reads; state changes through it need the CSRF header.
    let jar = format!("__Host-derbes_session={token}");
    let me = app
        .client
        .get(app.url("/me"))
        .header(COOKIE, &jar)
        .send()
        .await
        .unwrap();
    let me = ok_json(me).await;
    assert_eq!(me["profile"]["employee"]["login"], "root.admin");
    assert_eq!(me["csrf_token"], csrf.as_str());
    let no_csrf = app
        .client
        .post(app.url("/auth/logout"))
        .header(COOKIE, &jar)
        .send()
        .await
        .unwrap();
    problem(no_csrf, 403, "csrf_failed").await;
    let forged = app
        .client
        .post(app.url("/auth/logout"))
        .header(COOKIE, &jar)
        .header("x-csrf-token", "AAAA")
        .send()
        .await
        .unwrap();
    problem(forged, 403, "csrf_failed").await;
    let out = app
        .client
        .post(app.url("/auth/logout"))
        .header(COOKIE, &jar)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert!(out
        .headers()
        .get(SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    problem(app.get("/me", &token).await, 401, "unauthenticated").await;
}
both_backends!(login_needs_both_factors_and_sets_a_strict_cookie);

async fn session_expires_when_idle_by_the_server_clock(backend: Backend) {
    let app = spawn(backend).await;
    let admin = app.bootstrap_admin().await;
    let token = app.login(&admin).await;
    app.clock.advance(Duration::minutes(29));
    ok_json(app.get("/me", &token).await).await;
    app.clock.advance(Duration::minutes(30));
    problem(app.get("/me", &token).await, 401, "unauthenticated").await;
}
both_backends!(session_expires_when_idle_by_the_server_clock);

async fn disabling_an_employee_ends_the_live_session_at_once(backend: Backend) {
    let app = spawn(backend).await;
    let admin = app.bootstrap_admin().await;
    let admin_token = app.login(&admin).await;
    let c = app.hire(&admin_token, "collector.one", "collector").await;
    let token = app.login(&c).await;
    ok_json(app.get("/me", &token).await).await;
    // A collector may not administer.
    problem(
        app.post(
            &format!("/employees/{}/disable", admin.id),
            Some(&token),
            &json!({}),
        )
        .await,
        403,
        "role_not_permitted",
    )
    .await;
    let res = app
        .post(
            &format!("/employees/{}/disable", c.id),
            Some(&admin_token),
            &json!({}),
        )
        .await;
    assert_eq!(ok_json(res).await["status"], "disabled");
    problem(app.get("/me", &token).await, 401, "unauthenticated").await;
    let list = ok_json(app.get("/employees", &admin_token).await).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(!list.to_string().contains(&c.password));
    problem(
        app.post(
            "/employees/not-a-uuid/disable",
            Some(&admin_token),
            &json!({}),
        )
        .await,
        400,
        "bad_employee_id",
    )
    .await;
    problem(
        app.post(
            "/employees/0190f1f2-0000-7000-8000-000000000000/disable",
            Some(&admin_token),
            &json!({}),
        )
        .await,
        404,
        "employee_not_found",
    )
    .await;
}
both_backends!(disabling_an_employee_ends_the_live_session_at_once);

async fn lockout_answer_is_the_unknown_login_answer(backend: Backend) {
    let app = spawn(backend).await;
    let admin = app.bootstrap_admin().await;
    let attempt = |login: &str, password: &str| {
        let body = json!({"login": login, "password": password});
        let app = &app;
        async move {
            let res = app.post("/auth/login", None, &body).await;
            let status = res.status();
            let text = res.text().await.unwrap();
            (status, text)
        }
    };
    let unknown = attempt("no.such.person", "some password").await;
    let wrong = attempt(&admin.login, "wrong password").await;
    assert_eq!(unknown.0, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown, wrong, "unknown login and wrong password differ");
    for _ in 0..4 {
        attempt(&admin.login, "wrong password").await;
    }
    let locked = attempt(&admin.login, &admin.password).await;
    assert_eq!(
        locked, unknown,
        "a locked login must look like an unknown one"
    );
    // The administrator's lock ends by the clock.
    app.clock.advance(Duration::minutes(15));
    app.login(&admin).await;
}
both_backends!(lockout_answer_is_the_unknown_login_answer);

async fn role_change_and_records_are_audited(backend: Backend) {
    let app = spawn(backend).await;
    let admin = app.bootstrap_admin().await;
    let admin_token = app.login(&admin).await;
    let c = app.hire(&admin_token, "aliya.s", "call_centre").await;
    let res = app
        .post(
            &format!("/employees/{}/role", c.id),
            Some(&admin_token),
            &json!({"role": "collector"}),
        )
        .await;
    let info = ok_json(res).await;
    assert_eq!(info["role"]["code"], "collector");
    assert_eq!(info["role"]["ru"], "Специалист по взысканию");
    let (_, p) = problem(
        app.post(
            &format!("/employees/{}/role", c.id),
            Some(&admin_token),
            &json!({"role": "overlord"}),
        )
        .await,
        422,
        "invalid_input",
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("role"));
    let res = app
        .post(
            &format!("/employees/{}/trainings", c.id),
            Some(&admin_token),
            &json!({"course": "pd-protection", "course_version": "2026.1", "completed_on": "2026-03-01"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app
        .post(
            &format!("/employees/{}/totp", c.id),
            Some(&admin_token),
            &json!({}),
        )
        .await;
    assert!(ok_json(res).await["uri"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/derbes:aliya.s?secret="));
    let res = app
        .post(
            &format!("/employees/{}/unlock", c.id),
            Some(&admin_token),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let profile = ok_json(app.get(&format!("/employees/{}", c.id), &admin_token).await).await;
    assert_eq!(profile["trainings"][0]["course"], "pd-protection");

    let log = app.db.store.audit_entries(0, 1000).await.unwrap();
    let admin_actor = format!("employee:{}", admin.id);
    let subject = format!("employee:{}", c.id);
    for action in [
        "employee_create",
        "role_change",
        "training",
        "totp_enroll",
        "employee_unlock",
    ] {
        assert!(
            log.iter().any(|e| e.action.as_str() == action
                && e.actor == admin_actor
                && e.subject.as_deref() == Some(subject.as_str())),
            "{backend:?}: no {action} entry by the administrator"
        );
    }
    assert!(log
        .iter()
        .any(|e| e.action.as_str() == "login" && e.actor == admin_actor));
}
both_backends!(role_change_and_records_are_audited);

async fn c4_1_no_password_token_secret_or_unknown_login_in_logs(backend: Backend) {
    let app = spawn(backend).await;
    let admin = app.bootstrap_admin().await;
    let res = app.login_res(&admin).await;
    let token = ok_json(res).await["token"].as_str().unwrap().to_string();
    let c = app.hire(&token, "marat.b", "dpo").await;
    for _ in 0..3 {
        app.post(
            "/auth/login",
            None,
            &json!({"login": "unknown.person.zz9", "password": "Hunter2-Hunter2"}),
        )
        .await;
    }
    app.client
        .get(app.url("/me"))
        .header(AUTHORIZATION, "Bearer drs_forgedforgedforged")
        .send()
        .await
        .unwrap();
    let logs = logs().contents();
    for secret in [
        admin.password.as_str(),
        c.password.as_str(),
        token.as_str(),
        token.trim_start_matches("drs_"),
        &totp::base32(&admin.secret),
        &totp::base32(&c.secret),
        "unknown.person.zz9",
        "Hunter2-Hunter2",
        "drs_forgedforgedforged",
    ] {
        assert!(
            !logs.contains(secret),
            "{backend:?}: a secret reached the logs"
        );
    }
}
both_backends!(c4_1_no_password_token_secret_or_unknown_login_in_logs);

// --- Employee reads under the access policy (clauses 4.1, 5.3, 5.5, 8.1) -------------------

impl StaffApp {
    /// Hire `login` as `role`, record a current undertaking (4.3), and log in.
    async fn staffer(&self, admin: &str, login: &str, role: &str) -> (Cred, String) {
        let c = self.hire(admin, login, role).await;
        let res = self
            .post(
                &format!("/employees/{}/undertakings", c.id),
                Some(admin),
                &json!({"text_version": "nda-2026", "signed_on": "2026-03-02", "expires_on": "2027-03-02"}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let token = self.login(&c).await;
        (c, token)
    }

    /// Report a contract of `subject` with `status` straight into the store (as the loan
    /// system would through the consent API).
    async fn contract(&self, subject: &str, id: &str, status: &str) {
        let sid = *uuid::Uuid::parse_str(subject).unwrap().as_bytes();
        let at = derbes_core::clock::to_micros(self.clock.now());
        self.db
            .store
            .insert_contract(
                &derbes_store::consent::ContractRecord {
                    id: id.into(),
                    subject_id: sid,
                    offer_id: None,
                    concluded_at: at,
                    status: status.into(),
                    status_at: at,
                    recorded_by: "system:test".into(),
                },
                None,
            )
            .await
            .unwrap();
    }

    async fn post_empty(&self, path: &str, token: &str) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

fn category<'a>(view: &'a Value, c: &str) -> Option<&'a Value> {
    view["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["category"] == c)
}

fn withheld_rule(view: &Value, c: &str) -> Option<String> {
    view["withheld"].as_array().and_then(|w| {
        w.iter()
            .find(|x| x["category"] == c)
            .map(|x| x["rule"].as_str().unwrap().to_string())
    })
}

async fn c5_3_collector_sees_contacts_only_when_the_contract_is_overdue(backend: Backend) {
    let app = spawn(backend).await;
    let admin = app.bootstrap_admin().await;
    let admin_token = app.login(&admin).await;
    let (_, token) = app
        .staffer(&admin_token, "debt.collector", "collector")
        .await;
    let subject = app.subject().await;
    app.contract(&subject, "MFO-1", "active").await;
    let read = format!("/subjects/{subject}?purpose=collection");

    // Active contract: the name in clear, the IIN masked, no contacts (withheld by rule).
    let view = ok_json(app.get(&read, &token).await).await;
    assert_eq!(category(&view, "full_name").unwrap()["masked"], Value::Null);
    let iin = category(&view, "iin").unwrap();
    assert_eq!(iin["value"], "********2728");
    assert_eq!(iin["masked"], true);
    assert_eq!(iin["rule"], "c5_3_collector_iin_masked");
    assert!(category(&view, "mobile_phone").is_none());
    assert_eq!(
        withheld_rule(&view, "mobile_phone").as_deref(),
        Some("c5_3_collector_no_contacts_unless_overdue")
    );
    let text = view.to_string();
    assert!(!text.contains(KNOWN.iin) && !text.contains(KNOWN.phone_e164));

    // Asking for the phone by name is refused with the rule; a reveal of the masked IIN too.
    let (_, body) = problem(
        app.get(&format!("{read}&categories=mobile_phone"), &token)
            .await,
        403,
        "access_denied",
    )
    .await;
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("c5_3_collector_no_contacts_unless_overdue"));
    assert!(!body.to_string().contains(KNOWN.phone_e164));
    let reveal = format!("/subjects/{subject}/values/iin/reveal?purpose=collection");
    problem(app.post_empty(&reveal, &token).await, 403, "access_denied").await;

    // Overdue: the contacts open.
    app.db
        .store
        .set_contract_status(
            "MFO-1",
            "overdue",
            derbes_core::clock::to_micros(app.clock.now()),
            None,
            "system:test",
        )
        .await
        .unwrap();
    let view = ok_json(app.get(&read, &token).await).await;
    let phone = category(&view, "mobile_phone").unwrap();
    assert_eq!(phone["value"], KNOWN.phone_e164);
    assert_eq!(phone["rule"], "c5_3_collector_contacts_when_overdue");
    assert_eq!(category(&view, "iin").unwrap()["masked"], true);

    // Every decision is on the audit log with its rule (8.1).
    let log = app.db.store.audit_entries(0, 1000).await.unwrap();
    let rules: Vec<&str> = log.iter().filter_map(|e| e.rule.as_deref()).collect();
    assert!(rules
        .iter()
        .any(|r| r.starts_with("access:") && r.contains("c5_3_collector_iin_masked")));
    assert!(rules.contains(&"access:c5_3_collector_no_contacts_unless_overdue"));
    assert!(rules
        .iter()
        .any(|r| r.contains("c5_3_collector_contacts_when_overdue")));
    assert!(log
        .iter()
        .any(|e| e.outcome == derbes_audit::Outcome::Denied
            && e.rule.as_deref() == Some("access:c5_3_collector_iin_masked")));
}
both_backends!(c5_3_collector_sees_contacts_only_when_the_contract_is_overdue);

async fn c4_1_call_centre_sees_the_iin_masked_and_reveals_it_for_identification(backend: Backend) {
    let app = spawn(backend).await;
    let admin = app.bootstrap_admin().await;
    let admin_token = app.login(&admin).await;
    let (_, token) = app
        .staffer(&admin_token, "call.centre", "call_centre")
        .await;
    let subject = app.subject().await;

    let view = ok_json(
        app.get(
            &format!("/subjects/{subject}?purpose=identification"),
            &token,
        )
        .await,
    )
    .await;
    assert_eq!(category(&view, "iin").unwrap()["value"], "********2728");
    assert_eq!(
        category(&view, "full_name").unwrap()["value"]["surname"],
        KNOWN.surname
    );
    assert!(!view.to_string().contains(KNOWN.iin));

    let revealed = ok_json(
        app.post_empty(
            &format!("/subjects/{subject}/values/iin/reveal?purpose=identification"),
            &token,
        )
        .await,
    )
    .await;
    assert_eq!(revealed["value"], KNOWN.iin);
    assert_eq!(
        revealed["rule"],
        "c4_1_call_centre_iin_reveal_for_identification"
    );
    let log = app.db.store.audit_entries(0, 1000).await.unwrap();
    let entry = log
        .iter()
        .find(|e| e.detail.as_deref() == Some("reveal"))
        .expect("the reveal is audited");
    assert_eq!(entry.categories, vec!["iin".to_string()]);
    assert_eq!(
        entry.rule.as_deref(),
        Some("access:c4_1_call_centre_iin_reveal_for_identification")
    );
    assert_eq!(entry.subject.as_deref(), Some(subject.as_str()));
}
both_backends!(c4_1_call_centre_sees_the_iin_masked_and_reveals_it_for_identification);

async fn c5_5_reading_too_many_subjects_suspends_the_employee_at_once(backend: Backend) {
    let app = spawn(backend).await;
    let admin = app.bootstrap_admin().await;
    let admin_token = app.login(&admin).await;
    let (officer, token) = app
        .staffer(&admin_token, "credit.officer", "credit_officer")
        .await;
    let mut ids = Vec::new();
    for (_, body) in crate::support::demo_bodies(11, 4) {
        let view = app
            .vault
            .create_subject(
                &derbes_service::Call::new(Actor::System("test"), "contract"),
                serde_json::from_value(body).unwrap(),
            )
            .await
            .unwrap();
        ids.push(view.id.to_string());
    }
    for id in &ids[..3] {
        ok_json(
            app.get(&format!("/subjects/{id}?purpose=contract"), &token)
                .await,
        )
        .await;
    }
    ok_json(app.get("/me", &token).await).await;
    // The fourth distinct subject within the hour opens the incident, which suspends.
    ok_json(
        app.get(&format!("/subjects/{}?purpose=contract", ids[3]), &token)
            .await,
    )
    .await;
    problem(app.get("/me", &token).await, 401, "unauthenticated").await;
    let profile = ok_json(
        app.get(&format!("/employees/{}", officer.id), &admin_token)
            .await,
    )
    .await;
    assert_eq!(profile["employee"]["status"], "suspended", "{profile}");
    let incidents = app.db.store.list_incidents(None, 10).await.unwrap();
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].rule, "c5_5_many_subjects");
    assert_eq!(incidents[0].employee, format!("employee:{}", officer.id));
}
both_backends!(c5_5_reading_too_many_subjects_suspends_the_employee_at_once);

async fn c8_1_subject_audit_trail_for_requests_and_security_only(backend: Backend) {
    let app = spawn(backend).await;
    let admin = app.bootstrap_admin().await;
    let admin_token = app.login(&admin).await;
    let (_, officer) = app
        .staffer(&admin_token, "credit.officer", "credit_officer")
        .await;
    let (_, dpo) = app.staffer(&admin_token, "privacy.officer", "dpo").await;
    let subject = app.subject().await;
    ok_json(
        app.get(&format!("/subjects/{subject}?purpose=contract"), &officer)
            .await,
    )
    .await;

    let trail = ok_json(
        app.get(&format!("/subjects/{subject}/audit?purpose=requests"), &dpo)
            .await,
    )
    .await;
    let entries = trail["entries"].as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"create") && actions.contains(&"read"),
        "{actions:?}"
    );
    let read = entries.iter().find(|e| e["action"] == "read").unwrap();
    assert_eq!(read["purpose"], "contract");
    assert!(read["rule"]
        .as_str()
        .unwrap()
        .contains("c5_4_credit_officer_lending"));
    assert!(!trail.to_string().contains(KNOWN.iin));

    // The credit officer's purposes do not include reading audit trails.
    problem(
        app.get(
            &format!("/subjects/{subject}/audit?purpose=contract"),
            &officer,
        )
        .await,
        403,
        "access_denied",
    )
    .await;
    // Reading the trail is itself on the log.
    let log = app.db.store.audit_entries(0, 1000).await.unwrap();
    assert!(log
        .iter()
        .any(|e| e.detail.as_deref() == Some("audit_trail")
            && e.outcome == derbes_audit::Outcome::Allowed));
}
both_backends!(c8_1_subject_audit_trail_for_requests_and_security_only);

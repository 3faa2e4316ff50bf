//! The console's test harness, shared by the HTTP page tests (`tests/api/pages.rs`) and the
//! browser test (`tests/browser.rs`): the real server on a random port over a fresh
//! database (SQLite or PostgreSQL), with employees, the embedded access policy, incidents,
//! a `FixedClock`, and one known borrower.

#![allow(dead_code)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use derbes_access::AccessControl;
use derbes_core::clock::{Clock, FixedClock};
use derbes_core::registry::Registry;
use derbes_core::roles::Roles;
use derbes_crypto::KeyRing;
use derbes_service::employees::{
    EmployeeOptions, Employees, NewEmployee, PasswordParams, TrainingInput, UndertakingInput,
};
use derbes_service::incidents::Incidents;
use derbes_service::{totp, Actor, Call, NewSubjectInput, Vault};
use derbes_store::testing::{self, FreshDb};
use serde_json::json;
use std::sync::Arc;
use tokio::sync::oneshot;
use uuid::Uuid;

/// The database a console test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// The known borrower's IIN (kz-formats.md) and mobile number.
pub const IIN: &str = "791028302728";
pub const IIN_MASKED: &str = "********2728";
pub const PHONE: &str = "+77771234567";
pub const PHONE_DIGITS: &str = "7771234567";

/// A Monday morning in Almaty (working hours).
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 4, 30, 0).unwrap()
}

/// An employee's credentials as handed out at creation.
#[derive(Clone)]
pub struct Staff {
    pub id: String,
    pub login: String,
    pub password: String,
    pub secret: Vec<u8>,
}

/// A running server with the console.
pub struct ConsoleApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pub clock: Arc<FixedClock>,
    pub emp: Employees,
    pub incidents: Incidents,
    pub vault: Vault,
    pub db: FreshDb,
    /// The known borrower's pseudonymous id.
    pub subject: Uuid,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for ConsoleApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Start the server over a fresh database of `db`, with one borrower.
pub async fn spawn_console(db: Db) -> ConsoleApp {
    spawn_console_with_roles(db, derbes_core::roles::EMBEDDED_ROLES_TOML).await
}

/// As [`spawn_console`], with the roles file `roles_toml`.
pub async fn spawn_console_with_roles(db: Db, roles_toml: &str) -> ConsoleApp {
    let fresh = match db {
        Db::Sqlite => testing::fresh_sqlite().await,
        Db::Postgres => testing::fresh_pg().await,
    }
    .expect("fresh database (PostgreSQL must be reachable: it is never skipped)");
    let clock = Arc::new(FixedClock::new(t0()));
    let keys = Arc::new(KeyRing::generate(t0()).unwrap());
    let registry = Arc::new(Registry::embedded().unwrap());
    let roles = Arc::new(Roles::from_toml(roles_toml, &registry).unwrap());
    let access = Arc::new(AccessControl::open(None, registry.clone()).unwrap());
    let vault = Vault::open(fresh.store.clone(), keys.clone(), registry, clock.clone())
        .await
        .unwrap();
    let emp = Employees::open(
        fresh.store.clone(),
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
    let incidents = Incidents::new(fresh.store.clone(), clock.clone());
    // As `derbes serve`: employee reads pass the access policy inside the vault (4.1, 5.3),
    // within the embedded detection rules' working hours.
    assert!(vault.install_access_guard(
        derbes_service::AccessGuard::with_embedded_hours(access.clone(), Some(incidents.clone()))
            .unwrap()
    ));
    let state = derbes_web::AppState::new(vault.clone())
        .unwrap()
        .with_employees(emp.clone())
        .with_incidents(incidents.clone())
        .with_access(access);
    let input: NewSubjectInput = serde_json::from_value(json!({"values": [
        {"category": "full_name", "value": {"surname": "Жұмабеков", "given": "Ержан"},
         "source": {"kind": "subject"}},
        {"category": "iin", "value": IIN, "source": {"kind": "subject"}},
        {"category": "birth_date", "value": "1979-10-28", "source": {"kind": "subject"}},
        {"category": "mobile_phone", "value": PHONE, "source": {"kind": "subject"}},
    ]}))
    .unwrap();
    let created = vault
        .create_subject(&Call::new(Actor::System("test"), "contract"), input)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(derbes_web::serve(listener, state, async move {
        let _ = rx.await;
    }));
    ConsoleApp {
        base: format!("http://{addr}"),
        clock,
        emp,
        incidents,
        vault,
        db: fresh,
        subject: created.id,
        shutdown: Some(tx),
    }
}

impl ConsoleApp {
    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Hire an employee of `role` with a current undertaking (4.3) and a training (5.4).
    pub async fn hire(&self, login: &str, role: &str) -> Staff {
        let sys = Actor::System("test");
        let c = self
            .emp
            .create(
                &sys,
                NewEmployee {
                    login: login.into(),
                    display_name: "Айгерім Сәрсенова".into(),
                    role: role.into(),
                },
            )
            .await
            .unwrap();
        let id = c.employee.id.to_string();
        let today = t0().date_naive();
        self.emp
            .record_undertaking(
                &sys,
                &id,
                UndertakingInput {
                    text_version: "nda-2026-01".into(),
                    signed_on: today - Duration::days(30),
                    expires_on: today + Duration::days(335),
                },
            )
            .await
            .unwrap();
        self.emp
            .record_training(
                &sys,
                &id,
                TrainingInput {
                    course: "pd-protection".into(),
                    course_version: "3".into(),
                    completed_on: today - Duration::days(20),
                    expires_on: Some(today + Duration::days(345)),
                },
            )
            .await
            .unwrap();
        Staff {
            id,
            login: c.employee.login,
            password: c.password,
            secret: totp::base32_decode(&c.totp.secret).unwrap(),
        }
    }

    /// The current TOTP code of `s` (each step works once: call [`ConsoleApp::next_step`]
    /// between logins of one employee).
    pub fn code(&self, s: &Staff) -> String {
        totp::code_at(&s.secret, totp::step_of(self.clock.now().timestamp()))
    }

    /// Open an incident about `s` as the detector does (clause 5.5); with `suspend`, the
    /// detector's containment too: the employee is suspended (every session ends) and the
    /// timeline says so. Returns the incident id.
    pub async fn raise_incident(&self, s: &Staff, suspend: bool) -> String {
        use derbes_core::clock::to_micros;
        use derbes_store::NewIncident;
        let now = to_micros(self.clock.now());
        let employee = format!("employee:{}", s.id);
        let raised = self
            .db
            .store
            .raise_incident(&NewIncident {
                id: Uuid::now_v7().to_string(),
                rule: "c5_5_bulk_reads".into(),
                employee: employee.clone(),
                severity: "high".into(),
                at: now,
                evidence_at: now,
                evidence: json!({"kind": "read", "subjects": [self.subject.to_string()],
                                 "count": 4, "purpose": "identification"})
                .to_string(),
                subjects: vec![self.subject.to_string()],
                actor: "system:detector".into(),
            })
            .await
            .unwrap();
        let id = raised.incident().id.clone();
        if suspend {
            self.emp.suspend(&s.id, "incident_detector").await.unwrap();
            self.db
                .store
                .append_incident_event(
                    &id,
                    now,
                    "auto_suspended",
                    "system:detector",
                    Some(&json!({ "employee": employee }).to_string()),
                )
                .await
                .unwrap();
        }
        id
    }

    /// Move the clock to the next TOTP step.
    pub fn next_step(&self) {
        self.clock.advance(Duration::seconds(30));
    }
}

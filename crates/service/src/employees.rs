//! Employees of the lender: accounts with roles, login with a password (Argon2id) and a
//! TOTP second factor, sessions, lockout, confidentiality undertakings (clause 4.3) and
//! staff-training acknowledgements (5.4). Every login, logout, lockout, role change,
//! account change and record is audited (8.1, L-PROTECTION).
//!
//! Login is two steps: [`Employees::login`] checks the password and gives a short-lived
//! *pending* token; [`Employees::verify_totp`] checks the code (RFC 6238, ±1 step, each step
//! usable once) and gives the session token (a new one: the pending token dies). A session
//! ends at an absolute limit (8 h) or after an idle time (30 min), both measured by the
//! [`Clock`], or at once when it is logged out or the employee is disabled or suspended.
//!
//! One answer for every refused login (`invalid_credentials`): unknown login, wrong
//! password, wrong or replayed code, locked login or address, inactive account. An unknown
//! login is checked against a dummy Argon2 hash with the same parameters, so it takes as long
//! as a known one. Failures are counted per login and per client address under HMAC keys
//! (the login text of an unknown account is never stored, logged or audited); after
//! `max_failures_*` in `failure_window` the key is locked for `lockout`.
//!
//! Tokens are `drs_` + 32 random bytes (base64url); only their SHA-256 is stored.

use crate::audit::{entry, Auditor};
use crate::error::ServiceError;
use crate::model::{Actor, UndertakingTerm};
use crate::totp;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use derbes_audit::{Action, EntryFields, Outcome};
use derbes_core::calendar::to_almaty;
use derbes_core::clock::{from_micros, to_micros, Clock};
use derbes_core::registry::Names;
use derbes_core::roles::{RoleDef, Roles};
use derbes_crypto::{BlindIndexer, FieldAad, KeyRing, WrappedDek, Zeroizing};
use derbes_store::{
    EmployeeRecord, SessionRecord, Store, StoreError, TrainingRecord, UndertakingRecord,
};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

const TOKEN_PREFIX: &str = "drs_";
const TOTP_AAD_CATEGORY: &str = "employee_totp_secret";
const TOTP_KEY_VERSION: u32 = 1;
/// Longest password accepted (longer ones are simply wrong).
pub const MAX_PASSWORD_LEN: usize = 1024;
/// Shortest password accepted when one is set.
pub const MIN_PASSWORD_LEN: usize = 12;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Iterations.
    pub t: u32,
    /// Parallelism.
    pub p: u32,
}

impl PasswordParams {
    /// OWASP Password Storage Cheat Sheet: Argon2id, 19 MiB, 2 iterations, 1 lane.
    pub const OWASP: PasswordParams = PasswordParams {
        m_kib: 19 * 1024,
        t: 2,
        p: 1,
    };
    /// The cheapest parameters Argon2 allows: for tests only.
    pub const INSECURE_TEST: PasswordParams = PasswordParams {
        m_kib: 8,
        t: 1,
        p: 1,
    };

    fn hasher(self) -> Result<Argon2<'static>, ServiceError> {
        let params = Params::new(self.m_kib, self.t, self.p, None)
            .map_err(|_| ServiceError::InvalidInput("password_params"))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// How employees' sessions and logins behave.
#[derive(Debug, Clone)]
pub struct EmployeeOptions {
    /// A session ends this long after login, however active (default 8 h).
    pub session_absolute: Duration,
    /// A session ends after this long without a request (default 30 min).
    pub session_idle: Duration,
    /// Time to enter the TOTP code after the password (default 5 min).
    pub pending_ttl: Duration,
    /// Failures per login in `failure_window` before the login is locked (default 5).
    pub max_failures_per_login: i64,
    /// Failures per client address in `failure_window` before it is locked (default 20).
    pub max_failures_per_ip: i64,
    /// The counting window (default 15 min).
    pub failure_window: Duration,
    /// How long a lock lasts (default 15 min).
    pub lockout: Duration,
    /// Argon2id parameters of new password hashes (default [`PasswordParams::OWASP`]).
    pub password: PasswordParams,
    /// Issuer shown by authenticator apps.
    pub issuer: String,
}

impl Default for EmployeeOptions {
    fn default() -> Self {
        EmployeeOptions {
            session_absolute: Duration::hours(8),
            session_idle: Duration::minutes(30),
            pending_ttl: Duration::minutes(5),
            max_failures_per_login: 5,
            max_failures_per_ip: 20,
            failure_window: Duration::minutes(15),
            lockout: Duration::minutes(15),
            password: PasswordParams::OWASP,
            issuer: "derbes".to_string(),
        }
    }
}

/// An account's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmployeeStatus {
    /// May log in.
    Active,
    /// Disabled by an administrator (left, or access withdrawn).
    Disabled,
    /// Suspended pending an investigation (e.g. by an incident rule, clause 5.5).
    Suspended,
}

impl EmployeeStatus {
    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            EmployeeStatus::Active => "active",
            EmployeeStatus::Disabled => "disabled",
            EmployeeStatus::Suspended => "suspended",
        }
    }

    fn parse(s: &str) -> EmployeeStatus {
        match s {
            "active" => EmployeeStatus::Active,
            "suspended" => EmployeeStatus::Suspended,
            _ => EmployeeStatus::Disabled,
        }
    }
}

/// A login name: 2..=64 characters of `a-z 0-9 . _ -`, starting with a letter or digit;
/// case-insensitive (kept in lower case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login(String);

impl Login {
    /// Parse and normalise.
    pub fn parse(raw: &str) -> Result<Login, ServiceError> {
        let s = raw.trim().to_ascii_lowercase();
        let ok = (2..=64).contains(&s.len())
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if ok {
            Ok(Login(s))
        } else {
            Err(ServiceError::InvalidInput("login"))
        }
    }

    /// The normalised text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A role and its names, as shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoleView {
    /// Code.
    pub code: String,
    /// Russian name.
    pub ru: String,
    /// Kazakh name.
    pub kk: String,
    /// English name.
    pub en: String,
    /// Purposes the role may name.
    pub purposes: Vec<String>,
}

impl RoleView {
    fn of(code: &str, def: Option<&RoleDef>) -> RoleView {
        let blank = Names {
            ru: code.to_string(),
            kk: code.to_string(),
            en: code.to_string(),
        };
        let names = def.map(|d| &d.name).unwrap_or(&blank);
        RoleView {
            code: code.to_string(),
            ru: names.ru.clone(),
            kk: names.kk.clone(),
            en: names.en.clone(),
            purposes: def.map(|d| d.purposes.clone()).unwrap_or_default(),
        }
    }
}

/// An account as listed (never a secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EmployeeInfo {
    /// Id.
    pub id: Uuid,
    /// Login.
    pub login: String,
    /// Display name.
    pub display_name: String,
    /// Role.
    pub role: RoleView,
    /// Status.
    pub status: EmployeeStatus,
    /// Whether a TOTP second factor is enrolled.
    pub totp_enrolled: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A confidentiality undertaking on record (clause 4.3).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UndertakingView {
    /// Id.
    pub id: Uuid,
    /// Version of the text signed.
    pub text_version: String,
    /// Signed on.
    pub signed_on: NaiveDate,
    /// Expires on (no longer in force from this day).
    pub expires_on: NaiveDate,
    /// In force today.
    pub in_force: bool,
    /// Who recorded it (actor id).
    pub recorded_by: String,
    /// When.
    pub recorded_at: DateTime<Utc>,
}

/// A staff-training acknowledgement (clause 5.4).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrainingView {
    /// Id.
    pub id: Uuid,
    /// Course code.
    pub course: String,
    /// Course version.
    pub course_version: String,
    /// Completed on.
    pub completed_on: NaiveDate,
    /// Must be repeated by, if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_on: Option<NaiveDate>,
    /// Current (not expired) today.
    pub current: bool,
    /// Who recorded it.
    pub recorded_by: String,
    /// When.
    pub recorded_at: DateTime<Utc>,
}

/// An employee's profile: account, undertakings and trainings.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EmployeeProfile {
    /// The account.
    pub employee: EmployeeInfo,
    /// Whether the employee may access personal data now (active and an undertaking in
    /// force, clause 4.3).
    pub personal_data_access: bool,
    /// Undertakings, newest first.
    pub undertakings: Vec<UndertakingView>,
    /// Training acknowledgements, newest first.
    pub trainings: Vec<TrainingView>,
}

/// A new account.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEmployee {
    /// Login (2–64 of `a-z 0-9 . _ -`; case-insensitive).
    pub login: String,
    /// Name shown in the console (1–128 characters).
    pub display_name: String,
    /// Role code.
    pub role: String,
}

/// TOTP enrolment, shown once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TotpEnrolment {
    /// The secret, base32 (for typing in).
    pub secret: String,
    /// `otpauth://totp/…` (for a QR code).
    pub uri: String,
}

/// A created account with its initial password and TOTP secret, shown once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedEmployee {
    /// The account.
    pub employee: EmployeeInfo,
    /// The initial password (shown once; only its Argon2id hash is kept).
    pub password: String,
    /// The TOTP enrolment (shown once).
    pub totp: TotpEnrolment,
}

/// An undertaking to record.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UndertakingInput {
    /// Version of the text signed (a code, e.g. `nda-2026-01`).
    pub text_version: String,
    /// Signed on (not in the future).
    pub signed_on: NaiveDate,
    /// Expires on (after `signed_on`).
    pub expires_on: NaiveDate,
}

/// A training acknowledgement to record.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainingInput {
    /// Course code, e.g. `pd-protection`.
    pub course: String,
    /// Course version.
    pub course_version: String,
    /// Completed on (not in the future).
    pub completed_on: NaiveDate,
    /// Must be repeated by.
    #[serde(default)]
    pub expires_on: Option<NaiveDate>,
}

/// The answer to a correct password: enter the TOTP code with this token.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PendingLogin {
    /// Pending token (for `POST /auth/totp` only).
    pub pending_token: String,
    /// Until when.
    pub expires_at: DateTime<Utc>,
}

/// A full session.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NewSession {
    /// Session token (`Authorization: Bearer` or the session cookie).
    pub token: String,
    /// Absolute end of the session (an idle session ends earlier).
    pub expires_at: DateTime<Utc>,
    /// The CSRF token of this session, for state-changing forms.
    pub csrf_token: String,
}

/// A checked session: who it is.
#[derive(Debug, Clone)]
pub struct EmployeeSession {
    /// The actor for calls (`Actor::Employee`).
    pub actor: Actor,
    /// The employee.
    pub employee_id: Uuid,
    /// The session's CSRF token.
    pub csrf_token: String,
}

/// The employee service. Cheap to clone.
#[derive(Clone)]
pub struct Employees {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    keys: Arc<KeyRing>,
    indexer: BlindIndexer,
    roles: Arc<Roles>,
    clock: Arc<dyn Clock>,
    auditor: Auditor,
    opts: EmployeeOptions,
    dummy_hash: String,
}

fn random_bytes<const N: usize>() -> Result<[u8; N], ServiceError> {
    let mut b = [0u8; N];
    rand::rngs::OsRng
        .try_fill_bytes(&mut b)
        .map_err(|_| ServiceError::Unavailable)?;
    Ok(b)
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn employee_subject(id: &str) -> String {
    format!("employee:{id}")
}

fn is_code(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

fn parse_id(id: &str) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(id).map_err(|_| ServiceError::EmployeeNotFound)
}

fn date(s: &str) -> Result<NaiveDate, ServiceError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| ServiceError::Integrity)
}

fn hash_password(params: PasswordParams, password: &str) -> Result<String, ServiceError> {
    let salt_bytes = random_bytes::<16>()?;
    let salt =
        SaltString::encode_b64(&salt_bytes).map_err(|_| ServiceError::InvalidInput("password"))?;
    params
        .hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| ServiceError::InvalidInput("password"))
}

/// Verify `password` against a PHC string (the parameters come from the string).
fn verify_password(phc: &str, password: &str) -> bool {
    if password.len() > MAX_PASSWORD_LEN {
        return false;
    }
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

async fn verify_blocking(phc: String, password: Zeroizing<String>) -> bool {
    tokio::task::spawn_blocking(move || verify_password(&phc, &password))
        .await
        .unwrap_or(false)
}

/// Generate an initial password: 18 random bytes, base64url (24 characters).
fn generate_password() -> Result<Zeroizing<String>, ServiceError> {
    Ok(Zeroizing::new(b64url(&random_bytes::<18>()?)))
}

impl Employees {
    /// Start the service: the dummy hash for unknown logins is made here with the configured
    /// parameters, so unknown and known logins cost the same.
    pub async fn open(
        store: Arc<dyn Store>,
        keys: Arc<KeyRing>,
        roles: Arc<Roles>,
        clock: Arc<dyn Clock>,
        opts: EmployeeOptions,
    ) -> Result<Employees, ServiceError> {
        let params = opts.password;
        let dummy_pw = generate_password()?;
        let dummy_hash = tokio::task::spawn_blocking(move || hash_password(params, &dummy_pw))
            .await
            .map_err(|_| ServiceError::Unavailable)??;
        let indexer = keys.blind_indexer();
        let auditor = Auditor::start(store.clone());
        Ok(Employees {
            inner: Arc::new(Inner {
                store,
                keys,
                indexer,
                roles,
                clock,
                auditor,
                opts,
                dummy_hash,
            }),
        })
    }

    /// The roles in force.
    pub fn roles(&self) -> &Roles {
        &self.inner.roles
    }

    /// The options in force.
    pub fn options(&self) -> &EmployeeOptions {
        &self.inner.opts
    }

    fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    fn today(&self) -> NaiveDate {
        to_almaty(self.now()).date_naive()
    }

    fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    async fn audit(&self, entries: Vec<EntryFields>) -> Result<(), ServiceError> {
        self.inner.auditor.record(entries).await
    }

    #[allow(clippy::too_many_arguments)]
    fn entry(
        &self,
        actor: &str,
        action: Action,
        outcome: Outcome,
        subject: Option<String>,
        rule: &str,
        detail: Option<String>,
    ) -> EntryFields {
        entry(
            to_micros(self.now()),
            actor,
            action,
            outcome,
            subject,
            None,
            Vec::new(),
            Some(rule.to_string()),
            detail,
        )
    }

    /// Stop the audit writer after pending appends.
    pub async fn shutdown(&self) {
        self.inner.auditor.shutdown().await;
    }

    // -----------------------------------------------------------------------------------
    // Who may manage accounts

    fn role_rule(&self, by: &Actor) -> String {
        match by {
            Actor::Employee { role, .. } => {
                format!("role:{role}@roles:{}", self.inner.roles.version())
            }
            Actor::System(_) => "system".to_string(),
            Actor::ApiKey { .. } => "api_key".to_string(),
            Actor::Subject { .. } => "subject".to_string(),
        }
    }

    /// Refuse (and audit) unless `by` is the system or an employee whose role has `need`.
    async fn require(
        &self,
        by: &Actor,
        action: Action,
        subject: Option<&str>,
        need: fn(&RoleDef) -> bool,
    ) -> Result<String, ServiceError> {
        let allowed = match by {
            Actor::System(_) => true,
            Actor::Employee { role, .. } => self.inner.roles.role(role).is_some_and(need),
            Actor::ApiKey { .. } | Actor::Subject { .. } => false,
        };
        let rule = self.role_rule(by);
        if allowed {
            return Ok(rule);
        }
        let e = self.entry(
            &by.id(),
            action,
            Outcome::Denied,
            subject.map(employee_subject),
            &rule,
            Some(ServiceError::RoleNotPermitted.code().to_string()),
        );
        self.audit(vec![e]).await?;
        Err(ServiceError::RoleNotPermitted)
    }

    async fn load(&self, id: &str) -> Result<EmployeeRecord, ServiceError> {
        let uuid = parse_id(id)?;
        self.store()
            .employee(&uuid.to_string())
            .await?
            .ok_or(ServiceError::EmployeeNotFound)
    }

    fn info(&self, r: &EmployeeRecord) -> Result<EmployeeInfo, ServiceError> {
        Ok(EmployeeInfo {
            id: parse_id(&r.id)?,
            login: r.login.clone(),
            display_name: r.display_name.clone(),
            role: RoleView::of(&r.role, self.inner.roles.role(&r.role)),
            status: EmployeeStatus::parse(&r.status),
            totp_enrolled: r.totp_secret.is_some(),
            created_at: from_micros(r.created_at),
            updated_at: from_micros(r.updated_at),
        })
    }

    fn parse_role(&self, role: &str) -> Result<&RoleDef, ServiceError> {
        self.inner
            .roles
            .role(role)
            .ok_or(ServiceError::InvalidInput("role"))
    }

    /// Encrypt a TOTP secret under a fresh key wrapped by the current master key; the
    /// associated data binds it to the employee.
    fn seal_totp(&self, id: &Uuid, secret: &[u8]) -> Result<(Vec<u8>, WrappedDek), ServiceError> {
        let (dek, wrapped) = self.inner.keys.new_dek(id.as_bytes())?;
        let ct = dek.encrypt(
            &FieldAad::new(id.as_bytes(), TOTP_AAD_CATEGORY, TOTP_KEY_VERSION),
            secret,
        )?;
        Ok((ct, wrapped))
    }

    fn open_totp(&self, r: &EmployeeRecord) -> Result<Option<Zeroizing<Vec<u8>>>, ServiceError> {
        let (Some(ct), Some(key), Some(v)) = (&r.totp_secret, &r.totp_key, r.totp_kek_version)
        else {
            return Ok(None);
        };
        let id = parse_id(&r.id)?;
        let wrapped = WrappedDek {
            kek_version: u32::try_from(v).map_err(|_| ServiceError::Integrity)?,
            bytes: key.clone(),
        };
        let dek = self.inner.keys.unwrap_dek(id.as_bytes(), &wrapped)?;
        let secret = dek.decrypt(
            &FieldAad::new(id.as_bytes(), TOTP_AAD_CATEGORY, TOTP_KEY_VERSION),
            ct,
        )?;
        Ok(Some(secret))
    }

    fn enrolment(&self, login: &str, secret: &[u8]) -> TotpEnrolment {
        TotpEnrolment {
            secret: totp::base32(secret),
            uri: totp::otpauth_uri(&self.inner.opts.issuer, login, secret),
        }
    }

    // -----------------------------------------------------------------------------------
    // Administration

    /// Create an account (administrators, or the system for bootstrapping). The initial
    /// password and the TOTP secret are generated and returned once.
    pub async fn create(
        &self,
        by: &Actor,
        input: NewEmployee,
    ) -> Result<CreatedEmployee, ServiceError> {
        let rule = self
            .require(by, Action::EMPLOYEE_CREATE, None, |r| r.admin)
            .await?;
        let login = Login::parse(&input.login)?;
        let name = input.display_name.trim();
        if name.is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) {
            return Err(ServiceError::InvalidInput("display_name"));
        }
        self.parse_role(&input.role)?;
        let id = Uuid::now_v7();
        let password = generate_password()?;
        let params = self.inner.opts.password;
        let pw = password.clone();
        let hash = tokio::task::spawn_blocking(move || hash_password(params, &pw))
            .await
            .map_err(|_| ServiceError::Unavailable)??;
        let secret = Zeroizing::new(random_bytes::<{ totp::SECRET_LEN }>()?);
        let (ct, wrapped) = self.seal_totp(&id, secret.as_slice())?;
        let now = to_micros(self.now());
        let record = EmployeeRecord {
            id: id.to_string(),
            login: login.as_str().to_string(),
            display_name: name.to_string(),
            role: input.role.clone(),
            password_hash: hash,
            totp_secret: Some(ct),
            totp_key: Some(wrapped.bytes),
            totp_kek_version: Some(i64::from(wrapped.kek_version)),
            totp_last_step: None,
            status: EmployeeStatus::Active.as_str().to_string(),
            created_at: now,
            updated_at: now,
        };
        self.store()
            .insert_employee(&record)
            .await
            .map_err(|e| match e {
                StoreError::Conflict => ServiceError::LoginTaken,
                other => ServiceError::Store(other),
            })?;
        let e = self.entry(
            &by.id(),
            Action::EMPLOYEE_CREATE,
            Outcome::Allowed,
            Some(employee_subject(&record.id)),
            &rule,
            Some(format!("role:{}", input.role)),
        );
        self.audit(vec![e]).await?;
        Ok(CreatedEmployee {
            employee: self.info(&record)?,
            password: password.to_string(),
            totp: self.enrolment(login.as_str(), secret.as_slice()),
        })
    }

    /// All accounts (administrators).
    pub async fn list(&self, by: &Actor) -> Result<Vec<EmployeeInfo>, ServiceError> {
        self.require(by, Action::READ, None, |r| r.admin || r.records)
            .await?;
        self.store()
            .list_employees()
            .await?
            .iter()
            .map(|r| self.info(r))
            .collect()
    }

    /// An employee's profile: the employee's own, or anyone's for administrators and
    /// record keepers.
    pub async fn profile(&self, by: &Actor, id: &str) -> Result<EmployeeProfile, ServiceError> {
        let own = matches!(by, Actor::Employee { id: me, .. } if me.to_string() == id);
        if !own {
            self.require(by, Action::READ, Some(id), |r| r.admin || r.records)
                .await?;
        }
        let r = self.load(id).await?;
        let today = self.today();
        let undertakings = self
            .store()
            .undertakings_of(&r.id)
            .await?
            .iter()
            .map(|u| {
                let signed_on = date(&u.signed_on)?;
                let expires_on = date(&u.expires_on)?;
                Ok(UndertakingView {
                    id: parse_id(&u.id)?,
                    text_version: u.text_version.clone(),
                    signed_on,
                    expires_on,
                    in_force: signed_on <= today && today < expires_on,
                    recorded_by: u.recorded_by.clone(),
                    recorded_at: from_micros(u.recorded_at),
                })
            })
            .collect::<Result<Vec<_>, ServiceError>>()?;
        let trainings = self
            .store()
            .trainings_of(&r.id)
            .await?
            .iter()
            .map(|t| {
                let expires_on = t.expires_on.as_deref().map(date).transpose()?;
                Ok(TrainingView {
                    id: parse_id(&t.id)?,
                    course: t.course.clone(),
                    course_version: t.course_version.clone(),
                    completed_on: date(&t.completed_on)?,
                    expires_on,
                    current: expires_on.is_none_or(|e| today < e),
                    recorded_by: t.recorded_by.clone(),
                    recorded_at: from_micros(t.recorded_at),
                })
            })
            .collect::<Result<Vec<_>, ServiceError>>()?;
        let active = r.status == EmployeeStatus::Active.as_str();
        Ok(EmployeeProfile {
            personal_data_access: active && undertakings.iter().any(|u| u.in_force),
            employee: self.info(&r)?,
            undertakings,
            trainings,
        })
    }

    /// Change an employee's role (audited as a role change).
    pub async fn set_role(
        &self,
        by: &Actor,
        id: &str,
        role: &str,
    ) -> Result<EmployeeInfo, ServiceError> {
        let rule = self
            .require(by, Action::ROLE_CHANGE, Some(id), |r| r.admin)
            .await?;
        self.parse_role(role)?;
        let old = self.load(id).await?;
        let now = to_micros(self.now());
        self.store().set_employee_role(&old.id, role, now).await?;
        let e = self.entry(
            &by.id(),
            Action::ROLE_CHANGE,
            Outcome::Allowed,
            Some(employee_subject(&old.id)),
            &rule,
            Some(format!("from:{},to:{role}", old.role)),
        );
        self.audit(vec![e]).await?;
        self.info(&self.load(id).await?)
    }

    /// Disable, suspend or re-activate an account. Any status but `active` revokes every
    /// session of the employee at once, in the same transaction.
    pub async fn set_status(
        &self,
        by: &Actor,
        id: &str,
        status: EmployeeStatus,
    ) -> Result<EmployeeInfo, ServiceError> {
        let rule = self
            .require(by, Action::EMPLOYEE_STATUS, Some(id), |r| r.admin)
            .await?;
        let r = self.load(id).await?;
        let now = to_micros(self.now());
        let revoked = self
            .store()
            .set_employee_status(&r.id, status.as_str(), now)
            .await?;
        let e = self.entry(
            &by.id(),
            Action::EMPLOYEE_STATUS,
            Outcome::Allowed,
            Some(employee_subject(&r.id)),
            &rule,
            Some(format!(
                "status:{},sessions_revoked:{revoked}",
                status.as_str()
            )),
        );
        self.audit(vec![e]).await?;
        self.info(&self.load(id).await?)
    }

    /// Suspend an employee (for automatic containment, clause 5.5): as
    /// [`Employees::set_status`] with `suspended`, by the system.
    pub async fn suspend(&self, id: &str, reason: &'static str) -> Result<(), ServiceError> {
        self.set_status(&Actor::System(reason), id, EmployeeStatus::Suspended)
            .await
            .map(|_| ())
    }

    /// Lift a lockout of an employee's login (administrators).
    pub async fn unlock(&self, by: &Actor, id: &str) -> Result<(), ServiceError> {
        let rule = self
            .require(by, Action::EMPLOYEE_UNLOCK, Some(id), |r| r.admin)
            .await?;
        let r = self.load(id).await?;
        self.store()
            .clear_throttle(&self.login_key(&r.login))
            .await?;
        let e = self.entry(
            &by.id(),
            Action::EMPLOYEE_UNLOCK,
            Outcome::Allowed,
            Some(employee_subject(&r.id)),
            &rule,
            None,
        );
        self.audit(vec![e]).await
    }

    /// (Re-)enrol the TOTP second factor; the new secret is returned once and the old one
    /// stops working.
    pub async fn enroll_totp(&self, by: &Actor, id: &str) -> Result<TotpEnrolment, ServiceError> {
        let rule = self
            .require(by, Action::TOTP_ENROLL, Some(id), |r| r.admin)
            .await?;
        let r = self.load(id).await?;
        let uuid = parse_id(&r.id)?;
        let secret = Zeroizing::new(random_bytes::<{ totp::SECRET_LEN }>()?);
        let (ct, wrapped) = self.seal_totp(&uuid, secret.as_slice())?;
        self.store()
            .set_employee_totp(
                &r.id,
                &ct,
                &wrapped.bytes,
                i64::from(wrapped.kek_version),
                to_micros(self.now()),
            )
            .await?;
        let e = self.entry(
            &by.id(),
            Action::TOTP_ENROLL,
            Outcome::Allowed,
            Some(employee_subject(&r.id)),
            &rule,
            None,
        );
        self.audit(vec![e]).await?;
        Ok(self.enrolment(&r.login, secret.as_slice()))
    }

    /// Set a new password (administrators); returns it once. Ends the employee's sessions.
    pub async fn reset_password(&self, by: &Actor, id: &str) -> Result<String, ServiceError> {
        let action = Action::new("password_reset").map_err(|_| ServiceError::Unavailable)?;
        let rule = self
            .require(by, action.clone(), Some(id), |r| r.admin)
            .await?;
        let r = self.load(id).await?;
        let password = generate_password()?;
        let params = self.inner.opts.password;
        let pw = password.clone();
        let hash = tokio::task::spawn_blocking(move || hash_password(params, &pw))
            .await
            .map_err(|_| ServiceError::Unavailable)??;
        let now = to_micros(self.now());
        self.store()
            .set_employee_password(&r.id, &hash, now)
            .await?;
        self.store().revoke_sessions_of(&r.id, now).await?;
        let e = self.entry(
            &by.id(),
            action,
            Outcome::Allowed,
            Some(employee_subject(&r.id)),
            &rule,
            None,
        );
        self.audit(vec![e]).await?;
        Ok(password.to_string())
    }

    /// Record a confidentiality undertaking (clause 4.3).
    pub async fn record_undertaking(
        &self,
        by: &Actor,
        id: &str,
        input: UndertakingInput,
    ) -> Result<UndertakingView, ServiceError> {
        let rule = self
            .require(by, Action::UNDERTAKING, Some(id), |r| r.records)
            .await?;
        if !is_code(&input.text_version) {
            return Err(ServiceError::InvalidInput("text_version"));
        }
        let today = self.today();
        if input.signed_on > today {
            return Err(ServiceError::InvalidInput("signed_on"));
        }
        if input.expires_on <= input.signed_on {
            return Err(ServiceError::InvalidInput("expires_on"));
        }
        let r = self.load(id).await?;
        let now = self.now();
        let rec = UndertakingRecord {
            id: Uuid::now_v7().to_string(),
            employee_id: r.id.clone(),
            text_version: input.text_version.clone(),
            signed_on: input.signed_on.format("%Y-%m-%d").to_string(),
            expires_on: input.expires_on.format("%Y-%m-%d").to_string(),
            recorded_by: by.id(),
            recorded_at: to_micros(now),
        };
        self.store().insert_undertaking(&rec).await?;
        let e = self.entry(
            &by.id(),
            Action::UNDERTAKING,
            Outcome::Allowed,
            Some(employee_subject(&r.id)),
            &rule,
            Some(format!(
                "version:{},signed:{},expires:{}",
                rec.text_version, rec.signed_on, rec.expires_on
            )),
        );
        self.audit(vec![e]).await?;
        Ok(UndertakingView {
            id: parse_id(&rec.id)?,
            text_version: rec.text_version,
            signed_on: input.signed_on,
            expires_on: input.expires_on,
            in_force: input.signed_on <= today && today < input.expires_on,
            recorded_by: rec.recorded_by,
            recorded_at: now,
        })
    }

    /// Record a staff-training acknowledgement (clause 5.4).
    pub async fn record_training(
        &self,
        by: &Actor,
        id: &str,
        input: TrainingInput,
    ) -> Result<TrainingView, ServiceError> {
        let rule = self
            .require(by, Action::TRAINING, Some(id), |r| r.records)
            .await?;
        if !is_code(&input.course) {
            return Err(ServiceError::InvalidInput("course"));
        }
        if !is_code(&input.course_version) {
            return Err(ServiceError::InvalidInput("course_version"));
        }
        let today = self.today();
        if input.completed_on > today {
            return Err(ServiceError::InvalidInput("completed_on"));
        }
        if input.expires_on.is_some_and(|e| e <= input.completed_on) {
            return Err(ServiceError::InvalidInput("expires_on"));
        }
        let r = self.load(id).await?;
        let now = self.now();
        let rec = TrainingRecord {
            id: Uuid::now_v7().to_string(),
            employee_id: r.id.clone(),
            course: input.course.clone(),
            course_version: input.course_version.clone(),
            completed_on: input.completed_on.format("%Y-%m-%d").to_string(),
            expires_on: input.expires_on.map(|d| d.format("%Y-%m-%d").to_string()),
            recorded_by: by.id(),
            recorded_at: to_micros(now),
        };
        self.store().insert_training(&rec).await?;
        let e = self.entry(
            &by.id(),
            Action::TRAINING,
            Outcome::Allowed,
            Some(employee_subject(&r.id)),
            &rule,
            Some(format!(
                "course:{},version:{},completed:{}",
                rec.course, rec.course_version, rec.completed_on
            )),
        );
        self.audit(vec![e]).await?;
        Ok(TrainingView {
            id: parse_id(&rec.id)?,
            course: rec.course,
            course_version: rec.course_version,
            completed_on: input.completed_on,
            expires_on: input.expires_on,
            current: input.expires_on.is_none_or(|e| today < e),
            recorded_by: rec.recorded_by,
            recorded_at: now,
        })
    }

    /// Clause 4.3: the employee is active and has a confidentiality undertaking in force at
    /// `now` (`signed_on ≤ today < expires_on`, Almaty calendar day).
    pub async fn employee_may_access_personal_data(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, ServiceError> {
        let r = self.load(id).await?;
        if r.status != EmployeeStatus::Active.as_str() {
            return Ok(false);
        }
        Ok(self.undertaking_in_force(&r.id, now).await?.is_some())
    }

    async fn undertaking_in_force(
        &self,
        employee_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<UndertakingTerm>, ServiceError> {
        for u in self.store().undertakings_of(employee_id).await? {
            let term = UndertakingTerm {
                signed_on: date(&u.signed_on)?,
                expires_on: date(&u.expires_on)?,
            };
            if term.in_force(now) {
                return Ok(Some(term));
            }
        }
        Ok(None)
    }

    // -----------------------------------------------------------------------------------
    // Login

    fn login_key(&self, normalised: &str) -> Vec<u8> {
        self.inner
            .indexer
            .index("employee_login_throttle", normalised)
            .to_vec()
    }

    fn ip_key(&self, ip: IpAddr) -> Vec<u8> {
        self.inner
            .indexer
            .index("employee_ip_throttle", &ip.to_string())
            .to_vec()
    }

    /// An audit actor for a login attempt on an account that may not exist: a keyed hash of
    /// the login, so repeated attempts can be correlated without storing the text.
    fn attempt_actor(&self, key: &[u8]) -> String {
        format!("login:{}", hex::encode(&key[..8]))
    }

    async fn locked(&self, key: &[u8], now: i64) -> Result<bool, ServiceError> {
        Ok(self
            .store()
            .throttle(key)
            .await?
            .and_then(|t| t.locked_until)
            .is_some_and(|u| u > now))
    }

    /// Count a failure for each key; lock keys that reach their limit and audit the lock.
    async fn fail(
        &self,
        keys: &[(Vec<u8>, i64, &'static str)],
        actor: &str,
        subject: Option<String>,
        reason: &'static str,
    ) -> Result<ServiceError, ServiceError> {
        let now = self.now();
        let now_us = to_micros(now);
        let floor = to_micros(now - self.inner.opts.failure_window);
        let until = to_micros(now + self.inner.opts.lockout);
        let mut entries = vec![self.entry(
            actor,
            Action::LOGIN_FAILED,
            Outcome::Denied,
            subject.clone(),
            "authentication:password+totp",
            Some(reason.to_string()),
        )];
        for (key, max, what) in keys {
            let t = self.store().record_failure(key, now_us, floor).await?;
            if t.failures >= *max {
                self.store().lock_key(key, now_us, until).await?;
                entries.push(self.entry(
                    actor,
                    Action::LOCKOUT,
                    Outcome::Denied,
                    subject.clone(),
                    &format!("lockout:{what}:{max}"),
                    Some(format!("until:{until}")),
                ));
            }
        }
        self.audit(entries).await?;
        Ok(ServiceError::InvalidCredentials)
    }

    fn throttle_keys(
        &self,
        login_key: Vec<u8>,
        client: Option<IpAddr>,
    ) -> Vec<(Vec<u8>, i64, &'static str)> {
        let mut keys = vec![(login_key, self.inner.opts.max_failures_per_login, "login")];
        if let Some(ip) = client {
            keys.push((self.ip_key(ip), self.inner.opts.max_failures_per_ip, "ip"));
        }
        keys
    }

    async fn new_token(&self) -> Result<(String, Vec<u8>), ServiceError> {
        let token = format!("{TOKEN_PREFIX}{}", b64url(&random_bytes::<32>()?));
        let hash = token_hash(&token);
        Ok((token, hash))
    }

    /// Step 1: the password. Gives a pending token to complete with the TOTP code. Every
    /// refusal is `invalid_credentials`.
    pub async fn login(
        &self,
        login: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> Result<PendingLogin, ServiceError> {
        let now = self.now();
        let now_us = to_micros(now);
        // Format checks first: they say nothing about accounts, and count no attempt.
        let login = Login::parse(login)?;
        if password.is_empty() || password.len() > MAX_PASSWORD_LEN {
            return Err(ServiceError::InvalidInput("password"));
        }
        let lkey = self.login_key(login.as_str());
        let keys = self.throttle_keys(lkey.clone(), client);
        let mut locked = false;
        for (k, _, _) in &keys {
            locked |= self.locked(k, now_us).await?;
        }
        let account = self.store().employee_by_login(login.as_str()).await?;
        let phc = account
            .as_ref()
            .map(|a| a.password_hash.clone())
            .unwrap_or_else(|| self.inner.dummy_hash.clone());
        let password_ok = verify_blocking(phc, Zeroizing::new(password.to_string())).await;
        let (actor, subject) = match &account {
            Some(a) => (employee_subject(&a.id), Some(employee_subject(&a.id))),
            None => (self.attempt_actor(&lkey), None),
        };
        let reason = match &account {
            _ if locked => Some("locked"),
            None => Some("unknown_login"),
            Some(_) if !password_ok => Some("bad_password"),
            Some(a) if a.status != EmployeeStatus::Active.as_str() => Some("inactive"),
            Some(a) if a.totp_secret.is_none() => Some("no_totp"),
            Some(_) => None,
        };
        if let Some(reason) = reason {
            return Err(self.fail(&keys, &actor, subject, reason).await?);
        }
        let Some(account) = account else {
            return Err(ServiceError::InvalidCredentials);
        };
        let (token, hash) = self.new_token().await?;
        let expires = now + self.inner.opts.pending_ttl;
        self.store()
            .insert_session(&SessionRecord {
                token_hash: hash,
                employee_id: account.id.clone(),
                created_at: now_us,
                last_seen_at: now_us,
                expires_at: to_micros(expires),
                revoked_at: None,
                mfa_passed: false,
            })
            .await?;
        Ok(PendingLogin {
            pending_token: token,
            expires_at: expires,
        })
    }

    /// Step 2: the TOTP code, with the pending token from step 1. Gives a new session token;
    /// the pending token is revoked. A code is accepted once only (replay refused).
    pub async fn verify_totp(
        &self,
        pending_token: &str,
        code: &str,
        client: Option<IpAddr>,
    ) -> Result<NewSession, ServiceError> {
        let code = code.trim();
        if code.len() != totp::DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ServiceError::InvalidInput("code"));
        }
        let now = self.now();
        let now_us = to_micros(now);
        if !pending_token.starts_with(TOKEN_PREFIX) || pending_token.len() > 128 {
            return Err(ServiceError::InvalidCredentials);
        }
        let phash = token_hash(pending_token);
        let session = self
            .store()
            .session(&phash)
            .await?
            .filter(|s| !s.mfa_passed && s.revoked_at.is_none() && s.expires_at > now_us);
        let Some(session) = session else {
            // No account is named by a dead token: nothing to count but the address.
            let keys: Vec<_> = client
                .map(|ip| (self.ip_key(ip), self.inner.opts.max_failures_per_ip, "ip"))
                .into_iter()
                .collect();
            let actor = "login:pending_token".to_string();
            return Err(self.fail(&keys, &actor, None, "bad_pending_token").await?);
        };
        let account = self
            .store()
            .employee(&session.employee_id)
            .await?
            .ok_or(ServiceError::InvalidCredentials)?;
        let lkey = self.login_key(&account.login);
        let keys = self.throttle_keys(lkey, client);
        let mut locked = false;
        for (k, _, _) in &keys {
            locked |= self.locked(k, now_us).await?;
        }
        let actor = employee_subject(&account.id);
        let subject = Some(actor.clone());
        let secret = self.open_totp(&account)?;
        let step = secret
            .as_ref()
            .and_then(|s| totp::matching_step(s, code, totp::step_of(now.timestamp())));
        let reason = if locked {
            Some("locked")
        } else if account.status != EmployeeStatus::Active.as_str() {
            Some("inactive")
        } else {
            match step {
                None => Some("bad_totp"),
                Some(s) if !self.store().use_totp_step(&account.id, s).await? => {
                    Some("totp_replay")
                }
                Some(_) => None,
            }
        };
        if let Some(reason) = reason {
            return Err(self.fail(&keys, &actor, subject, reason).await?);
        }
        self.store().revoke_session(&phash, now_us).await?;
        let (token, hash) = self.new_token().await?;
        let expires = now + self.inner.opts.session_absolute;
        self.store()
            .insert_session(&SessionRecord {
                token_hash: hash,
                employee_id: account.id.clone(),
                created_at: now_us,
                last_seen_at: now_us,
                expires_at: to_micros(expires),
                revoked_at: None,
                mfa_passed: true,
            })
            .await?;
        self.store()
            .clear_throttle(&self.login_key(&account.login))
            .await?;
        let e = self.entry(
            &actor,
            Action::LOGIN,
            Outcome::Allowed,
            subject,
            "authentication:password+totp",
            Some(format!("role:{}", account.role)),
        );
        self.audit(vec![e]).await?;
        Ok(NewSession {
            csrf_token: self.csrf_token(&token),
            token,
            expires_at: expires,
        })
    }

    /// End a session (no error if it had already ended).
    pub async fn logout(&self, token: &str) -> Result<(), ServiceError> {
        let hash = token_hash(token);
        let Some(s) = self.store().session(&hash).await? else {
            return Ok(());
        };
        if s.revoked_at.is_some() {
            return Ok(());
        }
        let now = to_micros(self.now());
        self.store().revoke_session(&hash, now).await?;
        let actor = employee_subject(&s.employee_id);
        let e = self.entry(
            &actor,
            Action::LOGOUT,
            Outcome::Allowed,
            Some(actor.clone()),
            "session",
            None,
        );
        self.audit(vec![e]).await
    }

    /// Check a session token: live (not revoked, not past its absolute or idle limit), full
    /// (second factor passed), of an active employee. Records the activity. Every refusal is
    /// `unauthenticated`.
    pub async fn authenticate(&self, token: &str) -> Result<EmployeeSession, ServiceError> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
            return Err(ServiceError::Unauthenticated);
        }
        let now = self.now();
        let now_us = to_micros(now);
        let hash = token_hash(token);
        let s = self
            .store()
            .session(&hash)
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        let idle_limit = to_micros(now - self.inner.opts.session_idle);
        if s.revoked_at.is_some() || !s.mfa_passed || s.expires_at <= now_us {
            return Err(ServiceError::Unauthenticated);
        }
        if s.last_seen_at <= idle_limit {
            self.store().revoke_session(&hash, now_us).await?;
            let actor = employee_subject(&s.employee_id);
            let e = self.entry(
                &actor,
                Action::LOGOUT,
                Outcome::Allowed,
                Some(actor.clone()),
                "session:idle_timeout",
                Some("idle_timeout".into()),
            );
            self.audit(vec![e]).await?;
            return Err(ServiceError::Unauthenticated);
        }
        let r = self
            .store()
            .employee(&s.employee_id)
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        if r.status != EmployeeStatus::Active.as_str() {
            return Err(ServiceError::Unauthenticated);
        }
        self.store().touch_session(&hash, now_us).await?;
        let id = parse_id(&r.id)?;
        let purposes = self
            .inner
            .roles
            .role(&r.role)
            .map(|d| d.purposes.clone())
            .unwrap_or_default();
        let undertaking = self.undertaking_in_force(&r.id, now).await?;
        Ok(EmployeeSession {
            actor: Actor::Employee {
                id,
                login: r.login.clone(),
                role: r.role.clone(),
                purposes,
                undertaking,
            },
            employee_id: id,
            csrf_token: self.csrf_token(token),
        })
    }

    /// The CSRF token of a session: HMAC of the session token under a key derived from the
    /// key ring, so only the server can make it and only for this session.
    pub fn csrf_token(&self, session_token: &str) -> String {
        b64url(&self.inner.indexer.index("employee_csrf", session_token))
    }

    /// Check a form's CSRF token against the session's (constant time).
    pub fn verify_csrf(&self, session_token: &str, presented: &str) -> Result<(), ServiceError> {
        let want = self.csrf_token(session_token);
        let same = want.len() == presented.len()
            && want
                .bytes()
                .zip(presented.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if same {
            Ok(())
        } else {
            Err(ServiceError::CsrfFailed)
        }
    }
}

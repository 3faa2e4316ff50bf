//! Employees of the lender (clauses 4.3, 5.4, 8.1): accounts, sessions, login throttling,
//! confidentiality undertakings and training acknowledgements.
//!
//! [`EmployeeStore`] is implemented for [`SqliteStore`] and [`PgStore`] from one body by
//! `impl_employee_store!` (the same SQL with `$n` placeholders on both). Nothing secret is
//! stored in clear: the password is an Argon2id PHC string, the TOTP secret a ciphertext
//! under a wrapped per-employee key, a session token its SHA-256, a throttling key an HMAC.

use crate::backend::BeginWrite;
use crate::{PgStore, SqliteStore, StoreError};
use async_trait::async_trait;
use sqlx::Row;

/// An employee account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmployeeRecord {
    /// UUID text.
    pub id: String,
    /// Normalised login (unique).
    pub login: String,
    /// Name shown in the console.
    pub display_name: String,
    /// Role code (`registry/roles.toml`).
    pub role: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// AES-256-GCM ciphertext of the TOTP secret, if enrolled.
    pub totp_secret: Option<Vec<u8>>,
    /// The key that encrypts it, wrapped by the master key.
    pub totp_key: Option<Vec<u8>>,
    /// Master-key version wrapping `totp_key`.
    pub totp_kek_version: Option<i64>,
    /// The last TOTP time step accepted (codes of this step or earlier are refused).
    pub totp_last_step: Option<i64>,
    /// `active`, `disabled` or `suspended`.
    pub status: String,
    /// Created (µs).
    pub created_at: i64,
    /// Last changed (µs).
    pub updated_at: i64,
}

/// A session (pending the second factor, or full).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// SHA-256 of the token.
    pub token_hash: Vec<u8>,
    /// The employee.
    pub employee_id: String,
    /// Created (µs).
    pub created_at: i64,
    /// Last request (µs).
    pub last_seen_at: i64,
    /// Absolute expiry (µs).
    pub expires_at: i64,
    /// Revoked (µs), if so.
    pub revoked_at: Option<i64>,
    /// Whether the second factor passed (a full session).
    pub mfa_passed: bool,
}

/// Failure counter of one throttling key (a login or a client address, as an HMAC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleRecord {
    /// Start of the counting window (µs).
    pub window_start: i64,
    /// Failures in the window.
    pub failures: i64,
    /// Locked until (µs), if locked.
    pub locked_until: Option<i64>,
}

/// A confidentiality undertaking on record (clause 4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndertakingRecord {
    /// UUID text.
    pub id: String,
    /// The employee.
    pub employee_id: String,
    /// Version of the undertaking's text.
    pub text_version: String,
    /// Signed on (`YYYY-MM-DD`).
    pub signed_on: String,
    /// Expires on (`YYYY-MM-DD`, exclusive).
    pub expires_on: String,
    /// Actor id that recorded it.
    pub recorded_by: String,
    /// Recorded (µs).
    pub recorded_at: i64,
}

/// A staff-training acknowledgement (clause 5.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingRecord {
    /// UUID text.
    pub id: String,
    /// The employee.
    pub employee_id: String,
    /// Course code.
    pub course: String,
    /// Course version.
    pub course_version: String,
    /// Completed on (`YYYY-MM-DD`).
    pub completed_on: String,
    /// Expires on (`YYYY-MM-DD`), if the course must be repeated.
    pub expires_on: Option<String>,
    /// Actor id that recorded it.
    pub recorded_by: String,
    /// Recorded (µs).
    pub recorded_at: i64,
}

/// Storage of employees, sessions, throttling, undertakings and trainings.
#[async_trait]
pub trait EmployeeStore: Send + Sync {
    /// Insert an account; `Conflict` if the login is taken.
    async fn insert_employee(&self, e: &EmployeeRecord) -> Result<(), StoreError>;
    /// An account by id.
    async fn employee(&self, id: &str) -> Result<Option<EmployeeRecord>, StoreError>;
    /// An account by normalised login.
    async fn employee_by_login(&self, login: &str) -> Result<Option<EmployeeRecord>, StoreError>;
    /// All accounts, by login.
    async fn list_employees(&self) -> Result<Vec<EmployeeRecord>, StoreError>;
    /// Change the role; `NotFound` if no such account.
    async fn set_employee_role(&self, id: &str, role: &str, now: i64) -> Result<(), StoreError>;
    /// Change the status; any status but `active` revokes every session of the account in
    /// the same transaction. Returns the number of sessions revoked.
    async fn set_employee_status(
        &self,
        id: &str,
        status: &str,
        now: i64,
    ) -> Result<u64, StoreError>;
    /// Replace the password hash.
    async fn set_employee_password(&self, id: &str, hash: &str, now: i64)
        -> Result<(), StoreError>;
    /// Replace the TOTP secret (ciphertext, wrapped key, master-key version); forgets the
    /// last accepted step.
    async fn set_employee_totp(
        &self,
        id: &str,
        secret: &[u8],
        key: &[u8],
        kek_version: i64,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Accept TOTP step `step` if it is later than the last accepted one (atomically, so a
    /// code cannot be used twice even by concurrent requests). Returns whether it was.
    async fn use_totp_step(&self, id: &str, step: i64) -> Result<bool, StoreError>;

    /// Store a session.
    async fn insert_session(&self, s: &SessionRecord) -> Result<(), StoreError>;
    /// A session by token hash.
    async fn session(&self, token_hash: &[u8]) -> Result<Option<SessionRecord>, StoreError>;
    /// Record activity on a session.
    async fn touch_session(&self, token_hash: &[u8], now: i64) -> Result<(), StoreError>;
    /// Revoke one session (no error if already revoked or absent).
    async fn revoke_session(&self, token_hash: &[u8], now: i64) -> Result<(), StoreError>;
    /// Revoke every live session of an employee; returns how many.
    async fn revoke_sessions_of(&self, employee_id: &str, now: i64) -> Result<u64, StoreError>;

    /// The counter of a throttling key.
    async fn throttle(&self, key: &[u8]) -> Result<Option<ThrottleRecord>, StoreError>;
    /// Count one failure: a window that started at or before `window_floor` restarts at
    /// `now` with one failure. Returns the counter after the update.
    async fn record_failure(
        &self,
        key: &[u8],
        now: i64,
        window_floor: i64,
    ) -> Result<ThrottleRecord, StoreError>;
    /// Lock a key until `until` and restart its count.
    async fn lock_key(&self, key: &[u8], now: i64, until: i64) -> Result<(), StoreError>;
    /// Forget a key's failures and lock (successful login, unlock by an administrator).
    async fn clear_throttle(&self, key: &[u8]) -> Result<(), StoreError>;

    /// Record an undertaking.
    async fn insert_undertaking(&self, u: &UndertakingRecord) -> Result<(), StoreError>;
    /// An employee's undertakings, newest signature first.
    async fn undertakings_of(
        &self,
        employee_id: &str,
    ) -> Result<Vec<UndertakingRecord>, StoreError>;
    /// Record a training acknowledgement.
    async fn insert_training(&self, t: &TrainingRecord) -> Result<(), StoreError>;
    /// An employee's training acknowledgements, newest first.
    async fn trainings_of(&self, employee_id: &str) -> Result<Vec<TrainingRecord>, StoreError>;
}

const EMPLOYEE_COLS: &str = "id, login, display_name, role, password_hash, totp_secret, \
     totp_key, totp_kek_version, totp_last_step, status, created_at, updated_at";
const SESSION_COLS: &str =
    "token_hash, employee_id, created_at, last_seen_at, expires_at, revoked_at, mfa_passed";
const UNDERTAKING_COLS: &str =
    "id, employee_id, text_version, signed_on, expires_on, recorded_by, recorded_at";
const TRAINING_COLS: &str = "id, employee_id, course, course_version, completed_on, expires_on, \
     recorded_by, recorded_at";

fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        _ => StoreError::Database(e),
    }
}

macro_rules! impl_employee_store {
    ($store:ty, $row:ty) => {
        impl $store {
            fn employee_from(row: &$row) -> Result<EmployeeRecord, StoreError> {
                Ok(EmployeeRecord {
                    id: row.try_get(0)?,
                    login: row.try_get(1)?,
                    display_name: row.try_get(2)?,
                    role: row.try_get(3)?,
                    password_hash: row.try_get(4)?,
                    totp_secret: row.try_get(5)?,
                    totp_key: row.try_get(6)?,
                    totp_kek_version: row.try_get(7)?,
                    totp_last_step: row.try_get(8)?,
                    status: row.try_get(9)?,
                    created_at: row.try_get(10)?,
                    updated_at: row.try_get(11)?,
                })
            }

            fn session_from(row: &$row) -> Result<SessionRecord, StoreError> {
                Ok(SessionRecord {
                    token_hash: row.try_get(0)?,
                    employee_id: row.try_get(1)?,
                    created_at: row.try_get(2)?,
                    last_seen_at: row.try_get(3)?,
                    expires_at: row.try_get(4)?,
                    revoked_at: row.try_get(5)?,
                    mfa_passed: row.try_get::<i64, _>(6)? != 0,
                })
            }

            fn undertaking_from(row: &$row) -> Result<UndertakingRecord, StoreError> {
                Ok(UndertakingRecord {
                    id: row.try_get(0)?,
                    employee_id: row.try_get(1)?,
                    text_version: row.try_get(2)?,
                    signed_on: row.try_get(3)?,
                    expires_on: row.try_get(4)?,
                    recorded_by: row.try_get(5)?,
                    recorded_at: row.try_get(6)?,
                })
            }

            fn training_from(row: &$row) -> Result<TrainingRecord, StoreError> {
                Ok(TrainingRecord {
                    id: row.try_get(0)?,
                    employee_id: row.try_get(1)?,
                    course: row.try_get(2)?,
                    course_version: row.try_get(3)?,
                    completed_on: row.try_get(4)?,
                    expires_on: row.try_get(5)?,
                    recorded_by: row.try_get(6)?,
                    recorded_at: row.try_get(7)?,
                })
            }
        }

        #[async_trait]
        impl EmployeeStore for $store {
            async fn insert_employee(&self, e: &EmployeeRecord) -> Result<(), StoreError> {
                sqlx::query(&format!(
                    "INSERT INTO employees ({EMPLOYEE_COLS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                ))
                .bind(&e.id)
                .bind(&e.login)
                .bind(&e.display_name)
                .bind(&e.role)
                .bind(&e.password_hash)
                .bind(&e.totp_secret)
                .bind(&e.totp_key)
                .bind(e.totp_kek_version)
                .bind(e.totp_last_step)
                .bind(&e.status)
                .bind(e.created_at)
                .bind(e.updated_at)
                .execute(self.pool())
                .await
                .map_err(map_err)?;
                Ok(())
            }

            async fn employee(&self, id: &str) -> Result<Option<EmployeeRecord>, StoreError> {
                let row = sqlx::query(&format!("SELECT {EMPLOYEE_COLS} FROM employees WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.pool())
                    .await?;
                row.as_ref().map(Self::employee_from).transpose()
            }

            async fn employee_by_login(
                &self,
                login: &str,
            ) -> Result<Option<EmployeeRecord>, StoreError> {
                let row = sqlx::query(&format!(
                    "SELECT {EMPLOYEE_COLS} FROM employees WHERE login = $1"
                ))
                .bind(login)
                .fetch_optional(self.pool())
                .await?;
                row.as_ref().map(Self::employee_from).transpose()
            }

            async fn list_employees(&self) -> Result<Vec<EmployeeRecord>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {EMPLOYEE_COLS} FROM employees ORDER BY login"
                ))
                .fetch_all(self.pool())
                .await?;
                rows.iter().map(Self::employee_from).collect()
            }

            async fn set_employee_role(
                &self,
                id: &str,
                role: &str,
                now: i64,
            ) -> Result<(), StoreError> {
                let r = sqlx::query("UPDATE employees SET role = $1, updated_at = $2 WHERE id = $3")
                    .bind(role)
                    .bind(now)
                    .bind(id)
                    .execute(self.pool())
                    .await?;
                if r.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn set_employee_status(
                &self,
                id: &str,
                status: &str,
                now: i64,
            ) -> Result<u64, StoreError> {
                let mut tx = self.pool().begin_write().await?;
                let r =
                    sqlx::query("UPDATE employees SET status = $1, updated_at = $2 WHERE id = $3")
                        .bind(status)
                        .bind(now)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                if r.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                let mut revoked = 0;
                if status != "active" {
                    revoked = sqlx::query(
                        "UPDATE employee_sessions SET revoked_at = $1 \
                         WHERE employee_id = $2 AND revoked_at IS NULL",
                    )
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
                tx.commit().await?;
                Ok(revoked)
            }

            async fn set_employee_password(
                &self,
                id: &str,
                hash: &str,
                now: i64,
            ) -> Result<(), StoreError> {
                let r = sqlx::query(
                    "UPDATE employees SET password_hash = $1, updated_at = $2 WHERE id = $3",
                )
                .bind(hash)
                .bind(now)
                .bind(id)
                .execute(self.pool())
                .await?;
                if r.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn set_employee_totp(
                &self,
                id: &str,
                secret: &[u8],
                key: &[u8],
                kek_version: i64,
                now: i64,
            ) -> Result<(), StoreError> {
                let r = sqlx::query(
                    "UPDATE employees SET totp_secret = $1, totp_key = $2, totp_kek_version = $3, \
                     totp_last_step = NULL, updated_at = $4 WHERE id = $5",
                )
                .bind(secret)
                .bind(key)
                .bind(kek_version)
                .bind(now)
                .bind(id)
                .execute(self.pool())
                .await?;
                if r.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn use_totp_step(&self, id: &str, step: i64) -> Result<bool, StoreError> {
                let r = sqlx::query(
                    "UPDATE employees SET totp_last_step = $1 \
                     WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
                )
                .bind(step)
                .bind(id)
                .execute(self.pool())
                .await?;
                Ok(r.rows_affected() == 1)
            }

            async fn insert_session(&self, s: &SessionRecord) -> Result<(), StoreError> {
                sqlx::query(&format!(
                    "INSERT INTO employee_sessions ({SESSION_COLS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)"
                ))
                .bind(&s.token_hash)
                .bind(&s.employee_id)
                .bind(s.created_at)
                .bind(s.last_seen_at)
                .bind(s.expires_at)
                .bind(s.revoked_at)
                .bind(i64::from(s.mfa_passed))
                .execute(self.pool())
                .await
                .map_err(map_err)?;
                Ok(())
            }

            async fn session(
                &self,
                token_hash: &[u8],
            ) -> Result<Option<SessionRecord>, StoreError> {
                let row = sqlx::query(&format!(
                    "SELECT {SESSION_COLS} FROM employee_sessions WHERE token_hash = $1"
                ))
                .bind(token_hash)
                .fetch_optional(self.pool())
                .await?;
                row.as_ref().map(Self::session_from).transpose()
            }

            async fn touch_session(&self, token_hash: &[u8], now: i64) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE employee_sessions SET last_seen_at = $1 \
                     WHERE token_hash = $2 AND last_seen_at < $1",
                )
                .bind(now)
                .bind(token_hash)
                .execute(self.pool())
                .await?;
                Ok(())
            }

            async fn revoke_session(&self, token_hash: &[u8], now: i64) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE employee_sessions SET revoked_at = $1 \
                     WHERE token_hash = $2 AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(token_hash)
                .execute(self.pool())
                .await?;
                Ok(())
            }

            async fn revoke_sessions_of(
                &self,
                employee_id: &str,
                now: i64,
            ) -> Result<u64, StoreError> {
                let r = sqlx::query(
                    "UPDATE employee_sessions SET revoked_at = $1 \
                     WHERE employee_id = $2 AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(employee_id)
                .execute(self.pool())
                .await?;
                Ok(r.rows_affected())
            }

            async fn throttle(&self, key: &[u8]) -> Result<Option<ThrottleRecord>, StoreError> {
                let row = sqlx::query(
                    "SELECT window_start, failures, locked_until FROM login_throttle WHERE key = $1",
                )
                .bind(key)
                .fetch_optional(self.pool())
                .await?;
                row.map(|r| {
                    Ok(ThrottleRecord {
                        window_start: r.try_get(0)?,
                        failures: r.try_get(1)?,
                        locked_until: r.try_get(2)?,
                    })
                })
                .transpose()
            }

            async fn record_failure(
                &self,
                key: &[u8],
                now: i64,
                window_floor: i64,
            ) -> Result<ThrottleRecord, StoreError> {
                let r = sqlx::query(
                    "INSERT INTO login_throttle (key, window_start, failures, locked_until) \
                     VALUES ($1, $2, 1, NULL) \
                     ON CONFLICT (key) DO UPDATE SET \
                       failures = CASE WHEN login_throttle.window_start <= $3 THEN 1 \
                                  ELSE login_throttle.failures + 1 END, \
                       window_start = CASE WHEN login_throttle.window_start <= $3 THEN $2 \
                                  ELSE login_throttle.window_start END \
                     RETURNING window_start, failures, locked_until",
                )
                .bind(key)
                .bind(now)
                .bind(window_floor)
                .fetch_one(self.pool())
                .await?;
                Ok(ThrottleRecord {
                    window_start: r.try_get(0)?,
                    failures: r.try_get(1)?,
                    locked_until: r.try_get(2)?,
                })
            }

            async fn lock_key(&self, key: &[u8], now: i64, until: i64) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE login_throttle SET locked_until = $1, failures = 0, window_start = $2 \
                     WHERE key = $3",
                )
                .bind(until)
                .bind(now)
                .bind(key)
                .execute(self.pool())
                .await?;
                Ok(())
            }

            async fn clear_throttle(&self, key: &[u8]) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM login_throttle WHERE key = $1")
                    .bind(key)
                    .execute(self.pool())
                    .await?;
                Ok(())
            }

            async fn insert_undertaking(&self, u: &UndertakingRecord) -> Result<(), StoreError> {
                sqlx::query(&format!(
                    "INSERT INTO employee_undertakings ({UNDERTAKING_COLS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)"
                ))
                .bind(&u.id)
                .bind(&u.employee_id)
                .bind(&u.text_version)
                .bind(&u.signed_on)
                .bind(&u.expires_on)
                .bind(&u.recorded_by)
                .bind(u.recorded_at)
                .execute(self.pool())
                .await
                .map_err(map_err)?;
                Ok(())
            }

            async fn undertakings_of(
                &self,
                employee_id: &str,
            ) -> Result<Vec<UndertakingRecord>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {UNDERTAKING_COLS} FROM employee_undertakings \
                     WHERE employee_id = $1 ORDER BY signed_on DESC, recorded_at DESC"
                ))
                .bind(employee_id)
                .fetch_all(self.pool())
                .await?;
                rows.iter().map(Self::undertaking_from).collect()
            }

            async fn insert_training(&self, t: &TrainingRecord) -> Result<(), StoreError> {
                sqlx::query(&format!(
                    "INSERT INTO employee_trainings ({TRAINING_COLS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                ))
                .bind(&t.id)
                .bind(&t.employee_id)
                .bind(&t.course)
                .bind(&t.course_version)
                .bind(&t.completed_on)
                .bind(&t.expires_on)
                .bind(&t.recorded_by)
                .bind(t.recorded_at)
                .execute(self.pool())
                .await
                .map_err(map_err)?;
                Ok(())
            }

            async fn trainings_of(
                &self,
                employee_id: &str,
            ) -> Result<Vec<TrainingRecord>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {TRAINING_COLS} FROM employee_trainings \
                     WHERE employee_id = $1 ORDER BY completed_on DESC, recorded_at DESC"
                ))
                .bind(employee_id)
                .fetch_all(self.pool())
                .await?;
                rows.iter().map(Self::training_from).collect()
            }
        }
    };
}

impl_employee_store!(SqliteStore, sqlx::sqlite::SqliteRow);
impl_employee_store!(PgStore, sqlx::postgres::PgRow);

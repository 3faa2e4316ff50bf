//! `derbes employee …`: bootstrap the first administrator and manage accounts from the
//! command line; and the employee-session settings shared with `serve`.

use crate::app::{self, AnyError, Common};
use chrono::Duration;
use derbes_core::clock::SystemClock;
use derbes_core::roles::Roles;
use derbes_service::employees::{
    EmployeeOptions, EmployeeStatus, Employees, NewEmployee, PasswordParams,
};
use derbes_service::Actor;
use std::sync::Arc;

/// Employee sessions and password hashing (global flags, also read by `serve`).
#[derive(Debug, Clone, clap::Args)]
pub struct EmployeeArgs {
    /// Absolute session lifetime, minutes.
    #[arg(
        long,
        env = "DERBES_SESSION_MINUTES",
        default_value_t = 480,
        global = true
    )]
    pub session_minutes: i64,
    /// Idle timeout of a session, minutes.
    #[arg(
        long,
        env = "DERBES_SESSION_IDLE_MINUTES",
        default_value_t = 30,
        global = true
    )]
    pub session_idle_minutes: i64,
    /// Login failures per login (and, ×4, per client address) in 15 minutes before a
    /// 15-minute lock.
    #[arg(
        long,
        env = "DERBES_LOGIN_MAX_FAILURES",
        default_value_t = 5,
        global = true
    )]
    pub login_max_failures: i64,
    /// Argon2id memory cost of new password hashes, KiB (OWASP: 19456).
    #[arg(
        long,
        env = "DERBES_ARGON2_MEMORY_KIB",
        default_value_t = 19456,
        global = true
    )]
    pub argon2_memory_kib: u32,
    /// Argon2id iterations (OWASP: 2).
    #[arg(
        long,
        env = "DERBES_ARGON2_ITERATIONS",
        default_value_t = 2,
        global = true
    )]
    pub argon2_iterations: u32,
}

impl EmployeeArgs {
    /// The service options these flags describe.
    pub fn options(&self) -> EmployeeOptions {
        EmployeeOptions {
            session_absolute: Duration::minutes(self.session_minutes.max(1)),
            session_idle: Duration::minutes(self.session_idle_minutes.max(1)),
            max_failures_per_login: self.login_max_failures.max(1),
            max_failures_per_ip: self.login_max_failures.max(1).saturating_mul(4),
            password: PasswordParams {
                m_kib: self.argon2_memory_kib,
                t: self.argon2_iterations.max(1),
                p: 1,
            },
            ..EmployeeOptions::default()
        }
    }
}

/// `derbes employee …`.
#[derive(Debug, clap::Subcommand)]
pub enum EmployeeAction {
    /// Create an account; prints its initial password and TOTP enrolment URI once (use it to
    /// bootstrap the first administrator).
    Create {
        /// Login (2–64 of a-z 0-9 . _ -).
        #[arg(long)]
        login: String,
        /// Role: credit_officer, collector, call_centre, security_officer, dpo, admin.
        #[arg(long)]
        role: String,
        /// Display name (default: the login).
        #[arg(long)]
        name: Option<String>,
    },
    /// List accounts (never secrets).
    List,
    /// Disable an account (by id or login); its sessions end at once.
    Disable {
        /// Id or login.
        employee: String,
    },
    /// Lift a login lockout (by id or login).
    Unlock {
        /// Id or login.
        employee: String,
    },
}

/// Open the employee service over the configured database and keys.
pub async fn open(opened: &app::Opened, args: &EmployeeArgs) -> Result<Employees, AnyError> {
    let roles = Roles::embedded(opened.vault.registry()).map_err(|e| format!("roles: {e}"))?;
    Ok(Employees::open(
        opened.vault.store().clone(),
        opened.keys.clone(),
        Arc::new(roles),
        Arc::new(SystemClock),
        args.options(),
    )
    .await?)
}

async fn resolve(opened: &app::Opened, who: &str) -> Result<String, AnyError> {
    if uuid::Uuid::parse_str(who).is_ok() {
        return Ok(who.to_string());
    }
    let login = who.trim().to_ascii_lowercase();
    opened
        .vault
        .store()
        .employee_by_login(&login)
        .await?
        .map(|e| e.id)
        .ok_or_else(|| "no such employee".into())
}

/// Run one `employee` command.
pub async fn run(
    common: &Common,
    args: &EmployeeArgs,
    action: EmployeeAction,
) -> Result<(), AnyError> {
    let opened = app::open(common, false).await?;
    let employees = open(&opened, args).await?;
    let by = Actor::System("cli");
    let result = match action {
        EmployeeAction::Create { login, role, name } => {
            let created = employees
                .create(
                    &by,
                    NewEmployee {
                        display_name: name.unwrap_or_else(|| login.clone()),
                        login,
                        role,
                    },
                )
                .await
                .map_err(|e| format!("cannot create the employee: {e}"))?;
            let e = &created.employee;
            println!(
                "created employee {} ({}, role {})",
                e.id, e.login, e.role.code
            );
            println!("initial password (shown once): {}", created.password);
            println!("TOTP secret (shown once): {}", created.totp.secret);
            println!("TOTP enrolment URI (shown once): {}", created.totp.uri);
            println!(
                "record a confidentiality undertaking (POST /api/v1/employees/{}/undertakings) \
                 before this employee can see personal data (clause 4.3)",
                e.id
            );
            Ok(())
        }
        EmployeeAction::List => {
            for e in employees.list(&by).await? {
                println!(
                    "{}  {:<24} {:<18} {:<10} totp:{}",
                    e.id,
                    e.login,
                    e.role.code,
                    e.status.as_str(),
                    if e.totp_enrolled { "yes" } else { "no" }
                );
            }
            Ok(())
        }
        EmployeeAction::Disable { employee } => {
            let id = resolve(&opened, &employee).await?;
            employees
                .set_status(&by, &id, EmployeeStatus::Disabled)
                .await?;
            println!("disabled {id}; its sessions are revoked");
            Ok(())
        }
        EmployeeAction::Unlock { employee } => {
            let id = resolve(&opened, &employee).await?;
            employees.unlock(&by, &id).await?;
            println!("unlocked {id}");
            Ok(())
        }
    };
    employees.shutdown().await;
    opened.vault.shutdown().await;
    result
}

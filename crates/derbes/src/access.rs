//! `derbes access …`: check the access policy and the detection rules; and what `serve`
//! needs to run them (clauses 5.4, 5.5).

use crate::app::{self, AnyError, Common};
use clap::{Args, Subcommand};
use derbes_access::{AccessControl, AccessPolicy, DetectionConfig, Detector, Role};
use derbes_core::calendar::WorkCalendar;
use derbes_core::clock::Clock;
use derbes_service::incidents::Incidents;
use derbes_store::Store;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where `serve` reads the access policy and the detection rules.
#[derive(Debug, Clone, Args)]
pub struct AccessArgs {
    /// The access policy (Cedar); default: the policy shipped with derbes. Reloaded by
    /// `POST /api/v1/access/reload`.
    #[arg(long, env = "DERBES_ACCESS_POLICY")]
    pub access_policy: Option<PathBuf>,
    /// The detection rules (TOML); default: the rules shipped with derbes.
    #[arg(long, env = "DERBES_DETECTION_RULES")]
    pub detection_rules: Option<PathBuf>,
}

/// `derbes access …`
#[derive(Debug, Subcommand)]
pub enum AccessAction {
    /// Check an access policy file against the registry (exit code 0 when it loads) and
    /// summarise it.
    Check {
        /// The Cedar policy file.
        file: PathBuf,
    },
    /// Check a detection rules file.
    CheckRules {
        /// The TOML file.
        file: PathBuf,
    },
    /// Print the Cedar schema generated from the registry.
    Schema,
    /// Print the shipped default access policy, to start an edited copy from.
    Export,
}

fn load_rules(path: Option<&Path>) -> Result<DetectionConfig, AnyError> {
    match path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read detection rules {}: {e}", p.display()))?;
            DetectionConfig::from_toml(&text).map_err(|e| format!("{}: {e}", p.display()).into())
        }
        None => Ok(DetectionConfig::embedded()?),
    }
}

/// Run `derbes access …`.
pub fn run(common: &Common, action: AccessAction) -> Result<(), AnyError> {
    let registry = app::load_registry(common.registry.as_deref())?;
    match action {
        AccessAction::Check { file } => {
            let p = AccessPolicy::load(&file, &registry)
                .map_err(|e| format!("{}: {e}", file.display()))?;
            let rules: Vec<&str> = p.rule_ids().collect();
            println!(
                "access policy {} is valid against registry {}: {} rules, {} compiled decisions",
                file.display(),
                p.registry_version(),
                rules.len(),
                p.compiled_size()
            );
            for r in rules {
                println!("  {r}");
            }
            println!("roles: {}", Role::ALL.map(|r| r.as_str()).join(", "));
            Ok(())
        }
        AccessAction::CheckRules { file } => {
            let cfg = load_rules(Some(&file))?;
            println!(
                "detection rules {} are valid: {} rules, working hours {}–{} Asia/Almaty",
                file.display(),
                cfg.rules.len(),
                cfg.start.format("%H:%M"),
                cfg.end.format("%H:%M")
            );
            for r in &cfg.rules {
                println!("  {}", r.id());
            }
            Ok(())
        }
        AccessAction::Schema => {
            print!("{}", derbes_access::policy::schema_text(&registry));
            Ok(())
        }
        AccessAction::Export => {
            print!("{}", derbes_access::policy::DEFAULT_POLICY);
            Ok(())
        }
    }
}

/// The access policy and the incident service for `serve`, and the working hours of the
/// detection rules (the access policy's `working_hours` condition uses the same). A rule with
/// `suspend = true` suspends the employee through `suspender` (clause 5.5).
pub fn security(
    args: &AccessArgs,
    registry: &derbes_core::registry::Registry,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    suspender: Option<Arc<dyn derbes_service::incidents::Suspender>>,
) -> Result<(Arc<AccessControl>, Incidents, derbes_access::WorkingHours), AnyError> {
    let access = AccessControl::open(args.access_policy.as_deref(), Arc::new(registry.clone()))
        .map_err(|e| match &args.access_policy {
            Some(p) => format!("{}: {e}", p.display()),
            None => e.to_string(),
        })?;
    let calendar = Arc::new(WorkCalendar::embedded_kz()?);
    let detector = Detector::new(load_rules(args.detection_rules.as_deref())?, calendar)?;
    let hours = detector.hours().clone();
    let incidents = Incidents::with_detector(store, clock, detector, suspender);
    Ok((Arc::new(access), incidents, hours))
}

//! `derbes serve` options of the personal cabinet (7.1b): how one-time codes are sent, and
//! the information-request deadline (L-RIGHTS-DEADLINES: a setting).

use crate::app::AnyError;
use clap::Args;
use derbes_service::cabinet::{Cabinet, CabinetSettings};
use derbes_service::consent_service::ConsentService;
use derbes_service::sms::{ConsoleSmsSink, HttpSmsConfig, HttpSmsGateway, SmsGateway};
use std::sync::Arc;

/// Cabinet settings of `serve`.
#[derive(Debug, Clone, Args)]
pub struct CabinetArgs {
    /// How login codes are sent: `none` (the cabinet is off), `http` (the provider at
    /// --sms-url), or for development only `console` (standard error) or `file:PATH`.
    /// Default: `console` with `--demo`, otherwise `none`.
    #[arg(long, env = "DERBES_SMS_SINK")]
    pub sms_sink: Option<String>,
    /// The SMS provider's endpoint (with `--sms-sink http`).
    #[arg(long, env = "DERBES_SMS_URL")]
    pub sms_url: Option<String>,
    /// The request body; `{phone}` and `{text}` are replaced (JSON-escaped).
    #[arg(
        long,
        env = "DERBES_SMS_TEMPLATE",
        default_value = r#"{"to":"{phone}","text":"{text}"}"#
    )]
    pub sms_template: String,
    /// Working days to answer an information request or complaint (Order 395/НҚ; unverified,
    /// so a setting).
    #[arg(long, env = "DERBES_INFO_REQUEST_DAYS", default_value_t = 10)]
    pub info_request_days: u32,
}

impl CabinetArgs {
    /// The cabinet, or `None` when `--sms-sink none`. A demo without `--sms-sink` prints
    /// login codes on the console, so the cabinet can be tried at once.
    pub fn cabinet(
        &self,
        consent: ConsentService,
        demo: bool,
    ) -> Result<Option<Cabinet>, AnyError> {
        let sink = match (&self.sms_sink, demo) {
            (Some(s), _) => s.as_str(),
            (None, true) => "console",
            (None, false) => "none",
        };
        let sms: Arc<dyn SmsGateway> = match sink {
            "none" => return Ok(None),
            "console" => {
                eprintln!("WARNING: --sms-sink console prints login codes; for development only");
                Arc::new(ConsoleSmsSink::console())
            }
            "http" => {
                let url = self
                    .sms_url
                    .clone()
                    .ok_or("--sms-sink http needs --sms-url")?;
                let mut config = HttpSmsConfig::json(url, self.sms_template.clone());
                config.authorization = std::env::var("DERBES_SMS_AUTHORIZATION").ok();
                Arc::new(HttpSmsGateway::new(config)?)
            }
            other => match other.strip_prefix("file:") {
                Some(path) if !path.is_empty() => {
                    eprintln!(
                        "WARNING: --sms-sink file writes login codes to {path}; for development only"
                    );
                    Arc::new(ConsoleSmsSink::file(path))
                }
                _ => return Err("--sms-sink must be none, http, console or file:PATH".into()),
            },
        };
        let settings = CabinetSettings {
            info_request_working_days: self.info_request_days.max(1),
            ..CabinetSettings::default()
        };
        Ok(Some(Cabinet::new(consent, sms, settings)))
    }
}

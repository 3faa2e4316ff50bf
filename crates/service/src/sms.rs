//! Sending one-time login codes by SMS (clause 7.1b: subject login by phone + one-time
//! code).
//!
//! [`SmsGateway`] is the one interface; three implementations:
//! - [`HttpSmsGateway`]: POSTs a body made from a template (`{phone}`, `{text}`) to the
//!   operator's SMS provider, with connect and request timeouts. Neither the code nor the
//!   phone ever appears in a log line: failures are logged by status or error kind only.
//! - [`ConsoleSmsSink`]: development only — writes the message to standard error or appends
//!   it to a file (`derbes serve --sms-sink console` / `--sms-sink file:PATH`), so a
//!   developer can log in without a provider. It refuses nothing and must not run in
//!   production (`serve` warns when it is chosen).
//! - [`MemorySmsSink`]: keeps messages in memory for tests.

use async_trait::async_trait;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Why a message was not sent. Carries kinds and HTTP statuses only, never the message.
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// The provider answered with a non-success status.
    #[error("the SMS provider answered with status {0}")]
    Status(u16),
    /// The request failed (connect, timeout, TLS …).
    #[error("the SMS provider could not be reached ({0})")]
    Transport(&'static str),
    /// The development sink could not write its file.
    #[error("the SMS sink could not write ({0})")]
    Io(std::io::ErrorKind),
}

impl SmsError {
    /// A stable code.
    pub fn code(&self) -> &'static str {
        match self {
            SmsError::Status(_) => "sms_status",
            SmsError::Transport(_) => "sms_transport",
            SmsError::Io(_) => "sms_io",
        }
    }
}

/// Something that delivers a text message to a phone (E.164).
#[async_trait]
pub trait SmsGateway: Send + Sync + 'static {
    /// Send `text` to `phone`.
    async fn send(&self, phone: &str, text: &str) -> Result<(), SmsError>;
    /// A name for logs (`http`, `console`, `file`, `memory`).
    fn kind(&self) -> &'static str;
}

/// Settings of the HTTP gateway.
#[derive(Debug, Clone)]
pub struct HttpSmsConfig {
    /// The provider's endpoint (`https://…`).
    pub url: String,
    /// The request body; `{phone}` and `{text}` are replaced (JSON-escaped when the content
    /// type is JSON). E.g. `{"to":"{phone}","message":"{text}"}`.
    pub body_template: String,
    /// The body's content type.
    pub content_type: String,
    /// An `Authorization` header value, if the provider needs one.
    pub authorization: Option<String>,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout.
    pub timeout: Duration,
}

impl HttpSmsConfig {
    /// A JSON template for `url` with 3 s / 10 s timeouts.
    pub fn json(url: impl Into<String>, body_template: impl Into<String>) -> HttpSmsConfig {
        HttpSmsConfig {
            url: url.into(),
            body_template: body_template.into(),
            content_type: "application/json".into(),
            authorization: None,
            connect_timeout: Duration::from_secs(3),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Fill a body template. With a JSON content type the values are JSON-string-escaped (a
/// message cannot break out of its string).
pub fn render_template(template: &str, json: bool, phone: &str, text: &str) -> String {
    let esc = |s: &str| -> String {
        if json {
            let quoted = serde_json::Value::String(s.to_string()).to_string();
            quoted
                .get(1..quoted.len().saturating_sub(1))
                .unwrap_or_default()
                .to_string()
        } else {
            s.to_string()
        }
    };
    template
        .replace("{phone}", &esc(phone))
        .replace("{text}", &esc(text))
}

/// The production gateway: an HTTP POST to the provider.
pub struct HttpSmsGateway {
    config: HttpSmsConfig,
    client: reqwest::Client,
}

impl HttpSmsGateway {
    /// A gateway with its own HTTP client.
    pub fn new(config: HttpSmsConfig) -> Result<HttpSmsGateway, SmsError> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| SmsError::Transport("client"))?;
        Ok(HttpSmsGateway { config, client })
    }
}

#[async_trait]
impl SmsGateway for HttpSmsGateway {
    async fn send(&self, phone: &str, text: &str) -> Result<(), SmsError> {
        let json = self.config.content_type.contains("json");
        let body = render_template(&self.config.body_template, json, phone, text);
        let mut req = self
            .client
            .post(&self.config.url)
            .header(reqwest::header::CONTENT_TYPE, &self.config.content_type)
            .body(body);
        if let Some(auth) = &self.config.authorization {
            req = req.header(reqwest::header::AUTHORIZATION, auth);
        }
        let res = req.send().await.map_err(|e| {
            SmsError::Transport(if e.is_timeout() {
                "timeout"
            } else if e.is_connect() {
                "connect"
            } else {
                "request"
            })
        })?;
        if res.status().is_success() {
            Ok(())
        } else {
            Err(SmsError::Status(res.status().as_u16()))
        }
    }

    fn kind(&self) -> &'static str {
        "http"
    }
}

/// Development sink: writes each message to standard error or appends it to a file. Never
/// through `tracing`, so the code is not in the service's log stream.
pub struct ConsoleSmsSink {
    file: Option<PathBuf>,
    lock: Mutex<()>,
}

impl ConsoleSmsSink {
    /// Write to standard error.
    pub fn console() -> ConsoleSmsSink {
        ConsoleSmsSink {
            file: None,
            lock: Mutex::new(()),
        }
    }

    /// Append to `path`.
    pub fn file(path: impl Into<PathBuf>) -> ConsoleSmsSink {
        ConsoleSmsSink {
            file: Some(path.into()),
            lock: Mutex::new(()),
        }
    }
}

#[async_trait]
impl SmsGateway for ConsoleSmsSink {
    async fn send(&self, phone: &str, text: &str) -> Result<(), SmsError> {
        let line = format!("[derbes dev SMS] to {phone}: {text}\n");
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        match &self.file {
            None => {
                let mut err = std::io::stderr().lock();
                err.write_all(line.as_bytes())
                    .map_err(|e| SmsError::Io(e.kind()))
            }
            Some(path) => {
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| SmsError::Io(e.kind()))?;
                f.write_all(line.as_bytes())
                    .map_err(|e| SmsError::Io(e.kind()))
            }
        }
    }

    fn kind(&self) -> &'static str {
        if self.file.is_some() {
            "file"
        } else {
            "console"
        }
    }
}

/// Test sink: keeps `(phone, text)` of every message.
#[derive(Default, Clone)]
pub struct MemorySmsSink {
    sent: Arc<Mutex<Vec<(String, String)>>>,
}

impl MemorySmsSink {
    /// An empty sink.
    pub fn new() -> MemorySmsSink {
        MemorySmsSink::default()
    }

    /// Every message so far.
    pub fn sent(&self) -> Vec<(String, String)> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The 6-digit code of the last message to `phone`, if any.
    pub fn last_code(&self, phone: &str) -> Option<String> {
        self.sent()
            .iter()
            .rev()
            .find(|(p, _)| p == phone)
            .and_then(|(_, t)| extract_code(t))
    }
}

/// The first run of exactly 6 ASCII digits in a message.
pub fn extract_code(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i - start == 6 {
                return text.get(start..i).map(str::to_string);
            }
        } else {
            i += 1;
        }
    }
    None
}

#[async_trait]
impl SmsGateway for MemorySmsSink {
    async fn send(&self, phone: &str, text: &str) -> Result<(), SmsError> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((phone.to_string(), text.to_string()));
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn c7_1b_json_template_escapes_values() {
        let body = render_template(
            r#"{"to":"{phone}","msg":"{text}"}"#,
            true,
            "+77771234567",
            "код \"123456\"\n",
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["to"], "+77771234567");
        assert_eq!(v["msg"], "код \"123456\"\n");
    }

    #[test]
    fn c7_1b_extract_code_finds_six_digits() {
        assert_eq!(
            extract_code("Код: 012345. Никому не сообщайте").as_deref(),
            Some("012345")
        );
        assert_eq!(extract_code("1234567 12345"), None);
    }

    proptest! {
        /// The template parser: any phone and text give valid JSON that round-trips.
        #[test]
        fn c7_1b_template_always_valid_json(phone in "[+0-9]{0,16}", text in ".{0,200}") {
            let body = render_template(r#"{"p":"{phone}","t":"{text}"}"#, true, &phone, &text);
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            prop_assert_eq!(v["p"].as_str().unwrap(), phone.as_str());
            prop_assert_eq!(v["t"].as_str().unwrap(), text.as_str());
        }

        /// extract_code never panics and only returns 6 digits.
        #[test]
        fn c7_1b_extract_code_total(text in ".{0,200}") {
            if let Some(c) = extract_code(&text) {
                prop_assert_eq!(c.len(), 6);
                prop_assert!(c.bytes().all(|b| b.is_ascii_digit()));
            }
        }
    }
}

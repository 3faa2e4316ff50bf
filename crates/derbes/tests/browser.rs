//! The employee console in a real browser: headless Chromium driven over WebDriver
//! (`chromedriver`, started here on a free port) against the real server on a random port,
//! on both backends. Walks: sign in (password, TOTP) → profile with the undertaking (4.3) →
//! search by IIN with a purpose (1.1; the IIN goes in the form body, never a URL: 4.1) →
//! the borrower with the IIN masked (4.1) → Kazakh → sign out. Screenshots are saved under
//! `<target>/screenshots/<backend>/` as PNG.
//!
//! Chromium and chromedriver come from Debian (`scripts/install-browser.sh`, called by
//! `scripts/test.sh`). Without them this test FAILS — it never skips.

#[path = "console/support.rs"]
mod console;

use console::{spawn_console, ConsoleApp, Db, IIN, IIN_MASKED};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// One browser test at a time (2 cores; each starts its own Chromium).
static BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// `<target>/screenshots/<backend>/` (the test binary is `<target>/debug/deps/browser-…`).
fn screenshot_dir(db: Db) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap().to_path_buf();
    let dir = target
        .join("screenshots")
        .join(format!("{db:?}").to_lowercase());
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Driver {
    child: std::process::Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start chromedriver on a free loopback port and wait until it answers.
async fn start_driver() -> Driver {
    let driver = which("chromedriver").unwrap_or_else(|| {
        panic!(
            "chromedriver is not installed: run scripts/install-browser.sh (this test never skips)"
        )
    });
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = Driver {
        child: std::process::Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver"),
        url: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if let Ok(r) = http.get(format!("{}/status", driver.url)).send().await {
            if r.status().is_success() {
                return driver;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not answer on {}", driver.url);
}

async fn open_browser(driver: &Driver) -> Client {
    let chromium = which("chromium").unwrap_or_else(|| {
        panic!("chromium is not installed: run scripts/install-browser.sh (this test never skips)")
    });
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1024,900", "--lang=en-US"],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session through chromedriver")
}

async fn shot(c: &Client, dir: &Path, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert_eq!(&png[1..4], b"PNG", "a PNG screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

async fn fill(c: &Client, css: &str, text: &str) {
    let e = c.find(Locator::Css(css)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Click, then wait until the next page shows `until` (a click returns before a form's
/// navigation is certain to have finished).
async fn click_to(c: &Client, css: &str, until: &str) {
    click(c, css).await;
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(until))
        .await
        .unwrap_or_else(|e| panic!("after clicking {css}: no {until}: {e}"));
}

async fn path_of(c: &Client) -> String {
    let u = c.current_url().await.unwrap();
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    }
}

async fn walk(app: &ConsoleApp, c: &Client, dir: &Path) -> Vec<(&'static str, Duration)> {
    let mut times = Vec::new();
    let staff = app.hire("aigerim.s", "call_centre").await;
    let mut t = Instant::now();
    let mut lap = |name: &'static str, t: &mut Instant| {
        times.push((name, t.elapsed()));
        *t = Instant::now();
    };

    // Sign in: password…
    c.goto(&app.url("/console/login")).await.unwrap();
    assert_eq!(path_of(c).await, "/console/login");
    let src = c.source().await.unwrap();
    assert!(
        src.contains("lang=\"en\""),
        "English from Accept-Language: {src}"
    );
    shot(c, dir, "01-login").await;
    fill(c, "#login", &staff.login).await;
    fill(c, "#password", &staff.password).await;
    click_to(c, "main button[type=submit]", "#code").await;
    let at = path_of(c).await;
    assert_eq!(at, "/console/totp", "{}", c.source().await.unwrap());
    lap("password", &mut t);
    // …then the TOTP code.
    fill(c, "#code", &app.code(&staff)).await;
    click_to(c, "main button[type=submit]", "#undertakings").await;
    assert_eq!(path_of(c).await, "/console/profile");
    lap("totp", &mut t);
    // Chromium accepted the `__Host-` Secure session cookie on http://127.0.0.1.
    let cookies = c.get_all_cookies().await.unwrap();
    let session = cookies
        .iter()
        .find(|k| k.name() == "__Host-derbes_session")
        .expect("Chromium keeps the __Host- session cookie on http://127.0.0.1");
    assert_eq!(session.http_only(), Some(true));
    assert_eq!(session.secure(), Some(true));

    // Profile: role, undertaking (4.3), training (5.4).
    let src = c.source().await.unwrap();
    for want in [
        "nda-2026-01",
        "pd-protection",
        "You have access to personal data",
    ] {
        assert!(src.contains(want), "{want} missing on the profile");
    }
    shot(c, dir, "02-profile").await;

    // Search by IIN with a purpose (POST: the IIN never enters a URL).
    click_to(c, "a[href='/console/search']", "#value").await;
    click(c, "#purpose option[value='identification']").await;
    click(c, "#category option[value='iin']").await;
    fill(c, "#value", IIN).await;
    click_to(c, "main button[type=submit]", "#results").await;
    assert_eq!(path_of(c).await, "/console/search");
    let src = c.source().await.unwrap();
    assert!(
        src.contains(&app.subject.to_string()),
        "the borrower is found"
    );
    assert!(src.contains("Жұмабеков"), "the name for identification");
    shot(c, dir, "03-search-results").await;
    lap("search", &mut t);

    // The borrower: the IIN masked, with "show in full".
    click_to(c, "main table a", "span[data-category='iin']").await;
    let path = path_of(c).await;
    assert_eq!(
        path,
        format!("/console/subjects/{}?purpose=identification", app.subject)
    );
    assert!(!path.contains(IIN));
    let iin = c
        .find(Locator::Css("span[data-category='iin']"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(iin, IIN_MASKED, "the IIN is masked for the call centre");
    assert!(!c.source().await.unwrap().contains(IIN));
    shot(c, dir, "04-subject-masked").await;
    lap("subject", &mut t);

    // Switch to Kazakh: the same page, translated labels.
    click_to(
        c,
        "a[hreflang='kk']",
        "html[lang='kk'] span[data-category='iin']",
    )
    .await;
    assert_eq!(path_of(c).await, path, "the switcher returns to the page");
    let src = c.source().await.unwrap();
    assert!(src.contains("<html lang=\"kk\""), "html lang=kk");
    for kk in [
        "Қарыз алушы",
        "Толық көрсету",
        "Бүркеншік идентификатор",
        "Шығу",
    ] {
        assert!(src.contains(kk), "Kazakh label {kk} missing");
    }
    assert!(
        !src.contains("Show in full"),
        "English left on the Kazakh page"
    );
    shot(c, dir, "05-subject-kazakh").await;
    lap("language", &mut t);

    // Sign out: back to the (Kazakh) login page; the session is gone.
    click_to(c, "form[action='/console/logout'] button", "#password").await;
    assert_eq!(path_of(c).await, "/console/login");
    let src = c.source().await.unwrap();
    assert!(src.contains("Кіру"), "the Kazakh login page");
    c.goto(&app.url("/console/profile")).await.unwrap();
    assert_eq!(path_of(c).await, "/console/login", "signed out");
    shot(c, dir, "06-signed-out").await;
    lap("logout", &mut t);
    times
}

async fn c4_1_console_walk_in_headless_chromium(db: Db) {
    let _one = BROWSER.lock().await;
    let app = spawn_console(db).await;
    let started = Instant::now();
    let driver = start_driver().await;
    let client = open_browser(&driver).await;
    let browser_up = started.elapsed();
    let dir = screenshot_dir(db);
    let times = walk(&app, &client, &dir).await;
    client.close().await.unwrap();
    eprintln!(
        "browser walk ({db:?}): chromium up in {browser_up:?}; {}",
        times
            .iter()
            .map(|(n, d)| format!("{n} {} ms", d.as_millis()))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c4_1_console_walk_in_headless_chromium_sqlite() {
    c4_1_console_walk_in_headless_chromium(Db::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c4_1_console_walk_in_headless_chromium_postgres() {
    c4_1_console_walk_in_headless_chromium(Db::Postgres).await
}

//! The employee console and the borrower's cabinet in a real browser: headless Chromium
//! driven over WebDriver (`chromedriver`, started here on a free port) against the real
//! server on a random port, on both backends. Screenshots are saved under
//! `<target>/screenshots/<backend>/` as PNG.
//!
//! - Console walk: sign in (password, TOTP) → profile with the undertaking (4.3) → search by
//!   IIN with a purpose (1.1; the IIN goes in the form body, never a URL: 4.1) → the
//!   borrower with the IIN masked (4.1) → Kazakh → sign out.
//! - Cabinet walk, in a phone-sized window (6.1, 7.1a–c): the application form with the
//!   consent ticked → log in with the phone and the SMS code → "my data" with sources and
//!   retention → download JSON and PDF (registered exports, 5.4) → an open loan reported →
//!   withdrawal refused with the reason → the loan repaid → withdrawal accepted → Kazakh.
//!
//! Chromium and chromedriver come from Debian (`scripts/install-browser.sh`, called by
//! `scripts/test.sh`). Without them this test FAILS — it never skips.

#[path = "console/support.rs"]
mod console;

/// The API harness (the server with the cabinet and an in-memory SMS sink).
#[allow(dead_code, unused_imports, unused_macros)]
#[path = "api/support.rs"]
mod support;

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
fn screenshot_dir(db: impl std::fmt::Debug) -> PathBuf {
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

/// A browser window: its size, whether it is a phone (the viewport emulated at exactly that
/// size: headless Chromium's windows are at least 500 pixels wide) and the language it asks
/// pages in.
struct Window {
    width: u32,
    height: u32,
    phone: bool,
    lang: &'static str,
}

/// The console's desk-sized window, English.
const DESK_WINDOW: Window = Window {
    width: 1024,
    height: 900,
    phone: false,
    lang: "en-US",
};

/// A phone (412×915 CSS pixels), Russian.
const PHONE_WINDOW: Window = Window {
    width: 412,
    height: 915,
    phone: true,
    lang: "ru-RU",
};

async fn open_browser(driver: &Driver, w: &Window, downloads: &Path) -> Client {
    let chromium = which("chromium").unwrap_or_else(|| {
        panic!("chromium is not installed: run scripts/install-browser.sh (this test never skips)")
    });
    let mut caps = serde_json::Map::new();
    let mut options = json!({
        "binary": chromium,
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-dev-shm-usage",
                 format!("--window-size={},{}", w.width, w.height),
                 format!("--lang={}", w.lang)],
        "prefs": {
            "intl.accept_languages": w.lang,
            "download.default_directory": downloads,
            "download.prompt_for_download": false,
        },
    });
    if w.phone {
        options["mobileEmulation"] = json!({
            "deviceMetrics": {"width": w.width, "height": w.height, "pixelRatio": 1.0},
        });
    }
    caps.insert("goog:chromeOptions".into(), options);
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
    let dir = screenshot_dir(db);
    let client = open_browser(&driver, &DESK_WINDOW, &dir.join("downloads")).await;
    let browser_up = started.elapsed();
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

// ---------------------------------------------------------------------------------------
// The borrower's cabinet on a phone (6.1, 7.1a–c)

const RU_PAGES: &str = include_str!("../../web/locales/ru/pages.ftl");
const KK_PAGES: &str = include_str!("../../web/locales/kk/pages.ftl");

/// The text of a one-line message without arguments in a Fluent file.
fn ftl(file: &str, id: &str) -> String {
    file.lines()
        .find_map(|l| l.strip_prefix(&format!("{id} = ")))
        .unwrap_or_else(|| panic!("no {id}"))
        .trim()
        .to_string()
}

/// A finished download with extension `ext` in `dir` (Chromium writes `*.crdownload` first).
async fn downloaded(dir: &Path, ext: &str) -> PathBuf {
    for _ in 0..150 {
        let found = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == ext));
        if let Some(p) = found {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no .{ext} download in {}", dir.display());
}

/// The code the in-memory SMS sink last got for `phone` (the send runs in the background).
async fn sms_code(app: &support::TestApp, phone: &str) -> String {
    for _ in 0..150 {
        if let Some(code) = app.sms.last_code(phone) {
            return code;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no SMS to the phone");
}

async fn publish_policy(app: &support::TestApp) {
    let svc = derbes_service::ConsentService::new(
        app.vault.clone(),
        std::sync::Arc::new(derbes_core::calendar::WorkCalendar::embedded_kz().unwrap()),
        derbes_service::consent_service::ConsentSettings::default(),
    );
    svc.publish_policy(
        "system:test",
        derbes_service::consent_service::PublishInput {
            text_ru: "Политика обработки персональных данных ТОО «МФО «Express Аванс».\n\n\
                      1. Цели сбора и обработки персональных данных…\n\
                      2. Состав собираемых данных…\n\
                      6. Согласие даётся при заполнении заявки на сайте."
                .into(),
            text_kk: "«Express Аванс» МҚҰ» ЖШС дербес деректерді өңдеу саясаты.\n\n\
                      1. Дербес деректерді жинау және өңдеу мақсаттары…\n\
                      2. Жиналатын деректердің құрамы…\n\
                      6. Келісім сайтта өтінімді толтыру кезінде беріледі."
                .into(),
            text_en: None,
            effective_at: None,
            significant: false,
            operator_name: "ТОО «МФО «Express Аванс»".into(),
            operator_bin: "100140005679".into(),
        },
    )
    .await
    .unwrap();
}

/// The loan system reports a contract, or its new status (through the API, as it would).
async fn loan(app: &support::TestApp, path: &str, body: serde_json::Value) {
    let res = app
        .client
        .post(app.api(path))
        .bearer_auth(&app.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{path}: {}", res.status());
}

/// Scroll the element of `css` to `block` (`start`, `center`) of the viewport (WebDriver's
/// own script: the pages themselves have none).
async fn scroll_to(c: &Client, css: &str, block: &str) {
    c.execute(
        "document.querySelector(arguments[0]).scrollIntoView({block: arguments[1]});",
        vec![json!(css), json!(block)],
    )
    .await
    .unwrap();
}

async fn cabinet_walk(app: &support::TestApp, c: &Client, dir: &Path, downloads: &Path) {
    let known = &support::KNOWN;
    publish_policy(app).await;

    // 6.1: the application form, Russian from Accept-Language, nothing ticked.
    c.goto(&format!("{}/cabinet/apply", app.base))
        .await
        .unwrap();
    assert_eq!(path_of(c).await, "/cabinet/apply");
    let src = c.source().await.unwrap();
    assert!(
        src.contains("<html lang=\"ru\""),
        "Russian from Accept-Language"
    );
    assert!(src.contains("Политика обработки персональных данных ТОО"));
    let consent = c.find(Locator::Css("#consent")).await.unwrap();
    assert!(!consent.is_selected().await.unwrap(), "unticked by default");
    shot(c, dir, "cabinet-01-apply").await;
    for (id, value) in [
        ("surname", known.surname),
        ("given", known.given),
        ("iin", known.iin),
        ("mobile_phone", known.phone_typed),
        ("email", known.email),
        ("registration_address", "г. Алматы, ул. Абая, д. 10, кв. 5"),
        ("iban", known.iban_typed),
        ("employer", "ТОО «Алматы Сауда»"),
        ("salary", "250000"),
        ("salary_day", "10"),
    ] {
        fill(c, &format!("#{id}"), value).await;
    }
    // 6.2: first with a mistyped IIN and no consent — the form again, nothing stored.
    fill(c, "#iin", "900101300011").await;
    click_to(c, "#apply-submit", "#error-summary").await;
    assert_eq!(path_of(c).await, "/cabinet/apply", "no value in a URL");
    assert_eq!(app.count().await, 0, "6.2: nothing stored");
    let active = c.active_element().await.unwrap();
    assert_eq!(
        active.attr("id").await.unwrap().as_deref(),
        Some("iin"),
        "the first invalid field has the focus"
    );
    let src = c.source().await.unwrap();
    assert!(src.contains(&ftl(RU_PAGES, "apply-err-consent")));
    assert!(src.contains("id=\"err-iin\""));
    let surname = c.find(Locator::Css("#surname")).await.unwrap();
    assert_eq!(
        surname.prop("value").await.unwrap().as_deref(),
        Some(known.surname)
    );
    shot(c, dir, "cabinet-02-apply-errors").await;
    fill(c, "#iin", known.iin).await;
    let consent = c.find(Locator::Css("#consent")).await.unwrap();
    assert!(!consent.is_selected().await.unwrap(), "still unticked");
    click(c, "#consent").await;
    assert!(consent.is_selected().await.unwrap());
    scroll_to(c, "#consent", "center").await;
    shot(c, dir, "cabinet-03-apply-filled").await;
    click_to(c, "#apply-submit", "#notice").await;
    assert_eq!(
        path_of(c).await,
        "/cabinet/login",
        "{}",
        c.source().await.unwrap()
    );
    let notice = c.find(Locator::Css("#notice")).await.unwrap();
    assert_eq!(notice.text().await.unwrap(), ftl(RU_PAGES, "apply-sent"));
    assert_eq!(app.count().await, 1, "the application is stored");
    let id = app.search_ids("iin", json!(known.iin)).await.remove(0);
    shot(c, dir, "cabinet-04-applied").await;

    // 7.1b: log in with the phone; the code from the SMS.
    fill(c, "#phone", known.phone_typed).await;
    click_to(c, "main form button[type=submit]", "#code").await;
    let code = sms_code(app, known.phone_e164).await;
    fill(c, "#code", &code).await;
    click_to(c, "main form button[type=submit]", "#values").await;
    assert_eq!(path_of(c).await, "/cabinet");

    // 7.1a: my data with sources and retention.
    let sources = c.find_all(Locator::Css("dd.source")).await.unwrap();
    assert!(sources.len() >= 8, "one card per value: {}", sources.len());
    for s in &sources {
        assert_eq!(s.text().await.unwrap(), ftl(RU_PAGES, "source-subject"));
    }
    let retention = c.find_all(Locator::Css("dd.retention li")).await.unwrap();
    assert!(!retention.is_empty(), "retention rules shown");
    assert!(retention[0].text().await.unwrap().contains("лет:"));
    // A card whose source, purposes and retention fit on the phone's screen.
    scroll_to(c, "section[data-category='salary_day']", "start").await;
    shot(c, dir, "cabinet-05-my-data").await;
    scroll_to(c, "main h1", "start").await;

    // 7.1b, 5.4: download JSON and PDF — the files arrive, and each export is registered.
    click(c, "#export-json").await;
    let json_file = downloaded(downloads, "json").await;
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json_file).unwrap()).unwrap();
    assert!(v["values"].as_array().is_some_and(|a| a.len() >= 8), "{v}");
    click(c, "#export-pdf").await;
    let pdf_file = downloaded(downloads, "pdf").await;
    assert!(std::fs::read(&pdf_file).unwrap().starts_with(b"%PDF"));
    let exports = app.db.store.exports_of(&id).await.unwrap();
    let formats: Vec<_> = exports.iter().map(|e| e.format.as_str()).collect();
    assert_eq!(formats, ["json", "pdf"]);
    assert!(exports.iter().all(|e| e.actor == format!("subject:{id}")));

    // 7.1c: an open loan → the withdrawal is refused with the reason.
    loan(
        app,
        "/loans/contracts?purpose=contract",
        json!({"id": "MC-77", "subject": id}),
    )
    .await;
    click_to(c, "#withdraw", "#notice").await;
    let notice = c.find(Locator::Css("#notice")).await.unwrap();
    assert_eq!(
        notice.attr("class").await.unwrap().as_deref(),
        Some("alert")
    );
    assert!(
        notice.text().await.unwrap().contains("MC-77"),
        "the open contract named"
    );
    assert!(
        c.find(Locator::Css("#withdraw")).await.is_ok(),
        "consent stays"
    );
    shot(c, dir, "cabinet-06-withdraw-refused").await;

    // Repaid → accepted.
    loan(
        app,
        "/loans/contracts/MC-77/status?purpose=contract",
        json!({"status": "repaid"}),
    )
    .await;
    click_to(c, "#withdraw", "div.note#notice").await;
    let src = c.source().await.unwrap();
    assert!(src.contains(&ftl(RU_PAGES, "cab-withdrawn")));
    assert!(
        c.find(Locator::Css("#withdraw")).await.is_err(),
        "no second withdrawal"
    );
    shot(c, dir, "cabinet-07-withdrawn").await;

    // Kazakh: the same page, its headings in Kazakh, none left in Russian.
    click_to(c, "a[hreflang='kk']", "html[lang='kk'] #values").await;
    assert_eq!(path_of(c).await, "/cabinet");
    let h1 = c.find(Locator::Css("main h1")).await.unwrap();
    assert_eq!(h1.text().await.unwrap(), ftl(KK_PAGES, "cab-title"));
    let src = c.source().await.unwrap();
    for id in [
        "cab-title",
        "cab-values",
        "cab-download",
        "cab-consents",
        "cab-history",
    ] {
        assert!(src.contains(&ftl(KK_PAGES, id)), "kk {id}");
        assert!(
            !src.contains(&ftl(RU_PAGES, id)),
            "ru {id} left on the kk page"
        );
    }
    shot(c, dir, "cabinet-08-kk").await;
}

async fn c6_1_c7_1_cabinet_walk_in_headless_chromium(backend: support::Backend) {
    let _one = BROWSER.lock().await;
    let app = support::spawn_app(backend).await;
    let started = Instant::now();
    let driver = start_driver().await;
    let dir = screenshot_dir(backend);
    let downloads = dir.join("cabinet-downloads");
    let _ = std::fs::remove_dir_all(&downloads);
    std::fs::create_dir_all(&downloads).unwrap();
    let client = open_browser(&driver, &PHONE_WINDOW, &downloads).await;
    cabinet_walk(&app, &client, &dir, &downloads).await;
    client.close().await.unwrap();
    eprintln!(
        "cabinet walk ({backend:?}): {} ms",
        started.elapsed().as_millis()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c6_1_c7_1_cabinet_walk_in_headless_chromium_sqlite() {
    c6_1_c7_1_cabinet_walk_in_headless_chromium(support::Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c6_1_c7_1_cabinet_walk_in_headless_chromium_postgres() {
    c6_1_c7_1_cabinet_walk_in_headless_chromium(support::Backend::Postgres).await
}

//! The server-rendered pages over plain HTTP (no browser): CSRF (clauses 4.1, 5.5), cookie
//! flags, security headers, no personal value in any URL the pages produce (4.1–4.2),
//! language choice and fallback, and Kazakh pages free of English or message-id leftovers.
//! Every test runs on SQLite and on PostgreSQL.

#[path = "../console/support.rs"]
mod console;

use self::console::{
    spawn_console, spawn_console_with_roles, ConsoleApp, Db, Staff, IIN, IIN_MASKED, PHONE,
    PHONE_DIGITS,
};
use derbes_core::clock::Clock;
use derbes_service::employees::EmployeeStatus;
use derbes_service::Actor;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use std::collections::BTreeMap;

macro_rules! both_dbs {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::console::Db::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(super::console::Db::Postgres).await
            }
        }
    };
}

/// A minimal browser: a cookie jar, manual redirects, and a record of every URL seen.
struct Agent<'a> {
    app: &'a ConsoleApp,
    client: reqwest::Client,
    cookies: BTreeMap<String, String>,
    set_cookies: Vec<String>,
    urls: Vec<String>,
    accept_language: Option<&'static str>,
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Page {
    /// The value of the first hidden `csrf` field.
    fn csrf(&self) -> String {
        let (_, rest) = self
            .body
            .split_once("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no csrf field in {}", self.body));
        rest.split('"').next().unwrap().to_string()
    }

    /// Every `href`/`action`/`src` attribute of the page.
    fn links(&self) -> Vec<String> {
        let mut out = Vec::new();
        for attr in ["href=\"", "action=\"", "src=\""] {
            for part in self.body.split(attr).skip(1) {
                out.push(part.split('"').next().unwrap().to_string());
            }
        }
        out
    }

    /// `<html lang="…">`.
    fn lang(&self) -> String {
        let (_, rest) = self.body.split_once("<html lang=\"").expect("html lang");
        rest.split('"').next().unwrap().to_string()
    }
}

impl<'a> Agent<'a> {
    fn new(app: &'a ConsoleApp) -> Agent<'a> {
        Agent {
            app,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
            set_cookies: Vec::new(),
            urls: Vec::new(),
            accept_language: None,
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let mut req = req.header("cookie", self.cookie_header());
        if let Some(l) = self.accept_language {
            req = req.header("accept-language", l);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        for sc in headers.get_all(SET_COOKIE) {
            let sc = sc.to_str().unwrap().to_string();
            let (pair, _) = sc.split_once(';').unwrap_or((&sc, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() || sc.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
            self.set_cookies.push(sc);
        }
        if let Some(l) = headers.get(LOCATION) {
            self.urls.push(l.to_str().unwrap().to_string());
        }
        let body = res.text().await.unwrap();
        let page = Page {
            status,
            headers,
            body,
        };
        self.urls.extend(page.links());
        page
    }

    async fn get_once(&mut self, path: &str) -> Page {
        self.urls.push(path.to_string());
        let req = self.client.get(self.app.url(path));
        self.send(req).await
    }

    /// GET, following redirects.
    async fn get(&mut self, path: &str) -> Page {
        let mut page = self.get_once(path).await;
        for _ in 0..5 {
            if page.status != StatusCode::SEE_OTHER {
                break;
            }
            let next = page.headers[LOCATION].to_str().unwrap().to_string();
            page = self.get_once(&next).await;
        }
        page
    }

    async fn post_once(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.urls.push(path.to_string());
        let req = self.client.post(self.app.url(path)).form(form);
        self.send(req).await
    }

    /// POST a form, following a 303.
    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let page = self.post_once(path, form).await;
        if page.status == StatusCode::SEE_OTHER {
            let next = page.headers[LOCATION].to_str().unwrap().to_string();
            return self.get(&next).await;
        }
        page
    }

    /// Password, then code; returns the profile page.
    async fn sign_in(&mut self, s: &Staff) -> Page {
        let login = self.get("/console/login").await;
        assert_eq!(login.status, StatusCode::OK);
        let csrf = login.csrf();
        let totp = self
            .post(
                "/console/login",
                &[
                    ("csrf", &csrf),
                    ("login", &s.login),
                    ("password", &s.password),
                ],
            )
            .await;
        assert_eq!(totp.status, StatusCode::OK, "{}", totp.body);
        assert!(totp.body.contains("name=\"code\""), "{}", totp.body);
        let code = self.app.code(s);
        let profile = self
            .post("/console/totp", &[("csrf", &totp.csrf()), ("code", &code)])
            .await;
        assert_eq!(profile.status, StatusCode::OK, "{}", profile.body);
        profile
    }

    /// Search by `category` for `purpose`; returns the results page.
    async fn search(&mut self, purpose: &str, category: &str, value: &str) -> Page {
        let form = self.get("/console/search").await;
        let csrf = form.csrf();
        self.post(
            "/console/search",
            &[
                ("csrf", &csrf),
                ("purpose", purpose),
                ("category", category),
                ("value", value),
            ],
        )
        .await
    }
}

/// The visible text of a page: tags removed, and code cells (`class="masked"`: pseudonyms,
/// rule ids, action codes) dropped.
fn visible_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    // Drop <head> except the title.
    if let (Some(t0), Some(t1)) = (rest.find("<title>"), rest.find("</title>")) {
        out.push_str(&rest[t0 + 7..t1]);
        out.push(' ');
    }
    if let Some(i) = rest.find("<body>") {
        rest = &rest[i..];
    }
    let mut skip_until: Option<&str> = None;
    while let Some(lt) = rest.find('<') {
        if skip_until.is_none() {
            out.push_str(&rest[..lt]);
        }
        let gt = rest[lt..]
            .find('>')
            .map(|g| lt + g)
            .unwrap_or(rest.len() - 1);
        let tag = &rest[lt..=gt];
        if let Some(end) = skip_until {
            if tag.starts_with(end) {
                skip_until = None;
            }
        } else if tag.contains("class=\"masked\"") {
            let name: String = tag[1..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            skip_until = Some(match name.as_str() {
                "td" => "</td",
                "dd" => "</dd",
                _ => "</span",
            });
        }
        out.push(' ');
        rest = &rest[gt + 1..];
    }
    out.push_str(rest);
    out
}

async fn c4_1_csrf_missing_or_wrong_is_403_and_nothing_changes(db: Db) {
    let app = spawn_console(db).await;
    let clerk = app.hire("aigerim.s", "call_centre").await;

    // Before login: a password form without the pre-session token does nothing.
    let mut a = Agent::new(&app);
    let res = a
        .post_once(
            "/console/login",
            &[("login", &clerk.login), ("password", &clerk.password)],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    assert!(res.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(
        a.cookies.keys().all(|k| !k.contains("pending")),
        "{:?}",
        a.cookies
    );
    // A token of another browser's pre-session cookie is refused too.
    let other = Agent::new(&app).get("/console/login").await.csrf();
    a.get("/console/login").await;
    let res = a
        .post_once(
            "/console/login",
            &[
                ("csrf", &other),
                ("login", &clerk.login),
                ("password", &clerk.password),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    // Signed in: logout without / with a wrong token is refused and the session lives on.
    let profile = a.sign_in(&clerk).await;
    let good = profile.csrf();
    for bad in [None, Some("x"), Some(&good[..good.len() - 1])] {
        let form: Vec<(&str, &str)> = bad.map(|b| ("csrf", b)).into_iter().collect();
        let res = a.post_once("/console/logout", &form).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{bad:?}");
        assert!(
            res.body.contains("<html lang="),
            "an HTML page: {}",
            res.body
        );
        let again = a.get_once("/console/profile").await;
        assert_eq!(
            again.status,
            StatusCode::OK,
            "session ended by a forged form"
        );
    }
    // A search without the token is refused before the vault sees it: nothing audited.
    let before = app.db.store.audit_head().await.unwrap().size;
    let res = a
        .post_once(
            "/console/search",
            &[
                ("purpose", "identification"),
                ("category", "iin"),
                ("value", IIN),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(app.db.store.audit_head().await.unwrap().size, before);
    // The real token logs out.
    let res = a.post_once("/console/logout", &[("csrf", &good)]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let after = a.get_once("/console/profile").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert_eq!(after.headers[LOCATION], "/console/login");
}
both_dbs!(c4_1_csrf_missing_or_wrong_is_403_and_nothing_changes);

async fn c4_1_cookies_are_host_only_secure_httponly_strict(db: Db) {
    let app = spawn_console(db).await;
    let clerk = app.hire("aigerim.s", "call_centre").await;
    let mut a = Agent::new(&app);
    a.sign_in(&clerk).await;
    a.get("/lang/kk?back=/console/profile").await;
    let names: Vec<&str> = a
        .set_cookies
        .iter()
        .map(|c| c.split('=').next().unwrap())
        .collect();
    for want in [
        "__Host-derbes_pre",
        "__Host-derbes_pending",
        "__Host-derbes_session",
        "derbes_lang",
    ] {
        assert!(names.contains(&want), "{want} never set: {names:?}");
    }
    for c in &a.set_cookies {
        for flag in ["; Path=/", "; HttpOnly", "; SameSite=Strict", "; Secure"] {
            assert!(c.contains(flag), "{flag} missing in {c}");
        }
        assert!(!c.contains("Domain"), "{c}");
        if !c.starts_with("derbes_lang=") {
            assert!(c.starts_with("__Host-"), "{c}");
        }
    }
}
both_dbs!(c4_1_cookies_are_host_only_secure_httponly_strict);

async fn c4_1_pages_send_csp_and_security_headers(db: Db) {
    let app = spawn_console(db).await;
    let mut a = Agent::new(&app);
    for path in ["/console/login", "/console/nowhere", "/lang/kk"] {
        let p = a.get_once(path).await;
        let h = &p.headers;
        assert_eq!(
            h["content-security-policy"],
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
            "{path}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["cache-control"], "no-store", "{path}");
    }
    let nowhere = a.get_once("/console/nowhere").await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    assert!(nowhere.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    // No inline script or style anywhere; one stylesheet from this origin.
    let login = a.get_once("/console/login").await;
    for bad in ["<script", "style=", "<style", "http://", "https://"] {
        assert!(!login.body.contains(bad), "{bad} in the login page");
    }
    let css = a.get_once("/static/derbes.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.headers["content-type"], "text/css; charset=utf-8");
    assert_eq!(css.headers["cache-control"], "public, max-age=86400");
    assert!(css.body.contains(":focus-visible"));
    // The API keeps its own no-store and JSON problems.
    let api = a.get_once("/api/v1/nowhere").await;
    assert_eq!(api.headers["content-type"], "application/problem+json");
    assert_eq!(api.headers["cache-control"], "no-store");
}
both_dbs!(c4_1_pages_send_csp_and_security_headers);

async fn c4_1_no_iin_in_any_url_the_pages_produce(db: Db) {
    let logs = crate::support::logs();
    let app = spawn_console(db).await;
    let clerk = app.hire("aigerim.s", "call_centre").await;
    let mut a = Agent::new(&app);
    a.sign_in(&clerk).await;
    let found = a.search("identification", "iin", IIN).await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    let id = app.subject.to_string();
    assert!(
        found.body.contains(&id),
        "the borrower is found: {}",
        found.body
    );
    let by_phone = a
        .search("identification", "mobile_phone", "8 777 123 45 67")
        .await;
    assert!(by_phone.body.contains(&id));
    let subject = a
        .get(&format!("/console/subjects/{id}?purpose=identification"))
        .await;
    assert_eq!(subject.status, StatusCode::OK, "{}", subject.body);
    assert!(
        subject.body.contains(IIN_MASKED),
        "masked IIN: {}",
        subject.body
    );
    assert!(
        !subject.body.contains(IIN),
        "the IIN in clear on a masked view"
    );
    // Show in full (allowed for identification), then switch language on the page.
    let revealed = a
        .post(
            &format!("/console/subjects/{id}/reveal"),
            &[
                ("csrf", &subject.csrf()),
                ("purpose", "identification"),
                ("category", "iin"),
            ],
        )
        .await;
    assert_eq!(revealed.status, StatusCode::OK, "{}", revealed.body);
    assert!(revealed.body.contains(IIN), "revealed IIN");
    let back = revealed
        .links()
        .into_iter()
        .find(|l| l.starts_with("/lang/kk"))
        .unwrap();
    a.get(&back.replace("&amp;", "&")).await;
    a.post("/console/logout", &[("csrf", &revealed.csrf())])
        .await;
    assert!(a.urls.len() > 20, "too few URLs seen: {:?}", a.urls);
    // Nor in the server's log (request logs carry route templates only).
    let log = logs.contents();
    for secret in [IIN, PHONE, "8 777 123 45 67"] {
        assert!(!log.contains(secret), "{secret} in the log");
    }
    for url in &a.urls {
        for secret in [IIN, PHONE, PHONE_DIGITS, "2728", "4567"] {
            assert!(!url.contains(secret), "{secret} in URL {url}");
        }
    }
}
both_dbs!(c4_1_no_iin_in_any_url_the_pages_produce);

async fn c4_1_unknown_language_falls_back(db: Db) {
    let app = spawn_console(db).await;
    let mut a = Agent::new(&app);
    assert_eq!(
        a.get("/console/login").await.lang(),
        "ru",
        "default: Russian"
    );
    a.accept_language = Some("kk-KZ, ru;q=0.5");
    assert_eq!(a.get("/console/login").await.lang(), "kk");
    a.accept_language = Some("de, fr;q=0.8");
    assert_eq!(a.get("/console/login").await.lang(), "ru");
    // An unknown code changes nothing and still returns; a bad cookie is ignored.
    let res = a.get_once("/lang/xx?back=/console/login").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.headers[LOCATION], "/console/login");
    assert!(res.headers.get(SET_COOKIE).is_none());
    a.cookies.insert("derbes_lang".into(), "zz".into());
    assert_eq!(a.get("/console/login").await.lang(), "ru");
    // The cookie wins over Accept-Language.
    a.accept_language = Some("en");
    a.get("/lang/kk?back=/console/login").await;
    assert_eq!(a.cookies["derbes_lang"], "kk");
    assert_eq!(a.get("/console/login").await.lang(), "kk");
    // `back` is a local path only (no open redirect).
    for bad in ["https://evil.example/", "//evil.example", "/\\evil"] {
        let res = a.get_once(&format!("/lang/en?back={bad}")).await;
        assert_eq!(res.headers[LOCATION], "/console", "{bad}");
    }
}
both_dbs!(c4_1_unknown_language_falls_back);

/// English words of the page texts (4+ letters), which must not appear in Kazakh pages.
fn english_words() -> Vec<String> {
    let en = include_str!("../../../web/locales/en/pages.ftl");
    let mut words: Vec<String> = en
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(" = ").map(|(_, v)| v))
        .flat_map(|v| v.split(|c: char| !c.is_ascii_alphabetic()))
        .filter(|w| w.len() >= 4 && w != &"derbes")
        .map(str::to_lowercase)
        .collect();
    words.sort();
    words.dedup();
    words
}

async fn c4_1_every_kazakh_page_has_no_english_or_message_id_leftovers(db: Db) {
    let app = spawn_console(db).await;
    let clerk = app.hire("aigerim.s", "call_centre").await;
    let officer = app.hire("nurlan.b", "security_officer").await;
    let mut a = Agent::new(&app);
    a.get("/lang/kk?back=/console/login").await;
    let mut pages = vec![
        ("login", a.get("/console/login").await),
        ("404", a.get("/console/nowhere").await),
    ];
    pages.push(("profile", a.sign_in(&clerk).await));
    pages.push(("search", a.get("/console/search").await));
    pages.push(("results", a.search("identification", "iin", IIN).await));
    pages.push(("invalid", a.search("identification", "iin", "123").await));
    let id = app.subject;
    pages.push((
        "subject",
        a.get(&format!("/console/subjects/{id}?purpose=identification"))
            .await,
    ));
    pages.push((
        "refused",
        a.get(&format!("/console/subjects/{id}?purpose=advertising"))
            .await,
    ));
    let mut b = Agent::new(&app);
    b.get("/lang/kk?back=/console/login").await;
    app.next_step();
    b.sign_in(&officer).await;
    pages.push(("incidents", b.get("/console/incidents").await));
    pages.push((
        "audit",
        b.get(&format!("/console/subjects/{id}/audit?purpose=security"))
            .await,
    ));
    let trail = &pages.last().unwrap().1;
    assert_eq!(trail.status, StatusCode::OK, "{}", trail.body);
    assert!(
        trail.body.contains(&format!("employee:{}", clerk.id)),
        "the clerk's search and read are on the audit trail (8.1)"
    );
    // The incident the officer handles (with the detector's suspension), and the
    // administrator's pages.
    let incident = app.raise_incident(&clerk, true).await;
    pages.push((
        "incident",
        b.get(&format!("/console/incidents/{incident}")).await,
    ));
    let csrf = pages.last().unwrap().1.csrf();
    pages.push((
        "incident-note",
        b.post(
            &format!("/console/incidents/{incident}/note"),
            &[("csrf", &csrf), ("note", "Қызметкермен сөйлестім")],
        )
        .await,
    ));
    pages.push((
        "incident-empty-note",
        b.post(
            &format!("/console/incidents/{incident}/close"),
            &[("csrf", &csrf), ("note", "")],
        )
        .await,
    ));
    let admin = app.hire("aigerim.adm", "admin").await;
    let mut c = Agent::new(&app);
    c.get("/lang/kk?back=/console/login").await;
    app.next_step();
    c.sign_in(&admin).await;
    pages.push(("employees", c.get("/console/employees").await));
    pages.push(("employee-new", c.get("/console/employees/new").await));
    let csrf = pages.last().unwrap().1.csrf();
    let new = [
        ("csrf", csrf.as_str()),
        ("login", "nurlan.k"),
        ("display_name", "Нұрлан Қасымов"),
        ("role", "collector"),
    ];
    pages.push(("employee-created", c.post("/console/employees", &new).await));
    pages.push(("login-taken", c.post("/console/employees", &new).await));
    pages.push((
        "employee",
        c.get(&format!("/console/employees/{}", clerk.id)).await,
    ));
    pages.push((
        "employee-bad-date",
        c.post(
            &format!("/console/employees/{}/undertakings", clerk.id),
            &[
                ("csrf", &csrf),
                ("text_version", "nda-2026-02"),
                ("signed_on", "2026-03-02"),
                ("expires_on", "2026-03-01"),
            ],
        )
        .await,
    ));
    let want = [200, 200, 422, 200, 200, 200, 409, 200, 422];
    for ((name, p), want) in pages[pages.len() - want.len()..].iter().zip(want) {
        assert_eq!(p.status.as_u16(), want, "{name}: {}", p.body);
    }
    let english = english_words();
    assert!(english.len() > 50, "{}", english.len());
    let allowed = ["aigerim", "nurlan", "nda", "pd-protection", "protection"];
    for (name, p) in &pages {
        assert_eq!(p.lang(), "kk", "{name}");
        let text = visible_text(&p.body);
        let lower = text.to_lowercase();
        for w in lower.split(|c: char| !c.is_ascii_alphabetic() && c != '-') {
            if w.len() < 4 || allowed.iter().any(|a| w.contains(a)) {
                continue;
            }
            assert!(
                !english.contains(&w.to_string()),
                "{name}: English word `{w}` in the Kazakh page: {text}"
            );
            assert!(
                !(w.contains('-') && w.chars().all(|c| c.is_ascii_lowercase() || c == '-')),
                "{name}: message id `{w}` left in the page: {text}"
            );
        }
        assert!(
            text.chars().any(|c| "әғқңөұүі".contains(c)),
            "{name}: no Kazakh letters: {text}"
        );
    }
}
both_dbs!(c4_1_every_kazakh_page_has_no_english_or_message_id_leftovers);

async fn c4_3_console_profile_shows_undertaking_and_training(db: Db) {
    let app = spawn_console(db).await;
    let clerk = app.hire("aigerim.s", "call_centre").await;
    let mut a = Agent::new(&app);
    a.accept_language = Some("en");
    let p = a.sign_in(&clerk).await;
    for want in [
        "nda-2026-01",
        "2026-01-31",
        "2027-01-31",
        "pd-protection",
        "You have access to personal data",
        "Call",
    ] {
        assert!(p.body.contains(want), "{want} missing: {}", p.body);
    }
    // An idle session ends (30 min): the next page asks to sign in again.
    app.clock.advance(chrono::Duration::minutes(31));
    let res = a.get_once("/console/profile").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.headers[LOCATION], "/console/login");
}
both_dbs!(c4_3_console_profile_shows_undertaking_and_training);

async fn c5_5_incidents_are_for_the_security_officer_only(db: Db) {
    let app = spawn_console(db).await;
    let clerk = app.hire("aigerim.s", "call_centre").await;
    let officer = app.hire("nurlan.b", "security_officer").await;
    let mut a = Agent::new(&app);
    a.sign_in(&clerk).await;
    let refused = a.get("/console/incidents").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(
        !refused.body.contains("/console/incidents\""),
        "no menu entry for a clerk"
    );
    let mut b = Agent::new(&app);
    app.next_step();
    let p = b.sign_in(&officer).await;
    assert!(p.body.contains("/console/incidents"), "menu entry");
    let list = b.get("/console/incidents").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let missing = b.get("/console/incidents/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
    // Bad input is a 4xx page, never a 500.
    for path in [
        "/console/subjects/not-a-uuid?purpose=security".to_string(),
        format!("/console/subjects/{}", app.subject),
        format!("/console/subjects/{}?purpose=nonsense", app.subject),
    ] {
        let r = b.get(&path).await;
        assert!(r.status.is_client_error(), "{path}: {}", r.status);
        assert!(r.body.contains("<html lang="), "{path}");
    }
}
both_dbs!(c5_5_incidents_are_for_the_security_officer_only);

// ---------------------------------------------------------------------------------------
// Incident handling (5.5) and employee administration (4.3, 5.4) in the console

/// The text of the element with `id` (up to its first `<`).
fn text_of(body: &str, id: &str) -> String {
    let (_, rest) = body
        .split_once(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {body}"));
    let (_, rest) = rest.split_once('>').unwrap();
    rest.split('<').next().unwrap().to_string()
}

/// The `data-status` of the element with `id`.
fn status_of(body: &str, id: &str) -> String {
    let (_, rest) = body
        .split_once(&format!("id=\"{id}\" data-status=\""))
        .unwrap_or_else(|| panic!("no #{id} status in {body}"));
    rest.split('"').next().unwrap().to_string()
}

async fn incident_status(app: &ConsoleApp, id: &str) -> derbes_store::IncidentRecord {
    app.db.store.incident(id).await.unwrap().expect("incident")
}

async fn timeline(app: &ConsoleApp, id: &str) -> Vec<(String, String, Option<String>)> {
    app.db
        .store
        .incident_events(id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.actor, e.detail))
        .collect()
}

async fn employee_status(app: &ConsoleApp, id: &str) -> EmployeeStatus {
    app.emp
        .profile(&Actor::System("test"), id)
        .await
        .unwrap()
        .employee
        .status
}

async fn c5_5_security_officer_acknowledges_and_closes_an_incident_from_the_console(db: Db) {
    let app = spawn_console(db).await;
    let clerk = app.hire("aigerim.s", "call_centre").await;
    let officer = app.hire("nurlan.b", "security_officer").await;
    let id = app.raise_incident(&clerk, false).await;
    let page_of = format!("/console/incidents/{id}");
    let mut b = Agent::new(&app);
    b.accept_language = Some("en");
    b.sign_in(&officer).await;
    let list = b.get("/console/incidents").await;
    assert!(list.body.contains(&page_of), "{}", list.body);
    assert!(
        list.body.contains("data-status=\"open\">open<"),
        "{}",
        list.body
    );
    let detail = b.get(&page_of).await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.body);
    assert_eq!(status_of(&detail.body, "incident-status"), "open");
    for form in ["acknowledge", "note", "close"] {
        assert!(
            detail
                .body
                .contains(&format!("action=\"{page_of}/{form}\"")),
            "{form} form missing: {}",
            detail.body
        );
    }
    assert!(
        !detail.body.contains("lift-suspension"),
        "no suspension to lift"
    );
    assert!(detail.body.contains("<label for=\"resolution\">"));
    let csrf = detail.csrf();
    let audited = app.db.store.audit_head().await.unwrap().size;

    // Acknowledge with a note: the store says so, the page shows the timeline.
    let acked = b
        .post(
            &format!("{page_of}/acknowledge"),
            &[("csrf", &csrf), ("note", "Looking into the bulk reads")],
        )
        .await;
    assert_eq!(acked.status, StatusCode::OK, "{}", acked.body);
    assert!(acked.body.contains("The incident is acknowledged."));
    assert_eq!(status_of(&acked.body, "incident-status"), "acknowledged");
    assert!(acked.body.contains("Looking into the bulk reads"));
    assert!(!acked.body.contains("/acknowledge\""), "acknowledged once");
    let rec = incident_status(&app, &id).await;
    assert_eq!(rec.status, "acknowledged");
    let me = format!("employee:{}", officer.id);
    assert_eq!(rec.acknowledged_by.as_deref(), Some(me.as_str()));
    // Once only: a second acknowledgement is a translated 409 and changes nothing.
    let again = b
        .post(&format!("{page_of}/acknowledge"), &[("csrf", &csrf)])
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert!(
        again
            .body
            .contains("an incident can be acknowledged only while open"),
        "{}",
        again.body
    );
    assert_eq!(
        incident_status(&app, &id).await.acknowledged_by,
        Some(me.clone())
    );

    // A note on the timeline; an empty one is refused in place.
    let noted = b
        .post(
            &format!("{page_of}/note"),
            &[("csrf", &csrf), ("note", "Called the employee's manager")],
        )
        .await;
    assert_eq!(noted.status, StatusCode::OK, "{}", noted.body);
    assert!(noted.body.contains("The note is on the timeline."));
    assert!(
        noted.body.contains("Called the employee&#39;s manager")
            || noted.body.contains("Called the employee&#x27;s manager"),
        "{}",
        noted.body
    );
    let empty = b
        .post(
            &format!("{page_of}/note"),
            &[("csrf", &csrf), ("note", "  ")],
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.body.contains("A note must be 1 to 2000 characters"));

    // Close: a resolution is required.
    let bare = b
        .post(
            &format!("{page_of}/close"),
            &[("csrf", &csrf), ("note", "")],
        )
        .await;
    assert_eq!(
        bare.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        bare.body
    );
    assert_eq!(incident_status(&app, &id).await.status, "acknowledged");
    let closed = b
        .post(
            &format!("{page_of}/close"),
            &[
                ("csrf", &csrf),
                ("note", "Reads were an authorised batch check"),
            ],
        )
        .await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.body);
    assert!(closed.body.contains("The incident is closed."));
    assert_eq!(status_of(&closed.body, "incident-status"), "closed");
    assert!(
        !closed.body.contains("/close\""),
        "no close form on a closed incident"
    );
    let rec = incident_status(&app, &id).await;
    assert_eq!(rec.status, "closed");
    assert_eq!(rec.closed_by.as_deref(), Some(me.as_str()));
    let events = timeline(&app, &id).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        kinds,
        ["raised", "acknowledged", "note", "closed"],
        "{events:?}"
    );
    for (kind, actor, detail) in &events[1..] {
        assert_eq!(actor, &me, "{kind}");
        assert!(
            detail.as_deref().is_some_and(|d| d.contains("note")),
            "{kind}"
        );
    }
    assert!(events[3]
        .2
        .as_deref()
        .unwrap()
        .contains("authorised batch check"));
    // Every action went through the service, which audits it.
    assert!(app.db.store.audit_head().await.unwrap().size > audited);

    // A role without the `security` purpose may not act: translated 403, nothing changes.
    let other = app.raise_incident(&officer, false).await;
    let mut a = Agent::new(&app);
    a.accept_language = Some("en");
    app.next_step();
    let profile = a.sign_in(&clerk).await;
    assert!(
        !profile.body.contains("/console/incidents"),
        "no menu entry"
    );
    let csrf = profile.csrf();
    for action in ["acknowledge", "note", "close"] {
        let res = a
            .post(
                &format!("/console/incidents/{other}/{action}"),
                &[("csrf", &csrf), ("note", "not mine to handle")],
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{action}: {}", res.body);
        assert!(
            res.body.contains("Not allowed for your role"),
            "{}",
            res.body
        );
        assert!(res.body.contains("<html lang=\"en\""));
    }
    assert_eq!(incident_status(&app, &other).await.status, "open");
    assert_eq!(timeline(&app, &other).await.len(), 1, "only `raised`");
    // Bad input is a 4xx page, never a 500.
    let csrf = b.get("/console/incidents").await.csrf();
    let missing = b
        .post(
            "/console/incidents/nope/close",
            &[("csrf", &csrf), ("note", "x")],
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
}
both_dbs!(c5_5_security_officer_acknowledges_and_closes_an_incident_from_the_console);

/// A roles file with a role that both handles incidents and manages accounts.
fn roles_with_security_admin() -> String {
    format!(
        "{}\n[[role]]\ncode = \"security_admin\"\nname = {{ ru = \"Администратор безопасности\", \
         kk = \"Қауіпсіздік әкімшісі\", en = \"Security administrator\" }}\n\
         purposes = [\"security\"]\nadmin = true\n",
        derbes_core::roles::EMBEDDED_ROLES_TOML
    )
}

async fn c5_5_automatic_suspension_is_lifted_from_the_incident_page_only_by_a_role_that_may_reactivate_accounts(
    db: Db,
) {
    let app = spawn_console_with_roles(db, &roles_with_security_admin()).await;
    let clerk = app.hire("aigerim.s", "call_centre").await;
    let officer = app.hire("nurlan.b", "security_officer").await;
    let lead = app.hire("dana.k", "security_admin").await;
    let mut c = Agent::new(&app);
    c.sign_in(&clerk).await;
    let id = app.raise_incident(&clerk, true).await;
    assert_eq!(
        employee_status(&app, &clerk.id).await,
        EmployeeStatus::Suspended
    );
    let bounced = c.get_once("/console/profile").await;
    assert_eq!(
        bounced.headers[LOCATION], "/console/login",
        "suspension ends the session"
    );
    let page_of = format!("/console/incidents/{id}");

    // The security officer sees that the detector suspended the employee, and that only an
    // administrator lifts it: no form, and a forged one is refused.
    let mut b = Agent::new(&app);
    b.accept_language = Some("en");
    app.next_step();
    b.sign_in(&officer).await;
    let detail = b.get(&page_of).await;
    assert!(
        detail.body.contains("employee suspended automatically"),
        "{}",
        detail.body
    );
    assert!(detail
        .body
        .contains("Only an administrator can lift the suspension"));
    assert!(!detail.body.contains("lift-suspension"), "{}", detail.body);
    let refused = b
        .post(
            &format!("{page_of}/lift-suspension"),
            &[("csrf", &detail.csrf()), ("note", "looks fine")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.body.contains("Not allowed for your role"));
    assert_eq!(
        employee_status(&app, &clerk.id).await,
        EmployeeStatus::Suspended
    );

    // A role with both the `security` purpose and account management lifts it.
    let mut l = Agent::new(&app);
    l.accept_language = Some("en");
    app.next_step();
    l.sign_in(&lead).await;
    let detail = l.get(&page_of).await;
    assert!(
        detail
            .body
            .contains(&format!("action=\"{page_of}/lift-suspension\"")),
        "{}",
        detail.body
    );
    assert!(detail.body.contains("<label for=\"lift-reason\">"));
    let csrf = detail.csrf();
    let empty = l
        .post(
            &format!("{page_of}/lift-suspension"),
            &[("csrf", &csrf), ("note", "")],
        )
        .await;
    assert_eq!(
        empty.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        empty.body
    );
    assert_eq!(
        employee_status(&app, &clerk.id).await,
        EmployeeStatus::Suspended
    );
    let lifted = l
        .post(
            &format!("{page_of}/lift-suspension"),
            &[
                ("csrf", &csrf),
                ("note", "Batch check confirmed by the manager"),
            ],
        )
        .await;
    assert_eq!(lifted.status, StatusCode::OK, "{}", lifted.body);
    assert!(
        lifted.body.contains("The suspension is lifted"),
        "{}",
        lifted.body
    );
    assert!(lifted
        .body
        .contains("Suspension lifted: Batch check confirmed by the manager"));
    assert!(
        !lifted.body.contains("lift-suspension\""),
        "nothing left to lift"
    );
    assert_eq!(
        employee_status(&app, &clerk.id).await,
        EmployeeStatus::Active
    );
    let events = timeline(&app, &id).await;
    assert_eq!(events.last().unwrap().0, "note");
    assert_eq!(events.last().unwrap().1, format!("employee:{}", lead.id));
    // Twice: nothing to lift (409); a disabled account is never re-activated from here.
    let again = l
        .post(
            &format!("{page_of}/lift-suspension"),
            &[("csrf", &csrf), ("note", "again")],
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert!(again.body.contains("there is no suspension to lift"));
    app.emp
        .set_status(&Actor::System("test"), &clerk.id, EmployeeStatus::Disabled)
        .await
        .unwrap();
    let disabled = l
        .post(
            &format!("{page_of}/lift-suspension"),
            &[("csrf", &csrf), ("note", "again")],
        )
        .await;
    assert_eq!(disabled.status, StatusCode::CONFLICT);
    assert_eq!(
        employee_status(&app, &clerk.id).await,
        EmployeeStatus::Disabled
    );
}
both_dbs!(c5_5_automatic_suspension_is_lifted_from_the_incident_page_only_by_a_role_that_may_reactivate_accounts);

async fn c4_3_administrator_creates_an_employee_who_has_no_access_until_an_undertaking_is_recorded(
    db: Db,
) {
    let logs = crate::support::logs();
    let app = spawn_console(db).await;
    let admin = app.hire("aliya.t", "admin").await;
    let mut a = Agent::new(&app);
    a.accept_language = Some("en");
    let profile = a.sign_in(&admin).await;
    assert!(
        profile.body.contains("href=\"/console/employees\""),
        "menu entry"
    );
    let list = a.get("/console/employees").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(list.body.contains("aliya.t") && list.body.contains("/console/employees/new"));
    let form = a.get("/console/employees/new").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    for field in ["login", "display_name", "role"] {
        assert!(
            form.body.contains(&format!("<label for=\"{field}\">")),
            "{field}"
        );
    }
    assert!(form
        .body
        .contains("<option value=\"credit_officer\">Credit officer</option>"));
    let csrf = form.csrf();
    let before = app.emp.list(&Actor::System("test")).await.unwrap().len();

    // Bad input: a translated message on the form, the values kept, nothing created.
    let bad = a
        .post(
            "/console/employees",
            &[
                ("csrf", &csrf),
                ("login", "Дана"),
                ("display_name", "Дана Қасымова"),
                ("role", "credit_officer"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(bad.body.contains("The login must be 2 to 64 characters"));
    assert!(bad.body.contains("value=\"Дана Қасымова\""));
    let bad_role = a
        .post(
            "/console/employees",
            &[
                ("csrf", &csrf),
                ("login", "dana.k"),
                ("display_name", "Дана Қасымова"),
                ("role", "overlord"),
            ],
        )
        .await;
    assert_eq!(bad_role.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad_role.body.contains("Choose a role from the list."));
    assert_eq!(
        app.emp.list(&Actor::System("test")).await.unwrap().len(),
        before
    );

    // Created: the password and the TOTP secret are on this answer, once.
    let created = a
        .post(
            "/console/employees",
            &[
                ("csrf", &csrf),
                ("login", "dana.k"),
                ("display_name", "Дана Қасымова"),
                ("role", "credit_officer"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert!(created.body.contains("shown only this once"));
    assert!(created.body.contains("no access to personal data until"));
    let password = text_of(&created.body, "initial-password");
    let secret_text = text_of(&created.body, "totp-secret");
    assert!(password.len() >= 20, "{password}");
    let secret = derbes_service::totp::base32_decode(&secret_text).expect("base32 secret");
    let all = app.emp.list(&Actor::System("test")).await.unwrap();
    let info = all.iter().find(|e| e.login == "dana.k").expect("created");
    assert_eq!(info.role.code, "credit_officer");
    assert_eq!(info.display_name, "Дана Қасымова");
    let dana = Staff {
        id: info.id.to_string(),
        login: "dana.k".into(),
        password: password.clone(),
        secret,
    };
    // Not shown again: the employee's page has neither.
    let page = a.get(&format!("/console/employees/{}", dana.id)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(!page.body.contains(&password) && !page.body.contains(&secret_text));
    assert!(page
        .body
        .contains("This employee has no access to personal data"));
    // The same login again: 409 on the form.
    let taken = a
        .post(
            "/console/employees",
            &[
                ("csrf", &csrf),
                ("login", "dana.k"),
                ("display_name", "Другая Дана"),
                ("role", "collector"),
            ],
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.body);
    assert!(taken
        .body
        .contains("Another employee already has this login"));

    // The new employee signs in with what the page showed, but sees no personal data.
    let mut d = Agent::new(&app);
    d.accept_language = Some("en");
    app.next_step();
    let own = d.sign_in(&dana).await;
    assert!(
        own.body.contains("You have no access to personal data"),
        "{}",
        own.body
    );
    assert!(
        !own.body.contains("href=\"/console/employees\""),
        "no admin menu"
    );
    let refused = d.search("identification", "iin", IIN).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(!app
        .emp
        .employee_may_access_personal_data(&dana.id, app.clock.now())
        .await
        .unwrap());

    // The administrator records the undertaking (bad dates refused first) and a training.
    let page_of = format!("/console/employees/{}", dana.id);
    let csrf = page.csrf();
    for (signed, expires, message) in [
        (
            "2026-03-02",
            "2026-03-01",
            "The expiry date must be after the signing date.",
        ),
        (
            "2026-03-03",
            "2027-03-03",
            "The signing date cannot be in the future.",
        ),
        (
            "02.03.2026",
            "2027-03-02",
            "Enter the dates as year-month-day",
        ),
    ] {
        let res = a
            .post(
                &format!("{page_of}/undertakings"),
                &[
                    ("csrf", &csrf),
                    ("text_version", "nda-2026-01"),
                    ("signed_on", signed),
                    ("expires_on", expires),
                ],
            )
            .await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{signed}: {}",
            res.body
        );
        assert!(res.body.contains(message), "{message}: {}", res.body);
        assert!(
            res.body.contains(&format!("value=\"{expires}\"")),
            "values kept"
        );
    }
    let recorded = a
        .post(
            &format!("{page_of}/undertakings"),
            &[
                ("csrf", &csrf),
                ("text_version", "nda-2026-01"),
                ("signed_on", "2026-03-02"),
                ("expires_on", "2027-03-02"),
            ],
        )
        .await;
    assert_eq!(recorded.status, StatusCode::OK, "{}", recorded.body);
    assert!(recorded.body.contains("The undertaking is recorded."));
    assert!(recorded
        .body
        .contains("This employee has access to personal data"));
    assert!(recorded
        .body
        .contains("<td>nda-2026-01</td><td>2026-03-02</td><td>2027-03-02</td><td>yes</td>"));
    let trained = a
        .post(
            &format!("{page_of}/trainings"),
            &[
                ("csrf", &csrf),
                ("course", "pd-protection"),
                ("course_version", "3"),
                ("completed_on", "2026-03-02"),
                ("expires_on", ""),
            ],
        )
        .await;
    assert_eq!(trained.status, StatusCode::OK, "{}", trained.body);
    assert!(trained.body.contains("The training is recorded."));
    let p = app
        .emp
        .profile(&Actor::System("test"), &dana.id)
        .await
        .unwrap();
    assert!(p.personal_data_access);
    assert_eq!(p.trainings.len(), 1);
    assert_eq!(p.trainings[0].course, "pd-protection");
    assert_eq!(
        p.undertakings[0].recorded_by,
        format!("employee:{}", admin.id)
    );

    // On the employee's next request: access (the search finds the borrower).
    let own = d.get("/console/profile").await;
    assert!(
        own.body.contains("You have access to personal data"),
        "{}",
        own.body
    );
    let found = d.search("identification", "iin", IIN).await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    assert!(found.body.contains(&app.subject.to_string()));
    let list = a.get("/console/employees").await;
    assert!(list.body.contains("dana.k"), "{}", list.body);

    // The secrets were never in an address or a log line.
    let log = logs.contents();
    let compact: String = secret_text.split_whitespace().collect();
    for secret in [password.as_str(), secret_text.as_str(), compact.as_str()] {
        assert!(!log.contains(secret), "a secret in the log");
        for url in a.urls.iter().chain(d.urls.iter()) {
            assert!(!url.contains(secret), "a secret in URL {url}");
        }
    }
    assert!(
        log.contains("route=/console/employees"),
        "request lines are logged"
    );
}
both_dbs!(
    c4_3_administrator_creates_an_employee_who_has_no_access_until_an_undertaking_is_recorded
);

async fn c4_3_disabling_an_employee_from_the_console_ends_their_session(db: Db) {
    let app = spawn_console(db).await;
    let admin = app.hire("aliya.t", "admin").await;
    let clerk = app.hire("aigerim.s", "call_centre").await;
    let mut c = Agent::new(&app);
    let own = c.sign_in(&clerk).await;
    let clerk_csrf = own.csrf();
    assert_eq!(c.get_once("/console/profile").await.status, StatusCode::OK);

    let mut a = Agent::new(&app);
    a.accept_language = Some("en");
    app.next_step();
    a.sign_in(&admin).await;
    let page_of = format!("/console/employees/{}", clerk.id);
    let page = a.get(&page_of).await;
    assert_eq!(status_of(&page.body, "employee-status"), "active");
    assert!(page.body.contains(&format!("action=\"{page_of}/disable\"")));
    assert!(!page
        .body
        .contains(&format!("action=\"{page_of}/activate\"")));
    let disabled = a
        .post(&format!("{page_of}/disable"), &[("csrf", &page.csrf())])
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.body);
    assert!(disabled
        .body
        .contains("every session of the employee has ended"));
    assert_eq!(status_of(&disabled.body, "employee-status"), "disabled");
    assert_eq!(
        employee_status(&app, &clerk.id).await,
        EmployeeStatus::Disabled
    );

    // The clerk's very next request is bounced to the login page; a form too.
    let next = c.get_once("/console/profile").await;
    assert_eq!(next.status, StatusCode::SEE_OTHER);
    assert_eq!(next.headers[LOCATION], "/console/login");
    let before = app.db.store.audit_head().await.unwrap().size;
    let form = c
        .post_once(
            "/console/search",
            &[
                ("csrf", &clerk_csrf),
                ("purpose", "identification"),
                ("category", "iin"),
                ("value", IIN),
            ],
        )
        .await;
    assert_eq!(form.headers[LOCATION], "/console/login");
    assert_eq!(
        app.db.store.audit_head().await.unwrap().size,
        before,
        "no search ran"
    );
    // Nor can the clerk sign in again.
    let login = c.get("/console/login").await;
    let res = c
        .post(
            "/console/login",
            &[
                ("csrf", &login.csrf()),
                ("login", &clerk.login),
                ("password", &clerk.password),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.body);

    // Re-activated, the clerk signs in anew.
    let activated = a
        .post(
            &format!("{page_of}/activate"),
            &[("csrf", &disabled.csrf())],
        )
        .await;
    assert!(activated.body.contains("The account is active again."));
    assert_eq!(
        employee_status(&app, &clerk.id).await,
        EmployeeStatus::Active
    );
    app.next_step();
    let mut c2 = Agent::new(&app);
    c2.sign_in(&clerk).await;
    // An admin changes the role from the same page; it takes effect on the next request.
    let changed = a
        .post(
            &format!("{page_of}/role"),
            &[("csrf", &activated.csrf()), ("role", "collector")],
        )
        .await;
    assert!(
        changed.body.contains("The role is changed."),
        "{}",
        changed.body
    );
    assert!(changed
        .body
        .contains("<option value=\"collector\" selected>"));
    let p = c2.get("/console/search").await;
    assert!(
        p.body.contains("value=\"collection\""),
        "collector purposes: {}",
        p.body
    );
    let unknown = a
        .post(
            &format!("{page_of}/role"),
            &[("csrf", &activated.csrf()), ("role", "overlord")],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unknown.body.contains("Choose a role from the list."));
}
both_dbs!(c4_3_disabling_an_employee_from_the_console_ends_their_session);

async fn c4_1_collector_cannot_open_employee_admin_pages(db: Db) {
    let app = spawn_console(db).await;
    let admin = app.hire("aliya.t", "admin").await;
    let collector = app.hire("aigerim.s", "collector").await;
    let mut a = Agent::new(&app);
    let profile = a.sign_in(&collector).await;
    assert!(
        !profile.body.contains("/console/employees"),
        "no menu entry"
    );
    let csrf = profile.csrf();
    for (lang, title) in [
        (None, "Недоступно для вашей роли"),
        (Some("kk"), "Сіздің рөліңізге рұқсат етілмеген"),
        (Some("en"), "Not allowed for your role"),
    ] {
        a.accept_language = lang;
        for path in [
            "/console/employees".to_string(),
            "/console/employees/new".to_string(),
            format!("/console/employees/{}", admin.id),
            format!("/console/employees/{}", collector.id),
        ] {
            let res = a.get(&path).await;
            assert_eq!(res.status, StatusCode::FORBIDDEN, "{path}: {}", res.body);
            assert!(res.body.contains(title), "{path} {lang:?}: {}", res.body);
            assert!(!res.body.contains("aliya.t"), "no account shown");
        }
    }
    a.accept_language = Some("en");
    let audited = app.db.store.audit_head().await.unwrap().size;
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/console/employees".into(),
            vec![
                ("login", "evil.admin"),
                ("display_name", "Ева"),
                ("role", "admin"),
            ],
        ),
        (format!("/console/employees/{}/disable", admin.id), vec![]),
        (
            format!("/console/employees/{}/role", collector.id),
            vec![("role", "admin")],
        ),
        (
            format!("/console/employees/{}/undertakings", collector.id),
            vec![
                ("text_version", "nda-2026-02"),
                ("signed_on", "2026-03-02"),
                ("expires_on", "2030-03-02"),
            ],
        ),
        (
            format!("/console/employees/{}/trainings", collector.id),
            vec![
                ("course", "pd-protection"),
                ("course_version", "4"),
                ("completed_on", "2026-03-02"),
            ],
        ),
    ];
    for (path, fields) in &posts {
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend(fields.iter().copied());
        let res = a.post(path, &form).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{path}: {}", res.body);
        assert!(res.body.contains("Not allowed for your role"), "{path}");
    }
    // Nothing changed, and the service audited every refusal.
    let sys = Actor::System("test");
    let all = app.emp.list(&sys).await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|e| e.status == EmployeeStatus::Active));
    let own = app.emp.profile(&sys, &collector.id).await.unwrap();
    assert_eq!(own.employee.role.code, "collector");
    assert_eq!((own.undertakings.len(), own.trainings.len()), (1, 1));
    assert!(app.db.store.audit_head().await.unwrap().size >= audited + posts.len() as u64);
    // A bad id is a 4xx page too (for an administrator), never a 500.
    let mut b = Agent::new(&app);
    app.next_step();
    b.sign_in(&admin).await;
    let bad = b.get("/console/employees/791028302728").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    let none = b
        .get("/console/employees/00000000-0000-7000-8000-000000000000")
        .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND, "{}", none.body);
}
both_dbs!(c4_1_collector_cannot_open_employee_admin_pages);

async fn c4_3_data_protection_officer_records_undertakings_but_cannot_create_accounts(db: Db) {
    let app = spawn_console(db).await;
    let dpo = app.hire("aliya.t", "dpo").await;
    let clerk = app.hire("aigerim.s", "call_centre").await;
    let mut a = Agent::new(&app);
    a.accept_language = Some("en");
    let profile = a.sign_in(&dpo).await;
    assert!(
        profile.body.contains("href=\"/console/employees\""),
        "menu entry"
    );
    let list = a.get("/console/employees").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(
        !list.body.contains("/console/employees/new"),
        "no create link"
    );
    assert_eq!(
        a.get("/console/employees/new").await.status,
        StatusCode::FORBIDDEN
    );
    let page_of = format!("/console/employees/{}", clerk.id);
    let page = a.get(&page_of).await;
    assert!(page
        .body
        .contains(&format!("action=\"{page_of}/undertakings\"")));
    assert!(page
        .body
        .contains(&format!("action=\"{page_of}/trainings\"")));
    for admin_only in ["disable", "activate", "role"] {
        assert!(
            !page
                .body
                .contains(&format!("action=\"{page_of}/{admin_only}\"")),
            "{admin_only}"
        );
    }
    let res = a
        .post(&format!("{page_of}/disable"), &[("csrf", &page.csrf())])
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        employee_status(&app, &clerk.id).await,
        EmployeeStatus::Active
    );
    let recorded = a
        .post(
            &format!("{page_of}/undertakings"),
            &[
                ("csrf", &page.csrf()),
                ("text_version", "nda-2026-02"),
                ("signed_on", "2026-03-01"),
                ("expires_on", "2027-03-01"),
            ],
        )
        .await;
    assert_eq!(recorded.status, StatusCode::OK, "{}", recorded.body);
    assert!(recorded.body.contains("nda-2026-02"));
}
both_dbs!(c4_3_data_protection_officer_records_undertakings_but_cannot_create_accounts);

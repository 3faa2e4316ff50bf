//! The server-rendered pages over plain HTTP (no browser): CSRF (clauses 4.1, 5.5), cookie
//! flags, security headers, no personal value in any URL the pages produce (4.1–4.2),
//! language choice and fallback, and Kazakh pages free of English or message-id leftovers.
//! Every test runs on SQLite and on PostgreSQL.

#[path = "../console/support.rs"]
mod console;

use self::console::{spawn_console, ConsoleApp, Db, Staff, IIN, IIN_MASKED, PHONE, PHONE_DIGITS};
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

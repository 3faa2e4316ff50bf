//! The borrower's cabinet pages over plain HTTP (issue 5; 7.1a–7.1d): login by phone and
//! code without enumeration, the session cookie's flags, CSRF on every form, no phone or
//! IIN in any URL or log line, isolation between subjects, the reasoned refusal of a
//! withdrawal while a loan is open, and a Kazakh page without English leftovers.

use crate::cabinet::{apply, code_for, publish, site_key};
use crate::support::*;
use reqwest::header::{LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::json;
use std::collections::BTreeMap;

const EN_TEXTS: &str = include_str!("../../../web/locales/en/pages.ftl");

/// A minimal browser: a cookie jar, manual redirects, every URL seen.
struct Agent<'a> {
    app: &'a TestApp,
    cookies: BTreeMap<String, String>,
    set_cookies: Vec<String>,
    urls: Vec<String>,
}

struct Page {
    status: StatusCode,
    location: String,
    body: String,
}

impl Page {
    fn csrf(&self) -> String {
        let (_, rest) = self
            .body
            .split_once("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no csrf field in {}", self.body));
        rest.split('"').next().unwrap().to_string()
    }
}

impl<'a> Agent<'a> {
    fn new(app: &'a TestApp) -> Agent<'a> {
        Agent {
            app,
            cookies: BTreeMap::new(),
            set_cookies: Vec::new(),
            urls: Vec::new(),
        }
    }

    async fn send(&mut self, req: reqwest::RequestBuilder, url: String) -> Page {
        self.urls.push(url);
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let res = req.header("cookie", cookie).send().await.unwrap();
        for sc in res.headers().get_all(SET_COOKIE) {
            let sc = sc.to_str().unwrap().to_string();
            let (k, v) = sc.split(';').next().unwrap().split_once('=').unwrap();
            if v.is_empty() || sc.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
            self.set_cookies.push(sc);
        }
        let location = res
            .headers()
            .get(LOCATION)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        if !location.is_empty() {
            self.urls.push(location.clone());
        }
        Page {
            status: res.status(),
            location,
            body: res.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let url = format!("{}{path}", self.app.base);
        let req = self.app.client.get(&url);
        self.send(req, url).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let url = format!("{}{path}", self.app.base);
        let req = self.app.client.post(&url).form(form);
        self.send(req, url).await
    }

    /// Log in with the phone; `code` is read from the SMS sink for a known phone.
    async fn ask_code(&mut self, phone: &str) -> Page {
        let p = self.get("/cabinet/login").await;
        assert_eq!(p.status, 200, "{}", p.body);
        let csrf = p.csrf();
        self.post("/cabinet/login", &[("csrf", &csrf), ("phone", phone)])
            .await
    }

    async fn login(&mut self, phone_typed: &str, phone_e164: &str) {
        let p = self.ask_code(phone_typed).await;
        assert_eq!(
            (p.status, p.location.as_str()),
            (StatusCode::SEE_OTHER, "/cabinet/code")
        );
        let code = code_for(self.app, phone_e164).await;
        let p = self.get("/cabinet/code").await;
        let csrf = p.csrf();
        let p = self
            .post("/cabinet/code", &[("csrf", &csrf), ("code", &code)])
            .await;
        assert_eq!(
            (p.status, p.location.as_str()),
            (StatusCode::SEE_OTHER, "/cabinet")
        );
    }
}

async fn c7_1b_cabinet_pages_login_without_enumeration_csrf_isolation(backend: Backend) {
    let app = spawn_app(backend).await;
    publish(&app).await;
    let site = site_key(&app).await;
    apply(&app, &site, KNOWN.body(false)).await;
    apply(&app, &site, OTHER.body(false)).await;

    // Not signed in: the login page.
    let mut a = Agent::new(&app);
    let p = a.get("/cabinet").await;
    assert_eq!(
        (p.status, p.location.as_str()),
        (StatusCode::SEE_OTHER, "/cabinet/login")
    );

    // An unregistered phone: the same answer; no SMS; its code page refuses any code.
    let mut stranger = Agent::new(&app);
    let unknown = stranger.ask_code("+7 702 000 11 22").await;
    assert_eq!(
        (unknown.status, unknown.location.as_str()),
        (StatusCode::SEE_OTHER, "/cabinet/code")
    );
    let p = stranger.get("/cabinet/code").await;
    let csrf = p.csrf();
    let p = stranger
        .post("/cabinet/code", &[("csrf", &csrf), ("code", "123456")])
        .await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    assert!(p.body.contains("role=\"alert\""));

    // A malformed phone: a translated message, not a 500.
    let p = a.ask_code("hello").await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("+7 701 234 56 78"));

    // The registered phone: code → session cookie with every flag.
    a.login(KNOWN.phone_typed, KNOWN.phone_e164).await;
    assert!(app.sms.sent().iter().all(|(ph, _)| ph == KNOWN.phone_e164));
    let session = a
        .set_cookies
        .iter()
        .find(|c| c.starts_with("__Host-derbes_cabinet="))
        .expect("session cookie");
    for flag in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(session.contains(flag), "{session}");
    }

    // My data (7.1a): masked values with sources, purposes, retention; never the other
    // borrower's data, never a full IIN until revealed.
    let p = a.get("/cabinet").await;
    assert_eq!(p.status, 200);
    for text in [
        "Мои данные",
        "Источник",
        "Плановая дата уничтожения",
        "Кто обращался",
    ] {
        assert!(p.body.contains(text), "{text}");
    }
    assert!(p
        .body
        .contains("Передач ваших данных третьим лицам не зарегистрировано"));
    assert!(!p.body.contains(KNOWN.iin));
    assert!(!p.body.contains(OTHER.surname));
    assert!(!p.body.contains(OTHER.iin));
    let csrf = p.csrf();
    let p = a
        .post("/cabinet/reveal", &[("csrf", &csrf), ("category", "iin")])
        .await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains(KNOWN.iin));

    // Download: the JSON export as an attachment.
    let url = format!("{}/cabinet/export", app.base);
    let cookie = a
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let res = app
        .client
        .post(&url)
        .header("cookie", cookie)
        .form(&[("csrf", csrf.as_str()), ("format", "json")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let disp = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(disp.starts_with("attachment;"), "{disp}");
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["values"].as_array().unwrap().len(), 6);

    // CSRF: missing or wrong → 403, nothing done (the session still works).
    for bad in ["", "forged"] {
        let p = a.post("/cabinet/withdraw", &[("csrf", bad)]).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
        let p = a.post("/cabinet/logout", &[("csrf", bad)]).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
    }
    let p = a.get("/cabinet").await;
    assert_eq!(p.status, 200);
    assert!(!p.body.contains("id=\"notice\""));
    assert!(p.body.contains("id=\"withdraw\""), "consent not withdrawn");
    // A pre-session form without its token is refused too.
    let p = stranger
        .post("/cabinet/login", &[("phone", KNOWN.phone_typed)])
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);

    // No phone or IIN in any URL or log line.
    let digits: String = KNOWN
        .phone_e164
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    for u in a.urls.iter().chain(stranger.urls.iter()) {
        assert!(!u.contains(&digits) && !u.contains(KNOWN.iin), "{u}");
    }
    let log = logs().contents();
    for secret in [KNOWN.iin, KNOWN.phone_e164, digits.as_str(), "7020001122"] {
        assert!(!log.contains(secret), "{secret} in the log");
    }

    // Logout ends the session.
    let p = a.post("/cabinet/logout", &[("csrf", &csrf)]).await;
    assert_eq!(
        (p.status, p.location.as_str()),
        (StatusCode::SEE_OTHER, "/cabinet/login")
    );
    let p = a.get("/cabinet").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
}
both_backends!(c7_1b_cabinet_pages_login_without_enumeration_csrf_isolation);

async fn c7_1c_cabinet_pages_withdrawal_refused_while_loan_open_then_kazakh(backend: Backend) {
    let app = spawn_app(backend).await;
    publish(&app).await;
    let site = site_key(&app).await;
    let id = apply(&app, &site, KNOWN.body(false)).await;
    let res = app
        .client
        .post(app.api("/loans/contracts?purpose=contract"))
        .bearer_auth(&site)
        .json(&json!({"id": "MC-9", "subject": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    let mut a = Agent::new(&app);
    a.login(KNOWN.phone_typed, KNOWN.phone_e164).await;
    let csrf = a.get("/cabinet").await.csrf();
    // Open loan: refused with the reason (7.1c), consent stays.
    let p = a.post("/cabinet/withdraw", &[("csrf", &csrf)]).await;
    assert_eq!(p.status, 200);
    assert!(
        p.body
            .contains("class=\"alert\" role=\"status\" id=\"notice\""),
        "{}",
        p.body
    );
    assert!(p.body.contains("MC-9"), "the open contract is named");
    assert!(p.body.contains("id=\"withdraw\""));

    // Repaid: accepted.
    let res = app
        .client
        .post(app.api("/loans/contracts/MC-9/status?purpose=contract"))
        .bearer_auth(&site)
        .json(&json!({"status": "repaid"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let p = a.post("/cabinet/withdraw", &[("csrf", &csrf)]).await;
    assert_eq!(p.status, 200);
    assert!(
        p.body
            .contains("class=\"note\" role=\"status\" id=\"notice\""),
        "{}",
        p.body
    );
    assert!(p.body.contains("Вы отозвали согласие"));
    assert!(!p.body.contains("id=\"withdraw\""));

    // Kazakh: every heading in Kazakh, no English text of the pages left.
    let p = a.get("/lang/kk?back=/cabinet").await;
    assert_eq!(p.location, "/cabinet");
    let p = a.get("/cabinet").await;
    assert!(p.body.contains("<html lang=\"kk\""));
    for text in [
        "Менің деректерім",
        "Дереккөз",
        "Келісімдер тарихы",
        "Жүктеп алу",
    ] {
        assert!(p.body.contains(text), "{text}");
    }
    for line in EN_TEXTS.lines() {
        let Some((id, text)) = line.split_once(" = ") else {
            continue;
        };
        let text = text.trim();
        if id.starts_with("cab-") && text.contains(' ') && !text.contains('{') {
            assert!(!p.body.contains(text), "English leftover: {text}");
        }
    }
}
both_backends!(c7_1c_cabinet_pages_withdrawal_refused_while_loan_open_then_kazakh);

async fn l_rights_deadlines_request_filed_from_the_cabinet_page(backend: Backend) {
    let app = spawn_app(backend).await;
    publish(&app).await;
    let site = site_key(&app).await;
    apply(&app, &site, KNOWN.body(false)).await;
    let mut a = Agent::new(&app);
    a.login(KNOWN.phone_typed, KNOWN.phone_e164).await;
    let page = a.get("/cabinet").await;
    assert!(
        page.body.contains("id=\"file-request\""),
        "the request form is on the page"
    );
    let csrf = page.csrf();

    // A correction without naming the data is refused with a translated message; nothing filed.
    let p = a
        .post(
            "/cabinet/request",
            &[
                ("csrf", &csrf),
                ("kind", "correction"),
                ("category", ""),
                ("text", "Фамилия с ошибкой"),
            ],
        )
        .await;
    assert!(p.status.is_client_error(), "{}", p.status);
    assert!(!p.body.contains("Z-2026-"), "{}", p.body);
    // The error page leads back into the cabinet, not to the employee console.
    assert!(p.body.contains("href=\"/cabinet\""), "{}", p.body);
    assert!(!p.body.contains("href=\"/console\""), "{}", p.body);

    // A correction of the surname: numbered, with its 1-working-day deadline (L-RIGHTS-DEADLINES).
    let p = a
        .post(
            "/cabinet/request",
            &[
                ("csrf", &csrf),
                ("kind", "correction"),
                ("category", "full_name"),
                ("text", "Фамилия с ошибкой"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(p.body.contains("id=\"notice\""), "{}", p.body);
    assert!(p.body.contains("№ Z-2026-"), "{}", p.body);
    // The request is listed with its status, and staff see it on the API.
    let page = a.get("/cabinet").await;
    assert!(page.body.contains("№ Z-2026-"), "listed on my data");
    let (_, staff) = derbes_service::apikeys::create(
        app.vault.store().as_ref(),
        app.vault.registry(),
        "dpo-desk",
        &["requests".to_string()],
        app.vault.now(),
    )
    .await
    .unwrap();
    let list = ok_json(
        app.client
            .get(app.api("/subject-requests?purpose=requests"))
            .bearer_auth(staff)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(list.to_string().contains("correction"), "{list}");
    let before = list.to_string().matches("Z-2026-").count();
    assert_eq!(before, 1, "{list}");
    // Without the form's CSRF token nothing is filed.
    let p = a
        .post(
            "/cabinet/request",
            &[("kind", "question"), ("text", "Что вы храните?")],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let page = a.get("/cabinet").await;
    assert_eq!(
        page.body.matches("№ Z-2026-").count(),
        1,
        "nothing more was filed"
    );
}
both_backends!(l_rights_deadlines_request_filed_from_the_cabinet_page);

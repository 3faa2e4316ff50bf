//! The borrower's cabinet pages over plain HTTP (issue 5; 7.1a–7.1d): login by phone and
//! code without enumeration, the session cookie's flags, CSRF on every form, no phone or
//! IIN in any URL or log line, isolation between subjects, the reasoned refusal of a
//! withdrawal while a loan is open, and a Kazakh page without English leftovers.

use crate::cabinet::{apply, code_for, publish, read_by_aml_desk, site_key};
use crate::support::*;
use reqwest::header::{LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::json;
use std::collections::BTreeMap;

const EN_TEXTS: &str = include_str!("../../../web/locales/en/pages.ftl");
const RU_TEXTS: &str = include_str!("../../../web/locales/ru/pages.ftl");
const KK_TEXTS: &str = include_str!("../../../web/locales/kk/pages.ftl");
const RU_ERRORS: &str = include_str!("../../../web/locales/ru/errors.ftl");
const KK_ERRORS: &str = include_str!("../../../web/locales/kk/errors.ftl");
/// The user agent the application tests' browser sends.
const APPLY_UA: &str = "DerbesApplyTest/1.0 (phone)";

/// The text of message `id` in a Fluent file (one-line messages without arguments).
fn ftl(file: &str, id: &str) -> String {
    file.lines()
        .find_map(|l| l.strip_prefix(&format!("{id} = ")))
        .unwrap_or_else(|| panic!("no {id}"))
        .trim()
        .to_string()
}

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

    /// POST as a browser that names itself (the consent evidence's user agent, 6.1).
    async fn post_ua(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let url = format!("{}{path}", self.app.base);
        let req = self
            .app
            .client
            .post(&url)
            .header("user-agent", APPLY_UA)
            .form(form);
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

// ---------------------------------------------------------------------------------------
// The application form (6.1, 6.2)

/// A complete, valid application of [`KNOWN`] in the form's field names.
fn apply_form(csrf: &str, policy_version: &str) -> Vec<(String, String)> {
    [
        ("csrf", csrf),
        ("policy_version", policy_version),
        ("surname", KNOWN.surname),
        ("given", KNOWN.given),
        ("patronymic", ""),
        ("iin", KNOWN.iin),
        ("mobile_phone", KNOWN.phone_typed),
        ("email", KNOWN.email),
        ("registration_address", "г. Алматы, ул. Абая, д. 10, кв. 5"),
        ("residence_address", ""),
        ("iban", KNOWN.iban_typed),
        ("bank_name", ""),
        ("employer", "ТОО «Алматы Сауда»"),
        ("salary", "250 000"),
        ("salary_day", "10"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn with(form: &[(String, String)], extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = form
        .iter()
        .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
        .cloned()
        .collect();
    f.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    f
}

fn pairs(f: &[(String, String)]) -> Vec<(&str, &str)> {
    f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// The value of the hidden `policy_version` field.
fn policy_version_of(p: &Page) -> String {
    let (_, rest) = p
        .body
        .split_once("name=\"policy_version\" value=\"")
        .expect("policy_version field");
    rest.split('"').next().unwrap().to_string()
}

/// Every consent record in the database (all subjects).
async fn consent_rows(app: &TestApp) -> usize {
    app.db
        .store
        .consent_events_page(0, 100_000)
        .await
        .expect("consent events")
        .len()
}

fn consent_service(app: &TestApp) -> derbes_service::ConsentService {
    derbes_service::ConsentService::new(
        app.vault.clone(),
        std::sync::Arc::new(derbes_core::calendar::WorkCalendar::embedded_kz().unwrap()),
        derbes_service::consent_service::ConsentSettings::default(),
    )
}

/// Every `<input id="x">` of a page that is not hidden has a `<label for="x">`.
fn assert_every_input_labelled(body: &str) {
    for part in body.split("<input ").skip(1) {
        let tag = part.split('>').next().unwrap();
        if tag.contains("type=\"hidden\"") {
            continue;
        }
        let id = tag
            .split_once("id=\"")
            .map(|(_, r)| r.split('"').next().unwrap())
            .unwrap_or_else(|| panic!("an input without id: {tag}"));
        assert!(
            body.contains(&format!("<label for=\"{id}\"")),
            "no label for {id}"
        );
    }
}

async fn c6_1_apply_page_valid_application_creates_subject_with_consent_then_phone_logs_in(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    publish(&app).await;
    let mut a = Agent::new(&app);

    // The login page leads to the form.
    let p = a.get("/cabinet/login").await;
    assert!(p.body.contains("href=\"/cabinet/apply\""), "{}", p.body);

    // GET: the fields, the policy in force in the page's language, the required consent and
    // the optional ones, none ticked.
    let p = a.get("/cabinet/apply").await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(p.body.contains("<html lang=\"ru\""));
    assert!(p.body.contains(&ftl(RU_TEXTS, "apply-title")));
    assert!(
        p.body.contains("Политика конфиденциальности"),
        "policy text"
    );
    for field in [
        "surname",
        "given",
        "iin",
        "mobile_phone",
        "email",
        "registration_address",
        "residence_address",
        "iban",
        "bank_name",
        "employer",
        "salary",
        "salary_day",
        "consent",
        "opt-advertising",
        "opt-publication",
        "opt-bureau_check",
    ] {
        assert!(p.body.contains(&format!("id=\"{field}\"")), "{field}");
    }
    assert!(!p.body.contains(" checked"), "nothing is ticked by default");
    assert!(!p.body.contains("<script"), "no script");
    assert_every_input_labelled(&p.body);
    assert_eq!(policy_version_of(&p), "1");
    let (subjects, consents) = (app.count().await, consent_rows(&app).await);
    assert_eq!(
        (subjects, consents),
        (0, 0),
        "a form looked at stores nothing"
    );

    // The same form in Kazakh shows the Kazakh text of the policy.
    let _ = a.get("/lang/kk?back=/cabinet/apply").await;
    let kk = a.get("/cabinet/apply").await;
    assert!(kk.body.contains("<html lang=\"kk\""));
    assert!(kk.body.contains("Құпиялылық саясаты"), "the kk policy text");
    assert!(kk.body.contains(&ftl(KK_TEXTS, "apply-title")));
    let _ = a.get("/lang/ru?back=/cabinet/apply").await;

    // A valid submit with consent (and the optional publication consent): stored, submitted.
    let form = with(
        &apply_form(&p.csrf(), "1"),
        &[("consent", "yes"), ("optional", "publication")],
    );
    let p = a.post_ua("/cabinet/apply", &pairs(&form)).await;
    assert_eq!(
        (p.status, p.location.as_str()),
        (StatusCode::SEE_OTHER, "/cabinet/login"),
        "{}",
        p.body
    );
    assert_eq!(app.count().await, 1);
    let ids = app.search_ids("iin", serde_json::json!(KNOWN.iin)).await;
    assert_eq!(ids.len(), 1);
    let id: uuid::Uuid = ids[0].parse().unwrap();
    let view = app.read(&ids[0], "contract").await;
    for cat in [
        "full_name",
        "iin",
        "mobile_phone",
        "email",
        "registration_address",
        "bank_account",
        "employer",
        "salary_amount",
        "salary_day",
    ] {
        let v = view_value(&view, cat).unwrap_or_else(|| panic!("{cat} stored"));
        assert_eq!(v["source"]["kind"], "subject", "{cat}");
    }
    assert_eq!(
        view_value(&view, "salary_amount").unwrap()["value"],
        25_000_000
    );
    assert_eq!(
        view_value(&view, "mobile_phone").unwrap()["value"],
        KNOWN.phone_e164
    );
    assert!(
        view_value(&view, "residence_address").is_none(),
        "blank: not stored"
    );
    // The application was submitted: no open application is left to be purged (6.2).
    assert!(app
        .db
        .store
        .expired_applications(i64::MAX, 10)
        .await
        .unwrap()
        .is_empty());

    // The consent records (6.1, PRE-1): version, language, time, channel, IP, user agent;
    // the optional purposes as decided (publication granted, the others refused on record).
    let svc = consent_service(&app);
    let call = derbes_service::Call::new(derbes_service::Actor::System("test"), "contract");
    let state = svc.consents(&call, id).await.unwrap();
    let policy = state.policy.clone().expect("policy consent");
    assert_eq!(policy.policy_version, 1);
    assert_eq!(policy.lang, "ru");
    assert_eq!(policy.channel.as_str(), "web_form");
    assert_eq!(policy.decision.as_str(), "granted");
    assert!(policy.has_evidence);
    assert!((chrono::Utc::now() - policy.at).num_seconds().abs() < 60);
    let evidence = svc
        .evidence(&call, id, &policy.id)
        .await
        .unwrap()
        .expect("evidence");
    assert_eq!(evidence.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(evidence.user_agent.as_deref(), Some(APPLY_UA));
    let granted = |code: &str| {
        state
            .purposes
            .iter()
            .find(|p| p.purpose == code)
            .unwrap_or_else(|| panic!("{code}"))
            .granted
    };
    assert!(granted("publication"));
    assert!(!granted("advertising"));
    assert!(!granted("bureau_check"));
    assert!(state
        .history
        .iter()
        .any(|h| h.scope == "advertising" && h.decision.as_str() == "refused"));

    // The login page says so once; then the phone logs in.
    let p = a.get("/cabinet/login").await;
    assert!(p.body.contains(&ftl(RU_TEXTS, "apply-sent")), "{}", p.body);
    let p = a.get("/cabinet/login").await;
    assert!(!p.body.contains(&ftl(RU_TEXTS, "apply-sent")), "shown once");
    a.login(KNOWN.phone_typed, KNOWN.phone_e164).await;
    let p = a.get("/cabinet").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("Мои данные"));
    assert!(p.body.contains("data-category=\"salary_amount\""));

    // No personal value in any URL or log line.
    let digits: String = KNOWN
        .phone_e164
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    for u in &a.urls {
        assert!(
            !u.contains(&digits) && !u.contains(KNOWN.iin) && !u.contains("KZ86"),
            "{u}"
        );
    }
    let log = logs().contents();
    for secret in [KNOWN.iin, KNOWN.phone_e164, KNOWN.iban, APPLY_UA] {
        assert!(!log.contains(secret), "{secret} in the log");
    }
}
both_backends!(c6_1_apply_page_valid_application_creates_subject_with_consent_then_phone_logs_in);

async fn c6_2_apply_without_consent_stores_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    publish(&app).await;
    let mut a = Agent::new(&app);
    let p = a.get("/cabinet/apply").await;
    let before = (app.count().await, consent_rows(&app).await);
    assert_eq!(before, (0, 0));

    // Every field valid, the consent not ticked (an optional one ticked does not count).
    let form = with(&apply_form(&p.csrf(), "1"), &[("optional", "advertising")]);
    let p = a.post_ua("/cabinet/apply", &pairs(&form)).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
    assert!(p.location.is_empty(), "no redirect, nothing in a URL");
    assert!(p.body.contains(&ftl(RU_TEXTS, "apply-err-consent")));
    assert!(p.body.contains("id=\"err-consent\""));
    assert!(
        p.body.contains("href=\"#consent\""),
        "the error summary links to it"
    );
    // What was typed is kept in the page (escaped), the consent still unticked.
    assert!(p.body.contains(&format!("value=\"{}\"", KNOWN.surname)));
    assert!(p.body.contains(&format!("value=\"{}\"", KNOWN.iin)));
    assert!(p.body.contains(
        "id=\"opt-advertising\" name=\"optional\" type=\"checkbox\" value=\"advertising\" checked"
    ));
    assert!(!p
        .body
        .contains("value=\"yes\" aria-required=\"true\" checked"));
    assert_eq!(
        (app.count().await, consent_rows(&app).await),
        before,
        "6.2: nothing stored"
    );
    assert!(app
        .search_ids("iin", serde_json::json!(KNOWN.iin))
        .await
        .is_empty());
    // The phone is unknown: no SMS is sent to it.
    let _ = a.ask_code(KNOWN.phone_typed).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        app.sms.sent().is_empty(),
        "no SMS: the phone was never stored"
    );

    // A consent to a version that is no longer the one in force is asked again.
    let form = with(&apply_form(&p.csrf(), "0"), &[("consent", "yes")]);
    let p = a.post_ua("/cabinet/apply", &pairs(&form)).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains(&ftl(RU_TEXTS, "apply-err-policy-changed")));
    assert_eq!((app.count().await, consent_rows(&app).await), before);

    // The same with consent: stored. A second application with the same IIN (another
    // phone): answered like the first (7.1b: no enumeration), nothing more stored.
    let form = with(&apply_form(&p.csrf(), "1"), &[("consent", "yes")]);
    let p = a.post_ua("/cabinet/apply", &pairs(&form)).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let after = (app.count().await, consent_rows(&app).await);
    assert_eq!(after.0, 1);
    let p = a.get("/cabinet/apply").await;
    let form = with(
        &apply_form(&p.csrf(), "1"),
        &[("consent", "yes"), ("mobile_phone", OTHER.phone_typed)],
    );
    let p = a.post_ua("/cabinet/apply", &pairs(&form)).await;
    // The same answer as a new application (no one learns who is a borrower), nothing stored.
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(p.location.as_str(), "/cabinet/login");
    assert!(!p.body.contains(KNOWN.iin));
    assert_eq!((app.count().await, consent_rows(&app).await), after);
}
both_backends!(c6_2_apply_without_consent_stores_nothing);

async fn c6_1_apply_field_errors_for_bad_iin_and_phone_in_russian_and_kazakh(backend: Backend) {
    let app = spawn_app(backend).await;
    publish(&app).await;
    let mut a = Agent::new(&app);
    for (lang, texts, errors) in [("ru", RU_TEXTS, RU_ERRORS), ("kk", KK_TEXTS, KK_ERRORS)] {
        let _ = a.get(&format!("/lang/{lang}?back=/cabinet/apply")).await;
        let p = a.get("/cabinet/apply").await;
        assert!(p.body.contains(&format!("<html lang=\"{lang}\"")));
        // A wrong check digit (kz-formats.md), a phone too short, a bad IBAN, a bad e-mail,
        // the surname missing: all shown at once, each next to its field.
        let form = with(
            &apply_form(&p.csrf(), "1"),
            &[
                ("consent", "yes"),
                ("iin", "900101300011"),
                ("mobile_phone", "12345"),
                ("iban", "KZ00125KZT5004100100"),
                ("email", "not-an-email"),
                ("surname", ""),
                ("salary", "много"),
            ],
        );
        let p = a.post_ua("/cabinet/apply", &pairs(&form)).await;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
        assert!(
            p.body
                .contains(&ftl(errors, "field-invalid-iin-iin-bad-check-digit")),
            "{lang}: IIN message"
        );
        assert!(
            p.body
                .contains(&ftl(errors, "field-invalid-phone-phone-bad-length")),
            "{lang}: phone message"
        );
        assert!(p.body.contains(&ftl(texts, "apply-err-required")), "{lang}");
        assert!(p.body.contains(&ftl(texts, "apply-err-salary")), "{lang}");
        for field in ["iin", "mobile_phone", "iban", "email", "surname", "salary"] {
            assert!(
                p.body.contains(&format!("id=\"err-{field}\"")),
                "{lang}: {field} error shown"
            );
            assert!(
                p.body.contains(&format!("href=\"#{field}\"")),
                "{field} in the summary"
            );
        }
        // Errors linked to their inputs; the first invalid one takes the focus.
        assert!(p.body.contains("aria-describedby=\"hint-iin err-iin\""));
        assert!(p
            .body
            .contains("aria-describedby=\"hint-mobile_phone err-mobile_phone\""));
        assert!(p.body.contains("aria-invalid=\"true\""));
        assert_eq!(p.body.matches(" autofocus").count(), 1);
        assert!(p
            .body
            .contains("aria-describedby=\"err-surname\" autofocus"));
        // The typed values are kept; the consent stays ticked.
        for kept in [
            "900101300011",
            "12345",
            "not-an-email",
            "KZ00125KZT5004100100",
        ] {
            assert!(p.body.contains(&format!("value=\"{kept}\"")), "{kept}");
        }
        assert!(p
            .body
            .contains("value=\"yes\" aria-required=\"true\" checked"));
        assert_eq!((app.count().await, consent_rows(&app).await), (0, 0));
    }
    // No typed value in any URL.
    for u in &a.urls {
        assert!(!u.contains("900101300011") && !u.contains("12345"), "{u}");
    }
}
both_backends!(c6_1_apply_field_errors_for_bad_iin_and_phone_in_russian_and_kazakh);

async fn c6_1_apply_without_csrf_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    publish(&app).await;
    let mut a = Agent::new(&app);
    let p = a.get("/cabinet/apply").await;
    let good = with(&apply_form(&p.csrf(), "1"), &[("consent", "yes")]);
    for csrf in ["", "forged"] {
        let form = with(&good, &[("csrf", csrf)]);
        let p = a.post_ua("/cabinet/apply", &pairs(&form)).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
    }
    let form: Vec<_> = good.iter().filter(|(k, _)| k != "csrf").cloned().collect();
    let p = a.post_ua("/cabinet/apply", &pairs(&form)).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    // A fresh browser (no pre-session cookie) with another browser's token: refused.
    let mut other = Agent::new(&app);
    let p = other.post_ua("/cabinet/apply", &pairs(&good)).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert_eq!((app.count().await, consent_rows(&app).await), (0, 0));
    // The right token works.
    let p = a.post_ua("/cabinet/apply", &pairs(&good)).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(app.count().await, 1);
}
both_backends!(c6_1_apply_without_csrf_is_refused);

/// "My data" shows the newest 50 accesses and links to the older ones; the older pages list
/// the rest by role and purpose, never a hidden purpose, and end without a further link
/// (7.1a, 8.1, L-TIPPING-OFF). The cursor in the URL is an audit sequence number.
async fn c7_1a_cabinet_pages_older_accesses_are_a_link_away(backend: Backend) {
    let app = spawn_app(backend).await;
    publish(&app).await;
    let site = site_key(&app).await;
    let id = apply(&app, &site, KNOWN.body(false)).await;
    read_by_aml_desk(&app, &id, 60, 6).await;
    let mut a = Agent::new(&app);
    let _ = a.get("/lang/ru?back=/cabinet").await;
    a.login(KNOWN.phone_typed, KNOWN.phone_e164).await;
    let p = a.get("/cabinet").await;
    assert_eq!(p.status, 200);
    let older = ftl(RU_TEXTS, "cab-accesses-older");
    let link = |body: &str| {
        body.split("href=\"/cabinet/accesses?before=")
            .nth(1)
            .map(|rest| rest.split('"').next().unwrap().to_string())
    };
    let before = link(&p.body).expect("a link to older accesses");
    assert!(before.chars().all(|c| c.is_ascii_digit()), "{before}");
    assert!(p.body.contains(&older));
    let mut seen = 0;
    let mut next = Some(before);
    while let Some(b) = next {
        let p = a.get(&format!("/cabinet/accesses?before={b}")).await;
        assert_eq!(p.status, 200, "{}", p.body);
        assert!(p.body.contains(&ftl(RU_TEXTS, "cab-accesses")));
        assert!(!p.body.contains("финансов"), "L-TIPPING-OFF");
        seen += p.body.matches("<li>").count();
        next = link(&p.body);
    }
    assert!(seen >= 1, "older accesses listed");
    // A malformed cursor is a 400 page; no session goes to the login page.
    let p = a.get("/cabinet/accesses?before=abc").await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    let mut b = Agent::new(&app);
    let p = b.get("/cabinet/accesses?before=1").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location.as_str(), "/cabinet/login");
}
both_backends!(c7_1a_cabinet_pages_older_accesses_are_a_link_away);

/// The application form cannot be used in bulk (6.1): more than ten submits that reach the
/// service from one address in the window get a translated 429 page and store nothing more;
/// a form refused for its fields alone does not count.
async fn c6_1_apply_form_is_rate_limited_per_address(backend: Backend) {
    let app = spawn_app(backend).await;
    publish(&app).await;
    let mut a = Agent::new(&app);
    // Field errors only (a bad IIN, consent ticked): never reach the service, never counted.
    for _ in 0..12 {
        let p = a.get("/cabinet/apply").await;
        let form = with(
            &apply_form(&p.csrf(), &policy_version_of(&p)),
            &[("consent", "yes"), ("iin", "123")],
        );
        let p = a.post_ua("/cabinet/apply", &pairs(&form)).await;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    // Without consent: the service's audited refusal, counted; the 11th is refused.
    for i in 0..11 {
        let p = a.get("/cabinet/apply").await;
        let form = apply_form(&p.csrf(), &policy_version_of(&p));
        let p = a.post_ua("/cabinet/apply", &pairs(&form)).await;
        if i < 10 {
            assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "submit {i}");
        } else {
            assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS, "{}", p.body);
            assert!(p.body.contains("слишком много запросов"), "{}", p.body);
        }
    }
    // A valid application from the same address is refused too, and stores nothing.
    let before = (app.count().await, consent_rows(&app).await);
    let p = a.get("/cabinet/apply").await;
    let form = with(
        &apply_form(&p.csrf(), &policy_version_of(&p)),
        &[("consent", "yes")],
    );
    let p = a.post_ua("/cabinet/apply", &pairs(&form)).await;
    assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!((app.count().await, consent_rows(&app).await), before);
}
both_backends!(c6_1_apply_form_is_rate_limited_per_address);

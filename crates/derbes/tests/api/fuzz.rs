//! Robustness: a few hundred generated bodies — random JSON, deep nesting, huge numbers,
//! escaped NULs and lone surrogates, invalid UTF-8, valid bodies with one field of the wrong
//! type — POSTed to `/subjects` and `/subjects/search`. The answer is never a 5xx, and only
//! 201s write anything.

use crate::support::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use reqwest::header::CONTENT_TYPE;
use serde_json::{json, Map, Value};

const CATEGORIES: &[&str] = &[
    "iin",
    "mobile_phone",
    "email",
    "bank_account",
    "full_name",
    "birth_date",
    "salary_amount",
    "salary_day",
    "marital_status",
    "id_document",
    "employer",
    "home_phone",
    "shoe_size",
    "",
];

fn random_string(rng: &mut ChaCha8Rng) -> String {
    const PIECES: &[&str] = &[
        "791028302728",
        "900101300011",
        "8 777 123 45 67",
        "+7",
        "KZ86125KZT5004100100",
        "@",
        "a@b.kz",
        "Ә",
        "қ",
        "\u{0}",
        "\u{200b}",
        "\u{202e}",
        "\u{feff}",
        "😀",
        "\\",
        "\"",
        "'",
        " ",
        "\n",
        "\t",
        "-",
        "'; DROP TABLE subjects; --",
        "%00",
        "../",
        "ЖСН",
        "x",
        "0000000000000000000000000000000000000000",
        "1e309",
        "null",
        "{",
        "]",
    ];
    let n = rng.gen_range(0..6);
    (0..n)
        .map(|_| PIECES[rng.gen_range(0..PIECES.len())])
        .collect()
}

fn random_number(rng: &mut ChaCha8Rng) -> Value {
    match rng.gen_range(0..6) {
        0 => json!(rng.gen::<i64>()),
        1 => json!(rng.gen::<u64>()),
        2 => json!(rng.gen::<f64>() * 1e300),
        3 => json!(-1),
        4 => json!(0.5),
        _ => json!(i64::MIN),
    }
}

fn random_value(rng: &mut ChaCha8Rng, depth: u32) -> Value {
    let top = if depth >= 4 { 4 } else { 7 };
    match rng.gen_range(0..top) {
        0 => Value::Null,
        1 => json!(rng.gen::<bool>()),
        2 => random_number(rng),
        3 | 4 => json!(random_string(rng)),
        5 => Value::Array(
            (0..rng.gen_range(0..4))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let mut m = Map::new();
            for _ in 0..rng.gen_range(0..4) {
                let key = match rng.gen_range(0..3) {
                    0 => [
                        "values",
                        "category",
                        "value",
                        "source",
                        "kind",
                        "name",
                        "obtained_at",
                        "subjects",
                    ][rng.gen_range(0..8)]
                    .to_string(),
                    1 => random_string(rng),
                    _ => "surname".to_string(),
                };
                m.insert(key, random_value(rng, depth + 1));
            }
            Value::Object(m)
        }
    }
}

/// A valid body with one part replaced by something of another type.
fn mutated_subject(rng: &mut ChaCha8Rng) -> Value {
    let mut body = KNOWN.body(true);
    let vals = body["values"].as_array_mut().unwrap();
    let i = rng.gen_range(0..vals.len());
    let junk = random_value(rng, 2);
    match rng.gen_range(0..6) {
        0 => vals[i]["value"] = junk,
        1 => vals[i]["category"] = junk,
        2 => vals[i]["source"] = junk,
        3 => vals[i]["source"]["kind"] = junk,
        4 => vals[i]["obtained_at"] = junk,
        _ => body["values"] = junk,
    }
    body
}

fn mutated_search(rng: &mut ChaCha8Rng) -> Value {
    let category = CATEGORIES[rng.gen_range(0..CATEGORIES.len())];
    match rng.gen_range(0..3) {
        0 => json!({"category": category, "value": random_value(rng, 1)}),
        1 => json!({"category": random_value(rng, 2), "value": KNOWN.iin}),
        _ => json!({"category": category, "value": random_string(rng)}),
    }
}

/// Raw bodies that are not (valid) JSON or strain the parser.
fn raw_bodies() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = vec![
        "[".repeat(100_000).into_bytes(),
        format!("{}{}", "[".repeat(5_000), "]".repeat(5_000)).into_bytes(),
        format!("{{\"values\": {}1{}}}", "[".repeat(200), "]".repeat(200)).into_bytes(),
        b"{\"values\": [{\"category\": \"iin\", \"value\": \"\\u0000\", \"source\": {\"kind\": \"subject\"}}]}".to_vec(),
        b"{\"values\": [{\"category\": \"iin\", \"value\": \"\\ud800\", \"source\": {\"kind\": \"subject\"}}]}".to_vec(),
        b"{\"values\": [{\"category\": \"\\udfff\\ud800\", \"value\": \"x\", \"source\": {\"kind\": \"subject\"}}]}".to_vec(),
        b"{\"category\": \"iin\", \"value\": \"\\ud83d\"}".to_vec(),
        b"{\"category\": \"iin\", \"value\": 1e400}".to_vec(),
        b"{\"category\": \"salary_amount\", \"value\": 123456789012345678901234567890123456789}".to_vec(),
        b"{\"values\": [{\"category\": \"salary_amount\", \"value\": 1e400, \"source\": {\"kind\": \"subject\"}}]}".to_vec(),
        b"{\"values\": [{\"category\": \"salary_amount\", \"value\": -0, \"source\": {\"kind\": \"subject\"}}]}".to_vec(),
        b"{\"values\": [{\"category\": \"salary_day\", \"value\": 18446744073709551616, \"source\": {\"kind\": \"subject\"}}]}".to_vec(),
        vec![0xff, 0xfe, 0x7b, 0x7d],
        b"{\"category\": \"iin\", \"value\": \"\xc3\x28\"}".to_vec(),
        b"\xef\xbb\xbf{\"category\": \"iin\", \"value\": \"791028302728\"}".to_vec(),
        b"{\"values\": [], \"values\": []}".to_vec(),
        b"{\"category\": \"iin\", \"category\": \"email\", \"value\": \"a@b.kz\"}".to_vec(),
        b"\0".to_vec(),
        b"{\"values\": [{\"category\": \"iin\", \"value\": \"791028302728\", \"source\": {\"kind\": \"subject\"}, \"obtained_at\": \"+275760-09-13T00:00:00Z\"}]}".to_vec(),
        b"{\"values\": [{\"category\": \"iin\", \"value\": \"791028302728\", \"source\": {\"kind\": \"subject\"}, \"obtained_at\": \"-262143-01-01T00:00:00Z\"}]}".to_vec(),
        b"{\"values\": [{\"category\": \"birth_date\", \"value\": \"99999-01-01\", \"source\": {\"kind\": \"subject\"}}]}".to_vec(),
    ];
    let long = format!(
        "{{\"values\": [{{\"category\": \"employer\", \"value\": \"{}\", \"source\": {{\"kind\": \"subject\"}}}}]}}",
        "Ә".repeat(100_000)
    );
    out.push(long.into_bytes());
    let many = (0..70)
        .map(|i| {
            format!(
                "{{\"category\": \"c{i}\", \"value\": 1, \"source\": {{\"kind\": \"subject\"}}}}"
            )
        })
        .collect::<Vec<_>>()
        .join(",");
    out.push(format!("{{\"values\": [{many}]}}").into_bytes());
    out
}

/// 4.1 / 5.3: whatever the body, the answer is < 500, a problem when it is an error, and
/// nothing is written unless the answer is 201.
async fn c4_1_generated_bodies_never_5xx(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut rng = ChaCha8Rng::seed_from_u64(0x6465_7262_6573);
    let mut bodies: Vec<(&str, Vec<u8>)> = Vec::new();
    for _ in 0..120 {
        bodies.push((
            "/subjects?purpose=contract",
            serde_json::to_vec(&random_value(&mut rng, 0)).unwrap(),
        ));
        bodies.push((
            "/subjects/search?purpose=contract",
            serde_json::to_vec(&random_value(&mut rng, 0)).unwrap(),
        ));
    }
    for _ in 0..100 {
        bodies.push((
            "/subjects?purpose=contract",
            serde_json::to_vec(&mutated_subject(&mut rng)).unwrap(),
        ));
        bodies.push((
            "/subjects/search?purpose=contract",
            serde_json::to_vec(&mutated_search(&mut rng)).unwrap(),
        ));
    }
    for raw in raw_bodies() {
        bodies.push(("/subjects?purpose=contract", raw.clone()));
        bodies.push(("/subjects/search?purpose=contract", raw.clone()));
        bodies.push(("/subjects/bulk?purpose=contract", raw));
    }
    let mut created: i64 = 0;
    for (i, (path, body)) in bodies.into_iter().enumerate() {
        let res = app
            .req(reqwest::Method::POST, path)
            .header(CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("body #{i} to {path}: {e}"));
        let status = res.status();
        let ct = res
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = res.text().await.unwrap_or_default();
        assert!(
            status.as_u16() < 500,
            "body #{i} to {path} gave {status}: {text}\nbody: {}",
            String::from_utf8_lossy(&body[..body.len().min(500)])
        );
        if status.is_client_error() {
            assert_eq!(ct, "application/problem+json", "body #{i}: {text}");
        }
        if status.as_u16() == 201 {
            created += 1;
            // A valid mutation may create the known subject once; later ones conflict.
        }
    }
    assert_eq!(app.count().await, created, "only 201s write");
}
both_backends!(c4_1_generated_bodies_never_5xx);

/// Odd query strings, paths and headers: never a 5xx; a problem in ru, kk or en.
async fn c4_1_odd_queries_paths_and_headers_never_5xx(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create(&KNOWN.body(false)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let queries = [
        "purpose=%FF%FE",
        "purpose=contract&purpose=scoring",
        "purpose[]=contract",
        "purpose=contract&categories=,,,",
        "purpose=contract&categories=iin,,iin",
        "purpose=contract&categories=%00",
        "purpose=contract&categories=",
        "purpose=contract&unknown=1",
        "purpose=%20contract%20",
        "purpose=CONTRACT",
        "purpose=contract%00",
        "=&&=",
        "purpose",
        "%",
    ];
    let long = format!("purpose={}", "a".repeat(6000));
    let mut all: Vec<String> = queries.iter().map(|q| q.to_string()).collect();
    all.push(long);
    for q in &all {
        for (method, path) in [
            (reqwest::Method::GET, format!("/subjects/{id}?{q}")),
            (reqwest::Method::POST, format!("/subjects/search?{q}")),
            (
                reqwest::Method::GET,
                format!("/subjects/{id}/values/iin/history?{q}"),
            ),
        ] {
            let res = app
                .req(method.clone(), &path)
                .json(&json!({"category": "iin", "value": KNOWN.iin}))
                .send()
                .await
                .unwrap();
            let status = res.status();
            let text = res.text().await.unwrap();
            assert!(status.as_u16() < 500, "{method} {path}: {status} {text}");
        }
    }
    let paths = [
        "/subjects/%00",
        "/subjects/..%2F..%2Fetc%2Fpasswd",
        "/subjects/{id}/values/%2e%2e/history",
        "/subjects/{id}/values/%FF/history",
        "/subjects//values",
        "/subjects/{id}/values/iin/history/",
        "/./subjects",
    ];
    for p in paths {
        let path = p.replace("{id}", &id);
        let res = app.get(&format!("{path}?purpose=contract")).await;
        let status = res.status();
        let text = res.text().await.unwrap();
        assert!(status.as_u16() < 500, "{path}: {status} {text}");
        assert!(
            status.is_success() || status.is_client_error(),
            "{path}: {status}"
        );
    }
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for _ in 0..60 {
        let header: String = (0..rng.gen_range(0..40))
            .map(|_| {
                let set = b"abcdefghijklmnopqrstuvwxyzKKRU-_;,=.*q0123456789 ";
                char::from(set[rng.gen_range(0..set.len())])
            })
            .collect();
        let res = app
            .req(
                reqwest::Method::GET,
                "/subjects/not-a-uuid?purpose=contract",
            )
            .header("accept-language", header.as_str())
            .send()
            .await
            .unwrap();
        let (h, _) = problem(res, 400, "bad_subject_id").await;
        let lang = h
            .get("content-language")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(["ru", "kk", "en"].contains(&lang), "{header:?} → {lang:?}");
    }
}
both_backends!(c4_1_odd_queries_paths_and_headers_never_5xx);

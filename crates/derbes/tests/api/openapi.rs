//! The OpenAPI document: served at `/api/v1/openapi.json`, byte for byte the committed
//! `docs/openapi.json`, valid OpenAPI 3.1, describing every route of the router.
//!
//! `UPDATE_OPENAPI=1 cargo test -p derbes --test api openapi` rewrites the committed file.

use crate::support::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

/// `(METHOD, path)` of every `.route(…)` in `derbes_web::router`, read from its source so a
/// route added without documentation fails here.
fn router_routes() -> BTreeSet<(String, String)> {
    let src = include_str!("../../../web/src/lib.rs");
    let body = src
        .split("pub fn router(")
        .nth(1)
        .expect("router fn")
        .split("\n}\n")
        .next()
        .unwrap();
    let mut out = BTreeSet::new();
    for chunk in body.split(".route(").skip(1) {
        let chunk = chunk.trim_start();
        let path = chunk.split('"').nth(1).expect("route path");
        // The call ends at the next `.route(` or `.fallback(`/`.layer(`.
        let call = chunk
            .split(".fallback(")
            .next()
            .unwrap()
            .split(".layer(")
            .next()
            .unwrap();
        for method in ["get", "post", "put", "patch", "delete"] {
            if call.contains(&format!("{method}(api::"))
                || call.contains(&format!("{method}(security::"))
            {
                out.insert((method.to_uppercase(), format!("/api/v1{path}")));
            }
        }
    }
    out
}

fn doc_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

async fn c4_1_openapi_served_equals_committed_docs(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app
        .client
        .get(app.api("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let served = res.text().await.unwrap();
    assert_eq!(served, derbes_web::openapi_json());
    let path = committed_path();
    if std::env::var_os("UPDATE_OPENAPI").is_some_and(|v| v == "1") {
        // Write atomically: both backend variants may run at once.
        let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
        std::fs::write(&tmp, &served).expect("write docs/openapi.json");
        std::fs::rename(&tmp, &path).expect("rename docs/openapi.json");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} — run `UPDATE_OPENAPI=1 cargo test -p derbes --test api openapi`",
            path.display()
        )
    });
    assert!(
        committed == served,
        "docs/openapi.json is stale — run `UPDATE_OPENAPI=1 cargo test -p derbes --test api openapi`"
    );
}
both_backends!(c4_1_openapi_served_equals_committed_docs);

async fn c4_1_openapi_is_3_1_and_lists_every_route(backend: Backend) {
    let app = spawn_app(backend).await;
    let doc: Value = app
        .client
        .get(app.api("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string());
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
    assert!(doc["components"]["schemas"]["Problem"].is_object());

    let routes = router_routes();
    assert!(routes.len() >= 12, "scanner found only {routes:?}");
    let documented = doc_routes(&doc);
    // The document does not describe itself.
    let self_route = ("GET".to_string(), "/api/v1/openapi.json".to_string());
    let missing: Vec<_> = routes
        .iter()
        .filter(|r| **r != self_route && !documented.contains(*r))
        .collect();
    assert!(
        missing.is_empty(),
        "routes of the router missing from the OpenAPI document: {missing:?}"
    );
    let extra: Vec<_> = documented.iter().filter(|r| !routes.contains(*r)).collect();
    assert!(
        extra.is_empty(),
        "documented routes the router does not serve: {extra:?}"
    );

    // Every documented route answers on the live server (no 404/405 from routing).
    for (method, path) in &documented {
        let url = format!(
            "{}{}",
            app.base,
            path.replace("{id}", "0190f1f2-0000-7000-8000-000000000000")
                .replace("{category}", "iin")
        );
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let res = app
            .client
            .request(m, &url)
            .bearer_auth(&app.token)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body = res.text().await.unwrap();
        assert!(
            status != 405 && !(status == 404 && body.contains("\"not_found\"")),
            "{method} {path}: {status} {body}"
        );
        // Every path under /subjects names the purpose parameter and the API key.
        if path.contains("/subjects") {
            let op = &doc["paths"][path][method.to_lowercase()];
            let params = op["parameters"].as_array().expect("parameters");
            assert!(
                params.iter().any(|p| p["name"] == "purpose"),
                "{method} {path}: purpose parameter"
            );
            assert!(op["security"].is_array(), "{method} {path}: security");
        }
    }
}
both_backends!(c4_1_openapi_is_3_1_and_lists_every_route);

/// The document lists the errors each operation can actually answer with, so generated
/// clients handle them: every operation behind the API key may answer 401; every one naming a
/// purpose 400 (missing/unknown purpose) and 403 (purpose not permitted, minimisation); every
/// one with a body 413, 415 and 422; every one with a subject id 400 and 404; every one with a
/// category in the path 422 (unknown category).
async fn c4_1_openapi_documents_each_operations_errors(backend: Backend) {
    let app = spawn_app(backend).await;
    let doc: Value = app
        .client
        .get(app.api("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut missing = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().expect("responses");
            let mut need: Vec<&str> = Vec::new();
            if op["security"].is_array() {
                need.push("401");
            }
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            if params.iter().any(|p| p["name"] == "purpose") {
                need.extend(["400", "403"]);
            }
            if op["requestBody"].is_object() {
                need.extend(["400", "413", "415", "422"]);
            }
            if path.contains("{id}") {
                need.extend(["400", "404"]);
            }
            if path.contains("{category}") {
                need.push("422");
            }
            need.sort();
            need.dedup();
            let absent: Vec<&str> = need
                .into_iter()
                .filter(|s| !responses.contains_key(*s))
                .collect();
            if !absent.is_empty() {
                missing.push(format!(
                    "{} {path}: {}",
                    method.to_uppercase(),
                    absent.join(", ")
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "responses the server gives but the OpenAPI document does not list:\n{}",
        missing.join("\n")
    );
}
both_backends!(c4_1_openapi_documents_each_operations_errors);

//! `GET /openapi.json` (OpenAPI 3, generated from the handlers' annotations
//! so it cannot drift from the router) and `GET /docs`, a self-contained
//! HTML page rendered from the same document (no CDN, works offline).

use axum::response::{Html, IntoResponse, Response};
use std::sync::OnceLock;
use utoipa::OpenApi;

use crate::ports::{is_admin_route, is_open_route};
use crate::routes::{health, metrics, oip, predict, repository};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Falcon",
        description = "Native inference server for scikit-learn text classifiers: \
        Falcon's JSON API, the Open Inference Protocol v2 (KServe/Triton REST), metrics and probes. \
        Every error is `{\"error\", \"error_type\"}`. \
        With `--auth required`, every route except the probes, `/metrics` and these docs needs \
        `Authorization: Bearer <key>`: 401 `unauthorized` (missing, invalid or revoked key, with \
        `WWW-Authenticate: Bearer`), 403 `forbidden` (repository routes need an admin key), \
        429 `rate_limited` with `Retry-After` (the key's rate limit). Cache hits carry \
        `x-cache: hit` and `x-cache-tier: memory|redis|mixed`."
    ),
    paths(
        predict::model,
        predict::model_version,
        predict::default,
        oip::live,
        oip::ready,
        oip::server_metadata,
        oip::model_metadata,
        oip::model_version_metadata,
        oip::model_ready,
        oip::model_version_ready,
        oip::infer,
        oip::infer_version,
        oip::stats,
        oip::version_stats,
        oip::all_stats,
        repository::index,
        repository::load,
        repository::unload,
        health::healthz,
        health::readyz,
        metrics::metrics,
        openapi_json,
        docs_page,
    ),
    components(schemas(
        crate::error::ErrorBody,
        predict::PredictRequest,
        predict::PredictResponse,
        predict::BatchPredictResponse
    )),
    modifiers(&AuthResponses)
)]
pub struct ApiDoc;

/// Adds what `--auth required` does to each route, from the same
/// [`is_open_route`] / [`is_admin_route`] the observe middleware enforces
/// (so the document cannot drift from it): the `bearer` security scheme,
/// 401 and 429 on every route but the open ones, 403 on admin routes.
struct AuthResponses;

impl utoipa::Modify for AuthResponses {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
        };
        use utoipa::openapi::{Content, Ref, RefOr, Response, header::Header};

        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        let error = |description: &str, header: Option<(&str, &str)>| {
            let mut r = Response::new(description);
            r.content.insert(
                "application/json".into(),
                Content::new(Some(Ref::from_schema_name("ErrorBody"))),
            );
            if let Some((name, what)) = header {
                let mut h = Header::default();
                h.description = Some(what.into());
                r.headers.insert(name.into(), h);
            }
            RefOr::T(r)
        };
        for (path, item) in doc.paths.paths.iter_mut() {
            if is_open_route(path) {
                continue;
            }
            let admin = is_admin_route(path);
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                op.security = Some(vec![SecurityRequirement::new(
                    "bearer",
                    Vec::<String>::new(),
                )]);
                let responses = &mut op.responses.responses;
                responses.entry("401".into()).or_insert_with(|| {
                    error(
                        "`unauthorized`: missing, invalid or revoked API key (with --auth required)",
                        Some(("WWW-Authenticate", "`Bearer`")),
                    )
                });
                if admin {
                    responses.entry("403".into()).or_insert_with(|| {
                        error("`forbidden`: the route needs an admin key", None)
                    });
                }
                responses.entry("429".into()).or_insert_with(|| {
                    error(
                        "`rate_limited`: the key's rate limit is exhausted",
                        Some(("Retry-After", "seconds until a request would be admitted")),
                    )
                });
            }
        }
    }
}

/// The OpenAPI document, built once.
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .expect("OpenAPI serialises")
    })
}

/// This API's OpenAPI 3 document.
#[utoipa::path(get, path = "/openapi.json", tag = "docs", responses((status = 200, description = "OpenAPI 3 JSON")))]
pub async fn openapi_json() -> Response {
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        document(),
    )
        .into_response()
}

/// Human-readable API reference.
#[utoipa::path(get, path = "/docs", tag = "docs", responses((status = 200, description = "HTML", content_type = "text/html")))]
pub async fn docs_page() -> Html<&'static str> {
    static PAGE: OnceLock<String> = OnceLock::new();
    Html(PAGE.get_or_init(render_page))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn render_page() -> String {
    let doc: serde_json::Value = serde_json::from_str(document()).expect("valid JSON");
    let mut html = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Falcon API</title><style>\
         body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}\
         h2{border-bottom:1px solid #ccc}.op{margin:1rem 0;padding:.5rem 1rem;border-left:4px solid #36c;background:#f6f8fb}\
         .m{font-weight:bold;text-transform:uppercase;color:#36c}code{background:#eee;padding:0 .2rem}\
         td{padding:.1rem .6rem;vertical-align:top}</style></head><body><h1>Falcon API</h1>",
    );
    if let Some(d) = doc.pointer("/info/description").and_then(|v| v.as_str()) {
        html.push_str(&format!("<p>{}</p>", esc(d)));
    }
    html.push_str(
        "<p>Machine-readable: <a href=\"/openapi.json\">/openapi.json</a> (OpenAPI 3).</p>",
    );
    let mut by_tag: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    if let Some(paths) = doc.get("paths").and_then(|p| p.as_object()) {
        for (path, ops) in paths {
            for (method, op) in ops.as_object().into_iter().flatten() {
                let tag = op
                    .pointer("/tags/0")
                    .and_then(|t| t.as_str())
                    .unwrap_or("other")
                    .to_string();
                let summary = op.get("summary").and_then(|s| s.as_str()).unwrap_or("");
                let desc = op.get("description").and_then(|s| s.as_str()).unwrap_or("");
                let mut responses = String::new();
                for (code, r) in op
                    .get("responses")
                    .and_then(|r| r.as_object())
                    .into_iter()
                    .flatten()
                {
                    let d = r.get("description").and_then(|s| s.as_str()).unwrap_or("");
                    responses.push_str(&format!(
                        "<tr><td><code>{code}</code></td><td>{}</td></tr>",
                        esc(d)
                    ));
                }
                by_tag.entry(tag).or_default().push(format!(
                    "<div class=\"op\"><span class=\"m\">{method}</span> <code>{}</code><p>{}</p>{}<table>{responses}</table></div>",
                    esc(path),
                    esc(summary),
                    if desc.is_empty() { String::new() } else { format!("<p>{}</p>", esc(desc)) },
                ));
            }
        }
    }
    for (tag, ops) in by_tag {
        html.push_str(&format!("<h2>{}</h2>", esc(&tag)));
        for op in ops {
            html.push_str(&op);
        }
    }
    html.push_str("</body></html>");
    html
}

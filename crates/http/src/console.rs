//! The web console: a few static files compiled into the binary and served at `/`. The page
//! signs in with a token from the link's fragment (never sent to the server) and does
//! everything through the public API, so it can do nothing the API refuses.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

use crate::AppState;
use crate::error::ApiError;

/// `(name, content type, bytes)`: everything the page loads.
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../console/index.html"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../console/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../console/app.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../console/api.js"),
    ),
    (
        "i18n.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../console/i18n.js"),
    ),
    (
        "ui.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../console/ui.js"),
    ),
    (
        "ticket.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../console/ticket.js"),
    ),
    (
        "views.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../console/views.js"),
    ),
    (
        "volunteers.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../console/volunteers.js"),
    ),
    (
        "icon.svg",
        "image/svg+xml",
        include_bytes!("../console/icon.svg"),
    ),
    // Installable on a home screen; the service worker is served at `/sw.js` so that it may
    // look after the whole page.
    (
        "manifest.webmanifest",
        "application/manifest+json",
        include_bytes!("../console/manifest.webmanifest"),
    ),
    (
        "sw.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../console/sw.js"),
    ),
    // What is kept and who sees it, linked from the page's footer.
    (
        "privacy.md",
        "text/plain; charset=utf-8",
        include_bytes!("../../../docs/PRIVACY.md"),
    ),
];

/// The page may talk only to this server and run only its own scripts: a request's text,
/// shown on the page, can never become code.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
                   frame-ancestors 'none'";

/// The page and its files, gzip-compressed for a browser that takes it (a phone on a weak
/// connection loads about a third of the bytes).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|headers: HeaderMap| async move { serve("index.html", &headers) }))
        .route("/sw.js", get(|headers: HeaderMap| async move { serve("sw.js", &headers) }))
        .route(
            "/console/{file}",
            get(|Path(file): Path<String>, headers: HeaderMap| async move {
                serve(&file, &headers)
            }),
        )
        .layer(tower_http::compression::CompressionLayer::new().gzip(true))
}

/// Each file's ETag: the files change only with the binary, so browsers revalidate cheaply.
fn etags() -> &'static Vec<String> {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        FILES
            .iter()
            .map(|(_, _, bytes)| {
                let digest = Sha256::digest(bytes);
                let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
                format!("\"{hex}\"")
            })
            .collect()
    })
}

fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some(i) = FILES.iter().position(|(n, _, _)| *n == name) else {
        return ApiError::NoRoute.into_response();
    };
    let (_, content_type, bytes) = FILES[i];
    let etag = &etags()[i];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type)], bytes).into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::ETAG,
        HeaderValue::from_str(etag).expect("hex is a valid header"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if name == "index.html" {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    response
}

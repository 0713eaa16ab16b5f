//! The pages vncgate serves: its own console page (built into the binary), the noVNC library
//! under `/novnc/`, and the static web root (`[DEFAULT] web`), with safe headers.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tower::ServiceExt;
use tower_http::services::ServeDir;

use super::response::{bytes, empty, text, Body};

/// The directories served besides the built-in page.
#[derive(Debug, Clone, Default)]
pub struct Pages {
    /// The static web root (`[DEFAULT] web`).
    pub static_files: Option<ServeDir>,
    /// The noVNC library, served under `/novnc/`.
    pub novnc_files: Option<ServeDir>,
    /// xterm.js, served under `/xterm/` on the serial port.
    pub xterm_files: Option<ServeDir>,
    /// spice-html5, the web root of the SPICE port.
    pub spice_files: Option<ServeDir>,
    /// The console page with noVNC's modules to preload, when `novnc_files` has them.
    pub console_html: Option<Bytes>,
}

impl Pages {
    /// The console page preloading the modules of noVNC in `novnc_dir` (read now).
    pub fn preload_novnc(&mut self, novnc_dir: &std::path::Path) {
        let modules = super::preload::novnc_modules(novnc_dir);
        tracing::debug!(
            modules = modules.len(),
            "noVNC modules preloaded by the console page"
        );
        let html = super::preload::with_preloads(CONSOLE_HTML, PRELOAD_MARKER, &modules);
        self.console_html = Some(Bytes::from(html));
    }
}

/// vncgate's console page, embedded at build time so that it is found without flags.
const CONSOLE_HTML: &str = include_str!("assets/console.html");
/// Where the console page's `<link rel="modulepreload">` lines go.
const PRELOAD_MARKER: &str = "<!-- noVNC's modules -->";
const CONSOLE_JS: &str = include_str!("assets/console.js");
const CONSOLE_CSS: &str = include_str!("assets/console.css");
const LINK_JS: &str = include_str!("assets/link.js");
/// The pages' language and words (docs/TRANSLATING.md).
const I18N_JS: &str = include_str!("assets/i18n.js");
pub(crate) const MESSAGES_JS: &str = include_str!("assets/messages.js");
const SERIAL_HTML: &str = include_str!("assets/serial.html");
const SERIAL_JS: &str = include_str!("assets/serial.js");
const SPICE_HTML: &str = include_str!("assets/spice.html");
const SPICE_JS: &str = include_str!("assets/spice.js");
const PLAYER_HTML: &str = include_str!("assets/player.html");
const PLAYER_JS: &str = include_str!("assets/player.js");
/// xterm.js 5.5.0 (MIT, `assets/xterm/LICENSE`): Debian 12's libjs-xterm is not a browser build.
const XTERM_JS: &str = include_str!("assets/xterm/xterm.js");
const XTERM_CSS: &str = include_str!("assets/xterm/xterm.css");
/// xterm.js's fit add-on 0.10.0 (MIT, the same authors and licence): served by vncgate itself,
/// so that the serial page fits whichever xterm.js `xterm_dir` gives.
const XTERM_FIT_JS: &str = include_str!("assets/xterm/addon-fit.js");

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// What every console page loads: the style, the status line and reconnect, the words.
const SHARED: &[(&str, &str, &str)] = &[
    ("/console.css", CONSOLE_CSS, CSS),
    ("/link.js", LINK_JS, JS),
    ("/i18n.js", I18N_JS, JS),
    ("/messages.js", MESSAGES_JS, JS),
];

/// The console page and its assets.
pub(super) fn own_page(pages: &Pages, request: &Request<Incoming>) -> Option<Response<Body>> {
    let page = matches!(request.uri().path(), "/" | "/console.html");
    if let (true, Some(html)) = (page, &pages.console_html) {
        if request.method() == Method::GET || request.method() == Method::HEAD {
            return Some(built_in(request, html.clone(), HTML));
        }
    }
    page_with_shared(
        request,
        &[
            ("/", CONSOLE_HTML, HTML),
            ("/console.html", CONSOLE_HTML, HTML),
            ("/console.js", CONSOLE_JS, JS),
        ],
    )
}

/// vncgate's SPICE page and its assets, on the SPICE port, whose web root (spice-html5, with
/// its own `spice_auto.html`) the page's script loads spice-html5 from.
pub(super) fn spice_page(request: &Request<Incoming>) -> Option<Response<Body>> {
    page_with_shared(
        request,
        &[
            ("/console.html", SPICE_HTML, HTML),
            ("/vncgate-spice.js", SPICE_JS, JS),
        ],
    )
}

/// A file of `files`, else of [`SHARED`].
fn page_with_shared(
    request: &Request<Incoming>,
    files: &[(&str, &'static str, &'static str)],
) -> Option<Response<Body>> {
    embedded(request, files).or_else(|| embedded(request, SHARED))
}

/// The serial console page and its assets (not at `/`: there, as on nova-serialproxy, a plain
/// request is refused).
pub(super) fn serial_page(request: &Request<Incoming>) -> Option<Response<Body>> {
    page_with_shared(
        request,
        &[
            ("/serial.html", SERIAL_HTML, HTML),
            ("/serial.js", SERIAL_JS, JS),
            ("/xterm-fit.js", XTERM_FIT_JS, JS),
        ],
    )
}

/// The recording player and its assets, on the console port.
pub(super) fn player_page(request: &Request<Incoming>) -> Option<Response<Body>> {
    embedded(
        request,
        &[
            ("/player.html", PLAYER_HTML, HTML),
            ("/player.js", PLAYER_JS, JS),
        ],
    )
}

/// A built-in file of `files` (path, body, content type) for a GET or HEAD.
fn embedded(
    request: &Request<Incoming>,
    files: &[(&str, &'static str, &'static str)],
) -> Option<Response<Body>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return None;
    }
    let path = request.uri().path();
    let &(_, body, content_type) = files.iter().find(|(at, _, _)| *at == path)?;
    Some(built_in(
        request,
        Bytes::from_static(body.as_bytes()),
        content_type,
    ))
}

/// A built-in file: revalidated before each use (an upgrade changes it), and 304 Not Modified
/// when the browser's copy is this one (`If-None-Match` with its ETag), so that a reload or a
/// reconnect fetches nothing again.
fn built_in(
    request: &Request<Incoming>,
    body: Bytes,
    content_type: &'static str,
) -> Response<Body> {
    let tag = etag(&body);
    let held = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|held| held.trim() == tag));
    let mut response = if held {
        empty(StatusCode::NOT_MODIFIED)
    } else {
        bytes(StatusCode::OK, body)
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(&tag) {
        headers.insert(header::ETAG, value);
    }
    response
}

/// A strong ETag of `body`: the same in every instance of one build (SipHash with fixed keys).
fn etag(body: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut hasher);
    format!("\"{:016x}\"", hasher.finish())
}

/// The noVNC library (ES modules) from `[vncgate] novnc_dir`.
pub(super) async fn novnc_file(pages: &Pages, request: Request<Incoming>) -> Response<Body> {
    let Some(files) = &pages.novnc_files else {
        return text(
            StatusCode::NOT_FOUND,
            "The noVNC library is not installed on this console server.\n",
        );
    };
    library_file(files, "/novnc", request).await
}

/// xterm.js for the serial page: from `[vncgate] xterm_dir`, else the built-in copy.
pub(super) async fn xterm_file(pages: &Pages, request: Request<Incoming>) -> Response<Body> {
    match &pages.xterm_files {
        Some(files) => library_file(files, "/xterm", request).await,
        None => embedded(
            &request,
            &[
                ("/xterm/xterm.js", XTERM_JS, JS),
                ("/xterm/xterm.css", XTERM_CSS, CSS),
            ],
        )
        .unwrap_or_else(|| empty(StatusCode::NOT_FOUND)),
    }
}

/// A file of a library served under `prefix`.
async fn library_file(
    files: &ServeDir,
    prefix: &str,
    mut request: Request<Incoming>,
) -> Response<Body> {
    let stripped = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().trim_start_matches(prefix).to_owned());
    if let Some(uri) = stripped.and_then(|pq| pq.parse::<http::Uri>().ok()) {
        *request.uri_mut() = uri;
    }
    serve_dir(files, request).await
}

pub(super) async fn static_file(pages: &Pages, request: Request<Incoming>) -> Response<Body> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = empty(StatusCode::METHOD_NOT_ALLOWED);
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    // CVE-2021-3654: `//evil.example/%2F..` must never turn into a redirect off-site. Nothing
    // here redirects, and a path that starts with `//` is refused outright, as nova does.
    if request.uri().path().starts_with("//") {
        return text(StatusCode::BAD_REQUEST, "URI must not start with //\n");
    }
    let Some(files) = &pages.static_files else {
        return empty(StatusCode::NOT_FOUND);
    };
    serve_dir(files, request).await
}

/// A request the serial port has no page for: 405, as nova-serialproxy (websockify without a
/// web root) answers, which openstack-ansible's health check expects.
pub(super) fn not_allowed() -> Response<Body> {
    let mut response = empty(StatusCode::METHOD_NOT_ALLOWED);
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET"));
    response
}

async fn serve_dir<B>(files: &tower_http::services::ServeDir, request: Request<B>) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match files.clone().oneshot(request).await {
        Ok(response) => response.map(|body| body.map_err(std::io::Error::other).boxed_unsync()),
        Err(never) => match never {},
    }
}

//! The pages vncgate serves: its own console page (built into the binary), the noVNC library
//! under `/novnc/`, and the static web root (`[DEFAULT] web`), with safe headers.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tower::ServiceExt;
use tower_http::services::ServeDir;

use super::response::{empty, text, Body};

/// The directories served besides the built-in page.
#[derive(Debug, Clone, Default)]
pub struct Pages {
    /// The static web root (`[DEFAULT] web`).
    pub static_files: Option<ServeDir>,
    /// The noVNC library, served under `/novnc/`.
    pub novnc_files: Option<ServeDir>,
}

/// vncgate's console page, embedded at build time so that it is found without flags.
const CONSOLE_HTML: &str = include_str!("assets/console.html");
const CONSOLE_JS: &str = include_str!("assets/console.js");
const CONSOLE_CSS: &str = include_str!("assets/console.css");

/// The console page and its assets.
pub(super) fn own_page(request: &Request<Incoming>) -> Option<Response<Body>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return None;
    }
    let path = request.uri().path();
    let (body, content_type) = match path {
        "/" | "/console.html" => (CONSOLE_HTML, "text/html; charset=utf-8"),
        "/console.js" => (CONSOLE_JS, "text/javascript; charset=utf-8"),
        "/console.css" => (CONSOLE_CSS, "text/css; charset=utf-8"),
        _ => return None,
    };
    let mut response = text(StatusCode::OK, body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Some(response)
}

/// The noVNC library (ES modules) from `[vncgate] novnc_dir`.
pub(super) async fn novnc_file(pages: &Pages, mut request: Request<Incoming>) -> Response<Body> {
    let Some(files) = &pages.novnc_files else {
        return text(
            StatusCode::NOT_FOUND,
            "The noVNC library is not installed on this console server.\n",
        );
    };
    let stripped = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().trim_start_matches("/novnc").to_owned());
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

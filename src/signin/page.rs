//! The small HTML pages of sign-in and `/consoles`: no script, no style, every text from
//! outside escaped.

use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

/// The sign-out button.
pub const SIGN_OUT: &str =
    "<form method=post action=\"/logout\"><button type=submit>Sign out</button></form>";

/// `text` safe inside HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A page around `body` (already escaped where it holds outside text).
pub fn html(status: StatusCode, body: String) -> Response<String> {
    let mut response = Response::new(format!(
        "<!doctype html><html lang=en><meta charset=utf-8><title>vncgate</title>{body}</html>\n"
    ));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    no_store(&mut response);
    response
}

/// Never kept by a browser or a cache: these pages name a person.
pub fn no_store(response: &mut Response<String>) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

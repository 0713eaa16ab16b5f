//! The security headers on every page: a strict Content-Security-Policy on vncgate's own page
//! and the noVNC library it loads, `frame-ancestors` on everything (Horizon shows consoles in
//! an iframe; nobody else should), HSTS over HTTPS, and no Referer (console URLs hold tokens).
//! No I/O.

use http::header::{self, HeaderMap, HeaderValue};

/// Which policy a response gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// vncgate's own console page and the noVNC library: scripts and styles from here only.
    Own,
    /// The serial page and xterm.js, and the SPICE page: as [`Page::Own`], but xterm.js sizes
    /// and colours its rows with `<style>` elements it writes, and spice-html5 its canvases with
    /// inline styles, so inline styles are allowed (scripts are not).
    Serial,
    /// Files from the web root (`[DEFAULT] web`), such as Debian's `vnc_lite.html`, which holds
    /// inline scripts: framing is restricted, scripts are the operator's business.
    Static,
}

/// The headers, built once from the configuration.
#[derive(Debug, Clone)]
pub struct SecurityHeaders {
    own: HeaderValue,
    serial: HeaderValue,
    framing: HeaderValue,
}

/// A year, as HSTS preload lists ask.
const HSTS: &str = "max-age=31536000";

impl SecurityHeaders {
    /// Headers whose `frame-ancestors` is `frame_ancestors` when set, else `'self'` and the
    /// `allowed_origins` hosts (the Horizon that embeds the console).
    pub fn new(frame_ancestors: Option<&[String]>, allowed_origins: &[String]) -> Self {
        let ancestors = match frame_ancestors {
            // oslo.config takes the quotes off a value: `'none'` arrives as `none`.
            Some(list) if !list.is_empty() => list
                .iter()
                .flat_map(|item| item.split_whitespace())
                .map(|source| match source {
                    "self" | "none" => format!("'{source}'"),
                    other => other.to_owned(),
                })
                .collect::<Vec<_>>()
                .join(" "),
            _ => std::iter::once("'self'".to_owned())
                .chain(allowed_origins.iter().cloned())
                .collect::<Vec<_>>()
                .join(" "),
        };
        // Only characters a header may hold survive: an operator's typo must not stop pages.
        let ancestors: String = ancestors
            .chars()
            .filter(|c| c.is_ascii_graphic() || *c == ' ')
            .filter(|c| *c != ';' && *c != ',')
            .collect();
        let own = format!(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
             connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
             frame-ancestors {ancestors}"
        );
        let serial = own.replace("style-src 'self';", "style-src 'self' 'unsafe-inline';");
        let framing = format!("frame-ancestors {ancestors}");
        Self {
            own: HeaderValue::from_str(&own)
                .unwrap_or(HeaderValue::from_static("default-src 'self'")),
            serial: HeaderValue::from_str(&serial)
                .unwrap_or(HeaderValue::from_static("default-src 'self'")),
            framing: HeaderValue::from_str(&framing)
                .unwrap_or(HeaderValue::from_static("frame-ancestors 'self'")),
        }
    }

    /// Sets the headers of a `page` response; HSTS when the browser came over `https`.
    pub fn apply(&self, headers: &mut HeaderMap, page: Page, https: bool) {
        let policy = match page {
            Page::Own => &self.own,
            Page::Serial => &self.serial,
            Page::Static => &self.framing,
        };
        headers.insert(header::CONTENT_SECURITY_POLICY, policy.clone());
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        // Console URLs carry the token in their query: never send it on in a Referer.
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        if https {
            headers.insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static(HSTS),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csp(headers: &SecurityHeaders, page: Page) -> String {
        let mut map = HeaderMap::new();
        headers.apply(&mut map, page, false);
        map.get(header::CONTENT_SECURITY_POLICY)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    #[test]
    fn the_serial_page_allows_inline_styles_and_no_other_scripts() {
        let headers = SecurityHeaders::new(None, &[]);
        let serial = csp(&headers, Page::Serial);
        assert!(serial.contains("script-src 'self';"), "{serial}");
        assert!(
            serial.contains("style-src 'self' 'unsafe-inline';"),
            "{serial}"
        );
        assert!(!csp(&headers, Page::Own).contains("unsafe-inline"));
    }

    #[test]
    fn frame_ancestors_default_to_self_and_the_allowed_origins() {
        let headers = SecurityHeaders::new(None, &["horizon.example".to_owned()]);
        assert!(csp(&headers, Page::Own).ends_with("frame-ancestors 'self' horizon.example"));
        assert!(csp(&headers, Page::Own).contains("script-src 'self';"));
        assert_eq!(
            csp(&headers, Page::Static),
            "frame-ancestors 'self' horizon.example"
        );
        let set = ["none".to_owned()];
        assert_eq!(
            csp(&SecurityHeaders::new(Some(&set), &[]), Page::Static),
            "frame-ancestors 'none'"
        );
        // A directive cannot be smuggled in through the option.
        let sneaky = ["x; script-src *".to_owned()];
        assert!(!csp(&SecurityHeaders::new(Some(&sneaky), &[]), Page::Static).contains(';'));
    }

    #[test]
    fn hsts_only_over_https() {
        let headers = SecurityHeaders::new(None, &[]);
        let mut map = HeaderMap::new();
        headers.apply(&mut map, Page::Static, false);
        assert!(map.get(header::STRICT_TRANSPORT_SECURITY).is_none());
        headers.apply(&mut map, Page::Static, true);
        assert!(map.get(header::STRICT_TRANSPORT_SECURITY).is_some());
    }
}

//! One line of a websockify-format token file: `token: host:port` and vncgate's attributes
//! after the target. No I/O.

use std::time::{Duration, UNIX_EPOCH};

use super::grant::Grant;
use crate::console::{
    ticket_target, AuthScheme, BadTicket, Clipboard, ConsoleKind, Secret, Target, Unenforceable,
};

/// Why a line of a token file was skipped. Never holds the line, which holds a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// No `:` between token and target.
    #[error("expected 'token: host:port'")]
    NoSeparator,
    /// The target is not `host:port` or `[v6]:port`.
    #[error("target is not host:port, [ipv6]:port or unix:/path")]
    BadTarget,
    /// An attribute after the target is unknown or malformed.
    #[error("unknown or malformed attribute (known: expires=UNIX_SECONDS, password=TEXT, auth=vencrypt[,vnc,none], kind=novnc|serial|spice-html5, tls_port=PORT, view_only=true, clipboard=both|to-guest|from-guest|none, label=NAME, thumbprint=HEX after a wss:// ticket URL)")]
    BadAttribute,
    /// A WebMKS ticket URL without a valid thumbprint, or a malformed one.
    #[error(transparent)]
    Ticket(#[from] BadTicket),
    /// A view-only or clipboard setting the console's kind cannot enforce.
    #[error(transparent)]
    Unenforceable(#[from] Unenforceable),
}

/// Parses one line: `None` for blank lines and comments.
///
/// Beyond websockify's `token: host:port`, vncgate reads optional attributes after the target:
/// `expires=UNIX_SECONDS`, `password=TEXT` (for the `vnc` scheme) and `auth=SCHEME[,SCHEME]`
/// (the schemes allowed toward this target, in order, instead of `auth_schemes`). The target may
/// be a WebMKS ticket URL, `wss://HOST[:PORT]/ticket/TICKET thumbprint=HEX`.
///
/// # Errors
/// A line that is neither blank, a comment, nor a valid entry.
pub fn parse_line(line: &str) -> Result<Option<(String, Grant)>, LineError> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (token, rest) = line.split_once(':').ok_or(LineError::NoSeparator)?;
    let token = token.trim();
    let mut words = rest.split_whitespace();
    let first = words.next().ok_or(LineError::BadTarget)?;
    let ticket = first.starts_with("wss://").then_some(first);
    let target = match ticket {
        Some(_) => Target {
            host: String::new(),
            port: 0,
        },
        None => parse_target(first)?,
    };
    if token.is_empty() {
        return Err(LineError::NoSeparator);
    }
    let mut thumbprint = None;
    let mut grant = Grant::direct(target);
    for word in words {
        match word.split_once('=') {
            Some(("thumbprint", hex)) if ticket.is_some() => thumbprint = Some(hex),
            Some((key, value)) => attribute(&mut grant, key, value)?,
            None => return Err(LineError::BadAttribute),
        }
    }
    if let Some(url) = ticket {
        (grant.target, grant.reach) = ticket_target(url, thumbprint)?;
    }
    // What the line says must hold; the defaults are checked at admission.
    grant.kind.enforces(
        grant.view_only.unwrap_or(false),
        grant.clipboard.unwrap_or(Clipboard::Both),
    )?;
    Ok(Some((token.to_owned(), grant)))
}

/// One `key=value` attribute of a line, into `grant`.
fn attribute(grant: &mut Grant, key: &str, value: &str) -> Result<(), LineError> {
    match key {
        "expires" => {
            let seconds: u64 = value.parse().map_err(|_| LineError::BadAttribute)?;
            // A time past what the clock can hold is a typo, not a token that never expires.
            let at = UNIX_EPOCH.checked_add(Duration::from_secs(seconds));
            grant.expires = Some(at.ok_or(LineError::BadAttribute)?);
        }
        "password" if !value.is_empty() => grant.password = Some(Secret::new(value)),
        "view_only" => grant.view_only = Some(flag(value)?),
        "label" if valid_label(value) => grant.label = Some(value.to_owned()),
        "record" => grant.record = Some(flag(value)?),
        "clipboard" => {
            grant.clipboard = Some(Clipboard::from_name(value).ok_or(LineError::BadAttribute)?);
        }
        "kind" => {
            grant.kind = ConsoleKind::from_nova_name(value).ok_or(LineError::BadAttribute)?;
        }
        "tls_port" => {
            let port: u16 = value.parse().map_err(|_| LineError::BadAttribute)?;
            grant.tls_port = Some(port).filter(|port| *port > 0);
        }
        "auth" => {
            let schemes: Option<Vec<AuthScheme>> =
                value.split(',').map(AuthScheme::from_name).collect();
            match schemes {
                Some(schemes) if !schemes.is_empty() => grant.schemes = Some(schemes),
                _ => return Err(LineError::BadAttribute),
            }
        }
        _ => return Err(LineError::BadAttribute),
    }
    Ok(())
}

/// A label: letters, digits, `.`, `_`, `-`, at most 64.
fn valid_label(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// A yes/no attribute as websockify's users write it.
fn flag(value: &str) -> Result<bool, LineError> {
    match value {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(LineError::BadAttribute),
    }
}

fn parse_target(text: &str) -> Result<Target, LineError> {
    Target::parse(text).ok_or(LineError::BadTarget)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::Reach;
    use std::time::SystemTime;

    fn entry(line: &str) -> (String, Grant) {
        match parse_line(line) {
            Ok(Some(entry)) => entry,
            other => panic!("{line:?}: {other:?}"),
        }
    }

    #[test]
    fn a_unix_socket_target() {
        let (_, grant) = entry("vm: unix:/run/vm1.sock kind=serial");
        assert_eq!(
            grant.target.unix_path(),
            Some(std::path::Path::new("/run/vm1.sock"))
        );
        assert_eq!(grant.target.to_string(), "unix:/run/vm1.sock");
        let (_, tcp) = entry("t: unix.example:5900");
        assert_eq!(tcp.target.unix_path(), None, "a host named unix…");
    }

    #[test]
    fn websockify_forms() {
        let (token, grant) = entry("abc: 127.0.0.1:5901");
        assert_eq!(token, "abc");
        assert_eq!(
            grant.target,
            Target {
                host: "127.0.0.1".into(),
                port: 5901
            }
        );
        let (_, grant) = entry("  abc :host.example:5900  ");
        assert_eq!(grant.target.host, "host.example");
        let (_, grant) = entry("v6: [::1]:5901");
        assert_eq!(
            grant.target,
            Target {
                host: "::1".into(),
                port: 5901
            }
        );
        assert_eq!(grant.target.to_string(), "[::1]:5901");
    }

    #[test]
    fn attributes() {
        let (_, grant) = entry("t: h:1 expires=100 password=secret");
        assert_eq!(grant.expires, Some(UNIX_EPOCH + Duration::from_secs(100)));
        assert_eq!(grant.password.as_ref().map(Secret::expose), Some("secret"));
        assert!(!grant.is_live(SystemTime::now()));
        let (_, grant) = entry("t: h:1 view_only=true clipboard=from-guest");
        assert_eq!(grant.view_only, Some(true));
        assert_eq!(grant.clipboard, Some(Clipboard::FromGuest));
        assert_eq!(entry("t: h:1").1.clipboard, None);
    }

    #[test]
    fn blanks_and_comments() {
        for line in ["", "   ", "# t: h:1", "  # comment"] {
            assert!(matches!(parse_line(line), Ok(None)), "{line:?}");
        }
    }

    #[test]
    fn bad_lines() {
        let cases = [
            ("no separator here", LineError::NoSeparator),
            ("t: host", LineError::BadTarget),
            ("t: host:port", LineError::BadTarget),
            ("t: host:70000", LineError::BadTarget),
            ("t: ::1:5900", LineError::BadTarget),
            ("t: [::1]5900", LineError::BadTarget),
            ("t: h:1 expires=soon", LineError::BadAttribute),
            ("t: h:1 colour=red", LineError::BadAttribute),
            ("t: h:1 clipboard=sideways", LineError::BadAttribute),
            ("t: h:1 clipboard=NONE", LineError::BadAttribute),
            (
                "t: h:1 kind=spice-html5 clipboard=none",
                LineError::Unenforceable(Unenforceable::Clipboard(
                    ConsoleKind::SpiceHtml5,
                    Clipboard::None,
                )),
            ),
            (
                "t: h:1 kind=webmks view_only=true",
                LineError::Unenforceable(Unenforceable::ViewOnly(ConsoleKind::Webmks)),
            ),
            // Found by fuzzing: past what SystemTime can hold.
            (
                "t: h:1 expires=0012196084483812869916",
                LineError::BadAttribute,
            ),
            (": h:1", LineError::NoSeparator),
            ("t: unix:run/vm.sock", LineError::BadTarget),
            ("t: unix:", LineError::BadTarget),
        ];
        for (line, expected) in cases {
            assert_eq!(parse_line(line).err(), Some(expected), "{line:?}");
        }
    }

    #[test]
    fn auth_narrows_the_schemes() {
        let (_, grant) = entry("t: 10.0.0.1:5900 auth=vencrypt,vnc");
        assert_eq!(
            grant.schemes,
            Some(vec![AuthScheme::Vencrypt, AuthScheme::Vnc])
        );
        assert_eq!(entry("t: 10.0.0.1:5900").1.schemes, None);
        for bad in [
            "t: h:1 auth=",
            "t: h:1 auth=tls",
            "t: h:1 auth=vencrypt,,none",
        ] {
            assert_eq!(
                parse_line(bad).err(),
                Some(LineError::BadAttribute),
                "{bad}"
            );
        }
    }

    #[test]
    fn webmks_ticket_urls_need_their_thumbprint() {
        let pin = "aa".repeat(20);
        let (token, grant) = entry(&format!(
            "esx: wss://esxi1.example/ticket/0123abcd thumbprint={pin} expires=4000000000"
        ));
        assert_eq!(token, "esx");
        assert_eq!(grant.target.to_string(), "esxi1.example:443");
        assert!(matches!(grant.reach, Reach::WebMks { .. }));
        assert!(grant.expires.is_some());
        assert_eq!(
            parse_line("t: wss://esxi/ticket/x").err(),
            Some(LineError::Ticket(BadTicket::Thumbprint))
        );
        assert_eq!(
            parse_line(&format!("t: wss://esxi thumbprint={pin}")).err(),
            Some(LineError::Ticket(BadTicket::Url))
        );
        // A thumbprint means nothing for a plain target.
        assert_eq!(
            parse_line(&format!("t: h:1 thumbprint={pin}")).err(),
            Some(LineError::BadAttribute)
        );
    }
}

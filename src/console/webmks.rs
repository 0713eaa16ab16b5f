//! WebMKS ticket URLs, `wss://HOST:PORT/ticket/TICKET`, as vSphere's `AcquireTicket("webmks")`
//! and `govc vm.console -wss` give them. No I/O.

use super::thumbprint::Thumbprint;
use super::types::{Reach, Secret, Target};

/// Why a ticket URL or its thumbprint was refused. Never holds the URL, which holds a ticket.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadTicket {
    /// Not `wss://HOST[:PORT]/PATH`.
    #[error("a WebMKS ticket URL is wss://HOST[:PORT]/ticket/TICKET")]
    Url,
    /// No thumbprint, or not one.
    #[error("a WebMKS ticket needs the host certificate's thumbprint: 40 (SHA-1) or 64 (SHA-256) hex digits")]
    Thumbprint,
}

/// The console server and how to reach it for a ticket URL and the host's thumbprint. The
/// thumbprint is required: an ESXi certificate is usually self-signed, and nothing else can
/// vouch for it.
///
/// # Errors
/// A URL that is not `wss://` with a host and a path, or a missing or malformed thumbprint.
pub fn ticket_target(url: &str, thumbprint: Option<&str>) -> Result<(Target, Reach), BadTicket> {
    let parsed = url::Url::parse(url.trim()).map_err(|_| BadTicket::Url)?;
    if parsed.scheme() != "wss" || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(BadTicket::Url);
    }
    let host = match parsed.host() {
        Some(url::Host::Domain(name)) => name.to_owned(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => return Err(BadTicket::Url),
    };
    let mut path = parsed.path().to_owned();
    if path.len() < 2 {
        return Err(BadTicket::Url);
    }
    if let Some(query) = parsed.query() {
        path.push('?');
        path.push_str(query);
    }
    let thumbprint = thumbprint
        .ok_or(BadTicket::Thumbprint)
        .and_then(|text| Thumbprint::parse(text).map_err(|_| BadTicket::Thumbprint))?;
    let target = Target {
        host,
        port: parsed.port().unwrap_or(443),
    };
    Ok((
        target,
        Reach::WebMks {
            path: Secret::new(path),
            thumbprint,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIN: &str = "5A:9B:2C:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11";

    #[test]
    fn a_ticket_url_names_host_port_and_path() {
        let (target, reach) =
            ticket_target("wss://esxi1.example:443/ticket/a1b2c3", Some(PIN)).expect("valid");
        assert_eq!(target.to_string(), "esxi1.example:443");
        let Reach::WebMks { path, thumbprint } = reach else {
            panic!("not WebMKS");
        };
        assert_eq!(path.expose(), "/ticket/a1b2c3");
        assert_eq!(thumbprint, Thumbprint::parse(PIN).expect("pin"));
        let (target, _) = ticket_target("wss://[fd00::5]/ticket/x?y=1", Some(PIN)).expect("v6");
        assert_eq!(target.to_string(), "[fd00::5]:443");
    }

    #[test]
    fn other_urls_and_missing_thumbprints_are_refused() {
        for url in [
            "ws://esxi/ticket/x",
            "https://esxi/ticket/x",
            "wss://esxi",
            "wss://esxi/",
            "wss://user:pw@esxi/ticket/x",
            "esxi:443",
        ] {
            assert_eq!(ticket_target(url, Some(PIN)), Err(BadTicket::Url), "{url}");
        }
        assert_eq!(
            ticket_target("wss://esxi/ticket/x", None),
            Err(BadTicket::Thumbprint)
        );
        assert_eq!(
            ticket_target("wss://esxi/ticket/x", Some("abc")),
            Err(BadTicket::Thumbprint)
        );
    }
}

//! Who the client really is: the connection's peer, or, from a trusted load balancer only, the
//! address and scheme its forwarding headers name. No I/O.
//!
//! The client is the right-most hop of the configured header (`X-Forwarded-For`, or `Forwarded`
//! of RFC 7239) that is not itself a trusted proxy: every hop to its right was added by a proxy
//! we trust, while anything to its left was written by the client and proves nothing. The other
//! header is never read: the load balancer adds only one, and passes the other through from the
//! client as it came.

use std::net::IpAddr;

use http::header::{HeaderMap, HeaderName};
use ipnet::IpNet;

use crate::config::ForwardedHeader;

/// The client as the proxy should see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The client's address: for limits, logs and the audit trail.
    pub ip: IpAddr,
    /// The scheme the browser used toward the load balancer, from a trusted peer only.
    pub forwarded_proto: Option<String>,
}

/// Whether `ip` is one of the trusted proxies.
pub fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    let ip = canonical(ip);
    trusted.iter().any(|network| network.contains(&ip))
}

/// IPv4-mapped IPv6 addresses as the IPv4 addresses they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The client behind a connection from `peer` that sent `headers`, named by `header`.
pub fn resolve(
    peer: IpAddr,
    trusted: &[IpNet],
    header: ForwardedHeader,
    headers: &HeaderMap,
) -> Client {
    if !is_trusted(peer, trusted) {
        return Client {
            ip: canonical(peer),
            forwarded_proto: None,
        };
    }
    let hops = match header {
        ForwardedHeader::Forwarded => hops(headers, &http::header::FORWARDED, forwarded_for),
        ForwardedHeader::XForwardedFor => hops(
            headers,
            &HeaderName::from_static("x-forwarded-for"),
            |item| Some(item.trim().to_owned()),
        ),
    };
    let mut client = canonical(peer);
    for hop in hops.iter().rev() {
        match parse_address(hop) {
            // A trusted hop: the next one to the left says who spoke to it.
            Some(ip) if is_trusted(ip, trusted) => client = ip,
            Some(ip) => {
                client = ip;
                break;
            }
            // "unknown", an obfuscated name or rubbish: the hop to its right is all we know.
            None => break,
        }
    }
    let forwarded_proto = headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .map(|value| {
            value
                .split(',')
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned()
        });
    Client {
        ip: client,
        forwarded_proto,
    }
}

/// Every element of every `name` header, in order, mapped by `element`.
fn hops(
    headers: &HeaderMap,
    name: &HeaderName,
    element: impl Fn(&str) -> Option<String>,
) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(element)
        .collect()
}

/// The `for=` of one `Forwarded` element (`for=192.0.2.1;proto=https`).
fn forwarded_for(element: &str) -> Option<String> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// An address from a hop: `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]:4711`, `2001:db8::1`.
fn parse_address(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok().map(canonical);
    }
    let (host, _port) = hop.rsplit_once(':')?;
    host.parse().ok().map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    const XFF: ForwardedHeader = ForwardedHeader::XForwardedFor;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, http::HeaderValue::from_static(value));
        }
        map
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().filter_map(|n| n.parse().ok()).collect()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn headers_from_strangers_are_ignored() {
        let sent = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
        ]);
        let client = resolve(ip("198.51.100.1"), &nets(&["10.0.0.0/8"]), XFF, &sent);
        assert_eq!(client.ip, ip("198.51.100.1"));
        assert_eq!(client.forwarded_proto, None);
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        // The client forged the first entry; the load balancers appended the rest.
        let sent = headers(&[
            ("x-forwarded-for", "1.2.3.4, 203.0.113.9, 10.0.0.5"),
            ("x-forwarded-proto", "https"),
        ]);
        let client = resolve(ip("10.0.0.2"), &trusted, XFF, &sent);
        assert_eq!(client.ip, ip("203.0.113.9"));
        assert_eq!(client.forwarded_proto.as_deref(), Some("https"));
    }

    #[test]
    fn only_the_configured_header_names_the_client() {
        let trusted = nets(&["127.0.0.0/8"]);
        // Behind a load balancer that adds X-Forwarded-For, the client's own Forwarded is
        // passed through: it must not count.
        let sent = headers(&[
            ("forwarded", "for=198.51.100.66"),
            ("x-forwarded-for", "192.0.2.50"),
        ]);
        assert_eq!(
            resolve(ip("127.0.0.1"), &trusted, XFF, &sent).ip,
            ip("192.0.2.50")
        );
        let only_forwarded = headers(&[("forwarded", "for=198.51.100.66")]);
        assert_eq!(
            resolve(ip("127.0.0.1"), &trusted, XFF, &only_forwarded).ip,
            ip("127.0.0.1")
        );
        // And the other way round.
        let rfc = ForwardedHeader::Forwarded;
        assert_eq!(
            resolve(ip("127.0.0.1"), &trusted, rfc, &sent).ip,
            ip("198.51.100.66")
        );
        let only_xff = headers(&[("x-forwarded-for", "192.0.2.50")]);
        assert_eq!(
            resolve(ip("127.0.0.1"), &trusted, rfc, &only_xff).ip,
            ip("127.0.0.1")
        );
    }

    #[test]
    fn forwarded_takes_ports_and_brackets() {
        let trusted = nets(&["127.0.0.0/8"]);
        let rfc = ForwardedHeader::Forwarded;
        let sent = headers(&[("forwarded", r#"for="[2001:db8:cafe::17]:4711";proto=https"#)]);
        assert_eq!(
            resolve(ip("127.0.0.1"), &trusted, rfc, &sent).ip,
            ip("2001:db8:cafe::17")
        );
        let sent = headers(&[("forwarded", "for=192.0.2.60:1234;by=127.0.0.1")]);
        assert_eq!(
            resolve(ip("127.0.0.1"), &trusted, rfc, &sent).ip,
            ip("192.0.2.60")
        );
        assert_eq!(ForwardedHeader::from_name("Forwarded"), Ok(rfc));
        assert!(ForwardedHeader::from_name("x-real-ip").is_err());
    }

    #[test]
    fn unknown_hops_stop_the_walk_and_no_header_means_the_peer() {
        let trusted = nets(&["127.0.0.0/8"]);
        let sent = headers(&[("x-forwarded-for", "203.0.113.1, unknown")]);
        assert_eq!(
            resolve(ip("127.0.0.1"), &trusted, XFF, &sent).ip,
            ip("127.0.0.1")
        );
        let none = headers(&[]);
        assert_eq!(
            resolve(ip("127.0.0.1"), &trusted, XFF, &none).ip,
            ip("127.0.0.1")
        );
        assert!(is_trusted(ip("::ffff:127.0.0.1"), &trusted), "v4-mapped");
    }
}

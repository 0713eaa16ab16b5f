//! Who the client really is: the connection's peer, or, from a trusted load balancer only, the
//! address and scheme its forwarding headers name. No I/O.
//!
//! The client is the right-most hop of `Forwarded` (RFC 7239) or `X-Forwarded-For` that is not
//! itself a trusted proxy: every hop to its right was added by a proxy we trust, while anything
//! to its left was written by the client and proves nothing.

use std::net::IpAddr;

use http::header::{HeaderMap, HeaderName};
use ipnet::IpNet;

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

/// The client behind a connection from `peer` that sent `headers`.
pub fn resolve(peer: IpAddr, trusted: &[IpNet], headers: &HeaderMap) -> Client {
    if !is_trusted(peer, trusted) {
        return Client {
            ip: canonical(peer),
            forwarded_proto: None,
        };
    }
    let forwarded = hops(headers, &http::header::FORWARDED, forwarded_for);
    let hops = if forwarded.is_empty() {
        hops(
            headers,
            &HeaderName::from_static("x-forwarded-for"),
            |item| Some(item.trim().to_owned()),
        )
    } else {
        forwarded
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
        let client = resolve(ip("198.51.100.1"), &nets(&["10.0.0.0/8"]), &sent);
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
        let client = resolve(ip("10.0.0.2"), &trusted, &sent);
        assert_eq!(client.ip, ip("203.0.113.9"));
        assert_eq!(client.forwarded_proto.as_deref(), Some("https"));
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_for_and_takes_ports_and_brackets() {
        let trusted = nets(&["127.0.0.0/8"]);
        let sent = headers(&[
            ("forwarded", r#"for="[2001:db8:cafe::17]:4711";proto=https"#),
            ("x-forwarded-for", "192.0.2.50"),
        ]);
        assert_eq!(
            resolve(ip("127.0.0.1"), &trusted, &sent).ip,
            ip("2001:db8:cafe::17")
        );
        let sent = headers(&[("forwarded", "for=192.0.2.60:1234;by=127.0.0.1")]);
        assert_eq!(
            resolve(ip("127.0.0.1"), &trusted, &sent).ip,
            ip("192.0.2.60")
        );
    }

    #[test]
    fn unknown_hops_stop_the_walk_and_no_header_means_the_peer() {
        let trusted = nets(&["127.0.0.0/8"]);
        let sent = headers(&[("x-forwarded-for", "203.0.113.1, unknown")]);
        assert_eq!(
            resolve(ip("127.0.0.1"), &trusted, &sent).ip,
            ip("127.0.0.1")
        );
        let none = headers(&[]);
        assert_eq!(
            resolve(ip("127.0.0.1"), &trusted, &none).ip,
            ip("127.0.0.1")
        );
        assert!(is_trusted(ip("::ffff:127.0.0.1"), &trusted), "v4-mapped");
    }
}

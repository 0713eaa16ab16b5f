//! The options of the browser-facing edge, typed: the limits on connections and sessions, and
//! who stands between browsers and the proxy.

use std::time::Duration;

use super::reader::Reader;
use super::settings::{Edge, ForwardedHeader, Limits};
use super::table as t;
use super::value::{parse_bool, parse_integer, parse_list, parse_networks, parse_seconds};

/// `[vncgate] trusted_proxies`, `proxy_protocol`, `forwarded_header`, `frame_ancestors`.
pub(super) fn edge(reader: &mut Reader) -> Edge {
    Edge {
        trusted_proxies: reader.typed(&t::TRUSTED_PROXIES, parse_networks),
        proxy_protocol: reader.typed(&t::PROXY_PROTOCOL, parse_bool),
        forwarded_header: reader.typed(&t::FORWARDED_HEADER, ForwardedHeader::from_name),
        frame_ancestors: reader
            .find(&t::FRAME_ANCESTORS)
            .map(|at| parse_list(&at.text)),
    }
}

/// The timeouts and caps.
pub(super) fn limits(reader: &mut Reader) -> Limits {
    let at_least_one = |text: &str| parse_integer(text, 1).map(|n| n as usize);
    Limits {
        connect_timeout: reader.typed(&t::CONNECT_TIMEOUT, parse_seconds),
        handshake_timeout: reader.typed(&t::HANDSHAKE_TIMEOUT, parse_seconds),
        ping_interval: reader.typed(&t::PING_INTERVAL, parse_seconds),
        client_timeout: reader.typed(&t::CLIENT_TIMEOUT, parse_seconds),
        max_message_size: reader.typed(&t::MAX_MESSAGE_SIZE, at_least_one),
        max_connections: reader.typed(&t::MAX_CONNECTIONS, at_least_one),
        shutdown_grace: reader.typed(&t::SHUTDOWN_GRACE, parse_seconds),
        max_connections_per_ip: reader.typed(&t::MAX_CONNECTIONS_PER_IP, |text| {
            parse_integer(text, 0).map(|n| n as usize)
        }),
        max_refusals_per_ip_per_minute: reader.typed(&t::MAX_REFUSALS_PER_IP_PER_MINUTE, |text| {
            parse_integer(text, 0).and_then(|n| {
                u32::try_from(n).map_err(|_| {
                    format!("{text:?} is too large; accepted values: 0 to {}", u32::MAX)
                })
            })
        }),
        session_recheck_interval: reader.typed(&t::SESSION_RECHECK_INTERVAL, parse_seconds),
        session_lease_timeout: reader.typed(&t::SESSION_LEASE_TIMEOUT, |text| {
            parse_seconds(text).and_then(|seconds| {
                if seconds < Duration::from_secs(3) {
                    Err(format!(
                        "{text:?} is too short; accepted values: 3 to 86400"
                    ))
                } else {
                    Ok(seconds)
                }
            })
        }),
    }
}

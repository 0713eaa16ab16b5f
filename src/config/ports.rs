//! The console kinds with ports of their own, one entry each in [`PORTS`]: the option that
//! enables the kind and where its port is configured. Binding, socket activation, reload and
//! the tests all follow `Settings::console_ports`, read from this table. A new console kind
//! with a port of its own is one entry here (and its options in the table), plus its backend.

use super::reader::Reader;
use super::settings::ConsolePort;
use super::table::{self as t, OptionSpec};
use super::value::{parse_bool, parse_port, parse_url};
use crate::console::ConsoleKind;

/// Where a kind's port is configured.
enum Listen {
    /// A host option and a port option.
    HostPort(OptionSpec, OptionSpec),
    /// The port of a public URL, on the console port's address (nova's `[mks]`).
    UrlPort(OptionSpec),
}

/// Every console kind with a port of its own: the option that enables it, and where it listens.
const PORTS: [(ConsoleKind, OptionSpec, Listen); 3] = [
    (
        ConsoleKind::Webmks,
        t::MKS_ENABLED,
        Listen::UrlPort(t::MKSPROXY_BASE_URL),
    ),
    (
        ConsoleKind::Serial,
        t::SERIAL_ENABLED,
        Listen::HostPort(t::SERIALPROXY_HOST, t::SERIALPROXY_PORT),
    ),
    (
        ConsoleKind::SpiceHtml5,
        t::SPICE_ENABLED,
        Listen::HostPort(t::HTML5PROXY_HOST, t::HTML5PROXY_PORT),
    ),
];

/// The options of every port, for reload: a change needs a restart.
pub const PORT_OPTIONS: [OptionSpec; 8] = [
    t::MKS_ENABLED,
    t::MKSPROXY_BASE_URL,
    t::SERIAL_ENABLED,
    t::SERIALPROXY_HOST,
    t::SERIALPROXY_PORT,
    t::SPICE_ENABLED,
    t::HTML5PROXY_HOST,
    t::HTML5PROXY_PORT,
];

/// The ports of the kinds enabled.
pub(super) fn console_ports(reader: &mut Reader) -> Vec<ConsolePort> {
    let mut ports = Vec::new();
    for (kind, enabled, listen) in &PORTS {
        if !reader.typed(enabled, parse_bool) {
            continue;
        }
        let (host, port) = match listen {
            Listen::HostPort(host, port) => {
                let host = reader.typed(host, |text| Ok(text.trim().to_owned()));
                (Some(host), reader.typed(port, parse_port))
            }
            Listen::UrlPort(url) => (None, reader.typed(url, url_port)),
        };
        ports.push(ConsolePort {
            kind: *kind,
            host,
            port,
        });
    }
    ports
}

/// The port of a URL (its scheme's default when it names none).
fn url_port(text: &str) -> Result<u16, String> {
    let url = parse_url(text)?;
    url::Url::parse(&url)
        .ok()
        .and_then(|url| url.port_or_known_default())
        .ok_or_else(|| format!("{text:?} names no port"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_port_option_is_restart_only_and_listed_for_reload() {
        for (_, enabled, listen) in &PORTS {
            let options = match listen {
                Listen::HostPort(host, port) => vec![*enabled, *host, *port],
                Listen::UrlPort(url) => vec![*enabled, *url],
            };
            for option in options {
                assert!(option.restart_only, "{}", option.label());
                assert!(PORT_OPTIONS.contains(&option), "{}", option.label());
            }
        }
        assert_eq!(PORT_OPTIONS.len(), 8);
    }
}

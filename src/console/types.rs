//! The plain types themselves: where a console lives and how it is reached, what kind it is,
//! how the proxy authenticates to it, secrets, and peer text made safe for a log. No I/O.

use std::fmt;
use std::path::Path;

use super::thumbprint::Thumbprint;

/// How a Unix socket target is written: `unix:/run/vm1.sock`.
const UNIX_PREFIX: &str = "unix:";
/// How a target named by its libvirt domain is written: `libvirt:vds1`.
const LIBVIRT_PREFIX: &str = "libvirt:";

/// Where a console lives: a TCP address, a Unix socket on this host (`host` is then
/// `unix:PATH` and `port` 0, so that every token store keeps it in the columns it has), or a
/// libvirt domain (`libvirt:NAME`, port 0), found when a session starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name or IP address (without brackets), or `unix:PATH`.
    pub host: String,
    /// TCP port; 0 for a Unix socket.
    pub port: u16,
}

impl Target {
    /// A console behind the Unix socket at `path`.
    pub fn unix(path: &Path) -> Self {
        Self {
            host: format!("{UNIX_PREFIX}{}", path.display()),
            port: 0,
        }
    }

    /// The socket's path, for a Unix socket target.
    pub fn unix_path(&self) -> Option<&Path> {
        match (self.host.strip_prefix(UNIX_PREFIX), self.port) {
            (Some(path), 0) => Some(Path::new(path)),
            _ => None,
        }
    }

    /// Whether it names a libvirt domain, to be found when a session starts.
    pub fn is_libvirt(&self) -> bool {
        self.port == 0 && self.host.starts_with(LIBVIRT_PREFIX)
    }

    /// A target as token sources write one: `host:port`, `[ipv6]:port`, `unix:/path` or
    /// `libvirt:DOMAIN` (`libvirt://HYPERVISOR/DOMAIN`).
    /// An unbracketed host with a colon is refused (`::1:5900` is ambiguous), as are an empty
    /// host, port 0, white space and a relative socket path.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Some(path) = text.strip_prefix(UNIX_PREFIX) {
            let path = Path::new(path);
            return path.is_absolute().then(|| Self::unix(path));
        }
        if let Some(domain) = text.strip_prefix(LIBVIRT_PREFIX) {
            let plain =
                !domain.trim_start_matches('/').is_empty() && !domain.contains(char::is_whitespace);
            return plain.then(|| Self {
                host: text.to_owned(),
                port: 0,
            });
        }
        let (host, port) = match text.strip_prefix('[') {
            Some(rest) => rest.split_once("]:")?,
            None => {
                let (host, port) = text.rsplit_once(':')?;
                (!host.contains(':')).then_some((host, port))?
            }
        };
        let port = port.parse::<u16>().ok().filter(|port| *port > 0)?;
        if host.is_empty() || host.contains(char::is_whitespace) {
            return None;
        }
        Some(Self {
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The host comes from a token row or file: printed safe for a log line.
        let host = printable(&self.host);
        if self.unix_path().is_some() || self.is_libvirt() {
            formatter.write_str(&host)
        } else if host.contains(':') {
            write!(formatter, "[{host}]:{}", self.port)
        } else {
            write!(formatter, "{host}:{}", self.port)
        }
    }
}

/// The kinds of console nova hands out, by its `console_type` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsoleKind {
    /// A VNC console shown by noVNC (`novnc`).
    Novnc,
    /// A VMware MKS console through ESXi's authd (`webmks`), relayed as it is.
    Webmks,
    /// A serial console (`serial`): the bytes of a QEMU socket chardev, relayed as they are.
    Serial,
    /// A SPICE console for spice-html5 (`spice-html5`): one WebSocket per SPICE channel,
    /// relayed as it is.
    SpiceHtml5,
}

impl ConsoleKind {
    /// Every kind vncgate serves.
    pub const ALL: [Self; 4] = [Self::Novnc, Self::Webmks, Self::Serial, Self::SpiceHtml5];

    /// nova's `console_type` value.
    pub fn nova_name(self) -> &'static str {
        match self {
            Self::Novnc => "novnc",
            Self::Webmks => "webmks",
            Self::Serial => "serial",
            Self::SpiceHtml5 => "spice-html5",
        }
    }

    /// The kind for a `console_type` value; `None` for kinds this proxy does not serve.
    pub fn from_nova_name(name: &str) -> Option<Self> {
        match name {
            "novnc" => Some(Self::Novnc),
            "webmks" => Some(Self::Webmks),
            "serial" => Some(Self::Serial),
            "spice-html5" => Some(Self::SpiceHtml5),
            _ => None,
        }
    }

    /// This kind alone, as the kinds a port admits.
    pub fn only(self) -> &'static [Self] {
        match self {
            Self::Novnc => &[Self::Novnc],
            Self::Webmks => &[Self::Webmks],
            Self::Serial => &[Self::Serial],
            Self::SpiceHtml5 => &[Self::SpiceHtml5],
        }
    }

    /// Whether the console speaks RFB, so that the security proxy runs in front of it.
    pub fn is_rfb(self) -> bool {
        match self {
            Self::Novnc => true,
            Self::Webmks | Self::Serial | Self::SpiceHtml5 => false,
        }
    }
}

impl fmt::Display for ConsoleKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.nova_name())
    }
}

/// How the proxy reaches a console server beyond its address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Reach {
    /// TCP to the target.
    #[default]
    Direct,
    /// A WebMKS ticket URL, `wss://HOST:PORT/ticket/TICKET`: TLS accepted only with the pinned
    /// certificate, then a WebSocket on the ticket's path with RFB inside.
    WebMks {
        /// The URL's path: it holds the one-shot ticket.
        path: Secret,
        /// The ESXi host's certificate.
        thumbprint: Thumbprint,
    },
    /// VMware's authd on the ESXi host (nova's `webmks` rows): TLS pinned to `thumbprint`, the
    /// ticket as user and password, then the VM's MKS service.
    Authd {
        /// The one-shot ticket.
        ticket: Secret,
        /// The VM's configuration file on the host, as `AcquireTicket` names it.
        cfg_file: String,
        /// The host's certificate.
        thumbprint: Thumbprint,
    },
}

/// A backend security scheme named in `[vnc] auth_schemes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthScheme {
    /// RFB security type 1: no authentication, no encryption.
    None,
    /// RFB security type 19, VeNCrypt 0.2 with subtype X509None: TLS with certificates.
    Vencrypt,
    /// RFB security type 2: DES challenge-response with a password the proxy holds.
    Vnc,
}

impl AuthScheme {
    /// The names accepted in `auth_schemes`.
    pub const NAMES: [&'static str; 3] = ["none", "vencrypt", "vnc"];

    /// The scheme for a config word.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "none" => Some(Self::None),
            "vencrypt" => Some(Self::Vencrypt),
            "vnc" => Some(Self::Vnc),
            _ => None,
        }
    }

    /// The config word for this scheme.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Vencrypt => "vencrypt",
            Self::Vnc => "vnc",
        }
    }

    /// How strong a scheme is against a man in the middle: VeNCrypt (TLS, verified) over VNC's
    /// DES challenge (readable, crackable offline) over none.
    pub fn strength(self) -> u8 {
        match self {
            Self::Vencrypt => 2,
            Self::Vnc => 1,
            Self::None => 0,
        }
    }

    /// The first weaker scheme listed after a stronger one, if any: a fallback an attacker who
    /// can answer for the server may choose.
    pub fn downgrade_in(schemes: &[Self]) -> Option<(Self, Self)> {
        schemes.iter().enumerate().find_map(|(index, stronger)| {
            schemes
                .iter()
                .skip(index + 1)
                .find(|weaker| weaker.strength() < stronger.strength())
                .map(|weaker| (*stronger, *weaker))
        })
    }
}

/// A peer's text made safe to log: control characters (a `\n` would forge a log line, an
/// escape sequence would repaint a terminal) and Unicode's invisible direction overrides are
/// written as escapes.
pub fn printable(text: &str) -> String {
    let mut safe = String::with_capacity(text.len());
    for c in text.chars() {
        let invisible = matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || invisible {
            safe.extend(c.escape_default());
        } else {
            safe.push(c);
        }
    }
    safe
}

/// A string that never reaches a log: `Debug` prints `MASKED`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("MASKED")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_print_ipv6_in_brackets() {
        let v4 = Target {
            host: "10.0.0.1".into(),
            port: 5900,
        };
        let v6 = Target {
            host: "::1".into(),
            port: 5901,
        };
        assert_eq!(v4.to_string(), "10.0.0.1:5900");
        assert_eq!(v6.to_string(), "[::1]:5901");
    }

    #[test]
    fn secrets_are_masked() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "MASKED");
    }

    #[test]
    fn weaker_after_stronger_is_a_downgrade() {
        use AuthScheme::{None as Plain, Vencrypt, Vnc};
        assert_eq!(
            AuthScheme::downgrade_in(&[Vencrypt, Vnc]),
            Some((Vencrypt, Vnc))
        );
        assert_eq!(AuthScheme::downgrade_in(&[Vnc, Plain]), Some((Vnc, Plain)));
        assert_eq!(AuthScheme::downgrade_in(&[Plain, Vencrypt]), None);
        assert_eq!(AuthScheme::downgrade_in(&[Vencrypt]), None);
    }

    #[test]
    fn console_kinds_round_trip_nova_names() {
        assert_eq!(
            ConsoleKind::from_nova_name("novnc"),
            Some(ConsoleKind::Novnc)
        );
        assert_eq!(
            ConsoleKind::from_nova_name("webmks"),
            Some(ConsoleKind::Webmks)
        );
        assert_eq!(
            ConsoleKind::from_nova_name("serial"),
            Some(ConsoleKind::Serial)
        );
        assert_eq!(
            ConsoleKind::from_nova_name("spice-html5"),
            Some(ConsoleKind::SpiceHtml5)
        );
        assert_eq!(ConsoleKind::from_nova_name("rdp-html5"), None);
        assert_eq!(ConsoleKind::Novnc.to_string(), "novnc");
    }
}

//! How tokens name domains (`libvirt:NAME`, `libvirt:UUID`, `libvirt://HYPERVISOR/NAME`), the
//! hypervisors of `[libvirt] uris`, and where a domain's console is reached from this proxy.

use std::path::PathBuf;
use std::time::Duration;

use super::error::Error;
use super::xml;
use crate::console::{AuthScheme, ConsoleKind, Target};

/// How a token names a domain.
const PREFIX: &str = "libvirt:";

/// One hypervisor of `[libvirt] uris`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hypervisor {
    /// Its name in `libvirt://NAME/DOMAIN` and `vncgate domains list`.
    pub name: String,
    /// Its connection URI.
    pub uri: String,
    /// Whether its `qemu.conf` has `vnc_tls = 1` (`[libvirt] vnc_tls`): the live XML does not
    /// say, and a proxy that knows can refuse anything but VeNCrypt toward its guests.
    pub vnc_tls: bool,
}

impl Hypervisor {
    /// An entry of `uris`: `NAME=URI`, or a URI named by its host (`local` without one).
    pub fn parse(entry: &str) -> Option<Self> {
        let entry = entry.trim();
        let (name, uri) = match entry.split_once('=') {
            Some((name, uri)) if !name.contains(':') && !name.contains('/') => {
                (name.trim().to_owned(), uri.trim())
            }
            _ => (String::new(), entry),
        };
        let parsed = url::Url::parse(uri).ok()?;
        let name = if name.is_empty() {
            parsed.host_str().unwrap_or("local").to_owned()
        } else {
            name
        };
        Some(Self {
            name,
            uri: uri.to_owned(),
            vnc_tls: false,
        })
    }

    /// The host its graphics listen on when they listen on every address: the URI's host, or
    /// loopback for a local hypervisor.
    pub(super) fn address(&self) -> String {
        url::Url::parse(&self.uri)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .filter(|host| !host.is_empty())
            .unwrap_or_else(|| "127.0.0.1".to_owned())
    }

    /// Whether it runs on this host (a socket it names is reachable).
    pub(super) fn is_local(&self) -> bool {
        url::Url::parse(&self.uri).is_ok_and(|url| url.host_str().is_none_or(str::is_empty))
    }
}

/// What `[libvirt]` says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LibvirtSettings {
    /// The hypervisors asked, in order.
    pub hypervisors: Vec<Hypervisor>,
    /// libvirt's client PKI layout (`cacert.pem`, `clientcert.pem`, `clientkey.pem`) for
    /// `qemu+tls://` URIs.
    pub pki_path: Option<PathBuf>,
    /// The deadline of each libvirt call.
    pub timeout: Duration,
}

/// A domain a token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainRef {
    /// The hypervisor, when the token names one.
    pub hypervisor: Option<String>,
    /// The domain's name or UUID.
    pub domain: String,
}

impl DomainRef {
    /// The domain `target` names, if it is a `libvirt:` target.
    pub fn of(target: &Target) -> Option<Self> {
        if target.port != 0 {
            return None;
        }
        let rest = target.host.strip_prefix(PREFIX)?;
        let (hypervisor, domain) = match rest.strip_prefix("//") {
            Some(path) => {
                let (hypervisor, domain) = path.split_once('/')?;
                (Some(hypervisor.to_owned()), domain)
            }
            None => (None, rest),
        };
        let plain = !domain.is_empty()
            && domain.len() <= 256
            && !domain.contains(|c: char| c.is_control() || c == '/');
        plain.then(|| Self {
            hypervisor,
            domain: domain.to_owned(),
        })
    }
}

/// A console found for a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Where to connect.
    pub target: Target,
    /// A SPICE console's TLS port.
    pub tls_port: Option<u16>,
    /// Whether the console's own stream is TLS: a serial chardev with `tls='yes'`, a SPICE
    /// server with a TLS port. It decides instead of `serial_tls` and `spice_tls`.
    pub tls: bool,
    /// VeNCrypt only, toward a VNC server on a `vnc_tls` hypervisor; `None`: the
    /// configuration's schemes.
    pub schemes: Option<Vec<AuthScheme>>,
}

/// The console of `kind` in `consoles`, as reached from this proxy.
pub(super) fn pick(
    hypervisor: &Hypervisor,
    consoles: &xml::Consoles,
    kind: ConsoleKind,
) -> Result<Found, Error> {
    let address = |listen: &str| match listen {
        "0.0.0.0" | "::" | "" => hypervisor.address(),
        other => other.to_owned(),
    };
    let graphics = match kind {
        ConsoleKind::Novnc => consoles.vnc.as_ref(),
        ConsoleKind::SpiceHtml5 => consoles.spice.as_ref(),
        ConsoleKind::Serial => {
            let serial = consoles.serial.as_ref().ok_or(Error::NoConsole(kind))?;
            return Ok(Found {
                target: Target {
                    host: address(&serial.host),
                    port: serial.port,
                },
                tls_port: None,
                tls: serial.tls,
                schemes: None,
            });
        }
        ConsoleKind::Webmks => None,
    };
    let graphics = graphics.ok_or(Error::NoConsole(kind))?;
    let target = match (&graphics.listen, graphics.port.or(graphics.tls_port)) {
        (xml::Listen::Socket(path), _) if hypervisor.is_local() => {
            Target::unix(std::path::Path::new(path))
        }
        // The plain port, or a SPICE server's TLS port when it has only that.
        (xml::Listen::Address(listen), Some(port)) => Target {
            host: address(listen),
            port,
        },
        _ => return Err(Error::NoConsole(kind)),
    };
    let vencrypt_only = kind == ConsoleKind::Novnc && hypervisor.vnc_tls;
    Ok(Found {
        target,
        tls_port: graphics.tls_port,
        tls: graphics.tls_port.is_some(),
        schemes: vencrypt_only.then(|| vec![AuthScheme::Vencrypt]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_references() {
        let target = |host: &str| Target {
            host: host.into(),
            port: 0,
        };
        assert_eq!(
            DomainRef::of(&target("libvirt:vds1")),
            Some(DomainRef {
                hypervisor: None,
                domain: "vds1".into()
            })
        );
        assert_eq!(
            DomainRef::of(&target("libvirt://kvm2/web-1")),
            Some(DomainRef {
                hypervisor: Some("kvm2".into()),
                domain: "web-1".into()
            })
        );
        assert_eq!(DomainRef::of(&target("libvirt:")), None);
        assert_eq!(DomainRef::of(&target("libvirt://kvm2/a/b")), None);
        assert_eq!(
            DomainRef::of(&Target {
                host: "libvirt:x".into(),
                port: 5900
            }),
            None
        );
    }

    #[test]
    fn hypervisors_and_where_their_consoles_are() {
        let local = Hypervisor::parse("qemu:///system").expect("uri");
        assert_eq!(local.name, "local");
        let remote = Hypervisor::parse("kvm2=qemu+tls://10.0.0.12/system").expect("uri");
        assert_eq!(
            (remote.name.as_str(), remote.address()),
            ("kvm2", "10.0.0.12".into())
        );
        assert_eq!(
            Hypervisor::parse("qemu+tcp://10.0.0.13/system").map(|h| h.name),
            Some("10.0.0.13".into())
        );
        let consoles = xml::Consoles {
            vnc: Some(xml::Graphics {
                port: Some(5901),
                tls_port: None,
                listen: xml::Listen::Address("0.0.0.0".into()),
            }),
            ..xml::Consoles::default()
        };
        let found = pick(&remote, &consoles, ConsoleKind::Novnc).expect("vnc");
        assert_eq!(found.target.to_string(), "10.0.0.12:5901");
        assert_eq!(found.schemes, None);
        let tls_host = Hypervisor {
            vnc_tls: true,
            ..remote.clone()
        };
        let found = pick(&tls_host, &consoles, ConsoleKind::Novnc).expect("vnc");
        assert_eq!(found.schemes, Some(vec![AuthScheme::Vencrypt]));
        assert!(matches!(
            pick(&remote, &consoles, ConsoleKind::Serial),
            Err(Error::NoConsole(ConsoleKind::Serial))
        ));
        // A graphics socket is reachable only on this host.
        let socket = xml::Consoles {
            vnc: Some(xml::Graphics {
                port: None,
                tls_port: None,
                listen: xml::Listen::Socket("/run/libvirt/qemu/vm.sock".into()),
            }),
            ..xml::Consoles::default()
        };
        let found = pick(&local, &socket, ConsoleKind::Novnc).expect("local socket");
        assert_eq!(found.target.to_string(), "unix:/run/libvirt/qemu/vm.sock");
        assert!(matches!(
            pick(&remote, &socket, ConsoleKind::Novnc),
            Err(Error::NoConsole(ConsoleKind::Novnc))
        ));
    }
}

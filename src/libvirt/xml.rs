//! What a domain's live XML says about its consoles: the VNC and SPICE graphics (port, TLS
//! port, listen address or socket) and the serial ports bound to TCP, with their TLS. No I/O:
//! the XML comes from `virDomainGetXMLDesc`.
//!
//! libvirt writes `tls='yes'` on a running domain's TCP chardev when `chardev_tls` applies, and a
//! SPICE server's `tlsPort`; it writes nothing for `vnc_tls`, which the proxy learns from
//! `[libvirt] vnc_tls` instead.

use roxmltree::{Document, Node};

/// Where a console of a running domain listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// A TCP address (as written: `0.0.0.0` and `::` mean every address of the host).
    Address(String),
    /// A Unix socket on the hypervisor.
    Socket(String),
}

/// A graphics console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graphics {
    /// The plain port; `None` when there is none (`-1`, or a socket).
    pub port: Option<u16>,
    /// The TLS port (SPICE).
    pub tls_port: Option<u16>,
    /// Where it listens.
    pub listen: Listen,
}

/// A serial port bound to TCP by QEMU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialPort {
    /// The bind address.
    pub host: String,
    /// The port.
    pub port: u16,
    /// Whether QEMU speaks TLS on it (`tls='yes'`: `chardev_tls` or the domain's own setting).
    pub tls: bool,
}

/// Every console the XML describes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consoles {
    /// The first `<graphics type='vnc'>`.
    pub vnc: Option<Graphics>,
    /// The first `<graphics type='spice'>`.
    pub spice: Option<Graphics>,
    /// The first `<serial type='tcp'>` in bind mode.
    pub serial: Option<SerialPort>,
}

/// Why the XML could not be read.
#[derive(Debug, thiserror::Error)]
#[error("the domain XML does not parse")]
pub struct BadXml(#[source] roxmltree::Error);

/// The consoles of `xml`, a live domain's description.
///
/// # Errors
/// The text is not XML.
pub fn consoles(xml: &str) -> Result<Consoles, BadXml> {
    let document = Document::parse(xml).map_err(BadXml)?;
    let devices = document
        .descendants()
        .find(|node| node.has_tag_name("devices"));
    let mut found = Consoles::default();
    for node in devices.iter().flat_map(|devices| devices.children()) {
        match (node.tag_name().name(), node.attribute("type")) {
            ("graphics", Some("vnc")) if found.vnc.is_none() => found.vnc = graphics(node),
            ("graphics", Some("spice")) if found.spice.is_none() => found.spice = graphics(node),
            ("serial", Some("tcp")) if found.serial.is_none() => found.serial = serial(node),
            _ => {}
        }
    }
    Ok(found)
}

fn port(node: Node<'_, '_>, name: &str) -> Option<u16> {
    node.attribute(name)?.parse().ok().filter(|port| *port > 0)
}

fn graphics(node: Node<'_, '_>) -> Option<Graphics> {
    let child = node.children().find(|c| c.has_tag_name("listen"));
    let listen = match child.and_then(|c| c.attribute("type")) {
        Some("socket") => Listen::Socket(child?.attribute("socket")?.to_owned()),
        Some("none") => return None,
        _ => match node.attribute("socket") {
            Some(socket) => Listen::Socket(socket.to_owned()),
            None => Listen::Address(
                child
                    .and_then(|c| c.attribute("address"))
                    .or_else(|| node.attribute("listen"))
                    .unwrap_or("127.0.0.1")
                    .to_owned(),
            ),
        },
    };
    Some(Graphics {
        port: port(node, "port"),
        tls_port: port(node, "tlsPort"),
        listen,
    })
}

fn serial(node: Node<'_, '_>) -> Option<SerialPort> {
    let source = node
        .children()
        .find(|c| c.has_tag_name("source") && c.attribute("mode") == Some("bind"))?;
    Some(SerialPort {
        host: source.attribute("host").unwrap_or("127.0.0.1").to_owned(),
        port: port(source, "service")?,
        tls: source.attribute("tls") == Some("yes"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUNNING: &str = r#"<domain type='qemu' id='3'>
      <name>vds1</name>
      <devices>
        <serial type='tcp'>
          <source mode='bind' host='127.0.0.1' service='4555'/>
          <protocol type='raw'/>
          <target type='isa-serial' port='0'/>
        </serial>
        <graphics type='vnc' port='5903' autoport='yes' listen='127.0.0.1'>
          <listen type='address' address='127.0.0.1'/>
        </graphics>
        <graphics type='spice' port='5904' tlsPort='5905' autoport='yes' listen='0.0.0.0'>
          <listen type='address' address='0.0.0.0'/>
        </graphics>
      </devices>
    </domain>"#;

    #[test]
    fn the_live_ports_of_each_console() {
        let found = consoles(RUNNING).expect("xml");
        assert_eq!(
            found.vnc,
            Some(Graphics {
                port: Some(5903),
                tls_port: None,
                listen: Listen::Address("127.0.0.1".into())
            })
        );
        let spice = found.spice.expect("spice");
        assert_eq!((spice.port, spice.tls_port), (Some(5904), Some(5905)));
        assert_eq!(spice.listen, Listen::Address("0.0.0.0".into()));
        assert_eq!(
            found.serial,
            Some(SerialPort {
                host: "127.0.0.1".into(),
                port: 4555,
                tls: false
            })
        );
    }

    #[test]
    fn an_inactive_port_a_socket_and_bad_xml() {
        let stopped =
            "<domain><devices><graphics type='vnc' port='-1' autoport='yes'/></devices></domain>";
        assert_eq!(
            consoles(stopped).expect("xml").vnc.and_then(|g| g.port),
            None
        );
        let socket = "<domain><devices><graphics type='vnc'><listen type='socket' socket='/run/vm.sock'/></graphics></devices></domain>";
        assert_eq!(
            consoles(socket).expect("xml").vnc.map(|g| g.listen),
            Some(Listen::Socket("/run/vm.sock".into()))
        );
        assert!(consoles("<domain><devices>").is_err());
        let tls = "<domain><devices><serial type='tcp'><source mode='bind' host='127.0.0.1' service='4591' tls='yes'/></serial></devices></domain>";
        assert_eq!(
            consoles(tls).expect("xml").serial.map(|s| s.tls),
            Some(true)
        );
    }
}

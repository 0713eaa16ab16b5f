//! HAProxy's PROXY protocol header (v1 text or v2 binary), read from a trusted load balancer
//! before anything else on the connection, parsed with the `ppp` crate. Exactly the header's
//! bytes are read, so what follows (a TLS ClientHello, an HTTP request) stays in the socket.

#![allow(
    clippy::indexing_slicing,
    reason = "offsets come from lengths this framer checked first; fuzzed under fuzz/"
)]

use std::net::{IpAddr, SocketAddr};

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// The v2 signature (spec §2.2).
const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// Longest v1 line: "PROXY TCP6 " + two addresses and ports + CRLF (spec §2.1).
const V1_MAX: usize = 107;
/// Largest v2 body accepted: the addresses plus room for the TLVs HAProxy sends.
const V2_MAX_BODY: usize = 2048;

/// Why a header was refused.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The connection ended or failed before the header was whole.
    #[error("reading the PROXY header failed")]
    Io(#[from] std::io::Error),
    /// Neither a v1 nor a v2 header.
    #[error("no PROXY protocol header from a trusted proxy")]
    Missing,
    /// Started like one, but did not parse.
    #[error("malformed PROXY protocol header: {0}")]
    Malformed(String),
}

/// Reads the header and returns the client address it names, or `None` for a header that names
/// none (v2 LOCAL, as in health checks; v1 UNKNOWN; a UNIX socket): the peer is then the client.
///
/// # Errors
/// No header, a malformed one, or the connection failing while it is read.
pub async fn read(tcp: &mut TcpStream) -> Result<Option<SocketAddr>, Error> {
    let mut head = [0u8; 12];
    tcp.read_exact(&mut head).await?;
    if head == V2_SIGNATURE {
        let mut fixed = [0u8; 4];
        tcp.read_exact(&mut fixed).await?;
        let length = usize::from(u16::from_be_bytes([fixed[2], fixed[3]]));
        if length > V2_MAX_BODY {
            return Err(Error::Malformed(format!("v2 body of {length} bytes")));
        }
        let mut whole = Vec::with_capacity(16 + length);
        whole.extend_from_slice(&head);
        whole.extend_from_slice(&fixed);
        whole.resize(16 + length, 0);
        tcp.read_exact(&mut whole[16..]).await?;
        return v2(&whole);
    }
    if !head.starts_with(b"PROXY ") {
        return Err(Error::Missing);
    }
    let mut line = head.to_vec();
    while !line.ends_with(b"\r\n") {
        if line.len() >= V1_MAX {
            return Err(Error::Malformed("v1 line too long".into()));
        }
        // Byte by byte: nothing past the CRLF may be taken from the socket.
        line.push(tcp.read_u8().await?);
    }
    v1(&line)
}

fn v2(bytes: &[u8]) -> Result<Option<SocketAddr>, Error> {
    use ppp::v2::{Addresses, Command, Header};
    let header = Header::try_from(bytes).map_err(|e| Error::Malformed(e.to_string()))?;
    if header.command == Command::Local {
        return Ok(None);
    }
    Ok(match header.addresses {
        Addresses::IPv4(ip) => Some(SocketAddr::new(
            IpAddr::V4(ip.source_address),
            ip.source_port,
        )),
        Addresses::IPv6(ip) => Some(SocketAddr::new(
            IpAddr::V6(ip.source_address),
            ip.source_port,
        )),
        Addresses::Unspecified | Addresses::Unix(_) => None,
    })
}

fn v1(bytes: &[u8]) -> Result<Option<SocketAddr>, Error> {
    use ppp::v1::{Addresses, Header};
    let header = Header::try_from(bytes).map_err(|e| Error::Malformed(e.to_string()))?;
    Ok(match header.addresses {
        Addresses::Tcp4(ip) => Some(SocketAddr::new(
            IpAddr::V4(ip.source_address),
            ip.source_port,
        )),
        Addresses::Tcp6(ip) => Some(SocketAddr::new(
            IpAddr::V6(ip.source_address),
            ip.source_port,
        )),
        Addresses::Unknown => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_lines_name_the_client() {
        let line = b"PROXY TCP4 203.0.113.7 127.0.0.1 51234 6080\r\n";
        assert_eq!(
            v1(line).ok().flatten(),
            "203.0.113.7:51234".parse::<SocketAddr>().ok()
        );
        assert_eq!(v1(b"PROXY UNKNOWN\r\n").ok(), Some(None));
        assert!(v1(b"PROXY TCP4 nonsense\r\n").is_err());
    }

    #[test]
    fn v2_headers_name_the_client_and_local_names_none() {
        let mut header = V2_SIGNATURE.to_vec();
        // Version 2, PROXY; TCP over IPv4; 12 bytes of addresses.
        header.extend_from_slice(&[0x21, 0x11, 0, 12]);
        header.extend_from_slice(&[198, 51, 100, 4, 127, 0, 0, 1]);
        header.extend_from_slice(&[0xc8, 0x3c, 0x17, 0xc0]);
        assert_eq!(
            v2(&header).ok().flatten(),
            "198.51.100.4:51260".parse::<SocketAddr>().ok()
        );
        let mut local = V2_SIGNATURE.to_vec();
        local.extend_from_slice(&[0x20, 0x00, 0, 0]);
        assert_eq!(v2(&local).ok(), Some(None));
    }
}

//! The plain TCP transport: a connect with a deadline, Nagle off (RFB sends small messages that
//! must not wait).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

use super::error::Error;
use crate::console::Target;

/// Connects to `target` within `timeout`: to `addresses` when they were resolved and checked
/// before (so that a second name lookup cannot lead elsewhere), else by name.
///
/// # Errors
/// [`Error::Connect`]: refused, unreachable, unresolvable or timed out.
pub async fn connect(
    target: &Target,
    addresses: Option<&[SocketAddr]>,
    timeout: Duration,
) -> Result<TcpStream, Error> {
    let connect = async {
        match addresses {
            Some(addresses) => TcpStream::connect(addresses).await,
            None => TcpStream::connect((target.host.as_str(), target.port)).await,
        }
    };
    let tcp = match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(error)) => return Err(Error::Connect(error)),
        Err(_) => return Err(Error::Connect(io::ErrorKind::TimedOut.into())),
    };
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

/// The addresses of `target` within `timeout`.
///
/// # Errors
/// [`Error::Resolve`]: no address, or no answer in time.
pub async fn resolve(target: &Target, timeout: Duration) -> Result<Vec<SocketAddr>, Error> {
    let lookup = tokio::net::lookup_host((target.host.as_str(), target.port));
    let failed = |source: io::Error| Error::Resolve {
        host: target.host.clone(),
        source,
    };
    match tokio::time::timeout(timeout, lookup).await {
        Ok(Ok(found)) => {
            let found: Vec<SocketAddr> = found.collect();
            if found.is_empty() {
                Err(failed(io::Error::new(
                    io::ErrorKind::NotFound,
                    "no address",
                )))
            } else {
                Ok(found)
            }
        }
        Ok(Err(source)) => Err(failed(source)),
        Err(_) => Err(failed(io::ErrorKind::TimedOut.into())),
    }
}

//! The plain TCP transport: a connect with a deadline, Nagle off (RFB sends small messages that
//! must not wait).

use std::time::Duration;

use tokio::net::TcpStream;

use super::error::Error;
use crate::console::Target;

/// Connects to `target` within `timeout`.
///
/// # Errors
/// [`Error::Connect`]: refused, unreachable, unresolvable or timed out.
pub async fn connect(target: &Target, timeout: Duration) -> Result<TcpStream, Error> {
    let connect = TcpStream::connect((target.host.as_str(), target.port));
    let tcp = match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(error)) => return Err(Error::Connect(error.to_string())),
        Err(_) => return Err(Error::Connect("timed out".into())),
    };
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

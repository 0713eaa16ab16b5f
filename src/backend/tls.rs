//! The backends' TLS handshakes as a client, each within the phase's deadline.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

/// How a TLS handshake as a client failed.
#[derive(Debug)]
pub(super) enum Handshake {
    /// The deadline passed first.
    TimedOut,
    /// The handshake failed.
    Failed(std::io::Error),
}

/// A TLS handshake as a client with `config` for `name` over `stream`, within `deadline`: the
/// one place the backends' TLS starts.
pub(super) async fn tls_within<S>(
    config: Arc<rustls::ClientConfig>,
    name: rustls_pki_types::ServerName<'static>,
    stream: S,
    deadline: Instant,
) -> Result<tokio_rustls::client::TlsStream<S>, Handshake>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let connecting = tokio_rustls::TlsConnector::from(config).connect(name, stream);
    match tokio::time::timeout_at(deadline, connecting).await {
        Err(_) => Err(Handshake::TimedOut),
        Ok(Err(error)) => Err(Handshake::Failed(error)),
        Ok(Ok(tls)) => Ok(tls),
    }
}

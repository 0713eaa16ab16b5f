//! A WebMKS ticket URL: TLS to the ESXi host accepted only with the pinned certificate, then a
//! WebSocket on the ticket's path with subprotocol `binary`, as VMware's own clients open it.
//! RFB runs inside, so the security proxy takes it from there.

use super::tls::{tls_within, Handshake};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, protocol::WebSocketConfig};

use super::error::Error;
use super::pinned;
use super::ws_bytes::WsBytes;
use crate::console::{Secret, Target, Thumbprint};

/// The ticket's WebSocket, as bytes.
pub type TicketStream = WsBytes<TlsStream<TcpStream>>;

/// Opens the ticket's WebSocket on `tcp`, within `deadline`.
///
/// # Errors
/// [`Error::Thumbprint`] for another certificate, [`Error::TicketRefused`] for an HTTP answer
/// (an expired or used ticket), [`Error::WebSocket`] for any other refusal, [`Error::Tls`],
/// [`Error::Timeout`].
pub async fn open(
    tcp: TcpStream,
    target: &Target,
    path: &Secret,
    thumbprint: &Thumbprint,
    deadline: Instant,
) -> Result<TicketStream, Error> {
    let config = pinned::client_config(thumbprint.clone(), Some(b"http/1.1"))
        .map_err(Error::PinnedConfig)?;
    let name = pinned::server_name(&target.host);
    let tls = match tls_within(config, name, tcp, deadline).await {
        Err(Handshake::TimedOut) => {
            return Err(Error::Timeout("the TLS handshake with the WebMKS host"))
        }
        Ok(tls) => tls,
        Err(Handshake::Failed(error)) => {
            return Err(match pinned::mismatch(&error) {
                Some(mismatch) => Error::Thumbprint(mismatch.presented.clone()),
                None => Error::Tls(error),
            })
        }
    };
    let host = if target.host.contains(':') {
        format!("[{}]", target.host)
    } else {
        target.host.clone()
    };
    let url = format!("wss://{host}:{}{}", target.port, path.expose());
    // The URL holds the ticket: its parse error is reported without it.
    let mut request = url.into_client_request().map_err(|_| Error::BadTicketUrl)?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("binary"));
    let config = WebSocketConfig::default()
        .max_message_size(Some(16 << 20))
        .max_frame_size(Some(16 << 20));
    let upgrading = tokio_tungstenite::client_async_with_config(request, tls, Some(config));
    match tokio::time::timeout_at(deadline, upgrading).await {
        Err(_) => Err(Error::Timeout("the WebMKS WebSocket upgrade")),
        Ok(Ok((ws, _))) => Ok(WsBytes::new(ws)),
        // ESXi answers a used or expired ticket with a 4xx; any other answer is not an upgrade.
        Ok(Err(tungstenite::Error::Http(response))) if response.status().is_client_error() => {
            Err(Error::TicketRefused(response.status().as_u16()))
        }
        Ok(Err(tungstenite::Error::Http(response))) => {
            Err(Error::NotUpgraded(response.status().as_u16()))
        }
        Ok(Err(tungstenite::Error::Url(_))) => Err(Error::BadTicketUrl),
        Ok(Err(error)) => Err(Error::WebSocket(error)),
    }
}

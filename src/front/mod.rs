//! The browser-facing server: accepts connections, tells TLS from plain by the first byte, and
//! serves HTTP/1.1 on each with upgrades, under a connection cap and a shutdown signal.

pub(crate) mod http;
pub mod stream;
pub mod upgrade;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::services::ServeDir;

use crate::config::Settings;
use crate::token::TokenStore;
use stream::{is_tls, sniff, FrontStream, Sniffed};
use tokio_util::either::Either;

/// What every connection and session shares.
pub(crate) struct Shared {
    pub(crate) settings: Settings,
    pub(crate) tokens: TokenStore,
    pub(crate) static_files: Option<ServeDir>,
    /// The noVNC library, served under `/novnc/`.
    pub(crate) novnc_files: Option<ServeDir>,
    pub(crate) tls: Option<TlsAcceptor>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tracker: TaskTracker,
    pub(crate) next_session: AtomicU64,
    pub(crate) websocket: WebSocketConfig,
    pub(crate) connector: crate::rfb::driver::Connector,
}

/// One accepted browser connection.
pub(crate) struct Connection {
    pub(crate) peer: SocketAddr,
    pub(crate) tls: bool,
    /// Held until the connection, and any session upgraded from it, ends.
    _permit: OwnedSemaphorePermit,
}

/// Accepts until `shutdown`, then returns; connections already accepted finish on their own.
pub(crate) async fn serve(shared: Arc<Shared>, listener: TcpListener) {
    let limit = Arc::new(Semaphore::new(shared.settings.limits.max_connections));
    loop {
        let permit = tokio::select! {
            permit = limit.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                // The semaphore is never closed, so this does not happen; stop if it does.
                Err(_) => return,
            },
            () = shared.shutdown.cancelled() => return,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shared.shutdown.cancelled() => return,
        };
        match accepted {
            Ok((tcp, peer)) => {
                shared
                    .tracker
                    .spawn(connection(shared.clone(), tcp, peer, permit));
            }
            Err(error) => {
                // Out of file descriptors, mostly: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn connection(
    shared: Arc<Shared>,
    tcp: TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
) {
    let _ = tcp.set_nodelay(true);
    let deadline = shared.settings.limits.handshake_timeout;
    let stream: FrontStream = match &shared.tls {
        None => Either::Left(tcp),
        Some(acceptor) => {
            let mut first = [0u8; 1];
            match tokio::time::timeout(deadline, tcp.peek(&mut first)).await {
                Ok(Ok(1)) => {}
                Ok(Ok(_)) | Ok(Err(_)) => return,
                Err(_) => {
                    tracing::debug!(%peer, "closed: nothing received before the deadline");
                    return;
                }
            }
            match sniff(first[0]) {
                Sniffed::Plain => Either::Left(tcp),
                Sniffed::Tls => match tokio::time::timeout(deadline, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => Either::Right(Box::new(tls)),
                    Ok(Err(error)) => {
                        tracing::info!(%peer, %error, "refused: TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::info!(%peer, "refused: TLS handshake timed out");
                        return;
                    }
                },
            }
        }
    };
    let connection = Arc::new(Connection {
        peer,
        tls: is_tls(&stream),
        _permit: permit,
    });
    let service = {
        let shared = shared.clone();
        service_fn(move |request| http::handle(shared.clone(), connection.clone(), request))
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(deadline)
        .max_buf_size(64 * 1024);
    let serving = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(serving);
    tokio::select! {
        result = serving.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%peer, %error, "HTTP connection ended with an error");
            }
        }
        () = shared.shutdown.cancelled() => {
            serving.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(deadline, serving).await;
        }
    }
}

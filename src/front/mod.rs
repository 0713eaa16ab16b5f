//! The browser-facing server: accepts connections, tells TLS from plain by the first byte, and
//! serves HTTP/1.1 on each with upgrades, under a connection cap and a shutdown signal.

mod admit;
pub mod client;
mod consoles;
mod context;
pub mod headers;
pub(crate) mod http;
pub mod limiter;
mod locate;
pub mod pages;
mod preload;
pub mod proxy_header;
mod response;
mod signin;
pub mod stream;
pub mod upgrade;

use crate::chain::chain;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::either::Either;

use crate::console::ConsoleKind;

use context::Connection;
pub use context::Front;
use stream::{is_tls, sniff, FrontStream, Sniffed};

/// Accepts until `shutdown`, then returns; connections already accepted finish on their own.
/// Each connection takes the [`Front`] current at its accept: a reload swaps it for new
/// connections, and the old one lives on with the connections that hold it.
///
/// `serves` names the console kinds whose tokens this port admits (noVNC on the console port,
/// `webmks` on the MKS port), as nova runs one proxy per kind.
pub async fn serve(
    live: Arc<ArcSwap<Front>>,
    listener: TcpListener,
    serves: &'static [ConsoleKind],
) {
    let limit = Arc::new(Semaphore::new(live.load().max_connections));
    loop {
        // A reload keeps the shutdown signal: the one in force while waiting serves.
        let shutdown = live.load().shutdown.clone();
        let permit = tokio::select! {
            permit = limit.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                // The semaphore is never closed, so this does not happen; stop if it does.
                Err(_) => return,
            },
            () = shutdown.cancelled() => return,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => return,
        };
        match accepted {
            Ok((tcp, peer)) => {
                // Taken after the accept: the first connection after a reload gets the new
                // configuration, not the one current while this loop waited.
                let front = live.load_full();
                front
                    .tracker
                    .spawn(connection(front.clone(), tcp, peer, permit, serves));
            }
            Err(error) => {
                // Out of file descriptors, mostly: back off instead of spinning.
                tracing::warn!(error = %chain(&error), "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn connection(
    front: Arc<Front>,
    mut tcp: TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
    serves: &'static [ConsoleKind],
) {
    let _ = tcp.set_nodelay(true);
    // One deadline from accept covers the PROXY header, the TLS handshake and the first
    // request head: a client that trickles bytes is closed when it passes.
    let deadline = Instant::now() + front.handshake_timeout;
    let Some(peer) = proxied_peer(&front, &mut tcp, peer, deadline).await else {
        return;
    };
    // A load balancer's own connections carry many clients: they are counted once its PROXY
    // header names the client, and not at all when only its HTTP headers will.
    let counted = !client::is_trusted(peer.ip(), &front.trusted_proxies);
    let slot = match counted.then(|| front.limiter.connect(peer.ip())) {
        None => None,
        Some(Some(slot)) => Some(slot),
        Some(None) => {
            tracing::info!(%peer, "refused: too many connections from this client (max_connections_per_ip)");
            front.refused(peer.ip(), crate::token::RefusalReason::ConnectionCap, None);
            return;
        }
    };
    let Some(stream) = secured(&front, tcp, peer, deadline).await else {
        return;
    };
    let connection = Arc::new(Connection {
        peer,
        tls: is_tls(&stream),
        serves,
        _permit: permit,
        _slot: slot,
    });
    let service = {
        let front = front.clone();
        service_fn(move |request| http::handle(front.clone(), connection.clone(), request))
    };
    let header_timeout = deadline.saturating_duration_since(Instant::now());
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout.max(Duration::from_millis(1)))
        .max_buf_size(64 * 1024);
    let serving = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(serving);
    // An upgrade ends this future at once (the session goes on in its own task), so the
    // lifetime bound only ever cuts connections that stay plain HTTP.
    let lifetime = tokio::time::sleep(front.http_lifetime());
    tokio::pin!(lifetime);
    tokio::select! {
        result = serving.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%peer, error = %chain(&error), "HTTP connection ended with an error");
            }
            return;
        }
        () = &mut lifetime => {
            tracing::debug!(%peer, "HTTP connection closed: its lifetime is over");
        }
        () = front.shutdown.cancelled() => {}
    }
    serving.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(front.handshake_timeout, serving).await;
}

/// The client's address: the peer's, or the one a trusted load balancer's PROXY header names
/// (required of it with `proxy_protocol`). `None`: the connection is refused.
async fn proxied_peer(
    front: &Front,
    tcp: &mut TcpStream,
    peer: SocketAddr,
    deadline: Instant,
) -> Option<SocketAddr> {
    let from_proxy = client::is_trusted(peer.ip(), &front.trusted_proxies);
    if !(from_proxy && front.proxy_protocol) {
        return Some(peer);
    }
    match tokio::time::timeout_at(deadline, proxy_header::read(tcp)).await {
        Ok(Ok(Some(client))) => Some(client),
        Ok(Ok(None)) => Some(peer),
        Ok(Err(error)) => {
            tracing::info!(%peer, error = %chain(&error), "refused: PROXY protocol header");
            front.refused(peer.ip(), crate::token::RefusalReason::ProxyProtocol, None);
            None
        }
        Err(_) => {
            tracing::info!(%peer, "refused: no PROXY protocol header before the deadline");
            None
        }
    }
}

/// The browser's stream: TLS when the first byte says so and HTTPS is configured, else plain.
/// `None`: nothing came, or the handshake failed or timed out.
async fn secured(
    front: &Front,
    tcp: TcpStream,
    peer: SocketAddr,
    deadline: Instant,
) -> Option<FrontStream> {
    Some(match &front.tls {
        None => Either::Left(tcp),
        Some(acceptor) => {
            let mut first = [0u8; 1];
            match tokio::time::timeout_at(deadline, tcp.peek(&mut first)).await {
                Ok(Ok(1)) => {}
                Ok(Ok(_)) | Ok(Err(_)) => return None,
                Err(_) => {
                    tracing::info!(%peer, "refused: nothing received before the handshake deadline");
                    return None;
                }
            }
            match sniff(first[0]) {
                Sniffed::Plain => Either::Left(tcp),
                Sniffed::Tls => match tokio::time::timeout_at(deadline, acceptor.accept(tcp)).await
                {
                    Ok(Ok(tls)) => Either::Right(Box::new(tls)),
                    Ok(Err(error)) => {
                        tracing::info!(%peer, error = %chain(&error), "refused: TLS handshake failed");
                        return None;
                    }
                    Err(_) => {
                        tracing::info!(%peer, "refused: TLS handshake timed out");
                        return None;
                    }
                },
            }
        }
    })
}

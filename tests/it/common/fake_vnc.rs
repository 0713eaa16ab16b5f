//! A scriptable fake VNC server for behaviour no real server shows: truncated replies, huge
//! reason lengths, downgrade offers, wrong VeNCrypt versions, stalls, a foreign CA.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

/// One step of a fake server's script.
#[derive(Clone)]
pub enum Step {
    /// Send these bytes.
    Send(Vec<u8>),
    /// Read exactly this many bytes (and ignore them).
    Read(usize),
    /// Start TLS as a server with this config.
    Tls(Arc<rustls::ServerConfig>),
    /// Echo everything until the peer closes.
    Echo,
    /// Hold the connection open, sending nothing, for a minute.
    Stall,
    /// Read a line (to `\n`, at most 4 KiB) and fail unless it starts with this.
    ExpectLine(&'static str),
    /// Relay everything to and from a real server at this address until either side closes.
    Relay(SocketAddr),
}

pub const V38: &[u8] = b"RFB 003.008\n";

/// The server side of RFB 3.8 with security None, up to and including SecurityResult OK.
pub fn none_handshake() -> Vec<Step> {
    vec![
        Step::Send(V38.to_vec()),
        Step::Read(12),
        Step::Send(vec![1, 1]),
        Step::Read(1),
        Step::Send(vec![0, 0, 0, 0]),
    ]
}

/// VeNCrypt 0.2 / X509None up to the TLS start, as QEMU does it.
pub fn vencrypt_handshake(tls: Arc<rustls::ServerConfig>) -> Vec<Step> {
    vec![
        Step::Send(V38.to_vec()),
        Step::Read(12),
        Step::Send(vec![1, 19]),
        Step::Read(1),
        Step::Send(vec![0, 2]),
        Step::Read(2),
        Step::Send(vec![0]),
        Step::Send(vec![1, 0, 0, 1, 4]),
        Step::Read(4),
        Step::Send(vec![1]),
        Step::Tls(tls),
        Step::Send(vec![0, 0, 0, 0]),
    ]
}

/// Serves `script` on every connection; returns the address.
pub async fn serve(script: Vec<Step>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let script = script.clone();
            tokio::spawn(async move {
                let _ = run(Box::new(tcp), script).await;
            });
        }
    });
    addr
}

/// A fake that answers None and then echoes: a stand-in for a VNC server in front-end tests.
pub async fn echo() -> SocketAddr {
    let mut script = none_handshake();
    script.push(Step::Echo);
    serve(script).await
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

async fn run(mut io: Box<dyn Io>, script: Vec<Step>) -> std::io::Result<()> {
    for step in script {
        match step {
            Step::Send(bytes) => {
                io.write_all(&bytes).await?;
                io.flush().await?;
            }
            Step::Read(count) => {
                let mut buffer = vec![0u8; count];
                io.read_exact(&mut buffer).await?;
            }
            Step::Tls(config) => {
                let tls = tokio_rustls::TlsAcceptor::from(config).accept(io).await?;
                io = Box::new(tls);
            }
            Step::Echo => {
                let (mut rx, mut tx) = tokio::io::split(io);
                tokio::io::copy(&mut rx, &mut tx).await?;
                return Ok(());
            }
            Step::Stall => {
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            }
            Step::ExpectLine(prefix) => {
                let mut line = Vec::new();
                let mut byte = [0u8; 1];
                while !line.ends_with(b"\n") && line.len() < 4096 {
                    io.read_exact(&mut byte).await?;
                    line.push(byte[0]);
                }
                if !line.starts_with(prefix.as_bytes()) {
                    return Err(std::io::Error::other(format!(
                        "expected {prefix:?}, got {:?}",
                        String::from_utf8_lossy(&line)
                    )));
                }
            }
            Step::Relay(addr) => {
                let mut server = tokio::net::TcpStream::connect(addr).await?;
                tokio::io::copy_bidirectional(&mut io, &mut server).await?;
                return Ok(());
            }
        }
    }
    io.shutdown().await
}

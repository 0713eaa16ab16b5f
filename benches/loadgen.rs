//! The load tool behind `scripts/bench`: a VNC-like backend, and clients that drive it directly
//! over TCP or through a WebSocket proxy (websockify or vncgate), with masked frames as browsers
//! send them. Every loop is bounded in count and time; every address is loopback.
//!
//! ```text
//! loadgen backend [--vencrypt DIR]            serve on 127.0.0.1:0; prints `listening ADDR`
//! loadgen relay ADDR                          a plain TCP relay to ADDR on 127.0.0.1:0
//! loadgen run SCENARIO TARGET [options]       prints one JSON line
//!   SCENARIO: down | up | rfb-down | latency | connect | idle | soak
//!   TARGET:   tcp://127.0.0.1:PORT | ws://127.0.0.1:PORT/?token=T | wss://localhost:PORT/?token=T
//!   --sessions N  --bytes N  --seconds S  --ca FILE  --pid PID (idle: whose RSS to read)
//!   --name NAME (the scenario's name in the output)  --encoding N (rfb-down: 0 Raw, 5 Hextile)
//!   --sample S (soak: seconds between samples)
//! ```
//!
//! Backend protocol after the RFB 3.8 None (or VeNCrypt X509None) handshake: the client sends a
//! 9-byte command, an op and a big-endian u64: 1 = send me N bytes, 2 = read N bytes then send
//! one byte, 3 = echo everything. A first byte of 0x80 instead (a shared ClientInit) makes it an
//! RFB server: ServerInit, then a full 1024×768 update in Raw or Hextile (raw tiles) for each
//! FramebufferUpdateRequest, so that a proxy framing every server message can be measured.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

#[path = "loadgen/soak.rs"]
mod soak;

type Error = Box<dyn std::error::Error + Send + Sync>;

const CHUNK: usize = 64 * 1024;
const V38: &[u8] = b"RFB 003.008\n";

// ---------------------------------------------------------------- backend

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

async fn backend(vencrypt: Option<PathBuf>) -> Result<(), Error> {
    let tls = match vencrypt {
        Some(dir) => Some(server_tls(&dir)?),
        None => None,
    };
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("listening {}", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        let tls = tls.clone();
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            let _ = serve_backend(tcp, tls).await;
        });
    }
}

fn server_tls(dir: &std::path::Path) -> Result<tokio_rustls::TlsAcceptor, Error> {
    use rustls_pki_types::pem::PemObject;
    let certs = rustls_pki_types::CertificateDer::pem_file_iter(dir.join("server-cert.pem"))?
        .collect::<Result<Vec<_>, _>>()?;
    let key = rustls_pki_types::PrivateKeyDer::from_pem_file(dir.join("server-key.pem"))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(dir.join("ca-cert.pem"))? {
        roots.add(cert?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

async fn serve_backend(
    tcp: TcpStream,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> Result<(), Error> {
    let mut io: Box<dyn Io> = Box::new(tcp);
    let mut scratch = [0u8; 12];
    io.write_all(V38).await?;
    io.read_exact(&mut scratch).await?;
    match tls {
        None => {
            io.write_all(&[1, 1]).await?;
            io.read_exact(&mut scratch[..1]).await?;
        }
        Some(acceptor) => {
            // VeNCrypt 0.2, X509None, accept byte, then TLS, as QEMU does.
            io.write_all(&[1, 19]).await?;
            io.read_exact(&mut scratch[..1]).await?;
            io.write_all(&[0, 2]).await?;
            io.read_exact(&mut scratch[..2]).await?;
            io.write_all(&[0, 1, 0, 0, 1, 4]).await?;
            io.read_exact(&mut scratch[..4]).await?;
            io.write_all(&[1]).await?;
            io = Box::new(acceptor.accept(io).await?);
        }
    }
    io.write_all(&[0, 0, 0, 0]).await?;
    io.flush().await?;
    let mut buffer = vec![0u8; CHUNK];
    let mut first = [0u8; 1];
    if io.read_exact(&mut first).await.is_err() {
        return Ok(());
    }
    if first[0] == RFB_CLIENT_INIT {
        return serve_rfb(io).await;
    }
    let mut op = Some(first[0]);
    loop {
        let mut command = [0u8; 9];
        // The first command's op came as ClientInit's byte.
        let from = match op.take() {
            Some(first) => {
                command[0] = first;
                1
            }
            None => 0,
        };
        if io.read_exact(&mut command[from..]).await.is_err() {
            return Ok(());
        }
        let count = u64::from_be_bytes(command[1..].try_into()?);
        match command[0] {
            1 => {
                let mut left = count;
                while left > 0 {
                    let n = left.min(CHUNK as u64) as usize;
                    io.write_all(&buffer[..n]).await?;
                    left -= n as u64;
                }
                // TLS: push the last record out before waiting for the next command.
                io.flush().await?;
            }
            2 => {
                let mut left = count;
                while left > 0 {
                    let n = left.min(CHUNK as u64) as usize;
                    let read = io.read(&mut buffer[..n]).await?;
                    if read == 0 {
                        return Ok(());
                    }
                    left -= read as u64;
                }
                io.write_all(&[1]).await?;
                io.flush().await?;
            }
            3 => loop {
                let read = io.read(&mut buffer).await?;
                if read == 0 {
                    return Ok(());
                }
                io.write_all(&buffer[..read]).await?;
                io.flush().await?;
            },
            _ => return Ok(()),
        }
    }
}

/// A ClientInit that asks for RFB (shared, in a form no command starts with): the backend
/// then speaks RFB, answering each FramebufferUpdateRequest with a full 1024×768 update.
const RFB_CLIENT_INIT: u8 = 0x80;
const RFB_WIDTH: u16 = 1024;
const RFB_HEIGHT: u16 = 768;

/// The bytes of one full update in `encoding` (0 Raw, 5 Hextile with raw tiles).
fn rfb_update_size(encoding: i32) -> u64 {
    let pixels = u64::from(RFB_WIDTH) * u64::from(RFB_HEIGHT) * 4;
    let tiles = u64::from(RFB_WIDTH / 16) * u64::from(RFB_HEIGHT / 16);
    4 + 12
        + if encoding == 5 {
            pixels + tiles
        } else {
            pixels
        }
}

/// One full update in `encoding`, made once.
fn rfb_update(encoding: i32) -> Vec<u8> {
    let mut update = vec![0, 0, 0, 1, 0, 0, 0, 0];
    update.extend_from_slice(&RFB_WIDTH.to_be_bytes());
    update.extend_from_slice(&RFB_HEIGHT.to_be_bytes());
    update.extend_from_slice(&encoding.to_be_bytes());
    if encoding == 5 {
        let tile = [&[1u8][..], &[0x42; 16 * 16 * 4]].concat();
        for _ in 0..(RFB_WIDTH / 16) * (RFB_HEIGHT / 16) {
            update.extend_from_slice(&tile);
        }
    } else {
        update.resize(
            update.len() + usize::from(RFB_WIDTH) * usize::from(RFB_HEIGHT) * 4,
            0x42,
        );
    }
    update
}

async fn serve_rfb(mut io: Box<dyn Io>) -> Result<(), Error> {
    let mut init = vec![0u8; 4];
    init[..2].copy_from_slice(&RFB_WIDTH.to_be_bytes());
    init[2..].copy_from_slice(&RFB_HEIGHT.to_be_bytes());
    init.extend_from_slice(&[32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]);
    init.extend_from_slice(&5u32.to_be_bytes());
    init.extend_from_slice(b"bench");
    io.write_all(&init).await?;
    io.flush().await?;
    let mut update = rfb_update(0);
    loop {
        let mut kind = [0u8; 1];
        if io.read_exact(&mut kind).await.is_err() {
            return Ok(());
        }
        match kind[0] {
            2 => {
                let mut header = [0u8; 3];
                io.read_exact(&mut header).await?;
                let count = usize::from(u16::from_be_bytes([header[1], header[2]]));
                let mut list = vec![0u8; 4 * count];
                io.read_exact(&mut list).await?;
                let first = list
                    .get(..4)
                    .map_or(0, |b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                update = rfb_update(if first == 5 { 5 } else { 0 });
            }
            3 => {
                let mut request = [0u8; 9];
                io.read_exact(&mut request).await?;
                for chunk in update.chunks(CHUNK) {
                    io.write_all(chunk).await?;
                }
                io.flush().await?;
            }
            _ => return Ok(()),
        }
    }
}

// ---------------------------------------------------------------- plain relay

/// The floor any user-space proxy is measured against: a TCP relay to `target` that copies
/// both ways with 256 KiB buffers (tokio's `copy_bidirectional`), on the same two worker
/// threads as everything else here.
async fn relay(target: std::net::SocketAddr) -> Result<(), Error> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("listening {}", listener.local_addr()?);
    loop {
        let (client, _) = listener.accept().await?;
        tokio::spawn(relay_one(client, target));
    }
}

/// One relayed connection: both ways, 256 KiB buffers.
async fn relay_one(mut client: TcpStream, target: std::net::SocketAddr) {
    let _ = client.set_nodelay(true);
    let Ok(mut server) = TcpStream::connect(target).await else {
        return;
    };
    let _ = server.set_nodelay(true);
    let _ =
        tokio::io::copy_bidirectional_with_sizes(&mut client, &mut server, 256 << 10, 256 << 10)
            .await;
}

/// The same relay with a current-thread runtime per core, each accepting on its own
/// `SO_REUSEPORT` listener on one port: the other runtime model a proxy can take, compared
/// under the connect and round-trip scenarios (`relay TARGET --sharded`).
fn relay_sharded(target: std::net::SocketAddr, threads: usize) -> Result<(), Error> {
    let bind = |addr: std::net::SocketAddr| -> std::io::Result<std::net::TcpListener> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_reuseport(true)?;
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        let listener = socket.listen(1024)?;
        listener.into_std()
    };
    // The first listener picks the port inside a runtime (tokio sockets need one).
    let setup = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let first = setup.block_on(async { bind("127.0.0.1:0".parse().expect("address")) })?;
    let addr = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..threads {
        listeners.push(setup.block_on(async { bind(addr) })?);
    }
    drop(setup);
    println!("listening {addr}");
    let handles: Vec<_> = listeners
        .into_iter()
        .map(|std_listener| {
            std::thread::spawn(move || -> Result<(), Error> {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime.block_on(async move {
                    std_listener.set_nonblocking(true)?;
                    let listener = TcpListener::from_std(std_listener)?;
                    loop {
                        let (client, _) = listener.accept().await?;
                        tokio::spawn(relay_one(client, target));
                    }
                })
            })
        })
        .collect();
    for handle in handles {
        handle.join().map_err(|_| "a relay thread panicked")??;
    }
    Ok(())
}

// ---------------------------------------------------------------- clients

/// A client connection and the bytes read past what was asked for.
struct Conn {
    transport: Transport,
    pending: BytesMut,
}

enum Transport {
    Tcp(TcpStream),
    Ws(Box<tokio_tungstenite::WebSocketStream<Box<dyn Io>>>),
}

impl Conn {
    async fn open(target: &str, ca: Option<&PathBuf>) -> Result<Self, Error> {
        if let Some(addr) = target.strip_prefix("tcp://") {
            let tcp = TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            return Ok(Self {
                transport: Transport::Tcp(tcp),
                pending: BytesMut::new(),
            });
        }
        let (tls, rest) = match target.strip_prefix("wss://") {
            Some(rest) => (true, rest),
            None => (
                false,
                target
                    .strip_prefix("ws://")
                    .ok_or("target must be tcp://, ws:// or wss://")?,
            ),
        };
        let authority = rest.split('/').next().unwrap_or_default();
        let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
        let port = authority.rsplit_once(':').map_or("80", |(_, p)| p);
        let tcp = TcpStream::connect(("127.0.0.1", port.parse::<u16>()?)).await?;
        tcp.set_nodelay(true)?;
        let io: Box<dyn Io> = if tls {
            let ca = ca.ok_or("wss needs --ca")?;
            let mut roots = rustls::RootCertStore::empty();
            use rustls_pki_types::pem::PemObject;
            for cert in rustls_pki_types::CertificateDer::pem_file_iter(ca)? {
                roots.add(cert?)?;
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_no_client_auth();
            let name = rustls_pki_types::ServerName::try_from(host.to_owned())?;
            Box::new(
                tokio_rustls::TlsConnector::from(Arc::new(config))
                    .connect(name, tcp)
                    .await?,
            )
        } else {
            Box::new(tcp)
        };
        let mut request = format!("ws://{rest}").into_client_request()?;
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("binary"));
        let (ws, _) = tokio_tungstenite::client_async(request, io).await?;
        Ok(Self {
            transport: Transport::Ws(Box::new(ws)),
            pending: BytesMut::new(),
        })
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), Error> {
        match &mut self.transport {
            Transport::Tcp(tcp) => tcp.write_all(data).await?,
            Transport::Ws(ws) => ws.send(Message::binary(data.to_vec())).await?,
        }
        Ok(())
    }

    /// Reads at least one byte into `into`; returns how many.
    async fn read_some(&mut self, into: &mut Vec<u8>) -> Result<usize, Error> {
        if !self.pending.is_empty() {
            let n = self.pending.len();
            into.extend_from_slice(&self.pending);
            self.pending.clear();
            return Ok(n);
        }
        match &mut self.transport {
            Transport::Tcp(tcp) => {
                let start = into.len();
                into.resize(start + CHUNK, 0);
                let n = tcp.read(&mut into[start..]).await?;
                into.truncate(start + n);
                if n == 0 {
                    return Err("closed".into());
                }
                Ok(n)
            }
            Transport::Ws(ws) => loop {
                match ws.next().await {
                    Some(Ok(Message::Binary(data))) => {
                        into.extend_from_slice(&data);
                        return Ok(data.len());
                    }
                    Some(Ok(Message::Close(_))) | None => return Err("closed".into()),
                    Some(Ok(_)) => {}
                    Some(Err(error)) => return Err(error.into()),
                }
            },
        }
    }

    async fn read_exact(&mut self, count: usize) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            self.read_some(&mut out).await?;
        }
        if out.len() > count {
            let extra = out.split_off(count);
            self.pending.extend_from_slice(&extra);
        }
        Ok(out)
    }

    /// Reads and throws away `count` bytes, without keeping them.
    async fn drain(&mut self, count: u64) -> Result<(), Error> {
        let mut left = count;
        let mut scratch = Vec::with_capacity(CHUNK * 2);
        while left > 0 {
            scratch.clear();
            let n = self.read_some(&mut scratch).await? as u64;
            left = left.saturating_sub(n);
        }
        Ok(())
    }

    /// RFB 3.8 with security None, as noVNC does it.
    async fn handshake(&mut self) -> Result<(), Error> {
        let version = self.read_exact(12).await?;
        self.write(&version).await?;
        let count = self.read_exact(1).await?[0];
        let types = self.read_exact(count as usize).await?;
        if !types.contains(&1) {
            return Err("no None".into());
        }
        self.write(&[1]).await?;
        if self.read_exact(4).await? != [0, 0, 0, 0] {
            return Err("security failed".into());
        }
        Ok(())
    }

    async fn command(&mut self, op: u8, count: u64) -> Result<(), Error> {
        let mut bytes = vec![op];
        bytes.extend_from_slice(&count.to_be_bytes());
        self.write(&bytes).await
    }
}

/// A session ready for commands.
async fn session(target: &str, ca: Option<&PathBuf>) -> Result<Conn, Error> {
    let mut conn = Conn::open(target, ca).await?;
    conn.handshake().await?;
    Ok(conn)
}

struct Options {
    sessions: usize,
    bytes: u64,
    seconds: f64,
    ca: Option<PathBuf>,
    pid: Option<u32>,
    encoding: i32,
    /// Soak: seconds between samples.
    sample: f64,
}

async fn throughput(
    down: bool,
    target: &str,
    options: &Options,
) -> Result<serde_json::Value, Error> {
    let mut conns = Vec::new();
    for _ in 0..options.sessions {
        conns.push(session(target, options.ca.as_ref()).await?);
    }
    let bytes = options.bytes;
    let started = Instant::now();
    let tasks = conns.into_iter().map(|mut conn| {
        tokio::spawn(async move {
            if down {
                conn.command(1, bytes).await?;
                conn.drain(bytes).await?;
            } else {
                conn.command(2, bytes).await?;
                let chunk = vec![0x5a; CHUNK];
                let mut left = bytes;
                while left > 0 {
                    let n = left.min(CHUNK as u64) as usize;
                    conn.write(&chunk[..n]).await?;
                    left -= n as u64;
                }
                conn.read_exact(1).await?;
            }
            Ok::<(), Error>(())
        })
    });
    let results = futures_util::future::join_all(tasks).await;
    let elapsed = started.elapsed().as_secs_f64();
    for result in results {
        result??;
    }
    let total = bytes as f64 * options.sessions as f64;
    Ok(
        serde_json::json!({ "mb_per_s": total / elapsed / 1e6, "per_session_mb_per_s": total / elapsed / 1e6 / options.sessions as f64, "seconds": elapsed }),
    )
}

/// Downstream RFB: `--sessions` viewers each ask for enough full updates in `--encoding` to
/// carry `--bytes`, as noVNC would, and read them.
async fn rfb_down(target: &str, options: &Options) -> Result<serde_json::Value, Error> {
    let encoding = options.encoding;
    let mut conns = Vec::new();
    for _ in 0..options.sessions {
        let mut conn = session(target, options.ca.as_ref()).await?;
        conn.write(&[RFB_CLIENT_INIT]).await?;
        conn.read_exact(24 + 5).await?;
        let mut set = vec![2, 0, 0, 1];
        set.extend_from_slice(&encoding.to_be_bytes());
        conn.write(&set).await?;
        conns.push(conn);
    }
    let size = rfb_update_size(encoding);
    let updates = options.bytes.div_ceil(size).max(1);
    let started = Instant::now();
    let tasks = conns.into_iter().map(|mut conn| {
        tokio::spawn(async move {
            let mut requests = Vec::new();
            for _ in 0..updates {
                requests.extend_from_slice(&[3, 0, 0, 0, 0, 0]);
                requests.extend_from_slice(&RFB_WIDTH.to_be_bytes());
                requests.extend_from_slice(&RFB_HEIGHT.to_be_bytes());
            }
            conn.write(&requests).await?;
            conn.drain(updates * size).await?;
            Ok::<(), Error>(())
        })
    });
    let results = futures_util::future::join_all(tasks).await;
    let elapsed = started.elapsed().as_secs_f64();
    for result in results {
        result??;
    }
    let total = (updates * size) as f64 * options.sessions as f64;
    Ok(serde_json::json!({ "mb_per_s": total / elapsed / 1e6, "seconds": elapsed }))
}

async fn latency(target: &str, options: &Options) -> Result<serde_json::Value, Error> {
    let mut conn = session(target, options.ca.as_ref()).await?;
    conn.command(3, 0).await?;
    let message = [7u8; 10];
    let deadline = Instant::now() + Duration::from_secs_f64(options.seconds);
    let mut samples = Vec::new();
    // Bounded by time and by count.
    while Instant::now() < deadline && samples.len() < 200_000 {
        let sent = Instant::now();
        conn.write(&message).await?;
        conn.read_exact(message.len()).await?;
        samples.push(sent.elapsed().as_nanos() as u64);
    }
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize] as f64 / 1000.0;
    Ok(
        serde_json::json!({ "p50_us": at(0.5), "p99_us": at(0.99), "max_us": at(1.0), "samples": samples.len() }),
    )
}

async fn connect_rate(target: &str, options: &Options) -> Result<serde_json::Value, Error> {
    let deadline = Instant::now() + Duration::from_secs_f64(options.seconds);
    let started = Instant::now();
    let workers = options.sessions.max(1);
    let tasks = (0..workers).map(|_| {
        let target = target.to_owned();
        let ca = options.ca.clone();
        tokio::spawn(async move {
            let (mut ok, mut failed) = (0u64, 0u64);
            while Instant::now() < deadline && ok + failed < 200_000 {
                match session(&target, ca.as_ref()).await {
                    Ok(conn) => {
                        ok += 1;
                        drop(conn);
                    }
                    Err(_) => failed += 1,
                }
            }
            (ok, failed)
        })
    });
    let mut ok = 0;
    let mut failed = 0;
    for result in futures_util::future::join_all(tasks).await {
        let (o, f) = result?;
        ok += o;
        failed += f;
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(serde_json::json!({ "sessions_per_s": ok as f64 / elapsed, "failed": failed }))
}

/// Resident memory of a process and all its descendants, in KiB.
fn rss_tree(pid: u32) -> u64 {
    let mut total = 0;
    let mut stack = vec![pid];
    while let Some(pid) = stack.pop() {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            total += status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
                .unwrap_or(0);
        }
        if let Ok(children) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
            stack.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
    }
    total
}

async fn idle(target: &str, options: &Options) -> Result<serde_json::Value, Error> {
    let pid = options.pid.ok_or("idle needs --pid")?;
    let before = rss_tree(pid);
    let deadline = Instant::now() + Duration::from_secs_f64(options.seconds);
    let mut conns = Vec::new();
    let mut failed = 0u64;
    // Open in small concurrent batches, bounded by count and time.
    while conns.len() < options.sessions && Instant::now() < deadline {
        let batch = (options.sessions - conns.len()).min(100);
        let opens = (0..batch).map(|_| {
            tokio::time::timeout(
                Duration::from_secs(10),
                session(target, options.ca.as_ref()),
            )
        });
        for result in futures_util::future::join_all(opens).await {
            match result {
                Ok(Ok(conn)) => conns.push(conn),
                _ => failed += 1,
            }
        }
        if failed > options.sessions as u64 / 10 + 10 {
            break;
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_tree(pid);
    // Still held? Probe every session with an echo.
    let mut alive = 0;
    for conn in conns.iter_mut() {
        let probe = async {
            conn.command(3, 0).await?;
            conn.write(b"x").await?;
            conn.read_exact(1).await?;
            Ok::<(), Error>(())
        };
        if tokio::time::timeout(Duration::from_secs(5), probe)
            .await
            .is_ok_and(|r| r.is_ok())
        {
            alive += 1;
        }
    }
    let opened = conns.len();
    let per_session_kib = if opened > 0 {
        after.saturating_sub(before) as f64 / opened as f64
    } else {
        0.0
    };
    Ok(
        serde_json::json!({ "asked": options.sessions, "opened": opened, "held": alive, "failed": failed, "rss_before_kib": before, "rss_after_kib": after, "per_session_kib": per_session_kib }),
    )
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match args.first().map(String::as_str) {
        Some("backend") => {
            let dir = args
                .iter()
                .position(|a| a == "--vencrypt")
                .and_then(|i| args.get(i + 1))
                .map(PathBuf::from);
            runtime.block_on(backend(dir))
        }
        Some("relay") => {
            let target = args.get(1).ok_or("relay TARGET?")?.parse()?;
            if args.iter().any(|a| a == "--sharded") {
                drop(runtime);
                return relay_sharded(target, 2);
            }
            runtime.block_on(relay(target))
        }
        Some("run") => {
            let scenario = args.get(1).ok_or("scenario?")?.clone();
            let target = args.get(2).ok_or("target?")?.clone();
            let value = |name: &str| {
                args.iter()
                    .position(|a| a == name)
                    .and_then(|i| args.get(i + 1))
                    .cloned()
            };
            let options = Options {
                sessions: value("--sessions")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1),
                bytes: value("--bytes")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(256 << 20),
                seconds: value("--seconds")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(3.0),
                ca: value("--ca").map(PathBuf::from),
                pid: value("--pid").and_then(|v| v.parse().ok()),
                encoding: value("--encoding")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
                sample: value("--sample")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(10.0),
            };
            let result = runtime.block_on(async {
                match scenario.as_str() {
                    "down" => throughput(true, &target, &options).await,
                    "up" => throughput(false, &target, &options).await,
                    "rfb-down" => rfb_down(&target, &options).await,
                    "soak" => soak::soak(&target, &options).await,
                    "latency" => latency(&target, &options).await,
                    "connect" => connect_rate(&target, &options).await,
                    "idle" => idle(&target, &options).await,
                    other => Err(format!("unknown scenario {other}").into()),
                }
            });
            let mut out = match result {
                Ok(value) => value,
                Err(error) => serde_json::json!({ "error": error.to_string() }),
            };
            out["scenario"] = value("--name").unwrap_or(scenario).into();
            out["target"] = target.into();
            println!("{out}");
            Ok(())
        }
        _ => Err(
            "usage: loadgen backend [--vencrypt DIR] | loadgen relay ADDR | loadgen run SCENARIO TARGET [options]"
                .into(),
        ),
    }
}

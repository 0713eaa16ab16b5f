//! The flood test: while a real user's console streams from a real QEMU through vncgate, other
//! loopback addresses flood it with bad tokens (guesses, and JWTs signed with another key, which
//! must cost no database query), hold 2,000 slowloris sockets and 1,000 idle
//! admin connections. The user must not notice, a new user must still get in, the flooders
//! must get 429s, the slow sockets must be cut at `handshake_timeout`, and the proxy's memory
//! must stay bounded. vncgate runs as its own process, as in production, so that its memory
//! is its own.
//!
//! `FLOOD_SECONDS` sets the length (CI's short form is the default; `scripts/bench --flood`
//! runs the long one). The figures go to standard output and `target/flood-report.txt`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::daemon::{free_port, Daemon};
use crate::common::qemu::{self, Qemu};
use crate::common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The proxy as a process of its own, and its admin API's and metrics' addresses.
struct Vncgate {
    daemon: Daemon,
    admin: SocketAddr,
    metrics: SocketAddr,
}

/// The HMAC secret the proxy's `jwt_keys` holds; the flooders' JWTs are signed with another.
const JWT_SECRET: [u8; 32] = [9; 32];

async fn start_vncgate(dir: &std::path::Path, tokens: &str) -> Vncgate {
    use base64::Engine;
    let port = free_port();
    let admin_port = free_port();
    let metrics_port = free_port();
    std::fs::write(dir.join("tokens"), tokens).expect("tokens");
    std::fs::write(
        dir.join("portal.k"),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(JWT_SECRET),
    )
    .expect("jwt key");
    std::fs::write(dir.join("admin-secret"), "an-admin-secret-of-some-length\n").expect("secret");
    let config = dir.join("vncgate.conf");
    std::fs::write(
        &config,
        format!(
            "[DEFAULT]\nweb =\n[vnc]\nnovncproxy_host = 127.0.0.1\nnovncproxy_port = {port}\n\
             [vncgate]\ntoken_source = {tokens}\nstate_dir = {state}\nnovnc_dir =\n\
             admin_listen = 127.0.0.1:{admin_port}\nadmin_secret_file = {secret}\n\
             allowed_backends = 127.0.0.0/8\nmax_connections = 8192\n\
             jwt_keys = {jwt}\nmetrics_listen = 127.0.0.1:{metrics_port}\n",
            jwt = dir.join("portal.k").display(),
            tokens = dir.join("tokens").display(),
            state = dir.join("state").display(),
            secret = dir.join("admin-secret").display(),
        ),
    )
    .expect("config");
    let admin: SocketAddr = format!("127.0.0.1:{admin_port}").parse().expect("addr");
    let metrics: SocketAddr = format!("127.0.0.1:{metrics_port}").parse().expect("addr");
    Vncgate {
        daemon: Daemon::start(&config, port, &[]).await,
        admin,
        metrics,
    }
}

async fn connect_from(source: &str, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(format!("{source}:0").parse().expect("source"))?;
    socket.connect(to).await
}

/// A console opened as noVNC opens it, to ServerInit, asking for 32-bit raw pixels.
async fn open_user(source: &str, proxy: SocketAddr) -> (rfb::WsBytes<TcpStream>, u16, u16) {
    let stream = connect_from(source, proxy).await.expect("connect");
    let (socket, _) = ws_over(stream, &proxy.to_string(), "/?token=user", &[])
        .await
        .expect("upgrade");
    let mut console = rfb::WsBytes::new(socket);
    let init = console.handshake().await.expect("handshake");
    // SetPixelFormat: 32 bpp, depth 24, little-endian true colour; SetEncodings: raw.
    console
        .write(&[
            0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0,
        ])
        .await;
    console.write(&[2, 0, 0, 1, 0, 0, 0, 0]).await;
    (console, init.width, init.height)
}

/// Asks for the whole screen and reads the whole update; returns how long it took.
async fn full_update(console: &mut rfb::WsBytes<TcpStream>, width: u16, height: u16) -> Duration {
    let asked = Instant::now();
    let mut request = vec![3, 0, 0, 0, 0, 0];
    request.extend_from_slice(&width.to_be_bytes());
    request.extend_from_slice(&height.to_be_bytes());
    console.write(&request).await;
    loop {
        let kind = console.read(1).await.expect("message")[0];
        assert_eq!(kind, 0, "a FramebufferUpdate");
        let header = console.read(3).await.expect("header");
        let rectangles = u16::from_be_bytes([header[1], header[2]]);
        for _ in 0..rectangles {
            let rect = console.read(12).await.expect("rectangle");
            let w = usize::from(u16::from_be_bytes([rect[4], rect[5]]));
            let h = usize::from(u16::from_be_bytes([rect[6], rect[7]]));
            let encoding = i32::from_be_bytes([rect[8], rect[9], rect[10], rect[11]]);
            if encoding == 0 {
                console.read(w * h * 4).await.expect("pixels");
            }
        }
        if rectangles > 0 {
            return asked.elapsed();
        }
    }
}

/// A JWT with a good shape and claims, signed with another key than the proxy's.
fn forged_jwt(attempt: u64) -> String {
    let claims = serde_json::json!({"host": "127.0.0.1", "port": 5900, "jti": attempt});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&[1; 32]),
    )
    .expect("JWT")
}

/// One bad-token attempt (a guessed token, or with `jwt` a forged JWT): the status the proxy
/// answered with.
async fn bad_token(source: &str, proxy: SocketAddr, attempt: u64, jwt: bool) -> Option<u16> {
    let mut stream = connect_from(source, proxy).await.ok()?;
    let token = if jwt {
        forged_jwt(attempt)
    } else {
        format!("guess{attempt}")
    };
    let request = format!(
        "GET /?token={token} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// `GET /v1/tokens` with the secret: the status, if one came.
async fn admin_status(admin: SocketAddr) -> Option<u16> {
    let mut stream = TcpStream::connect(admin).await.ok()?;
    let request = "GET /v1/tokens HTTP/1.1\r\nHost: x\r\n\
                   Authorization: Bearer an-admin-secret-of-some-length\r\nConnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut head = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(2), stream.read_exact(&mut head))
        .await
        .ok()?
        .ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// What one group of flooders got: 403s, 429s, anything else.
#[derive(Default)]
struct Answers {
    forbidden: AtomicU64,
    limited: AtomicU64,
    other: AtomicU64,
}

#[derive(Default)]
struct Counts {
    guesses: Answers,
    jwts: Answers,
    slow_cut: AtomicU64,
    slow_cut_late: AtomicU64,
    slow_refused_at_accept: AtomicU64,
    admin_closed: AtomicU64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_stranger_cannot_take_the_console_away() {
    if !qemu::available() {
        return;
    }
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let seconds: u64 = std::env::var("FLOOD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(14);
    let handshake_timeout = Duration::from_secs(10);
    let work = tempfile::tempdir().expect("tempdir");
    let vm = Qemu::start(work.path(), "", &[]);
    let proxy = start_vncgate(work.path(), &format!("user: {}\n", vm.addr)).await;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let counts = Arc::new(Counts::default());

    // The user, streaming all along.
    let (mut user, width, height) = open_user("127.0.0.50", proxy.daemon.addr).await;
    let user_task = tokio::spawn(async move {
        let mut longest = Duration::ZERO;
        let mut updates = 0u64;
        while Instant::now() < deadline {
            let waited = full_update(&mut user, width, height).await;
            longest = longest.max(waited);
            updates += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        (longest, updates)
    });

    // 20 addresses of bad tokens, as fast as they can: guesses from ten, forged JWTs from ten.
    let mut flooders = Vec::new();
    for index in 1..=20 {
        let counts = counts.clone();
        let proxy = proxy.daemon.addr;
        flooders.push(tokio::spawn(async move {
            let source = format!("127.0.1.{index}");
            let jwt = index > 10;
            let answers = if jwt { &counts.jwts } else { &counts.guesses };
            let mut attempt = 0u64;
            while Instant::now() < deadline {
                attempt += 1;
                match bad_token(&source, proxy, attempt, jwt).await {
                    Some(403) => answers.forbidden.fetch_add(1, Ordering::Relaxed),
                    Some(429) => answers.limited.fetch_add(1, Ordering::Relaxed),
                    _ => answers.other.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }

    // 2,000 slowloris sockets over 10 addresses, one byte every 5 s.
    let mut slow = Vec::new();
    for index in 0..2000u32 {
        let counts = counts.clone();
        let proxy = proxy.daemon.addr;
        slow.push(tokio::spawn(async move {
            let source = format!("127.0.2.{}", 1 + index % 10);
            let Ok(mut stream) = connect_from(&source, proxy).await else {
                counts
                    .slow_refused_at_accept
                    .fetch_add(1, Ordering::Relaxed);
                return;
            };
            let opened = Instant::now();
            let head = b"GET / HTTP/1.1\r\nX: ";
            let mut sent = 0;
            let mut buffer = [0u8; 64];
            loop {
                let byte = head[sent % head.len()];
                if stream.write_all(&[byte]).await.is_err() {
                    break;
                }
                sent += 1;
                // Wait out the 5 s, watching for the proxy's close.
                match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    Ok(Ok(_)) | Err(_) => {}
                }
                if opened.elapsed() > handshake_timeout + Duration::from_secs(10) {
                    break;
                }
            }
            let lived = opened.elapsed();
            if lived < Duration::from_millis(500) {
                counts
                    .slow_refused_at_accept
                    .fetch_add(1, Ordering::Relaxed);
            } else if lived <= handshake_timeout + Duration::from_secs(6) {
                counts.slow_cut.fetch_add(1, Ordering::Relaxed);
            } else {
                counts.slow_cut_late.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    // 1,000 idle connections to the admin API.
    let mut admin_idle = Vec::new();
    for _ in 0..1000 {
        let counts = counts.clone();
        let admin = proxy.admin;
        admin_idle.push(tokio::spawn(async move {
            let Ok(mut stream) = connect_from("127.0.3.1", admin).await else {
                counts.admin_closed.fetch_add(1, Ordering::Relaxed);
                return;
            };
            let mut buffer = [0u8; 16];
            let wait = deadline.saturating_duration_since(Instant::now());
            if let Ok(Ok(0) | Err(_)) = tokio::time::timeout(wait, stream.read(&mut buffer)).await {
                counts.admin_closed.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    // Memory, sampled all along; a new user halfway through.
    let mut peak_rss = 0;
    let mut fresh_open = None;
    while Instant::now() < deadline {
        peak_rss = peak_rss.max(proxy.daemon.rss_kib());
        if fresh_open.is_none() && started.elapsed() >= Duration::from_secs(seconds / 2) {
            let asked = Instant::now();
            let (mut fresh, w, h) = open_user("127.0.0.99", proxy.daemon.addr).await;
            fresh_open = Some(asked.elapsed());
            full_update(&mut fresh, w, h).await;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (longest_wait, updates) = user_task.await.expect("user");
    for task in flooders {
        let _ = task.await;
    }
    // The slow sockets: each ends within its bound whatever the flood length.
    for task in slow {
        let _ = task.await;
    }
    for task in admin_idle {
        task.abort();
    }
    // Once the idle clients are gone, the admin API answers again.
    let mut admin_answers = false;
    for _ in 0..50 {
        if admin_status(proxy.admin).await == Some(200) {
            admin_answers = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    peak_rss = peak_rss.max(proxy.daemon.rss_kib());
    let fresh_open = fresh_open.unwrap_or(Duration::MAX);
    let (_, exposition) = crate::operations::get(proxy.metrics, "/metrics").await;
    let lookups = |source| {
        crate::operations::sample(
            &exposition,
            "vncgate_token_lookups_total",
            Some(("source", source)),
        )
        .unwrap_or(0.0) as u64
    };
    let (sql_lookups, jwt_lookups) = (lookups("sql"), lookups("jwt"));

    let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    let (guesses, jwts) = (&counts.guesses, &counts.jwts);
    let report = format!(
        "flood: {seconds} s; user: {updates} full updates, longest wait {} ms; new user opened in {} ms; \
         guessed tokens: {} x 403, {} x 429, {} other; forged JWTs: {} x 403, {} x 429, {} other; \
         token lookups: {sql_lookups} in the database, {jwt_lookups} JWT verifications; slowloris: {} closed at accept, {} cut at the deadline, {} late; \
         admin: {} of 1000 idle connections closed during the flood, answering after it: {admin_answers}; \
         vncgate peak RSS {} KiB",
        longest_wait.as_millis(),
        fresh_open.as_millis(),
        read(&guesses.forbidden),
        read(&guesses.limited),
        read(&guesses.other),
        read(&jwts.forbidden),
        read(&jwts.limited),
        read(&jwts.other),
        read(&counts.slow_refused_at_accept),
        read(&counts.slow_cut),
        read(&counts.slow_cut_late),
        read(&counts.admin_closed),
        peak_rss,
    );
    println!("{report}");
    let _ = std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/target"));
    let _ = std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/flood-report.txt"),
        format!("{report}\n"),
    );

    assert!(updates > 0, "{report}");
    assert!(
        longest_wait < Duration::from_secs(1),
        "the user waited: {report}"
    );
    assert!(
        fresh_open < Duration::from_secs(1),
        "a new user could not get in: {report}"
    );
    for answers in [guesses, jwts] {
        assert!(
            read(&answers.limited) > 0,
            "no 429 for the flooders: {report}"
        );
        // Each flooder earns at most 30 refusals a minute (plus the refill over the run).
        let allowed_403 = 10 * (30 + 30 * seconds / 60 + 1);
        assert!(read(&answers.forbidden) <= allowed_403, "{report}");
    }
    // A forged JWT is refused by its signature: it never reaches the database. Only guesses
    // that got past the limiter did (the users' tokens are in the token file).
    assert!(
        sql_lookups <= read(&guesses.forbidden) + read(&guesses.other),
        "forged JWTs reached the database: {report}"
    );
    assert!(
        jwt_lookups >= read(&jwts.forbidden) && read(&jwts.forbidden) > 0,
        "{report}"
    );
    assert_eq!(
        read(&counts.slow_cut_late),
        0,
        "slow sockets outlived the deadline: {report}"
    );
    assert!(admin_answers, "the admin API did not recover: {report}");
    assert!(peak_rss < 512 * 1024, "memory grew: {report}");
}

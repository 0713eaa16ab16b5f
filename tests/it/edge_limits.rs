//! The edge's per-client limits, over real sockets from distinct loopback addresses: refusals
//! past `max_refusals_per_ip_per_minute` get 429 before any lookup, `max_connections_per_ip`
//! closes the extra connections at accept, a request head trickled past `handshake_timeout` is
//! cut, and a connection that never upgrades does not live for ever.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A TCP connection to `proxy` from the loopback address `source`.
async fn connect_from(source: &str, proxy: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{source}:0").parse().expect("source"))
        .expect("bind source");
    socket.connect(proxy).await.expect("connect")
}

async fn status_from(source: &str, proxy: SocketAddr, token: &str) -> u16 {
    let stream = connect_from(source, proxy).await;
    match ws_over(stream, &proxy.to_string(), &format!("/?token={token}"), &[]).await {
        Ok(_) => 101,
        Err(error) => refusal(Err::<(), _>(error)).0,
    }
}

/// Whether the server closes `stream` within `within` (EOF or reset on read).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut byte = [0u8; 64];
    matches!(
        tokio::time::timeout(within, stream.read(&mut byte)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

#[tokio::test]
async fn refusals_past_the_limit_get_429_before_any_lookup() {
    let backend = echo_backend().await;
    let proxy = start_proxy(
        "[vncgate]\nmax_refusals_per_ip_per_minute = 3\n",
        &format!("good: {backend}\n"),
    )
    .await;
    for _ in 0..3 {
        assert_eq!(status_from("127.0.0.2", proxy.addr, "guess").await, 403);
    }
    assert_eq!(status_from("127.0.0.2", proxy.addr, "guess").await, 429);
    // Limited before the lookup: even a good token is not looked at from there.
    assert_eq!(status_from("127.0.0.2", proxy.addr, "good").await, 429);
    // /token-status is limited the same way.
    let stream = connect_from("127.0.0.2", proxy.addr).await;
    let head = raw_over(
        stream,
        "GET /token-status?token=good HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 429"), "{head}");
    // Another client is not affected.
    assert_eq!(status_from("127.0.0.3", proxy.addr, "good").await, 101);
}

/// A 429 at a token's session cap spends the client's refusal budget as a 403 does: a holder
/// of a token at its cap cannot make the proxy look it up without limit. The audit trail tells
/// the two 429s apart.
#[tokio::test]
async fn retries_at_the_session_cap_spend_the_refusal_budget() {
    let backend = echo_backend().await;
    let proxy = start_proxy(
        "[vncgate]\nmax_refusals_per_ip_per_minute = 2\nmax_sessions_per_token = 1\naudit_log = @DIR@/audit.log\n",
        &format!("held: {backend}\n"),
    )
    .await;
    let stream = connect_from("127.0.0.4", proxy.addr).await;
    let (socket, _) = ws_over(stream, &proxy.addr.to_string(), "/?token=held", &[])
        .await
        .expect("the first session");
    let _held = open_console(socket).await.expect("console");
    for _ in 0..4 {
        assert_eq!(status_from("127.0.0.4", proxy.addr, "held").await, 429);
    }
    let log = proxy.dir.path().join("audit.log");
    let reasons: Vec<String> = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|event| event["event"] == "refusal")
        .filter_map(|event| event["reason"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        reasons,
        ["session_cap", "session_cap", "rate_limited", "rate_limited"],
        "two lookups, then 429 before any"
    );
}

/// A connection from `ip` that has had one keep-alive answer, and stays open.
async fn answered(ip: &str, addr: std::net::SocketAddr) -> TcpStream {
    let mut stream = connect_from(ip, addr).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut head = [0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut head))
        .await
        .expect("answer in time")
        .expect("read");
    assert!(head
        .get(..read)
        .is_some_and(|h| h.starts_with(b"HTTP/1.1 200")));
    stream
}

async fn raw_over(mut stream: TcpStream, request: &str) -> String {
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = vec![0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut response))
        .await
        .expect("answer in time")
        .expect("read");
    String::from_utf8_lossy(&response[..read]).into_owned()
}

#[tokio::test]
async fn connections_past_the_per_client_cap_are_closed_at_accept() {
    let proxy = start_proxy("[vncgate]\nmax_connections_per_ip = 2\n", "").await;
    // Each answered once and kept open: the proxy has accepted and counted both before the
    // third arrives.
    let mut held = vec![
        answered("127.0.0.4", proxy.addr).await,
        answered("127.0.0.4", proxy.addr).await,
    ];
    let mut third = connect_from("127.0.0.4", proxy.addr).await;
    assert!(
        closed_within(&mut third, Duration::from_secs(2)).await,
        "the third connection from one client was kept"
    );
    // Another client still gets in, and a freed slot is reusable.
    let other = connect_from("127.0.0.5", proxy.addr).await;
    let answer = raw_over(other, "GET /console.html HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(held.pop());
    // The proxy hears of the close when it reads the FIN: until then the slot is still held.
    let freed = wait_for(Duration::from_secs(5), || async {
        let again = connect_from("127.0.0.4", proxy.addr).await;
        let mut again = again;
        again
            .write_all(b"GET /console.html HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .is_ok()
            && {
                let mut head = [0u8; 16];
                matches!(
                    tokio::time::timeout(Duration::from_secs(2), again.read(&mut head)).await,
                    Ok(Ok(n)) if head.get(..n).is_some_and(|h| h.starts_with(b"HTTP/1.1 200"))
                )
            }
    })
    .await;
    assert!(freed, "a freed slot was not reusable");
}

#[tokio::test]
async fn a_trickled_request_head_is_cut_at_the_handshake_deadline() {
    let proxy = start_proxy("[vncgate]\nhandshake_timeout = 1\n", "").await;
    let mut slow = connect_from("127.0.0.6", proxy.addr).await;
    let started = Instant::now();
    let head = b"GET /console.html HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    let mut closed = false;
    for byte in head.iter().cycle().take(40) {
        if slow.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        if closed_within(&mut slow, Duration::from_millis(250)).await {
            closed = true;
            break;
        }
    }
    assert!(closed, "a slowloris client outlived the deadline");
    assert!(started.elapsed() < Duration::from_secs(8));
}

#[tokio::test]
async fn a_connection_that_never_upgrades_does_not_live_for_ever() {
    // handshake_timeout 0.5 s: the lifetime is six of them, 3 s (60 s by default).
    let proxy = start_proxy("[vncgate]\nhandshake_timeout = 0.5\n", "").await;
    let mut stream = connect_from("127.0.0.7", proxy.addr).await;
    let started = Instant::now();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut alive = true;
    while alive && started.elapsed() < Duration::from_secs(10) {
        let request = b"GET /console.html HTTP/1.1\r\nHost: x\r\n\r\n";
        if stream.write_all(request).await.is_err() {
            break;
        }
        match tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => alive = false,
            _ => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
    assert!(!alive, "a keep-alive connection lived past its lifetime");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}

/// A PROXY protocol v2 header for a TCP/IPv4 client.
fn proxy_v2(client: [u8; 4], port: u16) -> Vec<u8> {
    let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    header.extend_from_slice(&[0x21, 0x11, 0, 12]);
    header.extend_from_slice(&client);
    header.extend_from_slice(&[127, 0, 0, 1]);
    header.extend_from_slice(&port.to_be_bytes());
    header.extend_from_slice(&6080u16.to_be_bytes());
    header
}

async fn status_via(
    source: &str,
    proxy: SocketAddr,
    preface: &[u8],
    headers: &[(&str, &str)],
) -> u16 {
    let mut stream = connect_from(source, proxy).await;
    stream.write_all(preface).await.expect("preface");
    match ws_over(stream, &proxy.to_string(), "/?token=guess", headers).await {
        Ok(_) => 101,
        Err(error) => refusal(Err::<(), _>(error)).0,
    }
}

#[tokio::test]
async fn the_client_named_by_a_trusted_proxy_header_is_the_one_limited() {
    let proxy = start_proxy(
        "[vncgate]\nmax_refusals_per_ip_per_minute = 2\ntrusted_proxies = 127.0.0.1\nproxy_protocol = true\n",
        "",
    )
    .await;
    let a = proxy_v2([203, 0, 113, 5], 40000);
    let b = proxy_v2([203, 0, 113, 6], 40001);
    assert_eq!(status_via("127.0.0.1", proxy.addr, &a, &[]).await, 403);
    assert_eq!(status_via("127.0.0.1", proxy.addr, &a, &[]).await, 403);
    assert_eq!(status_via("127.0.0.1", proxy.addr, &a, &[]).await, 429);
    // The same load balancer, another client: not limited.
    assert_eq!(status_via("127.0.0.1", proxy.addr, &b, &[]).await, 403);
    // v1 works too.
    let v1 = b"PROXY TCP4 203.0.113.6 127.0.0.1 40002 6080\r\n";
    assert_eq!(status_via("127.0.0.1", proxy.addr, v1, &[]).await, 403);
    assert_eq!(status_via("127.0.0.1", proxy.addr, v1, &[]).await, 429);
    // A trusted peer that sends no header is refused; an untrusted peer's header is not read
    // as one (it is no HTTP request either).
    let mut bare = connect_from("127.0.0.1", proxy.addr).await;
    bare.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    assert!(closed_within(&mut bare, Duration::from_secs(2)).await);
}

#[tokio::test]
async fn forwarded_for_counts_from_trusted_peers_only() {
    let proxy = start_proxy(
        "[vncgate]\nmax_refusals_per_ip_per_minute = 2\ntrusted_proxies = 127.0.0.1\n",
        "",
    )
    .await;
    let from_a = [("X-Forwarded-For", "198.51.100.1")];
    let from_b = [("X-Forwarded-For", "198.51.100.2")];
    for _ in 0..2 {
        assert_eq!(status_via("127.0.0.1", proxy.addr, b"", &from_a).await, 403);
    }
    assert_eq!(status_via("127.0.0.1", proxy.addr, b"", &from_a).await, 429);
    assert_eq!(status_via("127.0.0.1", proxy.addr, b"", &from_b).await, 403);
    // From an untrusted peer the header is ignored: the peer itself is limited, whatever
    // address it claims.
    for claimed in ["198.51.100.3", "198.51.100.4"] {
        let header = [("X-Forwarded-For", claimed)];
        assert_eq!(status_via("127.0.0.9", proxy.addr, b"", &header).await, 403);
    }
    let header = [("X-Forwarded-For", "198.51.100.5")];
    assert_eq!(status_via("127.0.0.9", proxy.addr, b"", &header).await, 429);
}

/// Behind a load balancer that adds X-Forwarded-For (HAProxy's `option forwardfor`, nginx),
/// a client's own `Forwarded` header is passed through: it must not name the client, or a
/// client could escape the refusal limit by naming a new address each time. Only the header
/// `forwarded_header` names is read.
#[tokio::test]
async fn a_clients_own_forwarded_header_does_not_escape_the_limit() {
    let proxy = start_proxy(
        "[vncgate]\nmax_refusals_per_ip_per_minute = 2\ntrusted_proxies = 127.0.0.1\n",
        "",
    )
    .await;
    let mut statuses = Vec::new();
    for i in 0..4 {
        let forged = format!("for=198.51.100.{}", 10 + i);
        let headers = [
            ("Forwarded", forged.as_str()),
            ("X-Forwarded-For", "198.51.100.1, 203.0.113.77"),
        ];
        statuses.push(status_via("127.0.0.1", proxy.addr, b"", &headers).await);
    }
    assert_eq!(statuses, [403, 403, 429, 429]);

    // With forwarded_header = forwarded, the same holds the other way round.
    let proxy = start_proxy(
        "[vncgate]\nmax_refusals_per_ip_per_minute = 2\ntrusted_proxies = 127.0.0.1\nforwarded_header = forwarded\n",
        "",
    )
    .await;
    let mut statuses = Vec::new();
    for i in 0..4 {
        let forged = format!("198.51.100.{}", 10 + i);
        let headers = [
            ("Forwarded", "for=203.0.113.78"),
            ("X-Forwarded-For", forged.as_str()),
        ];
        statuses.push(status_via("127.0.0.1", proxy.addr, b"", &headers).await);
    }
    assert_eq!(statuses, [403, 403, 429, 429]);
}

#[tokio::test]
async fn forwarded_proto_counts_from_trusted_peers_only() {
    let backend = echo_backend().await;
    let proxy = start_proxy(
        "[console]\nallowed_origins = console.example\n[vncgate]\ntrusted_proxies = 127.0.0.1\n",
        &format!("good: {backend}\n"),
    )
    .await;
    let headers = [
        ("Origin", "https://console.example"),
        ("X-Forwarded-Proto", "https"),
    ];
    let trusted = connect_from("127.0.0.1", proxy.addr).await;
    assert!(
        ws_over(trusted, &proxy.addr.to_string(), "/?token=good", &headers)
            .await
            .is_ok()
    );
    let stranger = connect_from("127.0.0.10", proxy.addr).await;
    let refused = ws_over(stranger, &proxy.addr.to_string(), "/?token=good", &headers).await;
    assert_eq!(refusal(refused).0, 403);
}

/// Edge finding 5: `serve` raises its soft descriptor limit to the hard one, and says when
/// `max_connections` cannot fit in it.
#[test]
fn serve_raises_the_descriptor_limit_and_warns_when_it_is_short() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("vncgate.conf");
    std::fs::write(
        &config,
        format!(
            "[DEFAULT]\nweb =\n[vnc]\nnovncproxy_host = 127.0.0.1\nnovncproxy_port = 0\n\
             [vncgate]\nmax_connections = 100000000\nstate_dir = {}\nnovnc_dir =\n",
            dir.path().join("state").display()
        ),
    )
    .expect("config");
    let script = format!(
        "ulimit -Sn 256 && exec {} serve --config-file {}",
        env!("CARGO_BIN_EXE_vncgate"),
        config.display()
    );
    let mut child = std::process::Command::new("bash")
        .args(["-c", &script])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let mut raised = false;
    let mut warned = false;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(raised && warned) && Instant::now() < deadline {
        if let Ok(line) = received.recv_timeout(Duration::from_millis(200)) {
            raised |= line.contains("open file limit raised") && line.contains("from=256");
            warned |= line.contains("below what max_connections needs");
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(raised, "the soft limit of 256 was not raised");
    assert!(warned, "no warning for a max_connections that cannot fit");
}

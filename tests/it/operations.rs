//! Operations: `/metrics` after real sessions, parsed by a Prometheus text-format parser;
//! `/healthz` and `/readyz` on both listeners; the audit trail with the real client address
//! (PROXY protocol v2 and `X-Forwarded-For` from a trusted peer, neither from a stranger); the
//! drain on stop.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::common::*;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

pub(crate) async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let text = raw_http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    )
    .await;
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

/// The value of a sample in Prometheus text, parsed by `prometheus-parse`.
pub(crate) fn sample(text: &str, name: &str, label: Option<(&str, &str)>) -> Option<f64> {
    let lines = text.lines().map(|line| Ok(line.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("a valid exposition");
    scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == name && label.is_none_or(|(key, value)| s.labels.get(key) == Some(value))
        })
        .and_then(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => Some(v),
            prometheus_parse::Value::Histogram(ref buckets) => {
                buckets.last().map(|bucket| bucket.count)
            }
            _ => None,
        })
}

#[tokio::test]
async fn metrics_move_as_sessions_and_refusals_happen() {
    let backend = echo_backend().await;
    let proxy = start_proxy(
        "[vncgate]\nmetrics_listen = 127.0.0.1:0\n",
        &format!("good: {backend}\n"),
    )
    .await;
    let metrics = proxy.metrics_addr.expect("metrics listener");
    let (socket, _) = ws(proxy.addr, "/?token=good", &[]).await.expect("upgrade");
    let mut console = open_console(socket).await.expect("console");
    console.write(b"hello").await;
    assert_eq!(console.read(5).await.expect("echo"), b"hello");
    let refused = ws(proxy.addr, "/?token=nope", &[]).await;
    assert_eq!(refusal(refused).0, 403);

    let (status, text) = get(metrics, "/metrics").await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        sample(&text, "vncgate_sessions_opened_total", None),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "vncgate_sessions_active", None),
        Some(1.0),
        "{text}"
    );
    let down = sample(
        &text,
        "vncgate_bytes_total",
        Some(("direction", "to_browser")),
    );
    let up = sample(
        &text,
        "vncgate_bytes_total",
        Some(("direction", "to_server")),
    );
    assert!(
        down.is_some_and(|b| b >= 5.0) && up.is_some_and(|b| b >= 5.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "vncgate_refusals_total",
            Some(("reason", "unknown_token"))
        ),
        Some(1.0),
        "{text}"
    );
    // Prometheus' convention: the release alone in `version`, the commit in `revision`.
    let release = format!(
        "vncgate_build_info{{version=\"{}\",revision=\"",
        env!("CARGO_PKG_VERSION")
    );
    assert!(text.contains(&release), "{text}");
    assert!(sample(&text, "process_resident_memory_bytes", None).is_some_and(|b| b > 0.0));
    assert!(sample(&text, "process_open_fds", None).is_some_and(|n| n > 0.0));

    drop(console);
    let mut closed = false;
    for _ in 0..50 {
        let (_, text) = get(metrics, "/metrics").await;
        if sample(&text, "vncgate_sessions_active", None) == Some(0.0) {
            closed = sample(&text, "vncgate_session_duration_seconds_count", None) == Some(1.0)
                || text.contains("vncgate_session_duration_seconds_count 1");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(closed, "the closed session was not counted");

    for addr in [metrics, proxy.addr] {
        assert_eq!(get(addr, "/healthz").await.0, 200);
        assert_eq!(get(addr, "/readyz").await.0, 200);
    }
}

async fn connect_from(source: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{source}:0").parse().expect("source"))
        .expect("bind");
    socket.connect(to).await.expect("connect")
}

async fn open_via(
    mut stream: TcpStream,
    addr: SocketAddr,
    preface: &[u8],
    headers: &[(&str, &str)],
) {
    stream.write_all(preface).await.expect("preface");
    let (socket, _) = ws_over(stream, &addr.to_string(), "/?token=good", headers)
        .await
        .expect("upgrade");
    let mut console = open_console(socket).await.expect("console");
    console.write(b"x").await;
    assert_eq!(console.read(1).await.expect("echo"), b"x");
}

pub(crate) fn audit_events(path: &std::path::Path, kind: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|event| event["event"] == kind)
        .collect()
}

/// Every admitted session ends in exactly one audit event: `session_close` for one that
/// opened, `session_failed` with its reason for one that never did (a console server that
/// refuses the connection, a browser that breaks the RFB handshake).
#[tokio::test]
async fn every_admitted_session_ends_in_one_close_or_failed_event() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let good = echo_backend().await;
    let dead = closed_port().await;
    let proxy = start_proxy(
        "[vncgate]\naudit_log = @DIR@/audit.log\n",
        &format!("good: {good}\ndead: {dead}\n"),
    )
    .await;
    let log = proxy.dir.path().join("audit.log");

    let (socket, _) = ws(proxy.addr, "/?token=good", &[]).await.expect("upgrade");
    let mut console = open_console(socket).await.expect("a session");
    console.write(b"x").await;
    assert_eq!(console.read(1).await.expect("echo"), b"x");
    drop(console);

    // The browser's side of the handshake, as noVNC does it: the console server's refusal
    // comes back as a security failure.
    let (socket, _) = ws(proxy.addr, "/?token=dead", &[]).await.expect("upgrade");
    let failed = open_console(socket).await.err();
    assert!(failed.is_some_and(|why| why.contains("security failed")));

    let (mut socket, _) = ws(proxy.addr, "/?token=good", &[]).await.expect("upgrade");
    socket
        .send(Message::binary(b"RFB 009.009\n".to_vec()))
        .await
        .expect("send");
    let closed = next_close(&mut socket).await;
    assert_eq!(closed.map(|(code, _)| code), Some(1002));

    let ended =
        || audit_events(&log, "session_close").len() + audit_events(&log, "session_failed").len();
    assert!(
        wait_until(Duration::from_secs(10), || ended() >= 3).await,
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert_eq!(audit_events(&log, "session_open").len(), 1);
    assert_eq!(audit_events(&log, "session_close").len(), 1);
    let failed = audit_events(&log, "session_failed");
    assert_eq!(failed.len(), 2, "{failed:?}");
    let reasons: Vec<&str> = failed.iter().filter_map(|e| e["reason"].as_str()).collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("console server handshake failed")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("browser handshake failed")),
        "{reasons:?}"
    );
    assert!(failed
        .iter()
        .all(|e| e["token_hash"].as_str().is_some_and(|h| h.len() == 8)));
}

#[tokio::test]
async fn the_audit_trail_has_the_real_client_address() {
    let backend = echo_backend().await;
    let tokens = format!("good: {backend}\n");
    // Behind HAProxy in TCP mode: the PROXY v2 header names the client.
    let tcp_mode = start_proxy(
        "[vncgate]\naudit_log = @DIR@/audit.log\ntrusted_proxies = 127.0.0.1\nproxy_protocol = true\n",
        &tokens,
    )
    .await;
    let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    header.extend_from_slice(&[
        0x21, 0x11, 0, 12, 203, 0, 113, 5, 127, 0, 0, 1, 0x9c, 0x40, 0x17, 0xc0,
    ]);
    open_via(
        connect_from("127.0.0.1", tcp_mode.addr).await,
        tcp_mode.addr,
        &header,
        &[],
    )
    .await;
    let log = tcp_mode.dir.path().join("audit.log");
    let opened = audit_events(&log, "session_open");
    assert_eq!(opened.len(), 1, "{opened:?}");
    assert_eq!(opened[0]["client_ip"], "203.0.113.5");
    assert_eq!(opened[0]["console"], "novnc");
    assert_eq!(opened[0]["scheme"], "none");
    assert!(opened[0]["token_hash"]
        .as_str()
        .is_some_and(|h| h.len() == 8));

    // Behind HAProxy in HTTP mode: X-Forwarded-For from the trusted peer counts, a
    // stranger's does not.
    let http_mode = start_proxy(
        "[vncgate]\naudit_log = @DIR@/audit.log\ntrusted_proxies = 127.0.0.1\n",
        &tokens,
    )
    .await;
    let forwarded = [("X-Forwarded-For", "198.51.100.7")];
    open_via(
        connect_from("127.0.0.1", http_mode.addr).await,
        http_mode.addr,
        b"",
        &forwarded,
    )
    .await;
    open_via(
        connect_from("127.0.0.9", http_mode.addr).await,
        http_mode.addr,
        b"",
        &forwarded,
    )
    .await;
    let refused = ws_over(
        connect_from("127.0.0.9", http_mode.addr).await,
        &http_mode.addr.to_string(),
        "/?token=bad",
        &forwarded,
    )
    .await;
    assert_eq!(refusal(refused).0, 403);
    let log = http_mode.dir.path().join("audit.log");
    let clients: Vec<String> = audit_events(&log, "session_open")
        .iter()
        .map(|event| event["client_ip"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(clients, ["198.51.100.7", "127.0.0.9"]);
    let refusals = audit_events(&log, "refusal");
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0]["client_ip"], "127.0.0.9");
    assert_eq!(refusals[0]["reason"], "unknown_token");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !text.contains("good") && !text.contains("\"bad\""),
        "a token in the audit log: {text}"
    );
}

#[tokio::test]
async fn the_stop_drains_then_closes_with_1001() {
    let backend = echo_backend().await;
    let proxy = start_proxy(
        "[vncgate]\ndrain_delay = 1.5\nshutdown_grace = 1\n",
        &format!("good: {backend}\n"),
    )
    .await;
    let (socket, _) = ws(proxy.addr, "/?token=good", &[]).await.expect("upgrade");
    let mut open = open_console(socket).await.expect("console");
    let stopped = Instant::now();
    proxy.shutdown.cancel();
    // Draining: not ready, but still taking sessions.
    let draining = || async { get(proxy.addr, "/readyz").await.0 == 503 };
    assert!(
        wait_for(Duration::from_secs(2), draining).await,
        "/readyz still ready"
    );
    let (late, _) = ws(proxy.addr, "/?token=good", &[])
        .await
        .expect("upgrade while draining");
    let late = open_console(late).await;
    assert!(late.is_ok(), "{:?}", late.err());
    // Then the listener closes, the grace passes, and the session gets 1001 with a reason.
    let close = next_close(&mut open.ws).await;
    assert_eq!(
        close,
        Some((1001, "the console proxy is shutting down".to_owned()))
    );
    assert!(
        stopped.elapsed() >= Duration::from_millis(2400),
        "{:?}",
        stopped.elapsed()
    );
    let mut refused = false;
    for _ in 0..20 {
        if TcpStream::connect(proxy.addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused, "the listener stayed open");
}

#[tokio::test]
async fn bursts_are_spliced_and_counted_unless_splice_is_off() {
    for splice in [true, false] {
        let backend = echo_backend().await;
        let proxy = start_proxy(
            &format!("[vncgate]\nmetrics_listen = 127.0.0.1:0\nsplice = {splice}\n"),
            &format!("good: {backend}\n"),
        )
        .await;
        let metrics = proxy.metrics_addr.expect("metrics listener");
        let (socket, _) = ws(proxy.addr, "/?token=good", &[]).await.expect("upgrade");
        let mut console = open_console(socket).await.expect("console");
        // ClientInit first (the proxy makes it shared), then bursts of 1 MiB echoed: the
        // proxy's reads fill and grow until a pipe takes over.
        console.write(&[1]).await;
        assert_eq!(console.read(1).await.expect("ClientInit echoed"), [1]);
        let burst: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 253) as u8).collect();
        for _ in 0..8 {
            console.write(&burst).await;
            let echoed = console.read(burst.len()).await.expect("echo");
            assert!(echoed == burst, "the burst came back changed");
        }
        let (_, text) = get(metrics, "/metrics").await;
        let spliced = sample(&text, "vncgate_bytes_spliced_total", None).expect("the series");
        let down = sample(
            &text,
            "vncgate_bytes_total",
            Some(("direction", "to_browser")),
        )
        .expect("bytes to the browser");
        assert!(down >= f64::from(8 << 20), "{text}");
        if splice {
            assert!(spliced > 0.0 && spliced <= down, "{text}");
        } else {
            assert_eq!(spliced, 0.0, "{text}");
        }
    }
}

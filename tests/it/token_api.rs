//! Tokens looked up over HTTP, as websockify's BaseTokenAPI and JSONTokenApi do: a small HTTP
//! server in the test answers text and JSON; both open a real QEMU console through vncgate and
//! through websockify itself; answers are cached, unknown tokens too; an API that fails is a
//! 503, never an admission.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::qemu::{self, Qemu};
use crate::common::websockify::{python, Websockify};
use crate::common::*;

/// The portal's lookup: `/t/text-token` as text, `/t/json-token` as JSON, anything else 404;
/// 500 for everything while `failing`. Counts the requests per path.
struct Portal {
    port: u16,
    asked: Arc<std::sync::Mutex<Vec<String>>>,
    failing: Arc<AtomicBool>,
    /// Paths answered 404 from now on: tokens the portal has revoked.
    gone: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Portal {
    async fn start(target: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let asked: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let failing = Arc::new(AtomicBool::new(false));
        let gone: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let (log, fail, revoked) = (asked.clone(), failing.clone(), gone.clone());
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                let (log, fail, target) = (log.clone(), fail.clone(), target.clone());
                let revoked = revoked.clone();
                tokio::spawn(async move {
                    let mut head = vec![0u8; 4096];
                    let read = tcp.read(&mut head).await.unwrap_or(0);
                    let head = String::from_utf8_lossy(&head[..read]).into_owned();
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                    log.lock().expect("log").push(path.clone());
                    let (status, kind, body) = if fail.load(Ordering::Relaxed) {
                        ("500 Internal Server Error", "text/plain", String::new())
                    } else if revoked.lock().expect("gone").contains(&path) {
                        ("404 Not Found", "text/plain", String::new())
                    } else if path == "/t/text-token" {
                        ("200 OK", "text/plain", target.clone())
                    } else if path == "/t/json-token" {
                        let (host, port) = target.rsplit_once(':').expect("target");
                        (
                            "200 OK",
                            "application/json",
                            format!(r#"{{"host": "{host}", "port": {port}}}"#),
                        )
                    } else {
                        ("404 Not Found", "text/plain", String::new())
                    };
                    let answer = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = tcp.write_all(answer.as_bytes()).await;
                });
            }
        });
        Self {
            port,
            asked,
            failing,
            gone,
        }
    }

    fn asked(&self, path: &str) -> usize {
        self.asked
            .lock()
            .expect("log")
            .iter()
            .filter(|p| *p == path)
            .count()
    }
}

#[tokio::test]
async fn the_portals_lookup_opens_a_qemu_console_through_vncgate_and_websockify() {
    if !qemu::available() {
        return;
    }
    let Some(python) = python("requests, websockify") else {
        return;
    };
    let work = tempfile::tempdir().expect("tempdir");
    let vm = Qemu::start(work.path(), "", &[]);
    let portal = Portal::start(format!("127.0.0.1:{}", vm.addr.port())).await;
    let url = format!("http://127.0.0.1:{}/t/%s", portal.port);
    let proxy = start_proxy(&format!("[vncgate]\ntoken_api_url = {url}\n"), "").await;
    let mut live = None;
    for token in ["text-token", "json-token", "text-token"] {
        let (socket, _) = ws(proxy.addr, &format!("/?token={token}"), &[])
            .await
            .expect("upgrade");
        live = Some(open_console(socket).await.expect(token));
    }
    for _ in 0..2 {
        assert_eq!(refusal(ws(proxy.addr, "/?token=nobody", &[]).await).0, 403);
    }
    // Within token_api_cache_ttl (5 s) each token was asked once, the unknown one too.
    assert_eq!(portal.asked("/t/text-token"), 1);
    assert_eq!(portal.asked("/t/nobody"), 1);

    let rfb = Ok(b"RFB 003.008\n".to_vec());
    let text = Websockify::start(&python, "BaseTokenAPI", &url).await;
    assert_eq!(text.version("text-token").await, rfb);
    let json = Websockify::start(&python, "JSONTokenApi", &url).await;
    assert_eq!(json.version("json-token").await, rfb);

    // An API that fails: 503 for a token it was not asked about, and the live session goes on.
    portal.failing.store(true, Ordering::Relaxed);
    assert_eq!(refusal(ws(proxy.addr, "/?token=another", &[]).await).0, 503);
    let closed = start_proxy(
        &format!(
            "[vncgate]\ntoken_api_url = http://{}/t/%s\n",
            closed_port().await
        ),
        "",
    )
    .await;
    assert_eq!(
        refusal(ws(closed.addr, "/?token=text-token", &[]).await).0,
        503
    );
    let mut live = live.expect("a live session");
    assert!(live.answers().await, "the live session ended with the API");
}

#[tokio::test]
async fn a_token_the_portal_stops_answering_ends_its_session_and_an_outage_ends_none() {
    let backend = crate::common::fake_vnc::echo().await;
    let portal = Portal::start(format!("127.0.0.1:{}", backend.port())).await;
    let proxy = start_proxy(
        &format!(
            "[vncgate]\ntoken_api_url = http://127.0.0.1:{}/t/%s\ntoken_api_cache_ttl = 0\n\
             session_recheck_interval = 0.5\n",
            portal.port
        ),
        "",
    )
    .await;
    let mut open = Vec::new();
    for token in ["json-token", "text-token"] {
        let (socket, _) = ws(proxy.addr, &format!("/?token={token}"), &[])
            .await
            .expect("upgrade");
        open.push(open_console(socket).await.expect(token));
    }
    let (Some(mut live), Some(mut revoked)) = (open.pop(), open.pop()) else {
        panic!("two consoles");
    };
    portal
        .gone
        .lock()
        .expect("gone")
        .push("/t/json-token".into());
    let close = tokio::time::timeout(Duration::from_secs(5), next_close(&mut revoked.ws)).await;
    assert_eq!(
        close.ok().flatten().map(|(_, reason)| reason).as_deref(),
        Some("the console access was revoked")
    );
    // The API fails: that proves nothing about the live session, through several rechecks.
    portal.failing.store(true, Ordering::Relaxed);
    let asked = portal.asked("/t/text-token");
    let rechecked = wait_until(Duration::from_secs(5), || {
        portal.asked("/t/text-token") >= asked + 2
    })
    .await;
    assert!(rechecked, "the live session's token was not asked again");
    live.write(b"still here").await;
    assert_eq!(live.read(10).await.expect("echo"), b"still here");
}

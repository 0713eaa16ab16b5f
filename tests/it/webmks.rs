//! WebMKS ticket URLs (`wss://HOST:PORT/ticket/TICKET thumbprint=HEX`) against what speaks the
//! same wire protocol as ESXi: Debian's websockify serving TLS WebSockets with a self-signed
//! RSA certificate, in front of a real QEMU VNC server. Fake servers only for what no real one
//! does: an expired ticket's HTTP 404, an answer that is not an upgrade.

use crate::common;
use std::path::Path;

use crate::common::admin::{admin_proxy, request, SECRET};
use crate::common::browser::{self, browse};
use crate::common::daemon::{free_port, Daemon};
use crate::common::esxi::{SelfSigned, Websockify};
use crate::common::fake_vnc::{self, Step};
use crate::common::qemu::{self, Qemu};
use crate::common::rfb::WsBytes;
use crate::common::*;

/// The secret part of every ticket URL here: it must never reach a log.
const TICKET: &str = "52f3b6c0-9a1e-4d2b-8c7f-ticket-secret";

/// QEMU's VNC server behind websockify with a self-signed certificate: an ESXi host's WebMKS
/// endpoint as a client sees it.
struct Esxi {
    _vm: Qemu,
    _websockify: Websockify,
    cert: SelfSigned,
    url: String,
}

async fn esxi(work: &Path) -> Option<Esxi> {
    if !qemu::available() {
        return None;
    }
    let vm = Qemu::start(work, "", &[]);
    let cert = SelfSigned::new(work, "esxi1");
    let websockify = Websockify::start(&cert, vm.addr).await?;
    let url = format!("wss://127.0.0.1:{}/ticket/{TICKET}", websockify.port);
    Some(Esxi {
        _vm: vm,
        _websockify: websockify,
        cert,
        url,
    })
}

/// Opens the console through `proxy` with `token` and reads ServerInit.
async fn server_init(proxy: &Proxy, token: &str) -> Result<common::rfb::ServerInit, String> {
    let (socket, _) = ws(proxy.addr, &format!("/?token={token}"), &[])
        .await
        .map_err(|e| format!("upgrade: {e}"))?;
    WsBytes::new(socket).handshake().await
}

#[tokio::test]
async fn a_ticket_url_with_its_thumbprint_opens_the_qemu_console() {
    let work = tempfile::tempdir().expect("tempdir");
    let Some(host) = esxi(work.path()).await else {
        return;
    };
    // openssl's form of the SHA-1 thumbprint (upper case, colons), as vSphere shows it.
    let sha1 = host.cert.fingerprint("sha1");
    let proxy = start_proxy("", &format!("esx: {} thumbprint={sha1}\n", host.url)).await;
    let init = server_init(&proxy, "esx").await.expect("console");
    assert!(init.width >= 640 && init.height >= 400, "{init:?}");

    // Issued with the SHA-256 thumbprint, lower case without colons: single-use, as a ticket is.
    let sha256 = host
        .cert
        .fingerprint("sha256")
        .replace(':', "")
        .to_lowercase();
    let config = proxy.config_path();
    let output = vncgate_cli(&[
        "token",
        "issue",
        "--config-file",
        config.to_str().expect("utf8"),
        "--url",
        &host.url,
        "--thumbprint",
        &sha256,
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("single use"), "{stdout}");
    assert!(
        !stdout.contains(TICKET),
        "the ticket is not printed back: {stdout}"
    );
    let token = stdout
        .lines()
        .find_map(|line| line.strip_prefix("token:"))
        .map(str::trim)
        .expect("token")
        .to_owned();
    let init = server_init(&proxy, &token).await.expect("console");
    assert!(init.width >= 640, "{init:?}");
    let again = ws(proxy.addr, &format!("/?token={token}"), &[]).await;
    assert_eq!(refusal(again).0, 403, "a ticket is good once");

    // `token list` shows the host, never the ticket.
    let listed = token_cli(&proxy, "list", &[]);
    assert!(!listed.contains(TICKET), "{listed}");
}

#[tokio::test]
async fn the_admin_api_takes_a_url_and_thumbprint() {
    let work = tempfile::tempdir().expect("tempdir");
    let Some(host) = esxi(work.path()).await else {
        return;
    };
    let (proxy, _secret) = admin_proxy("").await;
    let body = serde_json::json!({ "url": host.url, "thumbprint": host.cert.fingerprint("sha1") });
    let (status, response) = request(
        &proxy,
        "POST",
        "/v1/tokens",
        Some(SECRET),
        &body.to_string(),
    )
    .await;
    assert_eq!(status, 201, "{response}");
    let json: serde_json::Value = serde_json::from_str(&response).expect("json");
    let token = json["token"].as_str().expect("token");
    server_init(&proxy, token).await.expect("console");

    // Without the thumbprint: refused, never accepted unpinned.
    let body = serde_json::json!({ "url": host.url }).to_string();
    let (status, response) = request(&proxy, "POST", "/v1/tokens", Some(SECRET), &body).await;
    assert_eq!(status, 422, "{response}");
    assert!(response.contains("thumbprint"), "{response}");
}

#[tokio::test]
async fn a_wrong_thumbprint_is_refused_with_a_reason() {
    let work = tempfile::tempdir().expect("tempdir");
    let Some(host) = esxi(work.path()).await else {
        return;
    };
    let other = SelfSigned::new(work.path(), "another-host");
    let proxy = start_proxy(
        "",
        &format!(
            "esx: {} thumbprint={}\n",
            host.url,
            other.fingerprint("sha256")
        ),
    )
    .await;
    let (socket, _) = ws(proxy.addr, "/?token=esx", &[]).await.expect("upgrade");
    let reason = open_console(socket).await.err().expect("refused");
    assert!(reason.contains("does not match its thumbprint"), "{reason}");
}

/// A fake WebMKS host answering the upgrade with `answer`: its address and thumbprint.
async fn answering(work: &Path, answer: &'static str) -> (std::net::SocketAddr, String) {
    let cert = SelfSigned::new(work, "fake-esxi");
    let script = vec![
        Step::Tls(cert.server_config()),
        Step::ExpectLine("GET /ticket/"),
        Step::Send(answer.as_bytes().to_vec()),
    ];
    (fake_vnc::serve(script).await, cert.fingerprint("sha1"))
}

#[tokio::test]
async fn an_expired_ticket_and_a_refused_upgrade_are_told_apart() {
    let work = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
            "the console ticket was refused or has expired",
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            "the console server refused the WebSocket",
        ),
        (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n\r\n",
            "the console server refused the WebSocket",
        ),
    ];
    for (answer, expected) in cases {
        let (addr, pin) = answering(work.path(), answer).await;
        let proxy = start_proxy(
            "",
            &format!("esx: wss://{addr}/ticket/{TICKET} thumbprint={pin}\n"),
        )
        .await;
        let (socket, _) = ws(proxy.addr, "/?token=esx", &[]).await.expect("upgrade");
        let reason = open_console(socket).await.err().expect("refused");
        assert!(reason.contains(expected), "{answer:?}: {reason}");
    }
}

#[tokio::test]
async fn backend_policy_applies_to_ticket_urls() {
    let work = tempfile::tempdir().expect("tempdir");
    let Some(host) = esxi(work.path()).await else {
        return;
    };
    let sha1 = host.cert.fingerprint("sha1");
    // Not an allowed network: refused before the upgrade.
    let proxy = start_proxy(
        "[vncgate]\nallowed_backends = 10.0.0.0/8\n",
        &format!("esx: {} thumbprint={sha1}\n", host.url),
    )
    .await;
    assert_eq!(refusal(ws(proxy.addr, "/?token=esx", &[]).await).0, 403);
    // A target whose schemes exclude None: ESXi's None inside the ticket is not accepted.
    let proxy = start_proxy(
        "",
        &format!("esx: {} thumbprint={sha1} auth=vnc\n", host.url),
    )
    .await;
    let (socket, _) = ws(proxy.addr, "/?token=esx", &[]).await.expect("upgrade");
    assert!(
        open_console(socket).await.is_err(),
        "None must not pass for auth=vnc"
    );
}

#[tokio::test]
async fn the_ticket_never_reaches_the_log() {
    let work = tempfile::tempdir().expect("tempdir");
    let Some(host) = esxi(work.path()).await else {
        return;
    };
    let other = SelfSigned::new(work.path(), "another-host");
    let tokens = work.path().join("tokens");
    std::fs::write(
        &tokens,
        format!(
            "good: {url} thumbprint={}\nwrong: {url} thumbprint={}\n",
            host.cert.fingerprint("sha1"),
            other.fingerprint("sha1"),
            url = host.url
        ),
    )
    .expect("tokens");
    let port = free_port();
    let config = work.path().join("vncgate.conf");
    std::fs::write(
        &config,
        format!(
            "[DEFAULT]\ndebug = true\n[vnc]\nnovncproxy_host = 127.0.0.1\nnovncproxy_port = {port}\n\
             [vncgate]\nstate_dir = {}\ntoken_source = {}\n",
            work.path().join("state").display(),
            tokens.display()
        ),
    )
    .expect("config");
    let daemon = Daemon::start(&config, port, &[]).await;
    let (socket, _) = ws(daemon.addr, "/?token=good", &[]).await.expect("upgrade");
    WsBytes::new(socket).handshake().await.expect("console");
    let (socket, _) = ws(daemon.addr, "/?token=wrong", &[])
        .await
        .expect("upgrade");
    assert!(open_console(socket).await.is_err());
    let logged = || {
        std::fs::read_to_string(config.with_extension("log"))
            .is_ok_and(|log| log.contains("thumbprint"))
    };
    assert!(common::wait_until(std::time::Duration::from_secs(5), logged).await);
    drop(daemon);
    let log = std::fs::read_to_string(config.with_extension("log")).expect("log");
    assert!(log.contains("session opened"), "{log}");
    assert!(log.contains("thumbprint"), "the mismatch is logged: {log}");
    assert!(!log.contains(TICKET), "the ticket reached the log:\n{log}");
}

#[tokio::test]
async fn the_console_page_shows_the_screen_behind_a_ticket() {
    if !browser::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let Some(host) = esxi(work.path()).await else {
        return;
    };
    let proxy = start_proxy(
        "",
        &format!(
            "esx: {} thumbprint={}\n",
            host.url,
            host.cert.fingerprint("sha1")
        ),
    )
    .await;
    let url = format!(
        "http://127.0.0.1:{}/console.html?path=%3Ftoken%3Desx",
        proxy.addr.port()
    );
    let found = browse("display", url, "console-webmks").await;
    assert!(
        found["status"]
            .as_str()
            .unwrap_or_default()
            .contains("Connected"),
        "{found}"
    );
    assert!(found["colours"].as_u64().unwrap_or(0) >= 2, "{found}");
}

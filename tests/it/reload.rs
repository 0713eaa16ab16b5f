//! Reload without drops, with vncgate as its own process as systemd runs it: systemd hears
//! READY, RELOADING and STOPPING on its notify socket; a SIGHUP during a live console session
//! against QEMU with VeNCrypt, after the HTTPS certificate and the VeNCrypt client certificate
//! were replaced, keeps the session, shows new TLS connections the new certificate and makes new
//! sessions use the new client certificate (a QEMU whose `tls-authz` admits only it lets them
//! in); a broken config on SIGHUP keeps the running one.

use std::net::SocketAddr;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::daemon::{free_port, Daemon};
use crate::common::pki::TestPki;
use crate::common::qemu::{self, Qemu};
use crate::common::*;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

async fn start(config: &Path, port: u16, notify: Option<&Path>) -> Daemon {
    match notify {
        Some(socket) => Daemon::start(config, port, &[("NOTIFY_SOCKET", socket)]).await,
        None => Daemon::start(config, port, &[]).await,
    }
}

fn received(socket: &UnixDatagram, wanted: &str, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    while Instant::now() < deadline {
        if let Ok(count) = socket.recv(&mut buffer) {
            let message = String::from_utf8_lossy(&buffer[..count]).into_owned();
            let done = message.lines().any(|line| line == wanted);
            seen.push(message);
            if done {
                return seen;
            }
        }
    }
    panic!("no {wanted} among {seen:?}");
}

#[tokio::test]
async fn systemd_hears_ready_reloading_and_stopping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let port = free_port();
    let config = dir.path().join("vncgate.conf");
    std::fs::write(
        &config,
        format!(
            "[DEFAULT]\nweb =\n[vnc]\nnovncproxy_host = 127.0.0.1\nnovncproxy_port = {port}\n\
             [vncgate]\nstate_dir = {}\nnovnc_dir =\n",
            dir.path().join("state").display()
        ),
    )
    .expect("config");
    let proxy = start(&config, port, Some(&socket_path)).await;
    received(&socket, "READY=1", Duration::from_secs(5));
    proxy.signal("HUP");
    let reload = received(&socket, "READY=1", Duration::from_secs(5)).join("\n");
    assert!(reload.contains("RELOADING=1"), "{reload}");
    assert!(reload.contains("MONOTONIC_USEC="), "{reload}");
    proxy.signal("TERM");
    received(&socket, "STOPPING=1", Duration::from_secs(5));
}

/// The DER of the certificate a TLS handshake with `addr` shows, trusting `cas`.
async fn served_certificate(addr: SocketAddr, cas: &str) -> Vec<u8> {
    let tls = tls_handshake(addr, cas).await;
    let (_, session) = tls.get_ref();
    session
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|cert| cert.to_vec())
        .expect("a certificate")
}

async fn tls_handshake(addr: SocketAddr, cas: &str) -> tokio_rustls::client::TlsStream<TcpStream> {
    let connector = TlsConnector::from(tls_client(cas));
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
    connector.connect(name, tcp).await.expect("tls")
}

fn der_of(path: &Path) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::from_pem_file(path)
        .expect("pem")
        .to_vec()
}

/// A console over WSS to `token`, to ServerInit.
async fn console(
    addr: SocketAddr,
    cas: &str,
    token: &str,
) -> Result<rfb::WsBytes<tokio_rustls::client::TlsStream<TcpStream>>, String> {
    let tls = tls_handshake(addr, cas).await;
    let (socket, _) = ws_over(tls, "localhost", &format!("/?token={token}"), &[])
        .await
        .map_err(|e| e.to_string())?;
    let mut rfb = rfb::WsBytes::new(socket);
    rfb.handshake().await?;
    Ok(rfb)
}

fn tls_qemu(work: &Path, certs: &Path, authz: Option<&str>) -> Qemu {
    let creds = format!(
        "tls-creds-x509,id=tls0,dir={},endpoint=server,verify-peer=yes",
        certs.display()
    );
    match authz {
        None => Qemu::start(work, ",tls-creds=tls0", &["-object".into(), creds]),
        Some(identity) => Qemu::start(
            work,
            ",tls-creds=tls0,tls-authz=auth0",
            &[
                "-object".into(),
                creds,
                "-object".into(),
                format!("authz-simple,id=auth0,identity={identity}"),
            ],
        ),
    }
}

fn copy(from: PathBuf, to: &Path) {
    std::fs::copy(&from, to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
}

#[tokio::test]
async fn sighup_rotates_certificates_without_dropping_sessions() {
    if !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(work.path(), "pki");
    let next = TestPki::new(work.path(), "next");
    vncgate_pki::enrol::issue_client(&pki.dir, "rotated", 30, Default::default(), false)
        .expect("client");
    let open_vm = tls_qemu(work.path(), &pki.compute(), None);
    let pinned_vm = tls_qemu(work.path(), &pki.compute(), Some("O=vncgate,,CN=rotated"));
    // The files the proxy is configured with, rotated in place later.
    let live = work.path().join("live");
    std::fs::create_dir(&live).expect("mkdir");
    copy(pki.https_cert(), &live.join("https-cert.pem"));
    copy(pki.https_key(), &live.join("https-key.pem"));
    copy(
        pki.proxy().join("client-cert.pem"),
        &live.join("client-cert.pem"),
    );
    copy(
        pki.proxy().join("client-key.pem"),
        &live.join("client-key.pem"),
    );
    std::fs::write(
        live.join("tokens"),
        format!("open: {}\npinned: {}\n", open_vm.addr, pinned_vm.addr),
    )
    .expect("tokens");
    let port = free_port();
    let config_text = format!(
        "[DEFAULT]\nweb =\ncert = {live}/https-cert.pem\nkey = {live}/https-key.pem\n\
         [vnc]\nnovncproxy_host = 127.0.0.1\nnovncproxy_port = {port}\nauth_schemes = vencrypt\n\
         vencrypt_client_cert = {live}/client-cert.pem\nvencrypt_client_key = {live}/client-key.pem\n\
         vencrypt_ca_certs = {ca}\n\
         [vncgate]\ntoken_source = {live}/tokens\nstate_dir = {live}/state\nnovnc_dir =\n",
        live = live.display(),
        ca = pki.proxy().join("ca-cert.pem").display(),
    );
    let config = live.join("vncgate.conf");
    std::fs::write(&config, &config_text).expect("config");
    let proxy = start(&config, port, None).await;
    let cas = format!("{}{}", pki.https_ca_pem(), next.https_ca_pem());

    let mut session = console(proxy.addr, &cas, "open").await.expect("a session");
    assert!(
        console(proxy.addr, &cas, "pinned").await.is_err(),
        "the pinned QEMU let the old client certificate in"
    );
    assert_eq!(
        served_certificate(proxy.addr, &cas).await,
        der_of(&pki.https_cert())
    );

    copy(next.https_cert(), &live.join("https-cert.pem"));
    copy(next.https_key(), &live.join("https-key.pem"));
    let rotated = pki.dir.join("clients/rotated");
    copy(
        rotated.join("client-cert.pem"),
        &live.join("client-cert.pem"),
    );
    copy(rotated.join("client-key.pem"), &live.join("client-key.pem"));
    proxy.reload(&config).await;
    // Exactly one connection, as a browser makes one: the first after the reload.
    assert_eq!(
        served_certificate(proxy.addr, &cas).await,
        der_of(&next.https_cert()),
        "the first connection after the reload must see the new certificate"
    );
    // The session from before goes on.
    let update = session.framebuffer_update(720, 400).await;
    assert!(update.is_ok(), "the open session was dropped: {update:?}");
    // New sessions present the new client certificate: the pinned QEMU now lets them in.
    let pinned = console(proxy.addr, &cas, "pinned").await;
    assert!(pinned.is_ok(), "{:?}", pinned.err());

    // A broken config is refused on SIGHUP; the running one serves on.
    std::fs::write(&config, "[vnc]\nauth_schemes = bogus\n").expect("config");
    proxy.reload(&config).await;
    let still = console(proxy.addr, &cas, "pinned").await;
    assert!(still.is_ok(), "{:?}", still.err());
    assert_eq!(
        served_certificate(proxy.addr, &cas).await,
        der_of(&next.https_cert())
    );
    let log = std::fs::read_to_string(config.with_extension("log")).unwrap_or_default();
    assert!(log.contains("reload refused"), "{log}");
    // The first session still receives its update's pixels.
    assert!(
        session.read(4096).await.is_ok(),
        "the open session was dropped"
    );
}

/// The status of one upgrade to `addr` with `token` and an optional `Origin`.
async fn upgrade_status(addr: SocketAddr, token: &str, origin: Option<&str>) -> u16 {
    let headers: Vec<(&str, &str)> = origin.map(|o| ("Origin", o)).into_iter().collect();
    match ws(addr, &format!("/?token={token}"), &headers).await {
        Ok(_) => 101,
        Err(error) => refusal(Err::<(), _>(error)).0,
    }
}

/// Options a reload applies, each changed in the file and checked on the very first
/// connection after SIGHUP: `allowed_backends`, `allowed_origins`, `frame_ancestors` and the
/// token file.
#[tokio::test]
async fn reloaded_options_hold_from_the_first_connection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let echo = echo_backend().await;
    let port = free_port();
    let config = dir.path().join("vncgate.conf");
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("t: {echo}\n")).expect("tokens");
    let write = |own: &str, console: &str| {
        std::fs::write(
            &config,
            format!(
                "[DEFAULT]\nweb =\n[vnc]\nnovncproxy_host = 127.0.0.1\nnovncproxy_port = {port}\n\
                 [console]\n{console}\n\
                 [vncgate]\nstate_dir = {}\nnovnc_dir =\ntoken_source = {}\n{own}\n",
                dir.path().join("state").display(),
                tokens.display()
            ),
        )
        .expect("config");
    };
    write("allowed_backends = 127.0.0.0/8", "");
    let proxy = start(&config, port, None).await;
    let addr = proxy.addr;
    assert_eq!(upgrade_status(addr, "t", None).await, 101);

    write("allowed_backends = 192.0.2.0/24", "");
    proxy.reload(&config).await;
    assert_eq!(
        upgrade_status(addr, "t", None).await,
        403,
        "allowed_backends on the first connection"
    );

    write("", "allowed_origins = console.example");
    proxy.reload(&config).await;
    assert_eq!(
        upgrade_status(addr, "t", Some("http://console.example")).await,
        101,
        "allowed_origins on the first connection"
    );
    write("frame_ancestors = https://portal.example", "");
    proxy.reload(&config).await;
    let head = raw_http_head(addr, "GET /console.html HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(
        head.contains("frame-ancestors https://portal.example"),
        "frame_ancestors on the first connection: {head}"
    );
    assert_eq!(
        upgrade_status(addr, "t", Some("http://console.example")).await,
        403,
        "allowed_origins back to none"
    );

    std::fs::write(&tokens, format!("u: {echo}\n")).expect("tokens");
    proxy.reload(&config).await;
    assert_eq!(upgrade_status(addr, "t", None).await, 403, "the old token");

    // An option only a restart changes keeps its running value, and the log names it.
    write("max_connections = 7", "");
    proxy.reload(&config).await;
    let log = std::fs::read_to_string(config.with_extension("log")).unwrap_or_default();
    assert!(
        log.lines()
            .any(|line| line.contains("needs a restart")
                && line.contains("[vncgate] max_connections")),
        "{log}"
    );
    assert_eq!(upgrade_status(addr, "u", None).await, 101);
}

//! Shared test helpers: a proxy on 127.0.0.1:0, TCP backends, WebSocket clients.
#![allow(unreachable_pub)]

pub mod admin;
pub mod browser;
pub mod cluster;
pub mod daemon;
pub mod db;
pub mod esxi;
pub mod fake_vnc;
pub mod libvirt;
pub mod oidc;
pub mod pki;
pub mod qemu;
pub mod rfb;
pub mod serial;
pub mod websockify;
pub mod xvnc;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Response;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;
use vncgate::config::Settings;

/// A running proxy and the directory holding its config, tokens and web root.
pub struct Proxy {
    pub addr: SocketAddr,
    /// The admin API's address (served only when the config names a secret file).
    pub admin_addr: SocketAddr,
    /// The metrics listener's address, when the config has a `metrics_listen`.
    pub metrics_addr: Option<SocketAddr>,
    /// The MKS port's address, when the config has `[mks] enabled = true`.
    pub mks_addr: Option<SocketAddr>,
    /// The serial port's address, when `[serial_console] enabled = true`.
    pub serial_addr: Option<SocketAddr>,
    /// The SPICE port's address, when `[spice] enabled = true`.
    pub spice_addr: Option<SocketAddr>,
    pub shutdown: CancellationToken,
    pub task: Option<JoinHandle<Result<(), vncgate::Error>>>,
    pub dir: tempfile::TempDir,
}

impl Proxy {
    pub fn tokens_path(&self) -> PathBuf {
        self.dir.path().join("tokens")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("vncgate.conf")
    }

    /// Cancels and waits for `run` to return.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        let task = self.task.take().expect("running");
        let result = tokio::time::timeout(Duration::from_secs(20), task).await;
        assert!(
            matches!(result, Ok(Ok(Ok(())))),
            "run did not end cleanly: {result:?}"
        );
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Writes `config` (with `@DIR@` replaced by the temp dir) and `tokens`, and starts the proxy.
/// A `[DEFAULT] web` with index files and a `[vncgate] token_source` are provided.
pub async fn start_proxy(config: &str, tokens: &str) -> Proxy {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::write(root.join("tokens"), tokens).expect("tokens");
    let web = root.join("web");
    std::fs::create_dir_all(web.join("core")).expect("web");
    std::fs::create_dir_all(web.join("sub")).expect("web sub");
    std::fs::write(
        web.join("vnc_lite.html"),
        "<html><script></script>noVNC</html>",
    )
    .expect("html");
    std::fs::write(web.join("core/rfb.js"), "export default class RFB {}").expect("js");
    std::fs::write(root.join("secret.txt"), "outside the web root").expect("secret");
    let base = format!(
        "[DEFAULT]\nweb = {web}\n[vnc]\nnovncproxy_host = 127.0.0.1\nnovncproxy_port = 0\n\
         [vncgate]\ntoken_source = {tokens}\nshutdown_grace = 5\nstate_dir = {state}\n",
        web = web.display(),
        tokens = root.join("tokens").display(),
        state = root.join("state").display()
    );
    let path = root.join("vncgate.conf");
    let text = format!(
        "{base}{}",
        config.replace("@DIR@", &root.display().to_string())
    );
    std::fs::write(&path, text).expect("config");
    start_with_file(&path, dir).await
}

pub async fn start_with_file(path: &Path, dir: tempfile::TempDir) -> Proxy {
    let settings = match Settings::load(&[path.to_path_buf()], &[]) {
        Ok(settings) => settings,
        Err(error) => panic!("config: {error}"),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = CancellationToken::new();
    let admin = TcpListener::bind("127.0.0.1:0").await.expect("bind admin");
    let admin_addr = admin.local_addr().expect("addr");
    // The configured metrics address is replaced by a free port of the same host.
    let metrics = match settings.operations.metrics_listen {
        Some(_) => Some(
            TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind metrics"),
        ),
        None => None,
    };
    let metrics_addr = metrics.as_ref().map(|m| m.local_addr().expect("addr"));
    // Each console kind with a port of its own, as enabled, on a port of the system's choice.
    let mut consoles = Vec::new();
    for port in &settings.console_ports {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind console port");
        consoles.push((port.kind, listener));
    }
    let console_addr = |kind: vncgate::console::ConsoleKind| {
        consoles
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, l)| l.local_addr().expect("addr"))
    };
    let mks_addr = console_addr(vncgate::console::ConsoleKind::Webmks);
    let serial_addr = console_addr(vncgate::console::ConsoleKind::Serial);
    let spice_addr = console_addr(vncgate::console::ConsoleKind::SpiceHtml5);
    let listeners = vncgate::Listeners {
        front: listener,
        admin: Some(admin),
        metrics,
        consoles,
    };
    let control = vncgate::Control {
        stop: shutdown.clone(),
        ..vncgate::Control::default()
    };
    let task = tokio::spawn(vncgate::server::serve(settings, listeners, control));
    Proxy {
        addr,
        admin_addr,
        metrics_addr,
        mks_addr,
        serial_addr,
        spice_addr,
        shutdown,
        task: Some(task),
        dir,
    }
}

/// A serial line that echoes what it gets (a TCP server), for the serial pages.
pub async fn echo_line() -> SocketAddr {
    let line = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = line.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = line.accept().await {
            tokio::spawn(async move {
                let (mut read, mut write) = stream.split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
            });
        }
    });
    addr
}

/// A VNC server (fake: None, then echo) for front-end tests.
pub async fn echo_backend() -> SocketAddr {
    fake_vnc::echo().await
}

/// A VNC server that authenticates with None, sends `greeting` and closes.
pub async fn greeting_backend(greeting: &'static [u8]) -> SocketAddr {
    let mut script = fake_vnc::none_handshake();
    script.push(fake_vnc::Step::Send(greeting.to_vec()));
    fake_vnc::serve(script).await
}

/// Opens the console as noVNC does up to SecurityResult OK; `Err` holds the failure reason.
pub async fn open_console<S>(
    ws: tokio_tungstenite::WebSocketStream<S>,
) -> Result<rfb::WsBytes<S>, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut rfb = rfb::WsBytes::new(ws);
    rfb.security_none().await?;
    Ok(rfb)
}

/// A loopback port with nothing listening.
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr")
}

/// Opens a WebSocket to `path` over `stream`, with extra headers.
pub async fn ws_over<S>(
    stream: S,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<(WebSocketStream<S>, Response), tokio_tungstenite::tungstenite::Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut request = format!("ws://{host}{path}").into_client_request()?;
    for (name, value) in headers {
        let name: tokio_tungstenite::tungstenite::http::HeaderName =
            name.parse().expect("header name");
        request
            .headers_mut()
            .append(name, HeaderValue::from_str(value).expect("header value"));
    }
    tokio_tungstenite::client_async(request, stream).await
}

/// Opens a plain WebSocket to the proxy.
pub async fn ws(
    proxy: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<(WebSocketStream<TcpStream>, Response), tokio_tungstenite::tungstenite::Error> {
    let stream = TcpStream::connect(proxy).await.expect("connect");
    ws_over(stream, &proxy.to_string(), path, headers).await
}

/// The HTTP status of a refused upgrade, and its body.
pub fn refusal(
    result: Result<impl std::fmt::Debug, tokio_tungstenite::tungstenite::Error>,
) -> (u16, Vec<u8>) {
    match result {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => (
            response.status().as_u16(),
            response.body().clone().unwrap_or_default(),
        ),
        other => panic!("expected an HTTP refusal, got {other:?}"),
    }
}

/// Sends a raw HTTP request and returns the whole response as text.
pub async fn raw_http(proxy: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(proxy).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await;
    String::from_utf8_lossy(&response).into_owned()
}

/// Sends a raw HTTP request and returns the response head (up to the blank line).
pub async fn raw_http_head(proxy: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(proxy).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    let mut byte = [0u8; 1];
    while !response.ends_with(b"\r\n\r\n") {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte)).await {
            Ok(Ok(1)) => response.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&response).into_owned()
}

/// A TLS connection to `proxy` as `localhost`, its certificate checked against `ca_pem`.
pub async fn tls_connect(
    proxy: SocketAddr,
    ca_pem: &str,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let connector = tokio_rustls::TlsConnector::from(tls_client(ca_pem));
    let tcp = TcpStream::connect(proxy).await.expect("connect");
    let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
    connector.connect(name, tcp).await.expect("TLS handshake")
}

/// A rustls client config trusting only `ca_pem`.
pub fn tls_client(ca_pem: &str) -> Arc<rustls::ClientConfig> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("ca pem")).expect("add root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Receives the next binary payload, skipping pings, within 10 s.
pub async fn next_binary<S>(ws: &mut WebSocketStream<S>) -> Vec<u8>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let next = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("timely message");
        match next {
            Some(Ok(Message::Binary(data))) => return data.to_vec(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected binary, got {other:?}"),
        }
    }
}

/// Reads until the close frame, returning its code and reason.
pub async fn next_close<S>(ws: &mut WebSocketStream<S>) -> Option<(u16, String)>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let next = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("timely close");
        match next {
            Some(Ok(Message::Close(frame))) => {
                return frame.map(|f| (u16::from(f.code), f.reason.to_string()));
            }
            Some(Ok(_)) => continue,
            None | Some(Err(_)) => return None,
        }
    }
}

/// Polls `condition` every 10 ms until it holds or `within` passes; whether it held. A wait
/// for a state, never a fixed sleep standing in for one.
pub async fn wait_until(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if condition() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// [`wait_until`] for a condition that must be awaited (an HTTP answer, say).
pub async fn wait_for<F>(within: Duration, mut condition: impl FnMut() -> F) -> bool
where
    F: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if condition().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs the vncgate binary.
pub fn vncgate_cli(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_vncgate"))
        .args(args)
        .output()
        .expect("run vncgate")
}

/// `vncgate token issue` against the proxy's config for 127.0.0.1:`port`; returns (token, url).
pub fn issue_token(proxy: &Proxy, port: u16, extra: &[&str]) -> (String, String) {
    let port = port.to_string();
    let mut args = vec!["--host", "127.0.0.1", "--port", &port];
    args.extend_from_slice(extra);
    let output = token_command(&proxy.config_path(), "issue", &args);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| panic!("no {name} in {stdout}"))
    };
    (field("token:"), field("url:"))
}

/// `vncgate check-config --config-file config`: whether it passed, and what it said on
/// standard error (problems and warnings).
pub fn check_config(config: &Path) -> (bool, String) {
    let output = vncgate_cli(&[
        "check-config",
        "--config-file",
        config.to_str().expect("utf8"),
    ]);
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `vncgate token SUBCOMMAND --config-file CONFIG ARGS...`, whatever its outcome.
pub fn token_command(config: &Path, subcommand: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec![
        "token",
        subcommand,
        "--config-file",
        config.to_str().expect("utf8"),
    ];
    all.extend_from_slice(args);
    vncgate_cli(&all)
}

/// `vncgate token SUBCOMMAND --config-file (proxy's) ARGS...`, which must succeed.
pub fn token_cli(proxy: &Proxy, subcommand: &str, args: &[&str]) -> String {
    let output = token_command(&proxy.config_path(), subcommand, args);
    assert!(
        output.status.success(),
        "token {subcommand}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Revokes `token` through the proxy's configuration, by the first 12 hex characters of its
/// sha256, as an operator would.
pub fn revoke_token(proxy: &Proxy, token: &str) {
    use sha2::Digest;
    let hash = hex::encode(sha2::Sha256::digest(token.as_bytes()));
    token_cli(proxy, "revoke", &[&hash[..12]]);
}

/// Runs `sql` in an SQLite file with Debian's `sqlite3`. `false` (with SKIPPED said) when the
/// tool is missing outside CI, where `.ci/run` installs it.
pub fn sqlite(database: &Path, sql: &str) -> bool {
    // The proxy may be writing the same file: wait for its lock as nova's SQLAlchemy does.
    let status = std::process::Command::new("sqlite3")
        .args(["-cmd", ".timeout 5000"])
        .arg(database)
        .arg(sql)
        .status();
    match status {
        Ok(status) if status.success() => true,
        other => {
            assert!(
                std::env::var_os("CI").is_none(),
                "sqlite3 failed in CI: {other:?}"
            );
            eprintln!("SKIPPED: sqlite3 not available ({other:?})");
            false
        }
    }
}

/// A real peer is missing: fails under CI (where `scripts/install-deps` must have installed
/// it), else says SKIPPED and why. Returns false, for `if !available { return }`.
pub fn peer_missing(what: &str) -> bool {
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} is missing in CI: scripts/install-deps must install it"
    );
    eprintln!("SKIPPED: {what} is not installed (scripts/install-deps installs it)");
    false
}

/// Reads until the close frame and checks it is 1011 with a reason naming TLS: a console
/// server whose TLS failed (a foreign CA on either side).
pub async fn closed_for_tls<S>(ws: &mut WebSocketStream<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let close = next_close(ws).await;
    assert!(
        close
            .as_ref()
            .is_some_and(|(code, reason)| *code == 1011 && reason.contains("TLS")),
        "{close:?}"
    );
}

/// Writes a `console_auth_tokens` row the way nova-compute does (`console_type`, host, port and
/// `internal_access_path` as given, a sha256 of `token`, ten minutes to live) into the proxy's
/// own SQLite database; `false` when sqlite3 is missing outside CI.
pub fn nova_row(
    proxy: &Proxy,
    token: &str,
    console_type: &str,
    target: SocketAddr,
    internal_access_path: Option<&str>,
) -> bool {
    token_cli(proxy, "list", &[]);
    let sql = nova_row_sql(
        token,
        console_type,
        target,
        internal_access_path,
        "a1b2c3d4-0000-4000-8000-000000000000",
    );
    sqlite(&proxy.dir.path().join("state/tokens.sqlite"), &sql)
}

/// The `INSERT` of a `console_auth_tokens` row as nova-compute writes it, for `instance`, ten
/// minutes to live.
pub fn nova_row_sql(
    token: &str,
    console_type: &str,
    target: SocketAddr,
    internal_access_path: Option<&str>,
    instance: &str,
) -> String {
    use sha2::Digest;
    let hash = hex::encode(sha2::Sha256::digest(token.as_bytes()));
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 600;
    let path = internal_access_path.map_or("NULL".to_owned(), |path| format!("'{path}'"));
    format!(
        "INSERT INTO console_auth_tokens (created_at, token_hash, console_type, host, port, internal_access_path, instance_uuid, expires) \
         VALUES (CURRENT_TIMESTAMP, '{hash}', '{console_type}', '{}', {}, {path}, '{instance}', {expires});",
        target.ip(),
        target.port()
    )
}

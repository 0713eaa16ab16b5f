//! Several `vncgate serve` processes on one shared token database behind Debian's HAProxy,
//! configured from the samples in conf/haproxy/, all on loopback.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::handshake::client::Response;
use tokio_tungstenite::WebSocketStream;

use super::daemon::{free_port, Daemon};
use super::pki::TestPki;

/// How browsers reach the instances.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// conf/haproxy/vncgate-tls-terminated.cfg: HTTPS at HAProxy, HTTP to vncgate,
    /// X-Forwarded-For.
    Terminated,
    /// conf/haproxy/vncgate-tls-passthrough.cfg: TLS through to vncgate, PROXY v2.
    Passthrough,
}

/// HAProxy's check interval in these tests (the samples' 2 s, shortened).
pub const CHECK_INTER: Duration = Duration::from_millis(300);
/// Failed checks before HAProxy marks a server down (as in the samples).
pub const CHECK_FALL: u32 = 2;

/// Whether Debian's HAProxy is installed (else SKIPPED, or a failure in CI).
pub fn haproxy_available() -> bool {
    Path::new("/usr/sbin/haproxy").exists()
        || super::peer_missing("HAProxy (apt-get install haproxy)")
}

/// One vncgate instance, running or not.
pub struct Instance {
    pub config: PathBuf,
    pub port: u16,
    pub metrics: u16,
    pub audit: PathBuf,
    pub daemon: Option<Daemon>,
}

/// Debian's HAProxy, killed by PID when dropped.
pub struct Haproxy {
    child: Child,
    pub port: u16,
    stats: u16,
    pub log: PathBuf,
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The instances, HAProxy, and the certificates.
pub struct Cluster {
    pub pki: TestPki,
    pub instances: Vec<Instance>,
    pub haproxy: Haproxy,
    client_tls: Arc<rustls::ClientConfig>,
    pub dir: tempfile::TempDir,
}

/// What to add to each instance's configuration.
#[derive(Default)]
pub struct Extra<'a> {
    /// Lines for `[vnc]`.
    pub vnc: &'a str,
    /// Lines for `[vncgate]`.
    pub own: &'a str,
    /// Console servers in this network are reached with VeNCrypt and mutual TLS (the test
    /// PKI's files); others with None.
    pub vencrypt_network: Option<&'a str>,
}

impl Cluster {
    /// Starts `count` instances on the database at `url`, makes vncgate's tables there, and
    /// puts HAProxy in front in `mode`.
    pub async fn start(mode: Mode, count: usize, url: &str, extra: Extra<'_>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = TestPki::new(dir.path(), "pki");
        let mut instances = Vec::new();
        for i in 0..count {
            let port = free_port();
            let metrics = free_port();
            let audit = dir.path().join(format!("audit{i}.log"));
            let tls = if mode == Mode::Passthrough {
                format!(
                    "ssl_only = true\ncert = {}\nkey = {}\n",
                    pki.https_cert().display(),
                    pki.https_key().display()
                )
            } else {
                String::new()
            };
            let (vencrypt, by_network) = match extra.vencrypt_network {
                Some(network) => (
                    pki.vencrypt_config("none").replace("[vnc]\n", ""),
                    format!("auth_schemes_by_network = {network}=vencrypt\n"),
                ),
                None => (String::new(), String::new()),
            };
            let text = format!(
                "[DEFAULT]\n{tls}[vnc]\n{vencrypt}novncproxy_host = 127.0.0.1\nnovncproxy_port = {port}\n{vnc}\n\
                 [database]\nconnection = {url}\n\
                 [vncgate]\nstate_dir = {state}\ntrusted_proxies = 127.0.0.1/32\nproxy_protocol = {proxy}\n\
                 metrics_listen = 127.0.0.1:{metrics}\naudit_log = {audit}\ndrain_delay = 2\n\
                 shutdown_grace = 1\nsession_recheck_interval = 0.5\n{by_network}{own}\n",
                vnc = extra.vnc,
                state = dir.path().join(format!("state{i}")).display(),
                proxy = mode == Mode::Passthrough,
                audit = audit.display(),
                own = extra.own,
            );
            let config = dir.path().join(format!("vncgate{i}.conf"));
            std::fs::write(&config, text).expect("config");
            instances.push(Instance {
                config,
                port,
                metrics,
                audit,
                daemon: None,
            });
        }
        let first = instances[0].config.to_str().expect("utf8").to_owned();
        let output = super::vncgate_cli(&["token", "init-db", "--config-file", &first]);
        assert!(
            output.status.success(),
            "init-db: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        for instance in &mut instances {
            instance.daemon = Some(Daemon::start(&instance.config, instance.port, &[]).await);
        }
        let haproxy = Haproxy::start(dir.path(), mode, &pki, &instances).await;
        let cluster = Self {
            client_tls: super::tls_client(&pki.https_ca_pem()),
            pki,
            instances,
            haproxy,
            dir,
        };
        for i in 0..count {
            cluster
                .wait_for_state(i, "UP", Duration::from_secs(20))
                .await;
        }
        cluster
    }

    /// HAProxy's address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.haproxy.port))
    }

    /// The console page's URL for `token`, through HAProxy.
    pub fn page_url(&self, token: &str) -> String {
        format!(
            "https://localhost:{}/console.html?path=%3Ftoken%3D{token}",
            self.haproxy.port
        )
    }

    /// `vncgate token SUBCOMMAND` with the first instance's configuration.
    pub fn token_cli(&self, subcommand: &str, args: &[&str]) -> String {
        self.token_cli_of(0, subcommand, args)
    }

    /// `vncgate token SUBCOMMAND` with instance `i`'s configuration.
    pub fn token_cli_of(&self, i: usize, subcommand: &str, args: &[&str]) -> String {
        let config = self.instances[i].config.to_str().expect("utf8").to_owned();
        let mut all = vec!["token", subcommand, "--config-file", &config];
        all.extend_from_slice(args);
        let output = super::vncgate_cli(&all);
        assert!(
            output.status.success(),
            "token {subcommand}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Issues a token for `target`.
    pub fn issue(&self, target: SocketAddr, extra: &[&str]) -> String {
        let host = target.ip().to_string();
        let port = target.port().to_string();
        let mut args = vec!["--host", &host, "--port", &port];
        args.extend_from_slice(extra);
        let out = self.token_cli("issue", &args);
        out.lines()
            .find_map(|line| line.strip_prefix("token:"))
            .map(|token| token.trim().to_owned())
            .unwrap_or_else(|| panic!("no token in {out}"))
    }

    /// A client of HAProxy's front, for tasks of their own.
    pub fn entry(&self) -> Entry {
        Entry {
            addr: self.addr(),
            tls: self.client_tls.clone(),
        }
    }

    /// The live sessions on instance `i`, from its metrics.
    pub async fn sessions_on(&self, i: usize) -> Option<u64> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.instances[i].metrics));
        let stream = TcpStream::connect(addr).await.ok()?;
        drop(stream);
        let text = super::raw_http(
            addr,
            "GET /metrics HTTP/1.1\r\nHost: metrics\r\nConnection: close\r\n\r\n",
        )
        .await;
        text.lines()
            .find_map(|line| line.strip_prefix("vncgate_sessions_active "))
            .and_then(|n| n.trim().parse().ok())
    }

    /// The instance holding the only live session, waiting up to 10 s for the metrics to say.
    pub async fn instance_with_a_session(&self) -> usize {
        for _ in 0..100 {
            for i in 0..self.instances.len() {
                if self.sessions_on(i).await.unwrap_or(0) > 0 {
                    return i;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no instance reports a live session");
    }

    /// Sends SIGTERM to instance `i` and waits for it to exit (30 s at most).
    pub async fn stop(&mut self, i: usize) -> std::process::ExitStatus {
        let mut daemon = self.instances[i].daemon.take().expect("running");
        daemon.signal("TERM");
        let started = Instant::now();
        loop {
            if let Some(status) = daemon.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "instance {i} did not stop"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `kill -9` instance `i`.
    pub fn kill(&mut self, i: usize) {
        let mut daemon = self.instances[i].daemon.take().expect("running");
        daemon.signal("KILL");
        let _ = daemon.child.wait();
    }

    /// Starts instance `i` again, on its ports, and waits until HAProxy sends it sessions.
    pub async fn start_again(&mut self, i: usize) {
        let instance = &mut self.instances[i];
        instance.daemon = Some(Daemon::start(&instance.config, instance.port, &[]).await);
        self.wait_for_state(i, "UP", Duration::from_secs(20)).await;
    }

    /// HAProxy's status of instance `i`'s server ("UP", "DOWN", "UP 1/2", ...).
    pub async fn state(&self, i: usize) -> String {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.haproxy.stats));
        let csv = super::raw_http(
            addr,
            "GET /stats;csv HTTP/1.1\r\nHost: stats\r\nConnection: close\r\n\r\n",
        )
        .await;
        let mut lines = csv.lines().skip_while(|line| !line.starts_with("# pxname"));
        let header: Vec<&str> = lines
            .next()
            .unwrap_or_default()
            .trim_start_matches("# ")
            .split(',')
            .collect();
        let column = header.iter().position(|name| *name == "status");
        let server = format!("vncgate{}", i + 1);
        lines
            .map(|line| line.split(',').collect::<Vec<_>>())
            .find(|fields| fields.get(1) == Some(&server.as_str()))
            .and_then(|fields| column.and_then(|c| fields.get(c).map(|s| (*s).to_owned())))
            .unwrap_or_default()
    }

    /// Waits until HAProxy's status of instance `i` is `wanted`; returns how long it took.
    pub async fn wait_for_state(&self, i: usize, wanted: &str, limit: Duration) -> Duration {
        let started = Instant::now();
        loop {
            let state = self.state(i).await;
            if state == wanted {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < limit,
                "HAProxy still says {state:?} of instance {i}, not {wanted} ({})",
                std::fs::read_to_string(&self.haproxy.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Instance `i`'s audit trail.
    pub fn audit(&self, i: usize) -> String {
        std::fs::read_to_string(&self.instances[i].audit).unwrap_or_default()
    }
}

impl Haproxy {
    /// HAProxy with the sample for `mode`, its addresses and certificate replaced with the
    /// test's and its check interval shortened.
    async fn start(dir: &Path, mode: Mode, pki: &TestPki, instances: &[Instance]) -> Self {
        let sample = match mode {
            Mode::Terminated => "vncgate-tls-terminated.cfg",
            Mode::Passthrough => "vncgate-tls-passthrough.cfg",
        };
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("conf/haproxy")
            .join(sample);
        let text = std::fs::read_to_string(&path).expect("sample");
        let port = free_port();
        let stats = free_port();
        let pem = dir.join("haproxy.pem");
        let bundle = std::fs::read_to_string(pki.https_cert()).expect("cert")
            + &std::fs::read_to_string(pki.https_key()).expect("key");
        std::fs::write(&pem, bundle).expect("pem");
        let mut config = format!(
            "global\n    maxconn 4000\ndefaults\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
             frontend stats\n    mode http\n    bind 127.0.0.1:{stats}\n    stats enable\n    stats uri /stats\n"
        );
        let mut saw_bind = false;
        let mut saw_servers = false;
        for line in text.lines() {
            let trimmed = line.trim_start();
            if trimmed.starts_with("bind ") {
                saw_bind = true;
                config.push_str(&match mode {
                    Mode::Terminated => format!(
                        "    bind 127.0.0.1:{port} ssl crt {} alpn http/1.1\n",
                        pem.display()
                    ),
                    Mode::Passthrough => format!("    bind 127.0.0.1:{port}\n"),
                });
            } else if trimmed.starts_with("server ") {
                if !saw_servers {
                    saw_servers = true;
                    for (i, instance) in instances.iter().enumerate() {
                        let check_port = match mode {
                            Mode::Terminated => String::new(),
                            Mode::Passthrough => format!(" port {}", instance.metrics),
                        };
                        config.push_str(&format!(
                            "    server vncgate{} 127.0.0.1:{} inter {}ms fall {CHECK_FALL} rise 2{check_port}\n",
                            i + 1,
                            instance.port,
                            CHECK_INTER.as_millis()
                        ));
                    }
                }
            } else {
                config.push_str(line);
                config.push('\n');
            }
        }
        assert!(saw_bind && saw_servers, "{sample}: no bind or server lines");
        let file = dir.join("haproxy.cfg");
        std::fs::write(&file, config).expect("haproxy.cfg");
        let log = dir.join("haproxy.log");
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("haproxy");
        let haproxy = Self {
            child,
            port,
            stats,
            log,
        };
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return haproxy;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "HAProxy did not start: {}",
            std::fs::read_to_string(&haproxy.log).unwrap_or_default()
        );
    }
}

/// HAProxy's front as a browser sees it: HTTPS for `localhost`.
#[derive(Clone)]
pub struct Entry {
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
}

impl Entry {
    /// Opens a WebSocket through HAProxy over HTTPS, from loopback address `source`; `Err`
    /// says why not (`HTTP 429`, ...).
    pub async fn connect(
        &self,
        source: IpAddr,
        path: &str,
    ) -> Result<(WebSocketStream<TlsStream<TcpStream>>, Response), String> {
        self.connect_with(source, path, &[]).await
    }

    /// [`Self::connect`] with request `headers` of the client's own.
    pub async fn connect_with(
        &self,
        source: IpAddr,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<(WebSocketStream<TlsStream<TcpStream>>, Response), String> {
        let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
        socket
            .bind(SocketAddr::new(source, 0))
            .map_err(|e| e.to_string())?;
        let tcp = socket
            .connect(self.addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
        let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("tls: {e}"))?;
        let host = format!("localhost:{}", self.addr.port());
        super::ws_over(tls, &host, path, headers)
            .await
            .map_err(|e| match e {
                tokio_tungstenite::tungstenite::Error::Http(response) => {
                    format!("HTTP {}", response.status().as_u16())
                }
                other => other.to_string(),
            })
    }

    /// Opens a console session up to SecurityResult OK and checks one echo; `Err` says why not.
    pub async fn session(
        &self,
        source: IpAddr,
        path: &str,
    ) -> Result<super::rfb::WsBytes<TlsStream<TcpStream>>, String> {
        self.session_with(source, path, &[]).await
    }

    /// [`Self::session`] with request `headers` of the client's own.
    pub async fn session_with(
        &self,
        source: IpAddr,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<super::rfb::WsBytes<TlsStream<TcpStream>>, String> {
        let (ws, _) = self.connect_with(source, path, headers).await?;
        let mut console = super::open_console(ws).await?;
        console.write(b"ping").await;
        match console.read(4).await? {
            echo if echo == b"ping" => Ok(console),
            other => Err(format!("echo {other:?}")),
        }
    }
}

//! [`Settings`]: everything vncgate reads from its config files, typed and checked. No I/O
//! beyond resolving the listen host.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use crate::console::{AuthScheme, Secret};

/// The lowest TLS version the browser side accepts (`[console] ssl_minimum_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMinimum {
    /// TLS 1.2 and 1.3. Also what `default` and `tlsv1_1` mean: rustls has nothing older.
    #[default]
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

/// Browser-facing TLS files and policy.
#[derive(Debug, Clone)]
pub struct FrontTls {
    /// PEM certificate chain, possibly with the key in the same file (`[DEFAULT] cert`).
    pub cert: PathBuf,
    /// PEM private key (`[DEFAULT] key`); `cert` itself when unset, as websockify does.
    pub key: PathBuf,
    /// Lowest protocol version.
    pub minimum: TlsMinimum,
    /// Cipher suite names from `[console] ssl_ciphers`, when it lists plain suite names.
    pub ciphers: Option<Vec<String>>,
}

/// The proxy's VeNCrypt client identity and trust anchors (`[vnc] vencrypt_*`).
#[derive(Debug, Clone)]
pub struct VencryptFiles {
    /// Client certificate chain (PEM).
    pub client_cert: PathBuf,
    /// Client private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub client_key: PathBuf,
    /// The only CA certificates trusted for VNC servers (PEM).
    pub ca_certs: PathBuf,
}

/// Bounds and timers of the front end and relay (`[vncgate]`).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Deadline for the TCP connect to the VNC server.
    pub connect_timeout: Duration,
    /// Deadline for each handshake phase: TLS, HTTP request head, RFB/VeNCrypt.
    pub handshake_timeout: Duration,
    /// WebSocket ping period, so that load balancers do not cut quiet consoles; zero is off.
    pub ping_interval: Duration,
    /// A session whose browser sends nothing, not even a pong, for this long is closed.
    pub client_timeout: Duration,
    /// Largest WebSocket message accepted from the browser.
    pub max_message_size: usize,
    /// Most connections, HTTP and WebSocket together, served at once.
    pub max_connections: usize,
    /// How long open sessions get to close after SIGTERM.
    pub shutdown_grace: Duration,
    /// Connections one client address (an IPv6 /64) may hold; 0 is unlimited.
    pub max_connections_per_ip: usize,
    /// Refusals a client may earn a minute before it gets 429 unchecked; 0 is unlimited.
    pub max_refusals_per_ip_per_minute: u32,
    /// How often live sessions' tokens are looked up again, so that revocation ends them.
    pub session_recheck_interval: Duration,
    /// How long a session lease in the shared database lives without renewal: the time a
    /// killed instance's sessions still count under `max_sessions_per_token`.
    pub session_lease_timeout: Duration,
}

/// Who stands between browsers and the proxy (`[vncgate] trusted_proxies`, `proxy_protocol`).
#[derive(Debug, Clone, Default)]
pub struct Edge {
    /// Peers whose `Forwarded`, `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Trusted peers send HAProxy's PROXY protocol header (v1 or v2) first.
    pub proxy_protocol: bool,
    /// The one header that names the client behind trusted proxies.
    pub forwarded_header: ForwardedHeader,
    /// `Content-Security-Policy: frame-ancestors`; `None` is `'self'` plus `allowed_origins`.
    pub frame_ancestors: Option<Vec<String>>,
}

/// Which header names the client behind trusted proxies (`[vncgate] forwarded_header`). Only
/// that one is read: a load balancer that adds one header passes the other through from the
/// client untouched, so reading both would let a client name itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For`, which HAProxy's `option forwardfor` and nginx's
    /// `proxy_add_x_forwarded_for` add.
    #[default]
    XForwardedFor,
    /// `Forwarded` (RFC 7239).
    Forwarded,
}

impl ForwardedHeader {
    /// Every value, by its name in the configuration.
    pub const ALL: [(&'static str, Self); 2] = [
        ("x-forwarded-for", Self::XForwardedFor),
        ("forwarded", Self::Forwarded),
    ];

    /// The value named `name` (any case).
    ///
    /// # Errors
    /// Another name, with the accepted ones.
    pub fn from_name(name: &str) -> Result<Self, String> {
        let name = name.trim().to_ascii_lowercase();
        Self::ALL
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, value)| *value)
            .ok_or_else(|| format!("{name:?} is not a forwarding header; accepted values: x-forwarded-for, forwarded"))
    }
}

/// A console kind served on a port of its own, as nova runs a proxy per kind; noVNC is served
/// on the console port (`[vnc] novncproxy_port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsolePort {
    /// The kind whose tokens it admits.
    pub kind: crate::console::ConsoleKind,
    /// The address to listen on; `None` is the console port's.
    pub host: Option<String>,
    /// The port.
    pub port: u16,
}

/// Where tokens may point and how to authenticate there.
#[derive(Debug, Clone, Default)]
pub struct BackendPolicy {
    /// Console server networks tokens may point at; empty allows any (with a warning).
    pub allowed_backends: Vec<IpNet>,
    /// `auth_schemes` for console servers in these networks, the longest prefix winning.
    pub auth_schemes_by_network: Vec<(IpNet, Vec<AuthScheme>)>,
    /// Directories whose Unix sockets tokens may name; empty: no Unix socket targets.
    pub unix_socket_dirs: Vec<PathBuf>,
}

/// Everything vncgate reads from its config files, typed and checked.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The files read, in order.
    pub files: Vec<PathBuf>,
    /// `[DEFAULT] debug`.
    pub debug: bool,
    /// Listen host as configured (`[vnc] novncproxy_host`).
    pub listen_host: String,
    /// Listen port (`[vnc] novncproxy_port`).
    pub listen_port: u16,
    /// Prefer an IPv6 address when the listen host resolves to both (`source_is_ipv6`).
    pub source_is_ipv6: bool,
    /// Browser-facing TLS, when a certificate is there.
    pub tls: Option<FrontTls>,
    /// Refuse plain HTTP (`[DEFAULT] ssl_only`).
    pub ssl_only: bool,
    /// Static web root (`[DEFAULT] web`), when it exists.
    pub web: Option<PathBuf>,
    /// Public URL of the console page (`[vnc] novncproxy_base_url`).
    pub base_url: String,
    /// Public URL of the serial WebSocket (`[serial_console] base_url`).
    pub serial_base_url: String,
    /// Public URL of the SPICE page (`[spice] html5proxy_base_url`).
    pub spice_base_url: String,
    /// The console kinds served on ports of their own, as enabled (`[mks]`, `[serial_console]`,
    /// `[spice]`; `config/ports.rs`).
    pub console_ports: Vec<ConsolePort>,
    /// Whether sessions of tokens that do not say are view-only (nova's rows never say).
    pub default_view_only: bool,
    /// Whether downstream between plain TCP sockets is spliced (`[vncgate] splice`).
    pub splice: bool,
    /// The console page's settings, checked, as compact JSON (`[vncgate] console_defaults`).
    pub console_defaults: Option<String>,
    /// Which way the clipboard of sessions whose tokens do not say may flow
    /// (`[vncgate] default_clipboard`).
    pub default_clipboard: crate::console::Clipboard,
    /// TLS with the proxy's client certificate to serial consoles (`[vncgate] serial_tls`).
    pub serial_tls: bool,
    /// TLS to SPICE servers' TLS port (`[vncgate] spice_tls`).
    pub spice_tls: bool,
    /// xterm.js, for `serial.html` (`[vncgate] xterm_dir`).
    pub xterm_dir: Option<PathBuf>,
    /// spice-html5, served on the SPICE port (`[vncgate] spice_html5_dir`).
    pub spice_html5_dir: Option<PathBuf>,
    /// Backend schemes in order of preference.
    pub auth_schemes: Vec<AuthScheme>,
    /// VeNCrypt files; present whenever `auth_schemes` has `vencrypt`.
    pub vencrypt: Option<VencryptFiles>,
    /// Also check the VNC server certificate's name against the target host.
    pub vencrypt_verify_hostname: bool,
    /// Origin host names accepted besides the Host header's (`[console] allowed_origins`).
    pub allowed_origins: Vec<String>,
    /// Default lifetime of tokens vncgate issues (`[consoleauth] token_ttl`).
    pub token_ttl: Duration,
    /// Close a live session when its token expires.
    pub enforce_session_timeout: bool,
    /// Token files in websockify's format (`[vncgate] token_source`).
    pub token_source: Option<PathBuf>,
    /// `[database] connection`, kept masked.
    pub database_connection: Option<Secret>,
    /// Bounds and timers.
    pub limits: Limits,
    /// Things that load but deserve the operator's attention, logged at start-up.
    pub warnings: Vec<String>,
    /// vncgate's own state (`[vncgate] state_dir`): its SQLite token database.
    pub state_dir: PathBuf,
    /// Where the admin API listens (`[vncgate] admin_listen`); it runs only with a secret.
    pub admin_listen: Option<SocketAddr>,
    /// File holding the admin API's bearer secret; no file, no API.
    pub admin_secret_file: Option<PathBuf>,
    /// Most live sessions per token on this proxy; 0 is unlimited, as in nova.
    pub max_sessions_per_token: usize,
    /// Delete expired rows from the token database now and then.
    pub delete_expired_tokens: bool,
    /// Where the noVNC library is (`core/rfb.js` inside), served under `/novnc/`.
    pub novnc_dir: Option<PathBuf>,
    /// VNC password for the `vnc` scheme when the token carries none (`vnc_password_file`).
    pub vnc_password: Option<Secret>,
    /// Load balancers in front, and the page's framing policy.
    pub edge: Edge,
    /// Allowed console servers and per-network schemes.
    pub backends: BackendPolicy,
    /// Metrics, health, audit and logging.
    pub operations: Operations,
    /// Session recording.
    pub recording: Recording,
    /// A directory of token-named files (websockify's `TokenFileName`).
    pub token_names_dir: Option<PathBuf>,
    /// Consoles named by their libvirt domain, when `[libvirt] uris` is set.
    pub libvirt: Option<crate::libvirt::LibvirtSettings>,
    /// JWTs as tokens, when `jwt_keys` is set.
    pub jwt: Option<crate::token::jwt::JwtSettings>,
    /// Every token also needs a signed-in browser (`require_login`).
    pub require_login: bool,
    /// Who may open which console when signed in (`access_policy`).
    pub access_policy: Option<std::sync::Arc<crate::access::Policy>>,
    /// Sign-in through an OpenID Connect provider, when `[oidc] issuer` is set.
    pub oidc: Option<crate::signin::OidcSettings>,
    /// Tokens looked up over HTTP, when `token_api_url` is set.
    pub token_api: Option<crate::token::api::ApiSettings>,
    /// Tokens in Redis, when `redis_url` is set: the URL (it may hold a password) and the key
    /// prefix.
    pub redis: Option<(Secret, String)>,
}

/// Session recording (`[vncgate] record`, `record_input`, `recording_*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recording {
    /// `record = all`: every session is recorded; `none`: only tokens that say `record=true`.
    pub all: bool,
    /// Where recordings go.
    pub dir: PathBuf,
    /// age X25519 recipients (`age1…`), checked at load; none writes plain files (0600).
    pub recipients: Vec<String>,
    /// Whether keystrokes, pointer events and the browser's clipboard are recorded too.
    pub input: bool,
    /// Whether a session whose recording fails is refused or ended (else it goes on
    /// unrecorded, and the audit trail says so).
    pub required: bool,
    /// Recordings older than this are deleted; `None` keeps them.
    pub max_age: Option<Duration>,
    /// The oldest recordings are deleted past this total; `None` is no limit.
    pub max_total_bytes: Option<u64>,
}

impl Recording {
    /// Whether a session whose token says `record` (or nothing) is recorded.
    pub fn records(&self, token: Option<bool>) -> bool {
        token.unwrap_or(self.all)
    }
}

/// How the proxy is watched (`[vncgate] metrics_listen`, `audit_log`, `log_format`,
/// `drain_delay`).
#[derive(Debug, Clone, Default)]
pub struct Operations {
    /// Where `/metrics`, `/healthz` and `/readyz` are served; `None` is off.
    pub metrics_listen: Option<SocketAddr>,
    /// The audit trail: a file, or standard error.
    pub audit_log: Option<AuditTarget>,
    /// Log lines as JSON instead of text.
    pub json_logs: bool,
    /// How long new sessions are still accepted after SIGTERM, while `/readyz` says 503.
    pub drain_delay: Duration,
}

/// Where audit events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditTarget {
    /// Appended to this file (made 0600), reopened on SIGHUP for logrotate.
    File(PathBuf),
    /// Standard error (`-`).
    Stderr,
}

impl Settings {
    /// The token database URL: `[database] connection`, else the SQLite file in `state_dir`.
    pub fn database_url(&self) -> String {
        match &self.database_connection {
            Some(url) => url.expose().to_owned(),
            None => format!("sqlite:///{}", self.sqlite_path().display()),
        }
    }

    /// The embedded SQLite token database.
    pub fn sqlite_path(&self) -> PathBuf {
        self.state_dir.join("tokens.sqlite")
    }

    /// Where the admin API listens and its secret file: it runs only when both are set.
    pub fn admin_api(&self) -> Option<(SocketAddr, &std::path::Path)> {
        Some((self.admin_listen?, self.admin_secret_file.as_deref()?))
    }

    /// The address to listen on, from host, port and `source_is_ipv6`.
    ///
    /// # Errors
    /// A host name that does not resolve.
    pub fn listen_addr(&self) -> std::io::Result<SocketAddr> {
        self.resolve(&self.listen_host, self.listen_port)
    }

    /// The public URLs tokens are issued for, by console kind.
    pub fn base_urls(&self) -> crate::token::issue::BaseUrls {
        crate::token::issue::BaseUrls {
            novnc: self.base_url.clone(),
            serial: self.serial_base_url.clone(),
            spice: self.spice_base_url.clone(),
        }
    }

    /// The public origin of the serial port's page (`https://host:port` from
    /// `[serial_console] base_url`'s `wss://host:port/`), when the serial port is enabled.
    pub fn serial_page_origin(&self) -> Option<String> {
        self.console_ports
            .iter()
            .any(|port| port.kind == crate::console::ConsoleKind::Serial)
            .then_some(())?;
        let url = url::Url::parse(&self.serial_base_url).ok()?;
        let scheme = match url.scheme() {
            "wss" | "https" => "https",
            "ws" | "http" => "http",
            _ => return None,
        };
        let port = url
            .port()
            .map_or_else(String::new, |port| format!(":{port}"));
        Some(format!("{scheme}://{}{port}", url.host_str()?))
    }

    /// `host`:`port` to listen on, preferring IPv6 with `source_is_ipv6` as nova does.
    ///
    /// # Errors
    /// The host does not resolve.
    pub fn resolve(&self, host: &str, port: u16) -> std::io::Result<SocketAddr> {
        use std::net::ToSocketAddrs;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let mut addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
        addrs.sort_by_key(|addr| addr.is_ipv6() != self.source_is_ipv6);
        addrs.into_iter().next().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "listen host has no address")
        })
    }
}

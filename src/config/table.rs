//! Every option vncgate reads, declared once: section, name, deprecated `[DEFAULT]` alias,
//! default (as the sample file writes it) and a line of help. The reader looks options up
//! through these entries, unknown-option detection and `check-config` use the same list, and a
//! test holds `conf/vncgate.conf.sample` to it. No I/O.

/// One option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionSpec {
    /// Section, without brackets.
    pub section: &'static str,
    /// Option name, verbatim as in nova.conf.
    pub name: &'static str,
    /// A deprecated name in `[DEFAULT]` that nova still reads for the same value.
    pub alias: Option<&'static str>,
    /// The default, written as the sample file writes it; `<None>` for unset.
    pub default: &'static str,
    /// What it does, in one line.
    pub help: &'static str,
    /// Whether only a restart changes it: a reload keeps the running value and says so
    /// (`server/reload.rs` keeps each such option, and a test holds it to this flag).
    pub restart_only: bool,
}

/// The default that means "unset".
pub const NONE: &str = "<None>";

impl OptionSpec {
    const fn new(
        section: &'static str,
        name: &'static str,
        default: &'static str,
        help: &'static str,
    ) -> Self {
        Self {
            section,
            name,
            alias: None,
            default,
            help,
            restart_only: false,
        }
    }

    const fn alias(self, alias: &'static str) -> Self {
        Self {
            alias: Some(alias),
            ..self
        }
    }

    const fn restart_only(self) -> Self {
        Self {
            restart_only: true,
            ..self
        }
    }

    /// `[section] name`, as logs and messages name an option.
    pub fn label(&self) -> String {
        format!("[{}] {}", self.section, self.name)
    }

    /// The default, or `None` where it is unset.
    pub fn default_value(&self) -> Option<&'static str> {
        (self.default != NONE).then_some(self.default)
    }
}

/// vncgate's own section: an unknown name there is a typo and an error.
pub const OWN_SECTION: &str = "vncgate";

macro_rules! options {
    ($($constant:ident = $spec:expr;)*) => {
        $(
            #[doc = concat!("`", stringify!($constant), "`")]
            pub const $constant: OptionSpec = $spec;
        )*
        /// Every option, in the sample file's order.
        pub const OPTIONS: &[OptionSpec] = &[$($constant),*];
    };
}

options! {
    DEBUG = OptionSpec::new("DEFAULT", "debug", "false", "log at debug level");
    SSL_ONLY = OptionSpec::new("DEFAULT", "ssl_only", "false", "refuse plain HTTP");
    CERT = OptionSpec::new("DEFAULT", "cert", "self.pem", "browser-facing TLS certificate");
    KEY = OptionSpec::new("DEFAULT", "key", NONE, "private key for cert");
    WEB = OptionSpec::new("DEFAULT", "web", "/usr/share/novnc", "static web root");
    SOURCE_IS_IPV6 = OptionSpec::new("DEFAULT", "source_is_ipv6", "false", "prefer IPv6 to listen on");
    NOVNCPROXY_HOST = OptionSpec::new("vnc", "novncproxy_host", "0.0.0.0", "listen address")
        .alias("novncproxy_host")
        .restart_only();
    NOVNCPROXY_PORT = OptionSpec::new("vnc", "novncproxy_port", "6080", "listen port")
        .alias("novncproxy_port")
        .restart_only();
    NOVNCPROXY_BASE_URL = OptionSpec::new(
        "vnc",
        "novncproxy_base_url",
        "http://127.0.0.1:6080/vnc_auto.html",
        "public URL of the console page",
    )
    .alias("novncproxy_base_url");
    AUTH_SCHEMES = OptionSpec::new("vnc", "auth_schemes", "none", "schemes toward the VNC server, in order");
    VENCRYPT_CLIENT_KEY = OptionSpec::new("vnc", "vencrypt_client_key", NONE, "VeNCrypt client key");
    VENCRYPT_CLIENT_CERT = OptionSpec::new("vnc", "vencrypt_client_cert", NONE, "VeNCrypt client certificate");
    VENCRYPT_CA_CERTS = OptionSpec::new("vnc", "vencrypt_ca_certs", NONE, "CAs VNC servers must chain to");
    ALLOWED_ORIGINS = OptionSpec::new("console", "allowed_origins", "", "Origin hosts accepted besides the Host header's")
        .alias("console_allowed_origins");
    SSL_CIPHERS = OptionSpec::new("console", "ssl_ciphers", NONE, "browser-facing cipher suites");
    SSL_MINIMUM_VERSION = OptionSpec::new("console", "ssl_minimum_version", "default", "lowest browser-facing TLS version");
    TOKEN_TTL = OptionSpec::new("consoleauth", "token_ttl", "600", "lifetime of issued tokens, seconds")
        .alias("console_token_ttl");
    ENFORCE_SESSION_TIMEOUT = OptionSpec::new("consoleauth", "enforce_session_timeout", "false", "close sessions when their token expires");
    CONNECTION = OptionSpec::new("database", "connection", NONE, "token database URL")
        .restart_only();
    SPICE_ENABLED = OptionSpec::new("spice", "enabled", "false", "serve spice-html5 consoles on html5proxy_port")
        .restart_only();
    HTML5PROXY_HOST = OptionSpec::new("spice", "html5proxy_host", "0.0.0.0", "SPICE listen address")
        .restart_only();
    HTML5PROXY_PORT = OptionSpec::new("spice", "html5proxy_port", "6082", "SPICE listen port")
        .restart_only();
    HTML5PROXY_BASE_URL = OptionSpec::new("spice", "html5proxy_base_url", "http://127.0.0.1:6082/spice_auto.html", "public URL of the SPICE console page");
    SERIAL_ENABLED = OptionSpec::new("serial_console", "enabled", "false", "serve serial consoles on serialproxy_port")
        .restart_only();
    SERIALPROXY_HOST = OptionSpec::new("serial_console", "serialproxy_host", "0.0.0.0", "serial listen address")
        .restart_only();
    SERIALPROXY_PORT = OptionSpec::new("serial_console", "serialproxy_port", "6083", "serial listen port")
        .restart_only();
    SERIAL_BASE_URL = OptionSpec::new("serial_console", "base_url", "ws://127.0.0.1:6083/", "public URL of the serial console WebSocket");
    MKS_ENABLED = OptionSpec::new("mks", "enabled", "false", "serve nova's webmks consoles (VMware authd) on mksproxy_base_url's port")
        .restart_only();
    MKSPROXY_BASE_URL = OptionSpec::new("mks", "mksproxy_base_url", "http://127.0.0.1:6090/", "public URL of the MKS console; its port is where they are served")
        .restart_only();
    TOKEN_SOURCE = OptionSpec::new(OWN_SECTION, "token_source", NONE, "websockify-format token file or directory");
    TOKEN_NAMES_DIR = OptionSpec::new(OWN_SECTION, "token_names_dir", NONE, "a directory whose file names are tokens and whose files hold host:port (websockify's TokenFileName)");
    JWT_KEYS = OptionSpec::new(OWN_SECTION, "jwt_keys", NONE, "JWTs as tokens (websockify's JWTTokenApi): a PEM public key (RSA, EC, Ed25519), a JWKS file (keys by kid), or an HMAC secret file");
    JWE_KEYS = OptionSpec::new(OWN_SECTION, "jwe_keys", NONE, "encrypted JWTs as tokens (a JWE holding a signed JWT, as websockify reads them): a PEM private key (RSA, EC, X25519) or a JWKS of them; without jwt_keys, its public half verifies the signature");
    JWT_AUDIENCE = OptionSpec::new(OWN_SECTION, "jwt_audience", "", "the aud a JWT must carry; empty: not checked");
    JWT_LEEWAY = OptionSpec::new(OWN_SECTION, "jwt_leeway", "30", "clock skew allowed on a JWT's exp and nbf, seconds");
    TOKEN_API_URL = OptionSpec::new(OWN_SECTION, "token_api_url", NONE, "tokens looked up over HTTP (websockify's BaseTokenAPI, JSONTokenApi): a URL with %s for the token");
    TOKEN_API_CACHE_TTL = OptionSpec::new(OWN_SECTION, "token_api_cache_ttl", "5", "seconds a token API answer is kept, an unknown token's too; 0 asks every time");
    TOKEN_API_CA = OptionSpec::new(OWN_SECTION, "token_api_ca", "/etc/ssl/certs/ca-certificates.crt", "the CAs an HTTPS token API's certificate is checked against");
    TOKEN_API_BEARER_FILE = OptionSpec::new(OWN_SECTION, "token_api_bearer_file", NONE, "a file holding a bearer token sent to the token API");
    REDIS_URL = OptionSpec::new(OWN_SECTION, "redis_url", NONE, "tokens in Redis (websockify's TokenRedis): redis://[:password@]host:port/db");
    REDIS_KEY_PREFIX = OptionSpec::new(OWN_SECTION, "redis_key_prefix", "", "websockify's namespace: keys are PREFIX:TOKEN; empty: the token alone");
    JWT_REQUIRE_EXP = OptionSpec::new(OWN_SECTION, "jwt_require_exp", "true", "refuse a JWT without exp (websockify accepts one)");
    VENCRYPT_VERIFY_HOSTNAME = OptionSpec::new(OWN_SECTION, "vencrypt_verify_hostname", "false", "check VNC server certificate names");
    CONNECT_TIMEOUT = OptionSpec::new(OWN_SECTION, "connect_timeout", "5", "TCP connect deadline, seconds");
    HANDSHAKE_TIMEOUT = OptionSpec::new(OWN_SECTION, "handshake_timeout", "10", "deadline of each handshake phase, seconds");
    PING_INTERVAL = OptionSpec::new(OWN_SECTION, "ping_interval", "20", "WebSocket ping period, seconds");
    CLIENT_TIMEOUT = OptionSpec::new(OWN_SECTION, "client_timeout", "120", "browser silence before a session closes, seconds");
    MAX_MESSAGE_SIZE = OptionSpec::new(OWN_SECTION, "max_message_size", "4194304", "largest browser message, bytes");
    MAX_CONNECTIONS = OptionSpec::new(OWN_SECTION, "max_connections", "4096", "connections served at once")
        .restart_only();
    SHUTDOWN_GRACE = OptionSpec::new(OWN_SECTION, "shutdown_grace", "10", "time sessions get to close on SIGTERM, seconds");
    STATE_DIR = OptionSpec::new(OWN_SECTION, "state_dir", "/var/lib/vncgate", "vncgate's own SQLite token database")
        .restart_only();
    ADMIN_LISTEN = OptionSpec::new(OWN_SECTION, "admin_listen", "127.0.0.1:6081", "admin API address")
        .restart_only();
    ADMIN_SECRET_FILE = OptionSpec::new(OWN_SECTION, "admin_secret_file", NONE, "admin API bearer secret; unset: no API")
        .restart_only();
    MAX_SESSIONS_PER_TOKEN = OptionSpec::new(OWN_SECTION, "max_sessions_per_token", "0", "live sessions per token; 0 is unlimited");
    DELETE_EXPIRED_TOKENS = OptionSpec::new(OWN_SECTION, "delete_expired_tokens", "false", "delete expired token rows");
    NOVNC_DIR = OptionSpec::new(OWN_SECTION, "novnc_dir", "/usr/share/novnc", "the noVNC library for the console page");
    XTERM_DIR = OptionSpec::new(OWN_SECTION, "xterm_dir", NONE, "xterm.js for the serial console page; unset is the built-in copy");
    SPICE_HTML5_DIR = OptionSpec::new(OWN_SECTION, "spice_html5_dir", "/usr/share/spice-html5", "spice-html5, served on the SPICE port");
    DEFAULT_VIEW_ONLY = OptionSpec::new(OWN_SECTION, "default_view_only", "false", "sessions of tokens that do not say may only watch");
    SPLICE = OptionSpec::new(OWN_SECTION, "splice", "true", "move console server bytes to browsers with splice(2) where both sides are plain TCP (Linux)");
    CONSOLE_DEFAULTS = OptionSpec::new(OWN_SECTION, "console_defaults", NONE, "the console page's settings as a JSON object (resize, quality, compression, show_dot, bell, view_only, lang), with a \"mandatory\" object of those people cannot change");
    DEFAULT_CLIPBOARD = OptionSpec::new(OWN_SECTION, "default_clipboard", "both", "which way the clipboard of sessions whose tokens do not say may flow: both, to-guest, from-guest or none");
    SERIAL_TLS = OptionSpec::new(OWN_SECTION, "serial_tls", "false", "TLS with the proxy's client certificate to serial consoles");
    SPICE_TLS = OptionSpec::new(OWN_SECTION, "spice_tls", "false", "TLS to SPICE servers' tls_port, verified against vencrypt_ca_certs");
    VNC_PASSWORD_FILE = OptionSpec::new(OWN_SECTION, "vnc_password_file", NONE, "default VNC password");
    MAX_CONNECTIONS_PER_IP = OptionSpec::new(OWN_SECTION, "max_connections_per_ip", "64", "connections one client address may hold; 0 is unlimited");
    MAX_REFUSALS_PER_IP_PER_MINUTE = OptionSpec::new(OWN_SECTION, "max_refusals_per_ip_per_minute", "30", "refusals before a client gets 429; 0 is unlimited");
    TRUSTED_PROXIES = OptionSpec::new(OWN_SECTION, "trusted_proxies", "", "load balancers whose forwarding headers are believed (CIDRs)");
    PROXY_PROTOCOL = OptionSpec::new(OWN_SECTION, "proxy_protocol", "false", "read HAProxy's PROXY header from trusted proxies");
    FORWARDED_HEADER = OptionSpec::new(OWN_SECTION, "forwarded_header", "x-forwarded-for", "the one header that names the client behind trusted proxies: x-forwarded-for or forwarded (RFC 7239); the other is ignored");
    LIBVIRT_URIS = OptionSpec::new("libvirt", "uris", "", "hypervisors whose domains tokens may name (libvirt:NAME targets): libvirt URIs, each optionally NAME=URI");
    LIBVIRT_PKI_PATH = OptionSpec::new("libvirt", "pki_path", NONE, "libvirt's client PKI directory (cacert.pem, clientcert.pem, clientkey.pem) for qemu+tls:// URIs");
    LIBVIRT_TIMEOUT = OptionSpec::new("libvirt", "timeout", "5", "deadline of each libvirt call, seconds");
    LIBVIRT_VNC_TLS = OptionSpec::new("libvirt", "vnc_tls", "", "hypervisors (names from uris, or *) whose qemu.conf has vnc_tls = 1: VeNCrypt only toward their guests");
    OIDC_ISSUER = OptionSpec::new("oidc", "issuer", "", "the OpenID Connect provider's issuer URL; sign-in is on when it is set");
    OIDC_CLIENT_ID = OptionSpec::new("oidc", "client_id", "", "this proxy's client ID at the provider");
    OIDC_CLIENT_SECRET_FILE = OptionSpec::new("oidc", "client_secret_file", NONE, "a file whose first line is the client secret; unset for a public client (PKCE alone)");
    OIDC_REDIRECT_URL = OptionSpec::new("oidc", "redirect_url", "", "where the provider sends the browser back, as registered there: https://PROXY/oidc/callback");
    OIDC_SCOPES = OptionSpec::new("oidc", "scopes", "openid email profile", "the scopes asked for (openid is always asked)");
    OIDC_GROUPS_CLAIM = OptionSpec::new("oidc", "groups_claim", "groups", "the claim that lists the person's groups (ID token, else userinfo)");
    OIDC_COOKIE_KEY_FILE = OptionSpec::new("oidc", "cookie_key_file", NONE, "a file of at least 32 random bytes that seals the sign-in cookies; the same on every instance");
    OIDC_SESSION_LIFETIME = OptionSpec::new("oidc", "session_lifetime", "28800", "seconds a browser stays signed in");
    OIDC_CA_FILE = OptionSpec::new("oidc", "ca_file", "/etc/ssl/certs/ca-certificates.crt", "the CAs the provider's HTTPS certificate is checked against");
    OIDC_CLOCK_SKEW = OptionSpec::new("oidc", "clock_skew", "30", "seconds of clock difference allowed with the provider");
    REQUIRE_LOGIN = OptionSpec::new(OWN_SECTION, "require_login", "false", "every token, nova's too, also needs a browser signed in through [oidc]; a token naming no person is claimed by the first one");
    ACCESS_POLICY = OptionSpec::new(OWN_SECTION, "access_policy", NONE, "who may open which console when signed in ([oidc]): a TOML file of [[rules]]; reloaded with SIGHUP");
    UNIX_SOCKET_DIRS = OptionSpec::new(OWN_SECTION, "unix_socket_dirs", "", "directories whose Unix sockets tokens may name (unix:/path targets); empty: none");
    ALLOWED_BACKENDS = OptionSpec::new(OWN_SECTION, "allowed_backends", "", "console server addresses tokens may point at (CIDRs); empty is any");
    AUTH_SCHEMES_BY_NETWORK = OptionSpec::new(OWN_SECTION, "auth_schemes_by_network", "", "per-network auth_schemes: CIDR=scheme+scheme, ...");
    SESSION_LEASE_TIMEOUT = OptionSpec::new(OWN_SECTION, "session_lease_timeout", "30", "seconds a dead instance's sessions still count under max_sessions_per_token")
        .restart_only();
    SESSION_RECHECK_INTERVAL = OptionSpec::new(OWN_SECTION, "session_recheck_interval", "10", "how often live sessions' tokens are checked again, seconds; 0 is never");
    FRAME_ANCESTORS = OptionSpec::new(OWN_SECTION, "frame_ancestors", NONE, "who may frame the console page (CSP frame-ancestors)");
    METRICS_LISTEN = OptionSpec::new(OWN_SECTION, "metrics_listen", "", "where /metrics, /healthz and /readyz are served; empty is off")
        .restart_only();
    AUDIT_LOG = OptionSpec::new(OWN_SECTION, "audit_log", "", "audit trail file (JSON lines), - for standard error; empty is off");
    LOG_FORMAT = OptionSpec::new(OWN_SECTION, "log_format", "text", "text or json")
        .restart_only();
    DRAIN_DELAY = OptionSpec::new(OWN_SECTION, "drain_delay", "0", "seconds new sessions are still accepted after SIGTERM");
    RECORD = OptionSpec::new(OWN_SECTION, "record", "none", "which sessions are recorded: none (only tokens that say record=true) or all");
    RECORD_INPUT = OptionSpec::new(OWN_SECTION, "record_input", "false", "record keystrokes, pointer events and the browser's clipboard too (passwords are typed)");
    RECORDING_DIR = OptionSpec::new(OWN_SECTION, "recording_dir", NONE, "where recordings are written; unset is state_dir/recordings")
        .restart_only();
    RECORDING_MAX_AGE_DAYS = OptionSpec::new(OWN_SECTION, "recording_max_age_days", "0", "recordings older than this are deleted, oldest first, each deletion audited; 0 keeps them")
        .restart_only();
    RECORDING_MAX_TOTAL_BYTES = OptionSpec::new(OWN_SECTION, "recording_max_total_bytes", "0", "the oldest recordings are deleted while the directory holds more; 0 is no limit")
        .restart_only();
    RECORDING_RECIPIENTS = OptionSpec::new(OWN_SECTION, "recording_recipients", "", "age X25519 public keys (age1…) recordings are encrypted to; empty writes plain files (0600)");
    RECORDING_REQUIRED = OptionSpec::new(OWN_SECTION, "recording_required", "true", "a session whose recording fails is refused or ended (true), or goes on unrecorded with an audit event (false)");
}

/// Whether `[section] name` is an option vncgate reads, under its own name or as an alias.
pub fn is_known(section: &str, name: &str) -> bool {
    OPTIONS.iter().any(|spec| {
        (spec.section == section && spec.name == name)
            || (section == "DEFAULT" && spec.alias == Some(name))
    })
}

/// The option names of one section, for "unknown option; known: ..." messages.
pub fn names_in(section: &str) -> Vec<&'static str> {
    OPTIONS
        .iter()
        .filter(|spec| spec.section == section)
        .map(|spec| spec.name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_is_declared_once() {
        for (index, spec) in OPTIONS.iter().enumerate() {
            let twins = OPTIONS[index + 1..]
                .iter()
                .filter(|other| other.section == spec.section && other.name == spec.name)
                .count();
            assert_eq!(twins, 0, "[{}] {} declared twice", spec.section, spec.name);
        }
    }

    #[test]
    fn aliases_are_known_in_default() {
        assert!(is_known("DEFAULT", "console_token_ttl"));
        assert!(is_known("vnc", "novncproxy_port"));
        assert!(!is_known("vnc", "console_token_ttl"));
        assert!(!is_known(OWN_SECTION, "no_such_option"));
    }
}

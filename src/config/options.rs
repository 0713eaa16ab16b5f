//! Reads each known option from the layered files into [`Settings`]. No network I/O; file
//! existence is checked here so that a wrong path is reported with its option.

use std::path::{Path, PathBuf};
use std::time::Duration;

use config::{Config, Map, Value};

use super::oslo::OsloFile;
use super::value::{
    parse_bool, parse_choice, parse_integer, parse_list, parse_port, parse_seconds,
};
use super::{
    file_problem, AuthScheme, ConfigError, FrontTls, Limits, Problem, Secret, Settings, TlsMinimum,
    VencryptFiles,
};

/// The options vncgate reads, by section. Everything else in a nova.conf is ignored, except in
/// `[vncgate]`, where an unknown name is a typo and an error.
pub const KNOWN_OPTIONS: &[(&str, &[&str])] = &[
    (
        "DEFAULT",
        &[
            "debug",
            "ssl_only",
            "cert",
            "key",
            "web",
            "source_is_ipv6",
            // Deprecated locations nova still reads.
            "novncproxy_host",
            "novncproxy_port",
            "novncproxy_base_url",
            "console_allowed_origins",
            "console_token_ttl",
        ],
    ),
    (
        "vnc",
        &[
            "novncproxy_host",
            "novncproxy_port",
            "novncproxy_base_url",
            "auth_schemes",
            "vencrypt_client_key",
            "vencrypt_client_cert",
            "vencrypt_ca_certs",
        ],
    ),
    (
        "console",
        &["allowed_origins", "ssl_ciphers", "ssl_minimum_version"],
    ),
    ("consoleauth", &["token_ttl", "enforce_session_timeout"]),
    ("database", &["connection"]),
    (
        "vncgate",
        &[
            "token_source",
            "vencrypt_verify_hostname",
            "connect_timeout",
            "handshake_timeout",
            "ping_interval",
            "client_timeout",
            "max_message_size",
            "max_connections",
            "shutdown_grace",
            "state_dir",
            "admin_listen",
            "admin_secret_file",
            "max_sessions_per_token",
            "delete_expired_tokens",
            "novnc_dir",
            "vnc_password_file",
        ],
    ),
];

/// nova's default for `[DEFAULT] cert`: a relative file that usually does not exist, in which
/// case the proxy serves plain HTTP, as websockify does.
const DEFAULT_CERT: &str = "self.pem";
/// nova-novncproxy's default web root: Debian's and RHEL's `novnc` package.
const DEFAULT_WEB: &str = "/usr/share/novnc";
/// Where vncgate keeps its own SQLite token database.
const DEFAULT_STATE_DIR: &str = "/var/lib/vncgate";
/// The admin API listens on loopback only unless told otherwise.
const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:6081";
const DEFAULT_BASE_URL: &str = "http://127.0.0.1:6080/vnc_auto.html";
const OWN: &str = "vncgate";

pub(super) fn read(files: &[PathBuf]) -> Result<Settings, ConfigError> {
    let mut problems = Vec::new();
    let mut builder = Config::builder();
    for path in files {
        match std::fs::read_to_string(path) {
            Err(error) => problems.push(file_problem(path, format!("cannot read: {error}"))),
            Ok(text) => match OsloFile::parse(path.display().to_string(), &text) {
                Err(error) => problems.push(file_problem(path, error.to_string())),
                Ok(source) => builder = builder.add_source(source),
            },
        }
    }
    if files.is_empty() {
        problems.push(Problem {
            file: "(command line)".into(),
            section: String::new(),
            option: String::new(),
            message: "no config file given: use --config-file FILE or --config-dir DIR".into(),
        });
    }
    if !problems.is_empty() {
        return Err(ConfigError { problems });
    }
    let root = match builder.build().and_then(|built| built.cache.into_table()) {
        Ok(root) => root,
        Err(error) => {
            return Err(ConfigError {
                problems: vec![Problem {
                    file: files
                        .last()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                    section: String::new(),
                    option: String::new(),
                    message: error.to_string(),
                }],
            })
        }
    };
    let mut reader = Reader {
        root,
        problems,
        warnings: Vec::new(),
        fallback_file: files
            .last()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    };
    let settings = reader.settings(files);
    reader.report_unknown();
    if reader.problems.is_empty() {
        Ok(settings)
    } else {
        Err(ConfigError {
            problems: reader.problems,
        })
    }
}

/// Looks up raw values with their origin and records problems.
struct Reader {
    root: Map<String, Value>,
    problems: Vec<Problem>,
    warnings: Vec<String>,
    fallback_file: String,
}

impl Reader {
    fn raw(&self, section: &str, option: &str) -> Option<(String, String)> {
        let table = self.root.get(section)?.clone().into_table().ok()?;
        let value = table.get(option)?;
        let origin = value
            .origin()
            .map_or_else(|| self.fallback_file.clone(), str::to_owned);
        let text = value.clone().into_string().ok()?;
        Some((text, origin))
    }

    /// The value of `[section] option`, or of its deprecated `[DEFAULT] alias`.
    fn lookup(&self, section: &str, option: &str, alias: Option<&str>) -> Option<Located> {
        if let Some((text, file)) = self.raw(section, option) {
            return Some(Located {
                text,
                file,
                section: section.into(),
                option: option.into(),
            });
        }
        let alias = alias?;
        let (text, file) = self.raw("DEFAULT", alias)?;
        Some(Located {
            text,
            file,
            section: "DEFAULT".into(),
            option: alias.into(),
        })
    }

    fn problem(&mut self, at: &Located, message: String) {
        self.problems.push(Problem {
            file: at.file.clone(),
            section: at.section.clone(),
            option: at.option.clone(),
            message,
        });
    }

    /// Parses an option with `parse`, recording a failure and falling back to `default`.
    fn typed<T>(
        &mut self,
        section: &str,
        option: &str,
        default: T,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> T {
        self.typed_alias(section, option, None, default, parse)
    }

    fn typed_alias<T>(
        &mut self,
        section: &str,
        option: &str,
        alias: Option<&str>,
        default: T,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> T {
        let Some(at) = self.lookup(section, option, alias) else {
            return default;
        };
        match parse(&at.text) {
            Ok(value) => value,
            Err(message) => {
                self.problem(&at, message);
                default
            }
        }
    }

    /// A path option; a set path must exist (as a file, or as a directory when `dir`).
    fn path(&mut self, section: &str, option: &str, dir: bool) -> Option<PathBuf> {
        let at = self.lookup(section, option, None)?;
        let path = PathBuf::from(at.text.trim());
        if at.text.trim().is_empty() {
            return None;
        }
        self.require_exists(&at, &path, dir);
        Some(path)
    }

    fn require_exists(&mut self, at: &Located, path: &Path, dir: bool) {
        let kind_ok = if dir { path.is_dir() } else { path.exists() };
        if !kind_ok {
            let what = if dir { "directory" } else { "file" };
            self.problem(at, format!("{what} {} does not exist", path.display()));
        }
    }

    fn settings(&mut self, files: &[PathBuf]) -> Settings {
        let debug = self.typed("DEFAULT", "debug", false, parse_bool);
        let ssl_only = self.typed("DEFAULT", "ssl_only", false, parse_bool);
        let source_is_ipv6 = self.typed("DEFAULT", "source_is_ipv6", false, parse_bool);
        let listen_host = self
            .lookup("vnc", "novncproxy_host", Some("novncproxy_host"))
            .map_or_else(|| "0.0.0.0".to_owned(), |at| at.text.trim().to_owned());
        let listen_port = self.typed_alias(
            "vnc",
            "novncproxy_port",
            Some("novncproxy_port"),
            6080,
            parse_port,
        );
        let base_url = self.typed_alias(
            "vnc",
            "novncproxy_base_url",
            Some("novncproxy_base_url"),
            DEFAULT_BASE_URL.to_owned(),
            parse_url,
        );
        let tls = self.front_tls(ssl_only);
        let web = self.web();
        let auth_schemes = self.typed("vnc", "auth_schemes", vec![AuthScheme::None], parse_schemes);
        let vencrypt = self.vencrypt(&auth_schemes);
        let allowed_origins = self.typed_alias(
            "console",
            "allowed_origins",
            Some("console_allowed_origins"),
            Vec::new(),
            |text| {
                Ok(parse_list(text)
                    .into_iter()
                    .map(|o| o.to_ascii_lowercase())
                    .collect())
            },
        );
        let token_ttl = self.typed_alias(
            "consoleauth",
            "token_ttl",
            Some("console_token_ttl"),
            Duration::from_secs(600),
            |text| parse_integer(text, 0).map(Duration::from_secs),
        );
        let enforce_session_timeout =
            self.typed("consoleauth", "enforce_session_timeout", false, parse_bool);
        let database = self
            .lookup("database", "connection", None)
            .filter(|at| !at.text.trim().is_empty());
        if let Some(at) = &database {
            if let Err(error) = crate::token::sql::translate_url(at.text.trim()) {
                self.problem(at, error.to_string());
            }
        }
        let database_connection = database.map(|at| Secret::new(at.text.trim()));
        let token_source = self.token_source();
        if let Some(at) = self.lookup("console", "ssl_minimum_version", None) {
            if at.text.trim().eq_ignore_ascii_case("tlsv1_1") {
                self.warnings.push(format!(
                    "{}: [console] ssl_minimum_version = tlsv1_1 means TLS 1.2 here: \
                     vncgate never speaks TLS older than 1.2",
                    at.file
                ));
            }
        }
        let vencrypt_verify_hostname =
            self.typed(OWN, "vencrypt_verify_hostname", false, parse_bool);
        let limits = self.limits();
        let state_dir = self.lookup(OWN, "state_dir", None).map_or_else(
            || PathBuf::from(DEFAULT_STATE_DIR),
            |at| PathBuf::from(at.text.trim()),
        );
        let admin_listen = self.typed(OWN, "admin_listen", DEFAULT_ADMIN_LISTEN.parse().ok(), |text| {
            text.trim()
                .parse::<std::net::SocketAddr>()
                .map(Some)
                .map_err(|_| format!("{text:?} is not an address; accepted values: IP:PORT, e.g. 127.0.0.1:6081 or [::1]:6081"))
        });
        let admin_secret_file = self.path(OWN, "admin_secret_file", false);
        let max_sessions_per_token = self.typed(OWN, "max_sessions_per_token", 0, |text| {
            parse_integer(text, 0).map(|n| n as usize)
        });
        let delete_expired_tokens = self.typed(OWN, "delete_expired_tokens", false, parse_bool);
        let vnc_password = self.vnc_password();
        let novnc_dir = match self.lookup(OWN, "novnc_dir", None) {
            Some(at) if at.text.trim().is_empty() => None,
            Some(_) => self.path(OWN, "novnc_dir", true),
            None => Some(PathBuf::from(DEFAULT_WEB)),
        };
        Settings {
            files: files.to_vec(),
            debug,
            listen_host,
            listen_port,
            source_is_ipv6,
            tls,
            ssl_only,
            web,
            base_url,
            auth_schemes,
            vencrypt,
            vencrypt_verify_hostname,
            allowed_origins,
            token_ttl,
            enforce_session_timeout,
            token_source,
            database_connection,
            limits,
            warnings: std::mem::take(&mut self.warnings),
            state_dir,
            admin_listen,
            admin_secret_file,
            max_sessions_per_token,
            delete_expired_tokens,
            novnc_dir,
            vnc_password,
        }
    }

    fn front_tls(&mut self, ssl_only: bool) -> Option<FrontTls> {
        let minimum = self.typed(
            "console",
            "ssl_minimum_version",
            TlsMinimum::Tls12,
            |text| {
                parse_choice(text, &["default", "tlsv1_1", "tlsv1_2", "tlsv1_3"]).map(|word| {
                    if word == "tlsv1_3" {
                        TlsMinimum::Tls13
                    } else {
                        TlsMinimum::Tls12
                    }
                })
            },
        );
        let ciphers = self.lookup("console", "ssl_ciphers", None).and_then(|at| {
            let names = cipher_names(&at.text);
            if names.is_none() {
                self.warnings.push(format!(
                    "{}: [console] ssl_ciphers is an OpenSSL cipher expression, which rustls cannot \
                     follow; its own suites (AEAD with forward secrecy only) are used",
                    at.file
                ));
            }
            names
        });
        // nova.conf generators often spell out nova's default; it means the same as leaving it.
        let configured = self
            .lookup("DEFAULT", "cert", None)
            .filter(|at| at.text.trim() != DEFAULT_CERT);
        let cert = match &configured {
            Some(at) => PathBuf::from(at.text.trim()),
            None => PathBuf::from(DEFAULT_CERT),
        };
        if !cert.exists() {
            // nova's default `self.pem` is usually absent and means plain HTTP; a certificate
            // that was asked for, or required by ssl_only, must be there.
            match configured {
                Some(at) => self.require_exists(&at, &cert, false),
                None if ssl_only => self.problems.push(Problem {
                    file: self.fallback_file.clone(),
                    section: "DEFAULT".into(),
                    option: "cert".into(),
                    message: format!(
                        "ssl_only is set but the certificate {} does not exist",
                        cert.display()
                    ),
                }),
                None => {}
            }
            return None;
        }
        let key = self
            .path("DEFAULT", "key", false)
            .unwrap_or_else(|| cert.clone());
        Some(FrontTls {
            cert,
            key,
            minimum,
            ciphers,
        })
    }

    fn web(&mut self) -> Option<PathBuf> {
        match self.lookup("DEFAULT", "web", None) {
            Some(at) if at.text.trim().is_empty() => None,
            Some(at) => {
                let path = PathBuf::from(at.text.trim());
                self.require_exists(&at, &path, true);
                Some(path)
            }
            None => Some(PathBuf::from(DEFAULT_WEB)).filter(|path| path.is_dir()),
        }
    }

    fn vencrypt(&mut self, schemes: &[AuthScheme]) -> Option<VencryptFiles> {
        let client_cert = self.path("vnc", "vencrypt_client_cert", false);
        let client_key = self.path("vnc", "vencrypt_client_key", false);
        let ca_certs = self.path("vnc", "vencrypt_ca_certs", false);
        if !schemes.contains(&AuthScheme::Vencrypt) {
            return None;
        }
        match (client_cert, client_key, ca_certs) {
            (Some(client_cert), Some(client_key), Some(ca_certs)) => Some(VencryptFiles {
                client_cert,
                client_key,
                ca_certs,
            }),
            (cert, key, ca) => {
                let origin = self
                    .lookup("vnc", "auth_schemes", None)
                    .map_or_else(|| self.fallback_file.clone(), |at| at.file);
                for (name, missing) in [
                    ("vencrypt_client_cert", cert.is_none()),
                    ("vencrypt_client_key", key.is_none()),
                    ("vencrypt_ca_certs", ca.is_none()),
                ] {
                    if missing {
                        self.problems.push(Problem {
                            file: origin.clone(),
                            section: "vnc".into(),
                            option: name.into(),
                            message: "must be set when auth_schemes includes vencrypt".into(),
                        });
                    }
                }
                None
            }
        }
    }

    /// The default VNC password, from the first line of `[vncgate] vnc_password_file`.
    fn vnc_password(&mut self) -> Option<Secret> {
        let at = self.lookup(OWN, "vnc_password_file", None)?;
        let path = PathBuf::from(at.text.trim());
        match std::fs::read_to_string(&path) {
            Err(error) => {
                self.problem(&at, format!("cannot read {}: {error}", path.display()));
                None
            }
            Ok(text) => match text.lines().next().map(str::trim) {
                Some(password) if !password.is_empty() => Some(Secret::new(password)),
                _ => {
                    self.problem(
                        &at,
                        format!("{} holds no password on its first line", path.display()),
                    );
                    None
                }
            },
        }
    }

    fn token_source(&mut self) -> Option<PathBuf> {
        let at = self.lookup(OWN, "token_source", None)?;
        let path = PathBuf::from(at.text.trim());
        if !path.exists() {
            self.problem(
                &at,
                format!("file or directory {} does not exist", path.display()),
            );
        }
        Some(path)
    }

    fn limits(&mut self) -> Limits {
        let seconds = |reader: &mut Self, option: &str, default: u64| {
            reader.typed(OWN, option, Duration::from_secs(default), parse_seconds)
        };
        let at_least_one = |text: &str| parse_integer(text, 1).map(|n| n as usize);
        Limits {
            connect_timeout: seconds(self, "connect_timeout", 5),
            handshake_timeout: seconds(self, "handshake_timeout", 10),
            ping_interval: seconds(self, "ping_interval", 20),
            client_timeout: seconds(self, "client_timeout", 120),
            max_message_size: self.typed(OWN, "max_message_size", 4 << 20, at_least_one),
            max_connections: self.typed(OWN, "max_connections", 4096, at_least_one),
            shutdown_grace: seconds(self, "shutdown_grace", 10),
        }
    }

    /// Unknown options are debug-logged, except in `[vncgate]`, which is ours alone.
    fn report_unknown(&mut self) {
        let sections: Vec<(String, Vec<String>)> = self
            .root
            .iter()
            .map(|(name, value)| {
                let keys = value.clone().into_table().map(|t| t.into_keys().collect());
                (name.clone(), keys.unwrap_or_default())
            })
            .collect();
        for (section, keys) in sections {
            let known = KNOWN_OPTIONS
                .iter()
                .find(|(name, _)| *name == section)
                .map_or(&[][..], |(_, options)| options);
            for key in keys
                .into_iter()
                .filter(|key| !known.contains(&key.as_str()))
            {
                if section == OWN {
                    if let Some(at) = self.lookup(OWN, &key, None) {
                        let message = format!("unknown option; known: {}", known.join(", "));
                        self.problem(&at, message);
                    }
                } else {
                    tracing::debug!(section = %section, option = %key, "option not used by vncgate");
                }
            }
        }
    }
}

/// A raw value with where it came from.
struct Located {
    text: String,
    file: String,
    section: String,
    option: String,
}

fn parse_schemes(text: &str) -> Result<Vec<AuthScheme>, String> {
    let names = parse_list(text);
    if names.is_empty() {
        return Err(format!(
            "must name at least one scheme; accepted values: {}",
            AuthScheme::NAMES.join(", ")
        ));
    }
    let mut schemes = Vec::new();
    for name in names {
        let scheme = AuthScheme::from_name(&name).ok_or_else(|| {
            format!(
                "{name:?} is not a scheme; accepted values: {}",
                AuthScheme::NAMES.join(", ")
            )
        })?;
        if !schemes.contains(&scheme) {
            schemes.push(scheme);
        }
    }
    Ok(schemes)
}

fn parse_url(text: &str) -> Result<String, String> {
    let text = text.trim();
    let rest = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
        .ok_or_else(|| {
            format!("{text:?} is not a URL; accepted values: http://... or https://...")
        })?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("{text:?} has no host"));
    }
    Ok(text.to_owned())
}

/// `ssl_ciphers` is an OpenSSL cipher string. Plain suite names can be honoured; an OpenSSL
/// expression (`HIGH:!aNULL`, `kEECDH+AES`) cannot, and is left to rustls' defaults, which are
/// already only AEAD suites with forward secrecy.
fn cipher_names(text: &str) -> Option<Vec<String>> {
    let names = text
        .split([':', ',', ' '])
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect::<Vec<_>>();
    let expression = names.iter().any(|name| {
        name.contains(['+', '!', '@'])
            || name.starts_with('-')
            || name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    });
    (!names.is_empty() && !expression).then_some(names)
}

//! Reads each option of the [table](super::table) from the layered files into [`Settings`].
//! No network I/O.

use std::path::PathBuf;
use std::time::Duration;

use config::Config;

use super::edge;
use super::features;
use super::oslo::OsloFile;
use super::ports;
use super::problem::{file_problem, ConfigError, Problem};
use super::reader::{Exists, Reader};
use super::settings::{
    AuditTarget, BackendPolicy, FrontTls, Operations, Settings, TlsMinimum, VencryptFiles,
};
use super::table as t;
use super::value::{
    cipher_names, names, parse_bool, parse_by_network, parse_choice, parse_integer, parse_list,
    parse_networks, parse_port, parse_schemes, parse_seconds, parse_url,
};
use crate::console::{AuthScheme, Clipboard, Secret};

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
    let last_file = files
        .last()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let root = match builder.build().and_then(|built| built.cache.into_table()) {
        Ok(root) => root,
        Err(error) => {
            return Err(ConfigError {
                problems: vec![Problem {
                    file: last_file,
                    section: String::new(),
                    option: String::new(),
                    message: error.to_string(),
                }],
            })
        }
    };
    let mut reader = Reader::new(root, last_file);
    let settings = settings(&mut reader, files);
    reader.report_unknown();
    if reader.problems.is_empty() {
        Ok(settings)
    } else {
        Err(ConfigError {
            problems: reader.problems,
        })
    }
}

fn settings(reader: &mut Reader, files: &[PathBuf]) -> Settings {
    let ssl_only = reader.typed(&t::SSL_ONLY, parse_bool);
    let (auth_schemes, backends, vencrypt) = backend_auth(reader);
    let database_connection = database(reader);
    let settings = Settings {
        files: files.to_vec(),
        debug: reader.typed(&t::DEBUG, parse_bool),
        listen_host: reader.text(&t::NOVNCPROXY_HOST),
        listen_port: reader.typed(&t::NOVNCPROXY_PORT, parse_port),
        source_is_ipv6: reader.typed(&t::SOURCE_IS_IPV6, parse_bool),
        tls: front_tls(reader, ssl_only),
        ssl_only,
        web: web(reader),
        base_url: reader.typed(&t::NOVNCPROXY_BASE_URL, parse_url),
        serial_base_url: reader.text(&t::SERIAL_BASE_URL),
        spice_base_url: reader.typed(&t::HTML5PROXY_BASE_URL, parse_url),
        console_ports: ports::console_ports(reader),
        serial_tls: reader.typed(&t::SERIAL_TLS, parse_bool),
        default_view_only: reader.typed(&t::DEFAULT_VIEW_ONLY, parse_bool),
        console_defaults: reader.typed(&t::CONSOLE_DEFAULTS, super::page::console_defaults),
        splice: reader.typed(&t::SPLICE, parse_bool),
        default_clipboard: reader.typed(&t::DEFAULT_CLIPBOARD, |text| {
            Clipboard::parse(text.trim())
        }),
        spice_tls: reader.typed(&t::SPICE_TLS, parse_bool),
        xterm_dir: reader.path(&t::XTERM_DIR, Exists::Dir),
        spice_html5_dir: reader.path_or_default(&t::SPICE_HTML5_DIR, Exists::Dir),
        auth_schemes,
        vencrypt,
        vencrypt_verify_hostname: reader.typed(&t::VENCRYPT_VERIFY_HOSTNAME, parse_bool),
        allowed_origins: reader.typed(&t::ALLOWED_ORIGINS, |text| {
            Ok(parse_list(text)
                .into_iter()
                .map(|o| o.to_ascii_lowercase())
                .collect())
        }),
        token_ttl: reader.typed(&t::TOKEN_TTL, |text| {
            parse_integer(text, 0).map(Duration::from_secs)
        }),
        enforce_session_timeout: reader.typed(&t::ENFORCE_SESSION_TIMEOUT, parse_bool),
        token_source: reader.path(&t::TOKEN_SOURCE, Exists::FileOrDir),
        token_names_dir: reader.path(&t::TOKEN_NAMES_DIR, Exists::Dir),
        database_connection,
        limits: edge::limits(reader),
        warnings: Vec::new(),
        // Made on first use, so it need not exist yet.
        state_dir: PathBuf::from(reader.text(&t::STATE_DIR)),
        admin_listen: reader.typed(&t::ADMIN_LISTEN, |text| {
            text.trim()
                .parse::<std::net::SocketAddr>()
                .map(Some)
                .map_err(|_| format!("{text:?} is not an address; accepted values: IP:PORT, e.g. 127.0.0.1:6081 or [::1]:6081"))
        }),
        admin_secret_file: reader.path(&t::ADMIN_SECRET_FILE, Exists::File),
        max_sessions_per_token: reader.typed(&t::MAX_SESSIONS_PER_TOKEN, |text| {
            parse_integer(text, 0).map(|n| n as usize)
        }),
        delete_expired_tokens: reader.typed(&t::DELETE_EXPIRED_TOKENS, parse_bool),
        novnc_dir: reader.path_or_default(&t::NOVNC_DIR, Exists::Dir),
        vnc_password: vnc_password(reader),
        edge: edge::edge(reader),
        backends,
        operations: operations(reader),
        recording: features::recording(reader),
        jwt: features::jwt(reader),
        libvirt: features::libvirt(reader),
        oidc: super::signin::oidc(reader),
        access_policy: super::signin::access_policy(reader),
        require_login: super::signin::require_login(reader),
        redis: features::redis(reader),
        token_api: features::token_api(reader),
    };
    Settings {
        warnings: std::mem::take(&mut reader.warnings),
        ..settings
    }
}

/// How the proxy authenticates to consoles and where it may connect, with a warning for each
/// list a man in the middle could downgrade and for an open backend list.
fn backend_auth(reader: &mut Reader) -> (Vec<AuthScheme>, BackendPolicy, Option<VencryptFiles>) {
    let auth_schemes = reader.typed(&t::AUTH_SCHEMES, parse_schemes);
    let by_network = reader.typed(&t::AUTH_SCHEMES_BY_NETWORK, parse_by_network);
    let allowed_backends = reader.typed(&t::ALLOWED_BACKENDS, parse_networks);
    let every_list = std::iter::once(&auth_schemes).chain(by_network.iter().map(|(_, list)| list));
    // serial_tls, spice_tls and libvirt's TLS consoles use the same client certificate and CA
    // files.
    let needs_vencrypt = every_list
        .clone()
        .any(|list| list.contains(&AuthScheme::Vencrypt))
        || reader.typed(&t::SERIAL_TLS, parse_bool)
        || reader.typed(&t::SPICE_TLS, parse_bool)
        || reader
            .find(&t::LIBVIRT_VNC_TLS)
            .is_some_and(|at| !at.text.trim().is_empty());
    // A libvirt domain's XML may ask for TLS (a chardev's tls='yes', a SPICE tlsPort): the
    // files are read when given.
    let wants_vencrypt = reader.find(&t::LIBVIRT_URIS).is_some();
    let vencrypt = vencrypt(reader, needs_vencrypt, wants_vencrypt);
    for list in every_list {
        if let Some((stronger, weaker)) = AuthScheme::downgrade_in(list) {
            reader.warnings.push(format!(
                "auth_schemes {}: {} is tried when {} is not offered, so a man in the middle \
                 can choose it; narrow it per network (auth_schemes_by_network) or per target \
                 (auth= in token files)",
                names(list),
                weaker.name(),
                stronger.name()
            ));
        }
    }
    if allowed_backends.is_empty() {
        reader.warnings.push(
            "[vncgate] allowed_backends is empty: tokens may point the proxy at any address; \
             list the compute nodes' networks"
                .into(),
        );
    }
    let backends = BackendPolicy {
        allowed_backends,
        auth_schemes_by_network: by_network,
        unix_socket_dirs: reader.typed(&t::UNIX_SOCKET_DIRS, parse_socket_dirs),
    };
    (auth_schemes, backends, vencrypt)
}

/// `unix_socket_dirs`: absolute directories, none of them the root.
fn parse_socket_dirs(text: &str) -> Result<Vec<PathBuf>, String> {
    parse_list(text)
        .into_iter()
        .map(|dir| {
            let path = PathBuf::from(&dir);
            if !path.is_absolute()
                || path
                    .components()
                    .any(|c| c == std::path::Component::ParentDir)
            {
                Err(format!("{dir:?} is not an absolute path without '..'"))
            } else if path.parent().is_none() {
                Err("the root directory would let tokens name any socket".to_owned())
            } else {
                Ok(path)
            }
        })
        .collect()
}

fn operations(reader: &mut Reader) -> Operations {
    Operations {
            metrics_listen: reader.typed(&t::METRICS_LISTEN, |text| {
                let text = text.trim();
                if text.is_empty() {
                    return Ok(None);
                }
                text.parse::<std::net::SocketAddr>().map(Some).map_err(|_| {
                    format!("{text:?} is not an address; accepted values: IP:PORT, e.g. 127.0.0.1:9180, or empty")
                })
            }),
            audit_log: reader.typed(&t::AUDIT_LOG, |text| {
                Ok(match text.trim() {
                    "" => None,
                    "-" => Some(AuditTarget::Stderr),
                    path => Some(AuditTarget::File(PathBuf::from(path))),
                })
            }),
            json_logs: reader.typed(&t::LOG_FORMAT, |text| {
                parse_choice(text, &["text", "json"]).map(|word| word == "json")
            }),
            drain_delay: reader.typed(&t::DRAIN_DELAY, parse_seconds),
    }
}

fn database(reader: &mut Reader) -> Option<Secret> {
    let at = reader
        .find(&t::CONNECTION)
        .filter(|at| !at.text.trim().is_empty())?;
    if let Err(error) = crate::token::sql::translate_url(at.text.trim()) {
        reader.problem(&at, error.to_string());
    }
    Some(Secret::new(at.text.trim()))
}

fn front_tls(reader: &mut Reader, ssl_only: bool) -> Option<FrontTls> {
    let minimum = reader.typed(&t::SSL_MINIMUM_VERSION, |text| {
        parse_choice(text, &["default", "tlsv1_1", "tlsv1_2", "tlsv1_3"]).map(|word| {
            if word == "tlsv1_3" {
                TlsMinimum::Tls13
            } else {
                TlsMinimum::Tls12
            }
        })
    });
    if let Some(at) = reader.find(&t::SSL_MINIMUM_VERSION) {
        if at.text.trim().eq_ignore_ascii_case("tlsv1_1") {
            reader.warnings.push(format!(
                "{}: [console] ssl_minimum_version = tlsv1_1 means TLS 1.2 here: \
                 vncgate never speaks TLS older than 1.2",
                at.file
            ));
        }
    }
    let ciphers = reader.find(&t::SSL_CIPHERS).and_then(|at| {
        let names = cipher_names(&at.text);
        if names.is_none() {
            reader.warnings.push(format!(
                "{}: [console] ssl_ciphers is an OpenSSL cipher expression, which rustls cannot \
                 follow; its own suites (AEAD with forward secrecy only) are used",
                at.file
            ));
        }
        names
    });
    // nova.conf generators often spell out nova's default; it means the same as leaving it.
    let configured = reader
        .find(&t::CERT)
        .filter(|at| at.text.trim() != t::CERT.default);
    let cert = PathBuf::from(
        configured
            .as_ref()
            .map_or(t::CERT.default, |at| at.text.trim()),
    );
    if !cert.exists() {
        // nova's default `self.pem` is usually absent and means plain HTTP; a certificate
        // that was asked for, or required by ssl_only, must be there.
        match configured {
            Some(at) => reader.require(&at, &cert, Exists::File),
            None if ssl_only => reader.missing(
                &t::CERT,
                None,
                format!(
                    "ssl_only is set but the certificate {} does not exist",
                    cert.display()
                ),
            ),
            None => {}
        }
        return None;
    }
    let key = reader
        .path(&t::KEY, Exists::File)
        .unwrap_or_else(|| cert.clone());
    Some(FrontTls {
        cert,
        key,
        minimum,
        ciphers,
    })
}

fn web(reader: &mut Reader) -> Option<PathBuf> {
    match reader.find(&t::WEB) {
        Some(_) => reader.path(&t::WEB, Exists::Dir),
        // The default is used only where the package is installed.
        None => t::WEB
            .default_value()
            .map(PathBuf::from)
            .filter(|path| path.is_dir()),
    }
}

fn vencrypt(reader: &mut Reader, needed: bool, wanted: bool) -> Option<VencryptFiles> {
    let client_cert = reader.path(&t::VENCRYPT_CLIENT_CERT, Exists::File);
    let client_key = reader.path(&t::VENCRYPT_CLIENT_KEY, Exists::File);
    let ca_certs = reader.path(&t::VENCRYPT_CA_CERTS, Exists::File);
    let given = client_cert.is_some() && client_key.is_some() && ca_certs.is_some();
    if !(needed || (wanted && given)) {
        return None;
    }
    match (client_cert, client_key, ca_certs) {
        (Some(client_cert), Some(client_key), Some(ca_certs)) => Some(VencryptFiles {
            client_cert,
            client_key,
            ca_certs,
        }),
        (cert, key, ca) => {
            let origin = reader.find(&t::AUTH_SCHEMES).map(|at| at.file);
            for (spec, missing) in [
                (&t::VENCRYPT_CLIENT_CERT, cert.is_none()),
                (&t::VENCRYPT_CLIENT_KEY, key.is_none()),
                (&t::VENCRYPT_CA_CERTS, ca.is_none()),
            ] {
                if missing {
                    let message = "must be set when auth_schemes includes vencrypt (or auth_schemes_by_network does), or serial_tls or spice_tls is on, or [libvirt] vnc_tls names a hypervisor".to_owned();
                    reader.missing(spec, origin.clone(), message);
                }
            }
            None
        }
    }
}

/// The default VNC password, from the first line of `[vncgate] vnc_password_file`.
fn vnc_password(reader: &mut Reader) -> Option<Secret> {
    let at = reader.find(&t::VNC_PASSWORD_FILE)?;
    let path = PathBuf::from(at.text.trim());
    match std::fs::read_to_string(&path) {
        Err(error) => {
            reader.problem(&at, format!("cannot read {}: {error}", path.display()));
            None
        }
        Ok(text) => match text.lines().next().map(str::trim) {
            Some(password) if !password.is_empty() => Some(Secret::new(password)),
            _ => {
                let message = format!("{} holds no password on its first line", path.display());
                reader.problem(&at, message);
                None
            }
        },
    }
}

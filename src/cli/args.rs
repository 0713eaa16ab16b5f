//! The command line: `serve` and `check-config`, with oslo.config's option names.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// A console proxy: noVNC in the browser to VNC servers over VeNCrypt with mutual TLS.
#[derive(Debug, Parser)]
#[command(name = "vncgate", version = crate::VERSION, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Config files, read as oslo.config does.
#[derive(Debug, Clone, Args)]
pub struct ConfigFiles {
    /// An INI file (nova.conf form); repeat it, later files override earlier ones.
    #[arg(long = "config-file", value_name = "FILE")]
    pub config_file: Vec<PathBuf>,
    /// A directory whose *.conf files are read after --config-file, in name order; repeat
    /// it, later directories override earlier ones.
    #[arg(long = "config-dir", value_name = "DIR")]
    pub config_dir: Vec<PathBuf>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the proxy.
    Serve(ConfigFiles),
    /// Check the configuration: exit 0 when valid, else print every problem and exit 64.
    CheckConfig(ConfigFiles),
    /// Ask the running proxy's /healthz on `[vncgate] metrics_listen` (a container's
    /// HEALTHCHECK): exit 0 when it answers 200, else 1.
    Healthcheck(ConfigFiles),
    /// Issue, list and revoke console tokens in the token database.
    Token {
        /// What to do.
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// List and end live console sessions, through the running proxy's admin API.
    Session {
        /// What to do.
        #[command(subcommand)]
        command: SessionCommand,
    },
    /// List, show and export session recordings.
    Recording {
        /// What to do.
        #[command(subcommand)]
        command: RecordingCommand,
    },
    /// What the libvirt inventory sees (`[libvirt] uris`): the operator's first check.
    Domains {
        /// What to do.
        #[command(subcommand)]
        command: DomainsCommand,
    },
    /// Create and check the certificates VeNCrypt needs.
    Pki {
        /// What to do.
        #[command(subcommand)]
        command: PkiCommand,
    },
    /// Write the man page and shell completions into DIR (for packagers).
    #[command(hide = true)]
    GenerateDocs {
        /// Where to write vncgate.1 and the completions.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

/// `vncgate session ...`: through the admin API (`[vncgate] admin_listen` and
/// `admin_secret_file` of the configuration).
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// List the live sessions: id, token hash prefix, client, kind, target, start, bytes,
    /// view-only, clipboard, and the instance holding each (every instance sharing the database).
    List {
        /// Config files.
        #[command(flatten)]
        files: ConfigFiles,
    },
    /// End session ID; its page shows the reason and does not reconnect.
    Kill {
        /// Config files.
        #[command(flatten)]
        files: ConfigFiles,
        /// The session's id, as `session list` shows it.
        id: u64,
        /// Why, in a few words the user will read.
        #[arg(long, default_value = "ended by the operator")]
        reason: String,
        /// The instance holding the session, as `session list` shows it, when it is not the
        /// one whose admin API is called (instances sharing one database).
        #[arg(long)]
        instance: Option<String>,
    },
}

/// `vncgate domains ...`
#[derive(Debug, Subcommand)]
pub enum DomainsCommand {
    /// Every domain of every hypervisor in `[libvirt] uris`: name, state, console kinds and
    /// their live ports. Exits 1 when a hypervisor cannot be asked.
    List {
        /// Config files.
        #[command(flatten)]
        files: ConfigFiles,
    },
}

/// `vncgate recording ...`
#[derive(Debug, Subcommand)]
pub enum RecordingCommand {
    /// List the recordings in `[vncgate] recording_dir`: file, size, time, console, and
    /// whether it is encrypted.
    List {
        /// Config files.
        #[command(flatten)]
        files: ConfigFiles,
    },
    /// Print a recording's header: session, instance, token hash prefix, console, target,
    /// client, start, whether input was recorded; and its length.
    Show {
        /// The recording (an `.age` file needs --identity).
        file: PathBuf,
        /// An age identity file (`age-keygen` output) to decrypt with.
        #[arg(long, short = 'i', value_name = "KEY")]
        identity: Option<PathBuf>,
    },
    /// Write a recording in another format: `asciicast` (serial, for asciinema) or `novnc`
    /// (RFB, the frame data noVNC's playback page reads).
    Export {
        /// The recording (an `.age` file needs --identity).
        file: PathBuf,
        /// The format to write.
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// An age identity file to decrypt with.
        #[arg(long, short = 'i', value_name = "KEY")]
        identity: Option<PathBuf>,
        /// Where to write; standard output when absent. An existing file is never replaced.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// `recording export --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// asciicast v2, for serial recordings.
    Asciicast,
    /// noVNC's playback frame data (`VNC_frame_data`), for RFB recordings.
    Novnc,
}

/// `vncgate pki ...`
#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Create a CA, a server certificate per compute host and the proxy's client certificate.
    ///
    /// Writes DIR/ca/{ca-cert,ca-key}.pem, DIR/compute/<host>/{ca-cert,server-cert,server-key}.pem
    /// (QEMU's tls-creds-x509 dir, libvirt's /etc/pki/libvirt-vnc) and
    /// DIR/proxy/{ca-cert,client-cert,client-key}.pem (nova's /etc/pki/nova-novncproxy).
    /// Keys are written 0600 in 0700 directories. Existing files are never replaced without
    /// --force. The CA is valid for 10 years, other certificates for --days.
    Init(PkiInit),
    /// Issue one more certificate from the CA in DIR.
    Issue {
        /// Which kind.
        #[command(subcommand)]
        kind: IssueKind,
    },
    /// Check certificates and keys: a `pki init` directory, a QEMU/libvirt or nova directory,
    /// or PEM files. Prints each problem in plain words; exits 1 if any is an error.
    Check(PkiCheck),
}

/// Options common to everything that issues certificates.
#[derive(Debug, Clone, Args)]
pub struct IssueOptions {
    /// The PKI directory.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Validity of server and client certificates, in days.
    #[arg(long, default_value_t = vncgate_pki::profile::LEAF_DAYS)]
    pub days: u32,
    /// Key algorithm: ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072 or rsa-4096.
    #[arg(long, default_value = "ecdsa-p256", value_parser = parse_key_type)]
    pub key_type: vncgate_pki::KeyType,
    /// Replace existing files.
    #[arg(long)]
    pub force: bool,
}

/// The console kinds a token can be issued for here: a webmks ticket comes from vCenter.
fn parse_issued_kind(name: &str) -> Result<crate::console::ConsoleKind, String> {
    use crate::console::ConsoleKind;
    ConsoleKind::from_nova_name(name)
        .filter(|kind| *kind != ConsoleKind::Webmks)
        .ok_or_else(|| {
            let names: Vec<&str> = ConsoleKind::ALL
                .iter()
                .filter(|kind| **kind != ConsoleKind::Webmks)
                .map(|kind| kind.nova_name())
                .collect();
            format!("accepted values: {}", names.join(", "))
        })
}

fn parse_key_type(name: &str) -> Result<vncgate_pki::KeyType, String> {
    vncgate_pki::KeyType::from_name(name).ok_or_else(|| {
        format!(
            "accepted values: {}",
            vncgate_pki::KeyType::NAMES.join(", ")
        )
    })
}

/// `vncgate pki init`
#[derive(Debug, Clone, Args)]
pub struct PkiInit {
    /// Issuing options.
    #[command(flatten)]
    pub issue: IssueOptions,
    /// A compute host: its name, then more names and IP addresses for the certificate, comma
    /// separated (HOST[,SAN...]). Repeat for each host.
    #[arg(long = "server", value_name = "HOST[,SAN...]")]
    pub servers: Vec<String>,
    /// Common name of the proxy's client certificate.
    #[arg(long, default_value = vncgate_pki::layout::DEFAULT_CLIENT_CN)]
    pub client_cn: String,
    /// Also write DIR/https/{cert,key}.pem for the proxy's browser-facing HTTPS.
    #[arg(long, value_name = "HOST[,SAN...]")]
    pub https: Option<String>,
    /// Also write libvirt's layout (DIR/libvirt/<host>/ for `libvirtd --listen` and the node's
    /// qemu.conf lines, DIR/libvirt/client/ for `[libvirt] pki_path`).
    #[arg(long)]
    pub libvirt: bool,
}

/// `vncgate pki issue server|client`
#[derive(Debug, Subcommand)]
pub enum IssueKind {
    /// A VNC server certificate into DIR/compute/<host>/.
    Server {
        /// HOST[,SAN...]: the host name first, then more names and addresses.
        names: String,
        /// Issuing options.
        #[command(flatten)]
        issue: IssueOptions,
    },
    /// A proxy client certificate into DIR/clients/<name>/.
    Client {
        /// Common name, also the directory name.
        name: String,
        /// Issuing options.
        #[command(flatten)]
        issue: IssueOptions,
    },
}

/// `vncgate pki check`
#[derive(Debug, Clone, Args)]
pub struct PkiCheck {
    /// Directories or PEM files.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// A host name or address that server certificates must carry (repeatable).
    #[arg(long = "host")]
    pub hosts: Vec<String>,
}

/// `vncgate token ...`: the database is `[database] connection`, else vncgate's SQLite file in
/// `[vncgate] state_dir`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token (256 random bits; only its sha256 is stored) and print it, its expiry and
    /// the browser URL, built from novncproxy_base_url as nova builds access_url.
    Issue {
        /// Config files.
        #[command(flatten)]
        files: ConfigFiles,
        /// The VNC server's host name or address.
        #[arg(long, required_unless_present_any = ["url", "domain"], conflicts_with_all = ["url", "domain"])]
        host: Option<String>,
        /// The VNC server's port.
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..), required_unless_present_any = ["url", "domain"], conflicts_with_all = ["url", "domain"])]
        port: Option<u16>,
        /// A libvirt domain (name or UUID) of `[libvirt] uris`, instead of --host/--port: its
        /// console is found in its live XML when a session starts.
        #[arg(long, conflicts_with = "url")]
        domain: Option<String>,
        /// The hypervisor holding --domain, by its name in `[libvirt] uris`, when several hold
        /// the same domain name.
        #[arg(long, requires = "domain", value_name = "NAME")]
        uri: Option<String>,
        /// A WebMKS ticket URL, wss://HOST[:PORT]/ticket/TICKET, instead of --host/--port. The
        /// token is single-use: a ticket is good once.
        #[arg(long, requires = "thumbprint")]
        url: Option<String>,
        /// The ESXi host certificate's SHA-1 or SHA-256 thumbprint (hex, colons optional): the
        /// only certificate accepted for --url.
        #[arg(long, requires = "url")]
        thumbprint: Option<String>,
        /// The console type, as nova's console_type column names it; the URL is built on that
        /// kind's base URL.
        #[arg(long, default_value = "novnc", value_parser = parse_issued_kind)]
        kind: crate::console::ConsoleKind,
        /// A watch link: its sessions see the console, and their keys, pointer, clipboard,
        /// resize and power requests are dropped by the proxy.
        #[arg(long)]
        view_only: bool,
        /// Which way the clipboard may flow: both, to-guest, from-guest or none; default
        /// `[vncgate] default_clipboard`. Enforced by the proxy in both directions.
        #[arg(long, value_parser = crate::console::Clipboard::parse)]
        clipboard: Option<crate::console::Clipboard>,
        /// A SPICE server's TLS port (used with [vncgate] spice_tls).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        tls_port: Option<u16>,
        /// Lifetime in seconds; default `[consoleauth] token_ttl`.
        #[arg(long)]
        ttl: Option<u64>,
        /// The instance UUID to record (nova's column).
        #[arg(long)]
        instance: Option<String>,
        /// The first session consumes the token, even with several proxies racing.
        #[arg(long)]
        single_use: bool,
        /// Record its sessions (`--record`, or `--record=false` to exempt it from
        /// `[vncgate] record = all`); default `[vncgate] record`.
        #[arg(long, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
        record: Option<bool>,
        /// Mint it for one person (their `sub` at the identity provider): it opens only in a
        /// browser signed in as them through `[oidc]`.
        #[arg(long, value_name = "SUB")]
        user: Option<String>,
    },
    /// List live tokens: hash prefixes, targets and expiry, never the tokens.
    List {
        /// Config files.
        #[command(flatten)]
        files: ConfigFiles,
    },
    /// Revoke the token whose sha256 starts with HASH_PREFIX (12 or more hex characters).
    Revoke {
        /// Config files.
        #[command(flatten)]
        files: ConfigFiles,
        /// The first 12 or more hex characters of the token's sha256, as `token list` shows.
        hash_prefix: String,
    },
    /// Create the token tables in the configured database if they are absent (never alters).
    InitDb {
        /// Config files.
        #[command(flatten)]
        files: ConfigFiles,
    },
}

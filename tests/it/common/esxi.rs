//! What stands in for an ESXi host, which cannot run here: a self-signed RSA certificate made
//! by openssl (as ESXi's own are), Debian's websockify serving TLS WebSockets in front of a real
//! QEMU VNC server (a WebMKS ticket URL speaks exactly that), and the pieces of VMware's authd
//! exchange for the fake server scripts (tests/it/common/fake_vnc.rs).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use super::fake_vnc::Step;

/// A self-signed certificate and its key.
pub struct SelfSigned {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl SelfSigned {
    /// `openssl req -x509` with a fresh RSA key, for `name`.
    pub fn new(dir: &Path, name: &str) -> Self {
        let cert = dir.join(format!("{name}-cert.pem"));
        let key = dir.join(format!("{name}-key.pem"));
        let status = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .arg("-subj")
            .arg(format!("/CN={name}"))
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(Stdio::null())
            .status()
            .expect("openssl");
        assert!(status.success(), "openssl req failed");
        Self { cert, key }
    }

    /// The fingerprint openssl prints (`AB:CD:...`), in `sha1` or `sha256`.
    pub fn fingerprint(&self, digest: &str) -> String {
        let output = Command::new("openssl")
            .args([
                "x509",
                "-noout",
                "-fingerprint",
                &format!("-{digest}"),
                "-in",
            ])
            .arg(&self.cert)
            .output()
            .expect("openssl");
        let text = String::from_utf8_lossy(&output.stdout);
        text.trim()
            .split_once('=')
            .map(|(_, hex)| hex.to_owned())
            .unwrap_or_else(|| panic!("no fingerprint in {text}"))
    }

    /// A rustls server configuration with this certificate.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        use rustls_pki_types::pem::PemObject;
        let certs: Vec<_> = rustls_pki_types::CertificateDer::pem_file_iter(&self.cert)
            .expect("cert")
            .map(|c| c.expect("pem"))
            .collect();
        let key = rustls_pki_types::PrivateKeyDer::from_pem_file(&self.key).expect("key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server config");
        Arc::new(config)
    }
}

/// Debian's websockify with `--ssl-only`: a TLS WebSocket server on any path, RFB inside.
pub struct Websockify {
    child: Child,
    pub port: u16,
}

impl Drop for Websockify {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Websockify {
    /// Serves TLS WebSockets with `cert` in front of `target`; `None` outside CI without
    /// websockify installed.
    pub async fn start(cert: &SelfSigned, target: SocketAddr) -> Option<Self> {
        if !Path::new("/usr/bin/websockify").exists() {
            super::peer_missing("websockify (apt-get install websockify)");
            return None;
        }
        let port = super::daemon::free_port();
        let child = Command::new("/usr/bin/websockify")
            .arg("--ssl-only")
            .arg(format!("--cert={}", cert.cert.display()))
            .arg(format!("--key={}", cert.key.display()))
            .arg(format!("127.0.0.1:{port}"))
            .arg(target.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("websockify");
        let server = Self { child, port };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Some(server);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("websockify did not start");
    }
}

/// The authd banner ESXi sends.
pub const BANNER: &[u8] =
    b"220 VMware Authentication Daemon Version 1.10: SSL Required, ServerDaemonProtocol:SOAP, MKSDisplayProtocol:VNC\r\n";

/// A well-behaved authd up to the relay: banner, TLS with `outer`, the ticket as user and
/// password, `THUMBPRINT` answered with `inner_thumbprint`, `CONNECT`, TLS with `inner`, the
/// nonce; then `then`.
pub fn authd_script(
    outer: Arc<rustls::ServerConfig>,
    inner: Arc<rustls::ServerConfig>,
    inner_thumbprint: &str,
    then: Vec<Step>,
) -> Vec<Step> {
    let mut script = vec![
        Step::Send(BANNER.to_vec()),
        Step::Tls(outer),
        Step::ExpectLine("USER "),
        Step::Send(b"331 Password required\r\n".to_vec()),
        Step::ExpectLine("PASS "),
        Step::Send(b"230 User logged in\r\n".to_vec()),
        Step::ExpectLine("THUMBPRINT "),
        Step::Send(format!("200 {inner_thumbprint}\r\n").into_bytes()),
        Step::ExpectLine("CONNECT "),
        Step::Send(b"200 Connect mks\r\n".to_vec()),
        Step::Tls(inner),
        // The nonce: base64 of 12 bytes.
        Step::Read(16),
    ];
    script.extend(then);
    script
}

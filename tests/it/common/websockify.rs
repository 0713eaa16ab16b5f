//! websockify itself, from PyPI in `target/pyenv` (made by `scripts/install-deps` with PyJWT,
//! jwcrypto and redis), started with a token plugin beside vncgate: the reference the token
//! sources are checked against.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::daemon::free_port;
use super::{wait_for, ws};

/// The Python of `target/pyenv`, when it has `modules`; a skip with the reason otherwise (a
/// failure in CI, where `scripts/install-deps` makes it).
pub fn python(modules: &str) -> Option<PathBuf> {
    python_of("pyenv", modules)
}

/// The Python of `target/pyenv-jwe`: websockify with jwcrypto 1.3.1, the last release with
/// which its `JWTTokenApi` opens a JWE (later ones take the token for a JWS and refuse it).
pub fn python_for_jwe(modules: &str) -> Option<PathBuf> {
    python_of("pyenv-jwe", modules)
}

fn python_of(env: &str, modules: &str) -> Option<PathBuf> {
    let python = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join(env)
        .join("bin/python");
    let ready = Command::new(&python)
        .args(["-c", &format!("import {modules}")])
        .status()
        .is_ok_and(|status| status.success());
    if !ready {
        assert!(
            std::env::var_os("CI").is_none(),
            "target/{env} without {modules} in CI: scripts/install-deps makes it"
        );
        eprintln!("skipped: target/{env} without {modules} (scripts/install-deps makes it)");
    }
    ready.then_some(python)
}

/// websockify with `--token-plugin PLUGIN --token-source SOURCE`, on a free port; killed when
/// dropped.
pub struct Websockify {
    child: Child,
    port: u16,
}

impl Websockify {
    /// Starts it and waits until it listens.
    pub async fn start(python: &Path, plugin: &str, source: &str) -> Self {
        let port = free_port();
        let child = Command::new(python)
            .args([
                "-m",
                "websockify",
                "--token-plugin",
                plugin,
                "--token-source",
                source,
            ])
            .arg(format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("websockify");
        let up = wait_for(Duration::from_secs(15), || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await;
        assert!(up, "websockify did not listen");
        Self { child, port }
    }

    /// The first 12 bytes of the console behind `token`: the server's RFB version.
    pub async fn version(&self, token: &str) -> Result<Vec<u8>, String> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        let (socket, _) = ws(
            addr,
            &format!("/?token={token}"),
            &[("Sec-WebSocket-Protocol", "binary")],
        )
        .await
        .map_err(|error| error.to_string())?;
        super::rfb::WsBytes::new(socket).read(12).await
    }
}

impl Drop for Websockify {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

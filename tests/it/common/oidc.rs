//! node-oidc-provider (tests/browser/oidc-provider.mjs) on loopback: the identity provider of
//! the sign-in tests, with its own login and consent forms and two people, alice (group `ops`)
//! and bob (group `dev`).

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};

use super::browser;

/// The client the provider knows the proxy as.
pub const CLIENT_ID: &str = "vncgate-tests";
pub const CLIENT_SECRET: &str = "a client secret for tests only";

/// A running provider; stopped when dropped.
pub struct OidcProvider {
    child: Child,
    _stdin: ChildStdin,
    /// Kept open: the provider writes its notices to it, and a closed pipe would end it.
    _stdout: BufReader<std::process::ChildStdout>,
    pub issuer: String,
}

impl OidcProvider {
    /// Starts it on `port`, with the proxy's `redirect_uri` registered and `more` of
    /// `oidc-provider.mjs`'s options (`foreign_jwks`); `None` (a skip, a failure in CI) without
    /// node and oidc-provider.
    pub fn start_with(port: u16, redirect_uri: &str, more: &serde_json::Value) -> Option<Self> {
        let installed = browser::dir().join("node_modules/oidc-provider").is_dir()
            && Command::new("node").arg("--version").output().is_ok();
        if !installed {
            super::peer_missing("node-oidc-provider (tests/browser: npm ci)");
            return None;
        }
        let mut options = serde_json::json!({
            "port": port,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": redirect_uri,
        });
        if let (Some(options), Some(more)) = (options.as_object_mut(), more.as_object()) {
            options.extend(more.clone());
        }
        let mut child = Command::new("node")
            .current_dir(browser::dir())
            .arg("oidc-provider.mjs")
            .arg(options.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node");
        let stdin = child.stdin.take().expect("stdin");
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        stdout.read_line(&mut line).expect("provider output");
        let ready: serde_json::Value = serde_json::from_str(&line).expect("ready line");
        Some(Self {
            child,
            _stdin: stdin,
            _stdout: stdout,
            issuer: ready["issuer"].as_str().expect("issuer").to_owned(),
        })
    }

    /// Stops it now.
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Signs `login` in through the proxy's `url` (its `/login?next=…`) in Chromium: where the
/// browser landed, the page's text, and the proxy's cookies' attributes; with `recheck`, the
/// landing page asked for again that much later.
pub async fn sign_in(
    url: String,
    login: &'static str,
    name: &'static str,
    recheck: Option<std::time::Duration>,
) -> serde_json::Value {
    tokio::task::spawn_blocking(move || {
        let output = Command::new("node")
            .current_dir(browser::dir())
            .arg("signin.mjs")
            .arg(&url)
            .arg(browser::screenshot(name))
            .arg(login)
            .args(recheck.map(|after| after.as_millis().to_string()))
            .output()
            .expect("node");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = stdout.lines().last().unwrap_or_default();
        serde_json::from_str(line).unwrap_or_else(|e| {
            panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&output.stderr))
        })
    })
    .await
    .expect("join")
}

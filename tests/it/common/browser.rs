//! Debian's headless Chromium driven by playwright-core (tests/browser/console.mjs).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// Debian's noVNC.
pub const NOVNC: &str = "/usr/share/novnc";

/// tests/browser.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Where screenshots go, for a person to look at.
pub fn screenshot(name: &str) -> PathBuf {
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    shots.join(format!("{name}.png"))
}

/// Whether node, Chromium, playwright-core and noVNC are all there (else SKIPPED, or a
/// failure in CI).
pub fn available() -> bool {
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let chromium = Path::new("/usr/bin/chromium").exists();
    let driver = dir().join("node_modules/playwright-core").is_dir();
    let novnc = Path::new(NOVNC).join("core/rfb.js").is_file();
    let ready = node && chromium && driver && novnc;
    ready || super::peer_missing(&format!("a browser peer (node {node}, chromium {chromium}, playwright-core {driver}, {NOVNC} {novnc})"))
}

/// Runs a scenario of tests/browser/console.mjs off the async threads and returns its findings.
pub async fn browse(scenario: &'static str, url: String, name: &'static str) -> serde_json::Value {
    browse_with(scenario, url, name, Vec::new()).await
}

/// [`browse`] with the scenario's further arguments (files it reads or writes).
pub async fn browse_with(
    scenario: &'static str,
    url: String,
    name: &'static str,
    extra: Vec<String>,
) -> serde_json::Value {
    tokio::task::spawn_blocking(move || browse_blocking(scenario, &url, name, &extra))
        .await
        .expect("join")
}

fn browse_blocking(scenario: &str, url: &str, name: &str, extra: &[String]) -> serde_json::Value {
    let output = Command::new("node")
        .current_dir(dir())
        .arg("console.mjs")
        .arg(scenario)
        .arg(url)
        .arg(screenshot(name))
        .args(extra)
        .output()
        .expect("node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    let value: serde_json::Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&output.stderr)));
    assert!(value.get("error").is_none(), "{scenario}: {value}");
    value
}

/// A scenario that runs until told to stop: `reconnect`.
pub struct Watch {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Watch {
    /// Opens `url` and waits until the page says Connected; `None` (with what it said) if it
    /// never did.
    pub fn start(url: &str, name: &str) -> Result<Self, String> {
        let mut child = Command::new("node")
            .current_dir(dir())
            .arg("console.mjs")
            .arg("reconnect")
            .arg(url)
            .arg(screenshot(name))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node");
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read");
        if line.contains("\"ready\":true") {
            Ok(Self {
                child,
                stdin,
                stdout,
            })
        } else {
            let mut rest = String::new();
            let _ = std::io::Read::read_to_string(&mut stdout, &mut rest);
            let _ = child.wait();
            Err(format!("{line}{rest}"))
        }
    }

    /// Stops watching and returns the findings.
    pub fn finish(mut self) -> serde_json::Value {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.flush();
        }
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.stdout, &mut rest).expect("read");
        let _ = self.child.wait();
        let line = rest.lines().last().unwrap_or_default();
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {rest}"))
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

//! TigerVNC's Xvnc on loopback: a second VeNCrypt implementation, and a desktop where typed keys
//! show up. Killed by PID when the guard drops.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// Tests running at once in one process take distinct displays: two Xvnc started on one display
/// at the same moment both see the port free, and the one that loses the bind exits while its
/// test already talks to the other's server.
static NEXT_DISPLAY: AtomicU16 = AtomicU16::new(0);

/// Whether Xvnc is installed; in CI its absence is a failure.
pub fn available() -> bool {
    let found = Command::new("Xvnc")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    found || super::peer_missing("Xvnc (Debian tigervnc-standalone-server)")
}

/// A running Xvnc.
pub struct Xvnc {
    pub addr: SocketAddr,
    pub display: u16,
    child: Child,
    extra: Vec<Child>,
}

impl Xvnc {
    /// Starts Xvnc with `security` (e.g. `["-SecurityTypes", "X509None", "-X509Cert", ...]`).
    pub fn start(work: &Path, security: &[String]) -> Self {
        for attempt in 0..20u16 {
            let display = 300
                + (std::process::id() as u16 % 300)
                + NEXT_DISPLAY.fetch_add(1, Ordering::Relaxed) % 200
                + attempt * 11;
            let port = 5900 + display;
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
                continue;
            }
            let log = std::fs::File::create(work.join(format!("xvnc-{display}.log"))).expect("log");
            let child = Command::new("Xvnc")
                .arg(format!(":{display}"))
                .args([
                    "-rfbport",
                    &port.to_string(),
                    "-interface",
                    "127.0.0.1",
                    "-geometry",
                    "800x600",
                    "-depth",
                    "24",
                ])
                .args(["-nolisten", "tcp", "-AlwaysShared"])
                .args(security)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawn Xvnc");
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
            let started = Instant::now();
            let mut child = child;
            while started.elapsed() < Duration::from_secs(10) {
                // Another test's Xvnc may have taken the port meanwhile: this one then exits.
                if !matches!(child.try_wait(), Ok(None)) {
                    break;
                }
                // Answering, and still our process: not another test's server on the port.
                if std::net::TcpStream::connect(addr).is_ok()
                    && matches!(child.try_wait(), Ok(None))
                {
                    return Self {
                        addr,
                        display,
                        child,
                        extra: Vec::new(),
                    };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("Xvnc did not start");
    }

    /// Runs an X client on the display (stopped with the server).
    pub fn run_client(&mut self, program: &str, args: &[&str]) {
        let child = Command::new(program)
            .args(args)
            .env("DISPLAY", format!(":{}", self.display))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn X client");
        self.extra.push(child);
    }

    /// Runs an X client that opens a window, and returns once that window is on the screen.
    pub fn run_window(&mut self, program: &str, args: &[&str]) {
        self.run_client(program, args);
        assert!(
            self.wait_viewable(program, Duration::from_secs(10)),
            "{program} mapped no window within 10 s"
        );
    }

    /// Whether a window of `program` (its WM_CLASS) is mapped and viewable within `within`.
    fn wait_viewable(&self, program: &str, within: Duration) -> bool {
        let display = format!(":{}", self.display);
        let xwininfo = |args: &[&str]| {
            Command::new("xwininfo")
                .args(["-display", &display])
                .args(args)
                .output()
                .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
                .unwrap_or_default()
        };
        let class = format!("(\"{program}\"");
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            let tree = xwininfo(&["-root", "-tree"]);
            let ids = tree
                .lines()
                .filter(|line| line.contains(&class))
                .filter_map(|line| line.split_whitespace().next());
            for id in ids {
                if xwininfo(&["-id", id]).contains("Map State: IsViewable") {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Xvnc {
    fn drop(&mut self) {
        for child in self
            .extra
            .iter_mut()
            .chain(std::iter::once(&mut self.child))
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

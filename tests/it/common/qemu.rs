//! A real QEMU VNC server on loopback, stopped by PID when the guard drops.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

/// `None` (with the reason printed) when QEMU is not installed and this is not CI, where
/// `.ci/run` installs it and its absence is a failure.
pub fn available() -> bool {
    let found = Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    found || super::peer_missing("qemu-system-x86_64 (Debian qemu-system-x86)")
}

/// A running QEMU with a VNC display and no disk (SeaBIOS paints text: real framebuffer content).
pub struct Qemu {
    pub addr: SocketAddr,
    pid: Option<i32>,
    pub monitor: PathBuf,
}

impl Qemu {
    /// Starts QEMU; `vnc_options` are appended to `-vnc 127.0.0.1:N` (e.g. `,tls-creds=tls0`),
    /// `extra` are more arguments (e.g. the `-object tls-creds-x509,...`).
    pub fn start(work: &Path, vnc_options: &str, extra: &[String]) -> Self {
        Self::start_on("127.0.0.1", work, vnc_options, extra)
    }

    /// [`Qemu::start`] with the VNC server on loopback address `host` (127.0.0.0/8).
    pub fn start_on(host: &str, work: &Path, vnc_options: &str, extra: &[String]) -> Self {
        let mut last_error = String::new();
        for _ in 0..20 {
            // Distinct displays for tests running at once in this process; the pid spreads
            // test processes apart.
            let display = 100
                + (std::process::id() as u16 % 500)
                + NEXT_DISPLAY.fetch_add(1, Ordering::Relaxed) % 300;
            let port = 5900 + display;
            if std::net::TcpListener::bind((host, port)).is_err() {
                continue;
            }
            let vnc = format!("{host}:{display}{vnc_options}");
            match launch(work, &display.to_string(), &vnc, extra) {
                Ok((pid, monitor)) => {
                    let addr: SocketAddr = format!("{host}:{port}").parse().expect("addr");
                    return Self { addr, pid, monitor };
                }
                // Most often the port was taken between the check and QEMU's bind: try another.
                Err(error) => last_error = error,
            }
        }
        panic!("QEMU did not start on any display: {last_error}");
    }

    /// [`Qemu::start`] with the VNC server on the Unix socket `socket` (`-vnc unix:PATH`);
    /// `addr` is then unused.
    pub fn start_unix(work: &Path, socket: &Path, vnc_options: &str, extra: &[String]) -> Self {
        let vnc = format!("unix:{}{vnc_options}", socket.display());
        let (pid, monitor) = launch(work, "unix", &vnc, extra).expect("QEMU on a Unix socket");
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        Self { addr, pid, monitor }
    }

    /// Sends one command to the human monitor.
    pub fn monitor(&self, command: &str) {
        use std::io::{Read, Write};
        let mut stream = std::os::unix::net::UnixStream::connect(&self.monitor).expect("monitor");
        stream
            .set_read_timeout(Some(Duration::from_millis(500)))
            .expect("timeout");
        let mut banner = [0u8; 4096];
        let _ = stream.read(&mut banner);
        stream
            .write_all(format!("{command}\n").as_bytes())
            .expect("monitor write");
        std::thread::sleep(Duration::from_millis(300));
        let _ = stream.read(&mut banner);
    }
}

static NEXT_DISPLAY: AtomicU16 = AtomicU16::new(0);

/// Runs QEMU daemonized with `-vnc VNC` and `extra`: its pid and monitor socket, or why it did
/// not start.
fn launch(
    work: &Path,
    tag: &str,
    vnc: &str,
    extra: &[String],
) -> Result<(Option<i32>, PathBuf), String> {
    let pidfile = work.join(format!("qemu-{tag}.pid"));
    let log = work.join(format!("qemu-{tag}.log"));
    let monitor = work.join(format!("qemu-{tag}.mon"));
    let status = Command::new("qemu-system-x86_64")
        .args([
            "-nodefaults",
            "-machine",
            "pc",
            "-accel",
            "tcg",
            "-m",
            "64",
            "-vga",
            "std",
        ])
        .args(["-display", "none", "-daemonize", "-pidfile"])
        .arg(&pidfile)
        .arg("-D")
        .arg(&log)
        .arg("-monitor")
        .arg(format!("unix:{},server,nowait", monitor.display()))
        .args(extra)
        .arg("-vnc")
        .arg(vnc)
        .output()
        .expect("run qemu");
    if !status.status.success() {
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        return Err(format!(
            "{}{logged}",
            String::from_utf8_lossy(&status.stderr)
        ));
    }
    let pid = std::fs::read_to_string(&pidfile)
        .ok()
        .and_then(|p| p.trim().parse().ok());
    Ok((pid, monitor))
}

impl Drop for Qemu {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.take() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

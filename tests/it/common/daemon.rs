//! `vncgate serve` as a process of its own, as systemd runs it: killed by PID when dropped.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `vncgate serve`.
pub struct Daemon {
    pub child: Child,
    /// The console port.
    pub addr: SocketAddr,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    /// Starts vncgate on a free loopback port with a config of its own in `work`: its state in
    /// `work/state` and `vncgate_options` in `[vncgate]`. Also the file its log goes to.
    pub async fn with_options(work: &Path, vncgate_options: &str) -> (Self, std::path::PathBuf) {
        let port = free_port();
        let config = work.join("vncgate.conf");
        std::fs::write(
            &config,
            format!(
                "[vnc]\nnovncproxy_host = 127.0.0.1\nnovncproxy_port = {port}\n\
                 [vncgate]\nstate_dir = {}\n{vncgate_options}",
                work.join("state").display()
            ),
        )
        .expect("config");
        (
            Self::start(&config, port, &[]).await,
            config.with_extension("log"),
        )
    }

    /// Starts `vncgate serve --config-file config`, whose console port is `port`, with extra
    /// environment `env`, its standard error in `config` with `.log` for an extension; waits
    /// for the port.
    pub async fn start(config: &Path, port: u16, env: &[(&str, &Path)]) -> Self {
        let log = config.with_extension("log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_vncgate"));
        command
            .args(["serve", "--config-file"])
            .arg(config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"));
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.spawn().expect("spawn vncgate");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let daemon = Self { child, addr };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return daemon;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "vncgate did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Sends a signal by name (`HUP`, `TERM`).
    pub fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
    }

    /// Sends SIGHUP and waits (10 s at most) until the reload took or was refused, as its log
    /// says: after it, the very first connection must see what the reload did.
    pub async fn reload(&self, config: &Path) {
        let log = config.with_extension("log");
        let ends = || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            text.matches("configuration reloaded").count() + text.matches("reload refused").count()
        };
        let before = ends();
        self.signal("HUP");
        let reloaded = super::wait_until(Duration::from_secs(10), || ends() > before).await;
        assert!(
            reloaded,
            "no reload within 10 s: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Its resident memory, in KiB.
    pub fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find(|line| line.starts_with("VmRSS:"))
                    .and_then(|line| line.split_whitespace().nth(1))
                    .and_then(|kib| kib.parse().ok())
            })
            .unwrap_or(0)
    }
}

/// A loopback port nobody listens on now, for a process of its own that binds it later. It is
/// taken below the kernel's ephemeral range (32768 and up here), from which every `bind(0)` of
/// the tests running meanwhile draws: otherwise another test's listener could take it between
/// this check and the process's bind.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let start = (std::process::id() % 4000) as u16;
    for _ in 0..8000 {
        let offset = start.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed)) % 8000;
        let port = 20000 + offset;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between 20000 and 28000");
}

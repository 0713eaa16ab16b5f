//! The systemd integration as shipped: the unit's sandbox rates "OK" or better by
//! `systemd-analyze security`, and a key handed over with `LoadCredential=` is found through
//! `${CREDENTIALS_DIRECTORY}` (and said missing when the service was not started so).

use std::process::Command;

use crate::common::pki::TestPki;
use crate::common::*;

#[test]
fn the_unit_rates_ok_or_better() {
    let unit = concat!(env!("CARGO_MANIFEST_DIR"), "/conf/vncgate.service");
    let Ok(output) = Command::new("systemd-analyze")
        .args(["security", "--offline=true", unit])
        .output()
    else {
        peer_missing("systemd-analyze (Debian systemd)");
        return;
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let verdict = text
        .lines()
        .find(|line| line.contains("Overall exposure level"))
        .unwrap_or_else(|| {
            panic!(
                "no verdict: {text}{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    let level: f64 = verdict
        .split(':')
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
        .unwrap_or(10.0);
    assert!(
        ["OK", "SAFE", "PERFECT"]
            .iter()
            .any(|word| verdict.contains(word))
            && level < 5.0,
        "{verdict}"
    );
}

#[test]
fn keys_can_come_from_systemd_credentials() {
    let work = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(work.path(), "pki");
    let credentials = work.path().join("credentials");
    std::fs::create_dir(&credentials).expect("mkdir");
    std::fs::copy(
        pki.proxy().join("client-key.pem"),
        credentials.join("client-key.pem"),
    )
    .expect("copy");
    let config = work.path().join("vncgate.conf");
    let text = pki.vencrypt_config("vencrypt").replace(
        &pki.proxy().join("client-key.pem").display().to_string(),
        "${CREDENTIALS_DIRECTORY}/client-key.pem",
    );
    std::fs::write(
        &config,
        format!("{text}[vncgate]\nvencrypt_verify_hostname = true\n"),
    )
    .expect("config");
    let check = |credentials_dir: Option<&std::path::Path>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_vncgate"));
        command.args(["check-config", "--config-file"]).arg(&config);
        command.env_remove("CREDENTIALS_DIRECTORY");
        if let Some(dir) = credentials_dir {
            command.env("CREDENTIALS_DIRECTORY", dir);
        }
        command.output().expect("run")
    };
    let with = check(Some(&credentials));
    assert!(
        with.status.success(),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
    let without = check(None);
    assert_eq!(without.status.code(), Some(64));
    assert!(
        String::from_utf8_lossy(&without.stderr).contains("CREDENTIALS_DIRECTORY is not set"),
        "{}",
        String::from_utf8_lossy(&without.stderr)
    );
}

#[test]
fn version_names_the_commit() {
    let output = vncgate_cli(&["--version"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    let commit = text
        .split('(')
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_default();
    assert!(
        commit == "unknown" || (commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{text}"
    );
}

/// Socket activation: systemd (here its `systemd-socket-activate`) binds the port and hands
/// the socket over; vncgate serves on it instead of binding its own.
#[tokio::test]
async fn serves_on_the_socket_systemd_passes() {
    let Ok(which) = Command::new("systemd-socket-activate")
        .arg("--help")
        .output()
    else {
        peer_missing("systemd-socket-activate (Debian systemd)");
        return;
    };
    assert!(which.status.success() || !which.stdout.is_empty());
    let work = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let config = work.path().join("vncgate.conf");
    // The configured port is another one: the passed socket must win.
    std::fs::write(
        &config,
        format!(
            "[DEFAULT]\nweb =\n[vnc]\nnovncproxy_host = 127.0.0.1\nnovncproxy_port = 1\n\
             [vncgate]\nstate_dir = {}\nnovnc_dir =\n",
            work.path().join("state").display()
        ),
    )
    .expect("config");
    let child = Command::new("systemd-socket-activate")
        .args([
            "-l",
            &format!("127.0.0.1:{port}"),
            env!("CARGO_BIN_EXE_vncgate"),
        ])
        .args(["serve", "--config-file"])
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(work.path().join("log")).expect("log"))
        .spawn()
        .expect("spawn");
    // Killed by PID however the test ends.
    struct Guard(std::process::Child);
    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let guard = Guard(child);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let mut answer = String::new();
    for _ in 0..50 {
        answer = raw_http_lenient(
            addr,
            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    drop(guard);
    let log = std::fs::read_to_string(work.path().join("log")).unwrap_or_default();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}\n{log}");
}

/// A raw HTTP exchange that says nothing rather than panic when the port refuses.
async fn raw_http_lenient(addr: std::net::SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return String::new();
    };
    if stream.write_all(request.as_bytes()).await.is_err() {
        return String::new();
    }
    let mut response = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut response),
    )
    .await;
    String::from_utf8_lossy(&response).into_owned()
}

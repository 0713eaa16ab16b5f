//! The container image (`scripts/image`) run by podman as kolla or a Kubernetes node runs it:
//! host networking, nova's nova.conf, vncgate's configuration and the PKI mounted read-only, a
//! read-only root. It serves a
//! console from QEMU over VeNCrypt with mutual TLS as UID 42424, answers its HEALTHCHECK,
//! reloads on SIGHUP, and on SIGTERM drains and exits 0. Ignored unless run by
//! `scripts/image --check`, which builds the image and names it in `VNCGATE_IMAGE`.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use crate::browser_console::tls_qemu;
use crate::common::daemon::free_port;
use crate::common::pki::TestPki;
use crate::common::*;

/// The image's user, as kolla's service users.
const UID: u32 = 42424;

/// A container this test started, removed by name when dropped.
struct Container {
    name: String,
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman(&["rm", "--force", "--time", "0", &self.name]);
    }
}

fn podman(args: &[&str]) -> Output {
    Command::new("podman").args(args).output().expect("podman")
}

/// `podman inspect --format FORMAT` of the container.
fn inspect(name: &str, format: &str) -> String {
    let output = podman(&["inspect", "--format", format, name]);
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn logs(name: &str) -> String {
    let output = podman(&["logs", name]);
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Gives the files under `dir` to the image's user, as kolla's config copy does: the keys stay
/// 0600, readable by that user alone.
fn give_to_image_user(dir: &Path) {
    for entry in walk(dir) {
        std::os::unix::fs::chown(&entry, Some(UID), Some(UID)).expect("chown");
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = vec![dir.to_path_buf()];
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// The configuration: nova's own file (mounted at /etc/nova/nova.conf: HTTPS on `port`,
/// VeNCrypt with the proxy's client certificate) and vncgate's (mounted at /etc/vncgate: a
/// token file, /healthz on `metrics`), with the PKI under /etc/vncgate. Its path, for the mount.
fn configuration(
    etc: &Path,
    pki: &TestPki,
    vm: std::net::SocketAddr,
    port: u16,
    metrics: u16,
) -> std::path::PathBuf {
    let inside = |path: &Path| {
        let relative = path.strip_prefix(etc).expect("under etc");
        Path::new("/etc/vncgate")
            .join(relative)
            .display()
            .to_string()
    };
    let proxy = pki.proxy();
    let nova = format!(
        "[DEFAULT]\ncert = {}\nkey = {}\n\
         [vnc]\nnovncproxy_host = 127.0.0.1\nnovncproxy_port = {port}\nauth_schemes = vencrypt\n\
         vencrypt_client_cert = {}\nvencrypt_client_key = {}\nvencrypt_ca_certs = {}\n",
        inside(&pki.https_cert()),
        inside(&pki.https_key()),
        inside(&proxy.join("client-cert.pem")),
        inside(&proxy.join("client-key.pem")),
        inside(&proxy.join("ca-cert.pem")),
    );
    let nova_conf = etc.parent().expect("work").join("nova.conf");
    std::fs::write(&nova_conf, nova).expect("nova.conf");
    let own = format!(
        "[vncgate]\ntoken_source = /etc/vncgate/tokens\nmetrics_listen = 127.0.0.1:{metrics}\n\
         drain_delay = 2\nshutdown_grace = 5\n"
    );
    std::fs::write(etc.join("vncgate.conf"), own).expect("config");
    std::fs::write(etc.join("tokens"), format!("vm: {vm}\n")).expect("tokens");
    give_to_image_user(etc);
    std::os::unix::fs::chown(&nova_conf, Some(UID), Some(UID)).expect("chown");
    nova_conf
}

/// A console through the container: TLS to it, the WebSocket, RFB to ServerInit.
async fn console_opens(port: u16, pki: &TestPki) -> Result<(u16, u16), String> {
    let addr = format!("127.0.0.1:{port}").parse().expect("addr");
    let tls = tls_connect(addr, &pki.https_ca_pem()).await;
    let (ws, _) = ws_over(tls, &format!("localhost:{port}"), "/?token=vm", &[])
        .await
        .map_err(|e| e.to_string())?;
    let mut viewer = crate::common::rfb::WsBytes::new(ws);
    let init = viewer.handshake().await?;
    Ok((init.width, init.height))
}

#[tokio::test]
#[ignore = "needs the image: scripts/image --check builds it and runs this"]
async fn the_image_serves_a_console_as_non_root_on_a_read_only_root_and_drains() {
    let image = std::env::var("VNCGATE_IMAGE").expect("VNCGATE_IMAGE (scripts/image --check)");
    let work = tempfile::tempdir().expect("tempdir");
    let etc = work.path().join("etc");
    let pki = TestPki::new(&etc, "pki");
    let vm = tls_qemu(work.path(), &pki);
    let (port, metrics) = (free_port(), free_port());
    let nova_conf = configuration(&etc, &pki, vm.addr, port, metrics);
    let name = format!("vncgate-check-{}", std::process::id());
    let mount = format!("{}:/etc/vncgate:ro", etc.display());
    let nova = format!("{}:/etc/nova/nova.conf:ro", nova_conf.display());
    let started = podman(&[
        "run",
        "--detach",
        "--name",
        &name,
        "--network=host",
        "--runtime",
        "runc",
        "--ulimit",
        "nofile=4096:4096",
        "--ulimit",
        "nproc=512:512",
        "--read-only",
        "--volume",
        &mount,
        "--volume",
        &nova,
        &image,
    ]);
    assert!(started.status.success(), "{started:?}");
    let container = Container { name };
    let name = container.name.as_str();
    let health = format!("http://127.0.0.1:{metrics}/healthz");
    let up = wait_until(Duration::from_secs(20), || {
        Command::new("curl")
            .args(["-fsS", &health])
            .output()
            .is_ok_and(|o| o.status.success())
    })
    .await;
    assert!(up, "the container did not come up: {}", logs(name));

    // Not root, on a read-only root: its process's user, and a write refused.
    let pid = inspect(name, "{{.State.Pid}}");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let uids = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap_or_default();
    assert_eq!(uids.split_whitespace().nth(1), Some("42424"), "{uids}");
    assert_eq!(inspect(name, "{{.HostConfig.ReadonlyRootfs}}"), "true");
    let write = podman(&[
        "exec",
        name,
        "/usr/bin/vncgate",
        "pki",
        "init",
        "--dir",
        "/usr/lib/x",
    ]);
    assert!(!write.status.success(), "{write:?}");
    assert!(
        String::from_utf8_lossy(&write.stderr).contains("Read-only file system"),
        "{write:?}"
    );
    // The image's HEALTHCHECK, as podman runs it.
    let check = podman(&["healthcheck", "run", name]);
    assert!(check.status.success(), "{check:?}: {}", logs(name));

    // A console from QEMU over VeNCrypt with the mounted PKI.
    let size = console_opens(port, &pki).await;
    assert!(
        matches!(size, Ok((720, 400)) | Ok((640, 480))),
        "{size:?}: {}",
        logs(name)
    );

    // SIGHUP reloads (the log says so) and it serves on.
    assert!(podman(&["kill", "--signal", "HUP", name]).status.success());
    let reloaded = wait_until(Duration::from_secs(10), || {
        logs(name).contains("configuration reloaded")
    })
    .await;
    assert!(reloaded, "{}", logs(name));
    assert!(console_opens(port, &pki).await.is_ok(), "{}", logs(name));

    // SIGTERM with a session open: /readyz says 503 during drain_delay, then it exits 0.
    let open = {
        let addr = format!("127.0.0.1:{port}").parse().expect("addr");
        let tls = tls_connect(addr, &pki.https_ca_pem()).await;
        ws_over(tls, &format!("localhost:{port}"), "/?token=vm", &[])
            .await
            .expect("session")
    };
    let stop = tokio::task::spawn_blocking({
        let name = name.to_owned();
        move || podman(&["stop", "--time", "30", &name])
    });
    let ready = format!("http://127.0.0.1:{metrics}/readyz");
    let draining = wait_until(Duration::from_secs(5), || {
        Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", &ready])
            .output()
            .is_ok_and(|o| o.stdout == b"503")
    })
    .await;
    assert!(draining, "{}", logs(name));
    let stopped = stop.await.expect("join");
    assert!(stopped.status.success(), "{stopped:?}");
    drop(open);
    assert_eq!(inspect(name, "{{.State.ExitCode}}"), "0", "{}", logs(name));
}

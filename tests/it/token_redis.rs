//! Tokens in Redis, as websockify's TokenRedis reads them, against Debian's `redis-server`:
//! both value forms open a real QEMU console through vncgate and through websockify itself with
//! the same keys; an outage is a 503 and a live session goes on.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::daemon::free_port;
use crate::common::qemu::{self, Qemu};
use crate::common::websockify::{python, Websockify};
use crate::common::*;

/// Debian's redis-server on a free port, without persistence; killed when dropped.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    async fn start() -> Option<Self> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            assert!(
                std::env::var_os("CI").is_none(),
                "redis-server missing in CI: scripts/install-deps installs it"
            );
            eprintln!("skipped: redis-server not installed (apt install redis-server)");
            return None;
        }
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server");
        let up = wait_for(Duration::from_secs(10), || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await;
        assert!(up, "redis-server did not listen");
        Some(Self { child, port })
    }

    fn set(&self, key: &str, value: &str) {
        self.cli(&["set", key, value]);
    }

    fn cli(&self, args: &[&str]) {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli");
        assert!(out.status.success(), "{out:?}");
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn websockify_redis_keys_open_a_qemu_console_through_vncgate_and_websockify() {
    if !qemu::available() {
        return;
    }
    let Some(python) = python("redis, websockify") else {
        return;
    };
    let Some(mut redis) = Redis::start().await else {
        return;
    };
    let work = tempfile::tempdir().expect("tempdir");
    let vm = Qemu::start(work.path(), "", &[]);
    let target = format!("127.0.0.1:{}", vm.addr.port());
    redis.set("ns:json-token", &format!(r#"{{"host": "{target}"}}"#));
    redis.set("ns:plain-token", &target);
    let proxy = start_proxy(
        &format!(
            "[vncgate]\nredis_url = redis://127.0.0.1:{}/0\nredis_key_prefix = ns\n\
             session_recheck_interval = 0.5\n",
            redis.port
        ),
        "",
    )
    .await;
    let mut consoles = Vec::new();
    for token in ["json-token", "plain-token"] {
        let (socket, _) = ws(proxy.addr, &format!("/?token={token}"), &[])
            .await
            .expect("upgrade");
        consoles.push(open_console(socket).await.expect(token));
    }
    assert_eq!(refusal(ws(proxy.addr, "/?token=other", &[]).await).0, 403);
    let (Some(mut live), Some(mut revoked)) = (consoles.pop(), consoles.pop()) else {
        panic!("two consoles");
    };

    // websockify, on the same keys.
    let source = format!("127.0.0.1:{}:0::ns", redis.port);
    let websockify = Websockify::start(&python, "TokenRedis", &source).await;
    for token in ["json-token", "plain-token"] {
        let version = websockify.version(token).await;
        assert_eq!(version.as_deref(), Ok(&b"RFB 003.008\n"[..]), "{token}");
    }
    drop(websockify);

    // The portal deletes a key: that console's session ends at the next recheck, the other's
    // goes on.
    redis.cli(&["del", "ns:json-token"]);
    let close = tokio::time::timeout(Duration::from_secs(5), next_close(&mut revoked.ws)).await;
    assert_eq!(
        close.ok().flatten().map(|(_, reason)| reason).as_deref(),
        Some("the console access was revoked")
    );
    assert!(live.answers().await, "the other session ended");

    // An outage: new sessions get 503, and the live one goes on through rechecks.
    let _ = redis.child.kill();
    let _ = redis.child.wait();
    assert_eq!(
        refusal(ws(proxy.addr, "/?token=plain-token", &[]).await).0,
        503
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(live.answers().await, "the live session ended with Redis");
}

/// `check-config` names every token source problem at once: a JWT key that is no key, a token
/// API URL without `%s`, a Redis URL that is not one; and warns of a Redis that does not answer.
#[tokio::test]
async fn check_config_reports_every_token_source_problem_at_once() {
    let work = tempfile::tempdir().expect("tempdir");
    let not_a_key = work.path().join("not-a-key.pem");
    std::fs::write(
        &not_a_key,
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    .expect("key");
    let config = work.path().join("bad.conf");
    std::fs::write(
        &config,
        format!(
            "[vncgate]\nstate_dir = {}\njwt_keys = {}\ntoken_api_url = https://portal.example/console\n\
             redis_url = http://not-redis\n",
            work.path().display(),
            not_a_key.display()
        ),
    )
    .expect("config");
    let checked = vncgate_cli(&[
        "check-config",
        "--config-file",
        config.to_str().expect("path"),
    ]);
    assert_eq!(checked.status.code(), Some(64));
    let said = String::from_utf8_lossy(&checked.stderr);
    for option in ["jwt_keys", "token_api_url", "redis_url"] {
        assert!(said.contains(option), "{option} not named:\n{said}");
    }

    let down = closed_port().await;
    let config = work.path().join("down.conf");
    std::fs::write(
        &config,
        format!(
            "[vncgate]\nstate_dir = {}\nredis_url = redis://127.0.0.1:{}/0\n",
            work.path().display(),
            down.port()
        ),
    )
    .expect("config");
    let checked = vncgate_cli(&[
        "check-config",
        "--config-file",
        config.to_str().expect("path"),
    ]);
    assert!(checked.status.success(), "{checked:?}");
    let said = String::from_utf8_lossy(&checked.stderr);
    assert!(said.contains("redis_url: not reachable now"), "{said}");
}

//! The live sessions through the admin API: listed with what an operator needs, and ended with
//! a reason the console page shows (and does not reconnect from).

use crate::common::admin::{admin_proxy, request, SECRET};
use crate::common::browser::{self, browse};
use crate::common::qemu::{self, Qemu};
use crate::common::*;

async fn admin(proxy: &Proxy, method: &str, path: &str) -> (u16, String) {
    request(proxy, method, path, Some(SECRET), "").await
}

#[tokio::test]
async fn a_live_session_is_listed_and_ended_with_a_reason() {
    let backend = echo_backend().await;
    let (proxy, _secret) =
        admin_proxy(&format!("t: {backend}\nw: {backend} view_only=true\n")).await;
    let (socket, _) = ws(proxy.addr, "/?token=t", &[]).await.expect("upgrade");
    let mut console = open_console(socket).await.expect("console");
    console.write(b"twelve bytes").await;
    console.read(12).await.expect("echo");
    let (socket, _) = ws(proxy.addr, "/?token=w", &[]).await.expect("upgrade");
    let _watcher = open_console(socket).await.expect("watcher");

    let (status, body) = admin(&proxy, "GET", "/v1/sessions").await;
    assert_eq!(status, 200, "{body}");
    let sessions: serde_json::Value = serde_json::from_str(&body).expect("json");
    let list = sessions.as_array().expect("a list");
    assert_eq!(list.len(), 2, "{body}");
    let first = &list[0];
    assert_eq!(first["client_ip"], "127.0.0.1");
    assert_eq!(first["console"], "novnc");
    assert_eq!(first["target"], backend.to_string());
    assert_eq!(first["view_only"], false);
    assert_eq!(list[1]["view_only"], true);
    assert!(
        first["bytes_to_server"].as_u64().unwrap_or(0) >= 12,
        "{body}"
    );
    assert!(first["started"].as_u64().unwrap_or(0) > 1_700_000_000);
    assert_eq!(first["token_hash_prefix"].as_str().map(str::len), Some(8));
    assert!(!body.contains("\"t\""), "never the token");

    let id = first["id"].as_u64().expect("id");
    let (status, _) = admin(
        &proxy,
        "DELETE",
        &format!("/v1/sessions/{id}?reason=maintenance"),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        next_close(&mut console.ws).await,
        Some((
            1008,
            "the console session was ended by an administrator: maintenance".to_owned()
        ))
    );
    // Once closed, it is gone from the list.
    let mut gone = false;
    for _ in 0..50 {
        let (_, body) = admin(&proxy, "GET", "/v1/sessions").await;
        if !body.contains(&format!("\"id\":{id},")) {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(gone, "the ended session is still listed");
    let (status, _) = admin(&proxy, "DELETE", &format!("/v1/sessions/{id}")).await;
    assert_eq!(status, 404);
    // Without the secret, nothing.
    assert_eq!(
        request(&proxy, "GET", "/v1/sessions", None, "").await.0,
        401
    );
}

#[tokio::test]
async fn the_page_shows_why_its_session_was_ended_and_stays_closed() {
    if !browser::available() || !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let vm = Qemu::start(work.path(), "", &[]);
    let (proxy, _secret) = admin_proxy(&format!("vm: {}\n", vm.addr)).await;
    let url = format!(
        "http://127.0.0.1:{}/console.html?path=%3Ftoken%3Dvm",
        proxy.addr.port()
    );
    let ending = async {
        for _ in 0..150 {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            let (_, body) = admin(&proxy, "GET", "/v1/sessions").await;
            let sessions: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            if let Some(id) = sessions.get(0).and_then(|s| s["id"].as_u64()) {
                let (status, _) = admin(
                    &proxy,
                    "DELETE",
                    &format!("/v1/sessions/{id}?reason=end%20of%20support%20call"),
                )
                .await;
                return status;
            }
        }
        0
    };
    let (found, status) = tokio::join!(browse("ended", url, "console-ended"), ending);
    assert_eq!(status, 204);
    let shown = found["status"].as_str().unwrap_or_default();
    assert!(
        shown.contains("ended by an administrator: end of support call"),
        "{found}"
    );
    assert_eq!(found["sockets"].as_u64(), Some(1), "no reconnect: {found}");
}

// The CLI runs as a process the test waits for: the proxy needs threads of its own meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_lists_and_kills_through_the_admin_api() {
    let backend = echo_backend().await;
    let (proxy, secret) = admin_proxy(&format!("t: {backend}\n")).await;
    let (socket, _) = ws(proxy.addr, "/?token=t", &[]).await.expect("upgrade");
    let mut console = open_console(socket).await.expect("console");
    // The CLI reads the running proxy's admin address and secret from a configuration.
    let config = secret.path().join("cli.conf");
    std::fs::write(
        &config,
        format!(
            "[vncgate]\nadmin_listen = {}\nadmin_secret_file = {}\nstate_dir = {}\n",
            proxy.admin_addr,
            secret.path().join("admin-secret").display(),
            secret.path().join("state").display()
        ),
    )
    .expect("config");
    let config = config.to_str().expect("utf8");
    let listed = vncgate_cli(&["session", "list", "--config-file", config]);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let line = text.lines().nth(1).expect("one session");
    assert!(
        line.contains(&backend.to_string()) && line.contains("127.0.0.1"),
        "{text}"
    );
    let id = line.split_whitespace().next().expect("id");
    let killed = vncgate_cli(&[
        "session",
        "kill",
        "--config-file",
        config,
        id,
        "--reason",
        "by the CLI",
    ]);
    assert!(
        killed.status.success(),
        "{}",
        String::from_utf8_lossy(&killed.stderr)
    );
    assert_eq!(
        next_close(&mut console.ws).await,
        Some((
            1008,
            "the console session was ended by an administrator: by the CLI".to_owned()
        ))
    );
    let missing = vncgate_cli(&["session", "kill", "--config-file", config, "999"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("404"));
}

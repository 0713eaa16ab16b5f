//! Tokens in vncgate's own SQLite database: issued by the CLI and the admin API, validated by the
//! proxy, expired, revoked, single-use, session limits, session expiry, and rows as nova writes
//! them.

use crate::common;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::common::*;
use sha2::{Digest, Sha256};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

async fn connects(proxy: &Proxy, token: &str) -> Result<(), u16> {
    match ws(proxy.addr, &format!("/?token={token}"), &[]).await {
        Ok((socket, _)) => {
            open_console(socket).await.expect("console");
            Ok(())
        }
        Err(error) => Err(refusal(Err::<(), _>(error)).0),
    }
}

#[tokio::test]
async fn issue_validate_list_revoke_through_the_cli() {
    let backend = echo_backend().await;
    let proxy = start_proxy(
        "[vnc]\nnovncproxy_base_url = https://console.example:6080/console.html\n",
        "",
    )
    .await;
    let (token, url) = issue_token(&proxy, backend.port(), &["--ttl", "600"]);
    assert!(token.len() >= 22, "at least 128 bits: {token}");
    assert_eq!(
        url,
        format!("https://console.example:6080/console.html?path=%3Ftoken%3D{token}")
    );
    assert_eq!(connects(&proxy, &token).await, Ok(()));

    let config = proxy.config_path();
    let config = config.to_str().expect("utf8");
    let listed = vncgate_cli(&["token", "list", "--config-file", config]);
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    assert!(listed.contains(&hash[..12]), "{listed}");
    assert!(
        !listed.contains(&token),
        "token list must never show tokens: {listed}"
    );

    let short = vncgate_cli(&["token", "revoke", "--config-file", config, &hash[..6]]);
    assert!(!short.status.success(), "a 6-character prefix is too short");
    let revoked = vncgate_cli(&["token", "revoke", "--config-file", config, &hash[..12]]);
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    assert_eq!(connects(&proxy, &token).await, Err(403));
}

#[tokio::test]
async fn tokens_survive_a_restart_and_expire() {
    let backend = echo_backend().await;
    let proxy = start_proxy("", "").await;
    let (token, _) = issue_token(&proxy, backend.port(), &["--ttl", "2"]);
    // A second proxy on the same state directory: nothing was kept in memory.
    let dir = tempfile::tempdir().expect("tempdir");
    let again = start_with_file(&proxy.config_path(), dir).await;
    assert_eq!(connects(&again, &token).await, Ok(()));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(connects(&again, &token).await, Err(403));
}

#[tokio::test]
async fn a_row_written_as_nova_writes_it_is_accepted() {
    let backend = echo_backend().await;
    let proxy = start_proxy("", "").await;
    // Make the database exist, then write rows the way nova-compute does: uuid4 token, sha256
    // hex of it, integer expiry, console_type novnc.
    let _ = issue_token(&proxy, backend.port(), &[]);
    let token = "2f1e7b1c-9d2a-4a8e-8f62-3b7c1d0e5a99";
    let database = proxy.dir.path().join("state/tokens.sqlite");
    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    let serial_token = "6c1a2b3d-0000-4000-8000-000000000001";
    let serial_hash = hex::encode(Sha256::digest(serial_token.as_bytes()));
    let sql = format!(
        "INSERT INTO console_auth_tokens (created_at, token_hash, console_type, host, port, internal_access_path, instance_uuid, expires, access_url_base) \
         VALUES (CURRENT_TIMESTAMP, '{hash}', 'novnc', '127.0.0.1', {port}, NULL, 'a1b2c3d4-0000-4000-8000-000000000000', {expires}, 'http://127.0.0.1:6080/vnc_lite.html');\
         INSERT INTO console_auth_tokens (created_at, token_hash, console_type, host, port, instance_uuid, expires) \
         VALUES (CURRENT_TIMESTAMP, '{serial_hash}', 'serial', '127.0.0.1', {port}, 'a1b2c3d4-0000-4000-8000-000000000000', {expires});",
        port = backend.port(),
        expires = now() + 600
    );
    if !sqlite(&database, &sql) {
        return;
    }
    assert_eq!(connects(&proxy, token).await, Ok(()));
    // A row whose expiry is past what the clock can hold is taken as far future, not a panic.
    let far = "7d2c9a10-0000-4000-8000-00000000000f";
    let far_hash = hex::encode(Sha256::digest(far.as_bytes()));
    let far_sql = format!(
        "INSERT INTO console_auth_tokens (token_hash, console_type, host, port, instance_uuid, expires) \
         VALUES ('{far_hash}', 'novnc', '127.0.0.1', {}, 'a1b2c3d4-0000-4000-8000-000000000000', 9223372036854775807);",
        backend.port()
    );
    assert!(sqlite(&database, &far_sql));
    assert_eq!(connects(&proxy, far).await, Ok(()));
    // A serial console's token is no VNC token.
    assert_eq!(connects(&proxy, serial_token).await, Err(403));
}

#[tokio::test]
async fn single_use_tokens_open_one_session() {
    let backend = echo_backend().await;
    let proxy = start_proxy("", "").await;
    let (token, _) = issue_token(&proxy, backend.port(), &["--single-use"]);
    assert_eq!(connects(&proxy, &token).await, Ok(()));
    assert_eq!(connects(&proxy, &token).await, Err(403));
}

#[tokio::test]
async fn max_sessions_per_token() {
    let backend = echo_backend().await;
    let proxy = start_proxy(
        "[vncgate]\nmax_sessions_per_token = 1\n",
        &format!("t: {backend}\n"),
    )
    .await;
    let (first, _) = ws(proxy.addr, "/?token=t", &[]).await.expect("first");
    let first = open_console(first).await.expect("console");
    assert_eq!(connects(&proxy, "t").await, Err(429));
    drop(first);
    // The slot frees once the proxy sees the first session end.
    let mut freed = false;
    for _ in 0..50 {
        if connects(&proxy, "t").await.is_ok() {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(freed, "the slot was never freed");
}

#[tokio::test]
async fn enforce_session_timeout_closes_at_expiry_with_a_reason() {
    let backend = echo_backend().await;
    let expires = now() + 2;
    let proxy = start_proxy(
        "[consoleauth]\nenforce_session_timeout = true\n",
        &format!("t: {backend} expires={expires}\n"),
    )
    .await;
    let (socket, _) = ws(proxy.addr, "/?token=t", &[]).await.expect("upgrade");
    let mut console = open_console(socket).await.expect("console");
    let close = next_close(&mut console.ws).await.expect("close frame");
    assert_eq!(close, (1000, "the console session has expired".to_owned()));
}

#[tokio::test]
async fn without_enforcement_sessions_outlive_their_token() {
    let backend = echo_backend().await;
    let expires = now() + 2;
    let proxy = start_proxy("", &format!("t: {backend} expires={expires}\n")).await;
    let (socket, _) = ws(proxy.addr, "/?token=t", &[]).await.expect("upgrade");
    let mut console = open_console(socket).await.expect("console");
    tokio::time::sleep(Duration::from_millis(3000)).await;
    console.write(b"still here").await;
    assert_eq!(console.read(10).await.expect("echo"), b"still here");
}

mod admin_api {
    use super::*;
    use common::admin::{request, SECRET};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn admin_proxy() -> (Proxy, tempfile::TempDir) {
        common::admin::admin_proxy("").await
    }

    #[tokio::test]
    async fn issue_list_revoke_and_refusals() {
        let backend = echo_backend().await;
        let (proxy, _secret) = admin_proxy().await;
        // Wait for the admin listener's task to be serving.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let body = format!(
            r#"{{"host": "127.0.0.1", "port": {}, "ttl": 300}}"#,
            backend.port()
        );
        assert_eq!(
            request(&proxy, "POST", "/v1/tokens", None, &body).await.0,
            401
        );
        assert_eq!(
            request(
                &proxy,
                "POST",
                "/v1/tokens",
                Some("wrong-secret-wrong-secret"),
                &body
            )
            .await
            .0,
            401
        );
        let (status, issued) = request(&proxy, "POST", "/v1/tokens", Some(SECRET), &body).await;
        assert_eq!(status, 201, "{issued}");
        let issued: serde_json::Value = serde_json::from_str(&issued).expect("json");
        let token = issued["token"].as_str().expect("token").to_owned();
        assert!(issued["url"]
            .as_str()
            .expect("url")
            .contains(&format!("%3Ftoken%3D{token}")));
        assert_eq!(connects(&proxy, &token).await, Ok(()));

        let (status, listed) = request(&proxy, "GET", "/v1/tokens", Some(SECRET), "").await;
        assert_eq!(status, 200);
        let prefix = issued["hash_prefix"].as_str().expect("prefix");
        assert!(
            listed.contains(prefix) && !listed.contains(&token),
            "{listed}"
        );

        // A libvirt guest by its domain: a token whose target is found when a session starts
        // (this proxy has no [libvirt] uris, so it is refused then, with the reason).
        let (status, issued) = request(
            &proxy,
            "POST",
            "/v1/tokens",
            Some(SECRET),
            r#"{"domain": "web-1", "uri": "kvm2"}"#,
        )
        .await;
        assert_eq!(status, 201, "{issued}");
        let (_, listed) = request(&proxy, "GET", "/v1/tokens", Some(SECRET), "").await;
        assert!(listed.contains("libvirt://kvm2/web-1"), "{listed}");
        let domain_token: serde_json::Value = serde_json::from_str(&issued).expect("json");
        let domain_token = domain_token["token"].as_str().expect("token");
        assert_eq!(connects(&proxy, domain_token).await, Err(403));

        for (bad, wanted) in [
            ("{not json", 400),
            (r#"{"host": "h"}"#, 422),
            (r#"{"domain": "web-1", "host": "h", "port": 1}"#, 422),
            (r#"{"host": "h", "port": 1, "uri": "kvm2"}"#, 422),
            (r#"{"domain": "a/b"}"#, 422),
            (r#"{"host": "h", "port": 0}"#, 422),
            (r#"{"host": "h", "port": 1, "colour": "red"}"#, 422),
        ] {
            let (status, message) = request(&proxy, "POST", "/v1/tokens", Some(SECRET), bad).await;
            assert!(
                status == wanted || (400..500).contains(&status),
                "{bad}: {status} {message}"
            );
            assert!(message.contains("error"), "{bad}: {message}");
        }
        assert_eq!(
            request(&proxy, "DELETE", "/v1/tokens/abc", Some(SECRET), "")
                .await
                .0,
            400
        );
        assert_eq!(
            request(
                &proxy,
                "DELETE",
                "/v1/tokens/000000000000",
                Some(SECRET),
                ""
            )
            .await
            .0,
            404
        );
        assert_eq!(
            request(
                &proxy,
                "DELETE",
                &format!("/v1/tokens/{prefix}"),
                Some(SECRET),
                ""
            )
            .await
            .0,
            204
        );
        assert_eq!(connects(&proxy, &token).await, Err(403));
    }

    /// Edge findings 4 and 9: the secret is checked before a body is read, bodies are capped,
    /// a lifetime past what the clock holds is a 422 and not a panic, and idle connections
    /// cannot hold every slot.
    #[tokio::test]
    async fn the_admin_api_is_bounded() {
        let (proxy, _secret) = admin_proxy().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        // No secret, a body announced as 10 MB and never sent: 401 at once.
        let mut stranger = tokio::net::TcpStream::connect(proxy.admin_addr)
            .await
            .expect("connect");
        stranger
            .write_all(b"POST /v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n")
            .await
            .expect("write");
        let mut head = [0u8; 12];
        tokio::time::timeout(Duration::from_secs(3), stranger.read_exact(&mut head))
            .await
            .expect("answered before the body")
            .expect("read");
        assert_eq!(&head, b"HTTP/1.1 401");
        // With the secret, 16 KiB is the most a body may be.
        let big = format!(r#"{{"host": "{}", "port": 5900}}"#, "h".repeat(20_000));
        let (status, _) = request(&proxy, "POST", "/v1/tokens", Some(SECRET), &big).await;
        assert_eq!(status, 413);
        for ttl in ["18446744073709551615", "0", "2592001"] {
            let body = format!(r#"{{"host": "127.0.0.1", "port": 5900, "ttl": {ttl}}}"#);
            let (status, message) =
                request(&proxy, "POST", "/v1/tokens", Some(SECRET), &body).await;
            assert_eq!(status, 422, "ttl {ttl}: {message}");
        }
        // Idle connections past the cap are closed at accept; the API still answers after.
        let mut idle = Vec::new();
        for _ in 0..64 {
            idle.push(
                tokio::net::TcpStream::connect(proxy.admin_addr)
                    .await
                    .expect("connect"),
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut extra = tokio::net::TcpStream::connect(proxy.admin_addr)
            .await
            .expect("connect");
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(3), extra.read(&mut byte)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
        drop(idle);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (status, _) = request(&proxy, "GET", "/v1/tokens", Some(SECRET), "").await;
        assert_eq!(status, 200);
    }

    #[tokio::test]
    async fn no_secret_means_no_api() {
        let proxy = start_proxy("", "").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(tokio::net::TcpStream::connect(proxy.admin_addr)
            .await
            .is_err());
    }
}

/// Edge finding 11: nova's own SQLite cell database, named in `[database] connection`, is read
/// as it is: vncgate adds no table to it.
#[tokio::test]
async fn a_configured_sqlite_database_gets_no_table_of_ours() {
    let backend = echo_backend().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let nova = dir.path().join("nova.sqlite");
    let token = "3a4b5c6d-0000-4000-8000-0000000000aa";
    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    let sql = format!(
        "CREATE TABLE console_auth_tokens (created_at DATETIME, updated_at DATETIME, id INTEGER PRIMARY KEY AUTOINCREMENT, \
         token_hash VARCHAR(255) NOT NULL UNIQUE, console_type VARCHAR(255) NOT NULL, host VARCHAR(255) NOT NULL, \
         port INTEGER NOT NULL, tls_port INTEGER, internal_access_path VARCHAR(255), instance_uuid VARCHAR(36) NOT NULL, \
         expires INTEGER NOT NULL, access_url_base VARCHAR(255)); \
         INSERT INTO console_auth_tokens (token_hash, console_type, host, port, instance_uuid, expires) \
         VALUES ('{hash}', 'novnc', '127.0.0.1', {}, 'a1b2c3d4-0000-4000-8000-000000000000', {});",
        backend.port(),
        now() + 600
    );
    if !sqlite(&nova, &sql) {
        return;
    }
    let proxy = start_proxy(
        &format!("[database]\nconnection = sqlite:///{}\n", nova.display()),
        "",
    )
    .await;
    assert_eq!(connects(&proxy, token).await, Ok(()));
    let tables = std::process::Command::new("sqlite3")
        .arg(&nova)
        .arg(".tables")
        .output()
        .expect("sqlite3");
    let tables = String::from_utf8_lossy(&tables.stdout);
    assert!(tables.contains("console_auth_tokens"), "{tables}");
    assert!(
        !tables.contains("vncgate"),
        "vncgate wrote into nova's database: {tables}"
    );
}

/// Edge finding 9: a row whose hash is not hex (a hand-made or hostile row) is listed without a
/// panic.
#[tokio::test]
async fn token_list_survives_a_row_with_a_strange_hash() {
    let backend = echo_backend().await;
    let proxy = start_proxy("", "").await;
    let _ = issue_token(&proxy, backend.port(), &[]);
    let database = proxy.dir.path().join("state/tokens.sqlite");
    if !sqlite(&database, &format!(
            "INSERT INTO console_auth_tokens (token_hash, console_type, host, port, instance_uuid, expires) \
             VALUES ('xéééééééé', 'novnc', '127.0.0.1', 5900, 'x', {});",
            now() + 600
        )) {
        return;
    }
    let listed = vncgate_cli(&[
        "token",
        "list",
        "--config-file",
        proxy.config_path().to_str().expect("utf8"),
    ]);
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert!(stdout.contains("xééééé"), "{stdout}");
}

/// A configured database nobody initialised: `token issue` says what to run, in plain words,
/// instead of the database's own "no such table".
#[tokio::test]
async fn issuing_into_a_database_without_tables_names_init_db() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty.sqlite");
    std::fs::File::create(&empty).expect("file");
    let config = dir.path().join("vncgate.conf");
    std::fs::write(
        &config,
        format!(
            "[database]\nconnection = sqlite:///{}\n[vncgate]\nstate_dir = {}\n",
            empty.display(),
            dir.path().join("state").display()
        ),
    )
    .expect("config");
    let output = token_command(&config, "issue", &["--host", "127.0.0.1", "--port", "5900"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("vncgate token init-db"), "{stderr}");
}

/// `check-config` looks at a configured database: without vncgate's tables it warns, naming
/// what would get 503 and what to run, and still passes (the tables are optional).
#[tokio::test]
async fn check_config_warns_about_a_database_without_our_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nova = dir.path().join("nova.sqlite");
    let config = dir.path().join("vncgate.conf");
    std::fs::write(
        &config,
        format!(
            "[database]\nconnection = sqlite:///{}\n[vncgate]\nstate_dir = {}\nmax_sessions_per_token = 1\n",
            nova.display(),
            dir.path().join("state").display()
        ),
    )
    .expect("config");
    std::fs::File::create(&nova).expect("file");
    let (passed, said) = check_config(&config);
    assert!(passed, "{said}");
    assert!(said.contains("no console_auth_tokens table"), "{said}");
    assert!(
        said.contains("single-use tokens and nova's webmks rows get 503"),
        "{said}"
    );
    assert!(said.contains("vncgate_session_leases"), "{said}");
    // After init-db, nothing to say about the database.
    let output = token_command(&config, "init-db", &[]);
    assert!(output.status.success(), "{output:?}");
    let (passed, said) = check_config(&config);
    assert!(passed && !said.contains("[database]"), "{said}");
}

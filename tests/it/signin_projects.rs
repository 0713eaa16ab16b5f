//! nova's tokens under `require_login` and an `access_policy` that grants by project: a token
//! opens only for a person granted its instance's project (`instances.project_id`, read from
//! the same database as `console_auth_tokens`), narrowed by the granting rule. The session is
//! named for its person in the audit trail, in the admin API's `/v1/sessions` and in the shared
//! session table; it goes on while the identity provider is down.

use std::time::Duration;

use crate::common::admin::request_at;
use crate::common::browser;
use crate::common::daemon::free_port;
use crate::common::oidc::sign_in;
use crate::common::{nova_row_sql, sqlite, vncgate_cli, wait_for};
use crate::operations::{audit_events, get};
use crate::signin::setup_with;

const OPS_INSTANCE: &str = "0d7a8f0e-0000-4000-8000-00000000a11c";
const DEV_INSTANCE: &str = "0d7a8f0e-0000-4000-8000-000000000b0b";
const ADMIN_SECRET: &str = "an-admin-secret-for-the-projects-test";

/// What `sql` selects from the SQLite file `database`, trimmed.
fn query(database: &std::path::Path, sql: &str) -> String {
    let output = std::process::Command::new("sqlite3")
        .arg(database)
        .arg(sql)
        .output()
        .expect("sqlite3");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The admin API's live sessions.
async fn sessions(admin: std::net::SocketAddr) -> Vec<serde_json::Value> {
    let (status, body) = request_at(admin, "GET", "/v1/sessions", Some(ADMIN_SECRET), "").await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("json")
}

#[tokio::test]
async fn nova_tokens_open_only_for_people_granted_their_instances_project() {
    if !browser::available() || !crate::common::qemu::available() {
        return;
    }
    let vm_dir = tempfile::tempdir().expect("tempdir");
    let vm = crate::common::qemu::Qemu::start(vm_dir.path(), "", &[]);
    let policy = tempfile::NamedTempFile::new().expect("policy");
    std::fs::write(
        policy.path(),
        "[[rules]]\nname = \"ops-project\"\ngroups = [\"ops\"]\nprojects = [\"p-ops\"]\n\n\
         [[rules]]\nname = \"dev-watch\"\ngroups = [\"dev\"]\nprojects = [\"p-dev\"]\nview_only = true\n",
    )
    .expect("policy");
    // nova's cell database: its instances, a session table from before the user columns
    // (`token init-db` adds them), and the tokens nova-compute writes.
    let cell = tempfile::tempdir().expect("tempdir");
    let database = cell.path().join("nova.sqlite");
    let before = format!(
        "CREATE TABLE instances (uuid VARCHAR(36) NOT NULL, project_id VARCHAR(255), deleted INTEGER);\
         INSERT INTO instances VALUES ('{OPS_INSTANCE}', 'p-ops', 0), ('{DEV_INSTANCE}', 'p-dev', 0);\
         CREATE TABLE vncgate_live_sessions (instance VARCHAR(64) NOT NULL, id BIGINT NOT NULL, \
         token_prefix VARCHAR(16) NOT NULL, client_ip VARCHAR(64) NOT NULL, console VARCHAR(32) NOT NULL, \
         target VARCHAR(300) NOT NULL, started BIGINT NOT NULL, bytes_down BIGINT NOT NULL, \
         bytes_up BIGINT NOT NULL, view_only INTEGER NOT NULL, clipboard VARCHAR(16) NOT NULL, \
         expires BIGINT NOT NULL, end_reason VARCHAR(128), PRIMARY KEY (instance, id));"
    );
    if !sqlite(&database, &before) {
        return;
    }
    let connection = format!("sqlite:///{}", database.display());
    let init = cell.path().join("init.conf");
    std::fs::write(&init, format!("[database]\nconnection = {connection}\n")).expect("config");
    let initialised = vncgate_cli(&[
        "token",
        "init-db",
        "--config-file",
        init.to_str().expect("utf8"),
    ]);
    assert!(
        initialised.status.success(),
        "{}",
        String::from_utf8_lossy(&initialised.stderr)
    );
    let rows = format!(
        "{}{}",
        nova_row_sql("ops-instance-token", "novnc", vm.addr, None, OPS_INSTANCE),
        nova_row_sql("dev-instance-token", "novnc", vm.addr, None, DEV_INSTANCE)
    );
    assert!(sqlite(&database, &rows));
    let admin = free_port();
    let secret = cell.path().join("admin-secret");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(&secret, ADMIN_SECRET).expect("secret");
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let Some(mut setup) = setup_with(
        "",
        &format!(
            "require_login = true\naccess_policy = {}\nnovnc_dir = {}\n\
             admin_listen = 127.0.0.1:{admin}\nadmin_secret_file = {}\n[database]\nconnection = {connection}\n",
            policy.path().display(),
            browser::NOVNC,
            secret.display()
        ),
    )
    .await
    else {
        return;
    };
    let admin: std::net::SocketAddr = format!("127.0.0.1:{admin}").parse().expect("addr");
    let url = |token: &str| {
        format!(
            "https://localhost:{}/console.html?path=%3Ftoken%3D{token}",
            setup.port
        )
    };

    // bob (dev) holding the ops instance's link: not granted, and the page says so.
    let bob = sign_in(url("ops-instance-token"), "bob", "projects-bob-ops", None).await;
    assert!(
        bob["status"]
            .as_str()
            .unwrap_or_default()
            .contains("not granted"),
        "{bob}"
    );
    // His own project's console opens, view-only as his rule narrows it.
    let bob = sign_in(url("dev-instance-token"), "bob", "projects-bob-dev", None).await;
    assert!(
        bob["status"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Connected (view only)"),
        "{bob}"
    );
    let refusals = audit_events(&setup.audit, "refusal");
    assert!(
        refusals.iter().any(|r| r["reason"] == "not_granted"),
        "{refusals:?}"
    );
    let (_, metrics) = get(setup.metrics, "/metrics").await;
    let counted = metrics
        .lines()
        .find_map(|line| line.strip_prefix("vncgate_refusals_total{reason=\"not_granted\"} "))
        .and_then(|count| count.parse::<f64>().ok());
    assert!(counted.is_some_and(|count| count >= 1.0), "{metrics}");

    // alice (ops) opens the ops instance's console and keeps it open for 8 s.
    let alice = tokio::spawn(sign_in(
        url("ops-instance-token"),
        "alice",
        "projects-alice",
        Some(Duration::from_secs(8)),
    ));
    let opened = wait_for(Duration::from_secs(15), || async {
        !sessions(admin).await.is_empty()
    })
    .await;
    if !opened {
        panic!("no session listed; alice: {}", alice.await.expect("join"));
    }
    let listed = sessions(admin).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["user"], "alice", "{listed:?}");
    assert_eq!(listed[0]["email"], "alice@example.org", "{listed:?}");
    // ... and in the shared session table, within its sync interval.
    let published = "SELECT user_sub || ' ' || user_email FROM vncgate_live_sessions";
    wait_for(Duration::from_secs(5), || async {
        !query(&database, published).is_empty()
    })
    .await;
    assert_eq!(query(&database, published), "alice alice@example.org");
    // Her claim on the token is in the shared database, for every instance.
    let ops_hash = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(b"ops-instance-token"))
    };
    let claim = format!("SELECT sub FROM vncgate_token_claims WHERE token_hash = '{ops_hash}'");
    assert_eq!(query(&database, &claim), "alice");
    // The identity provider goes down: the live session goes on.
    if let Some(provider) = setup.provider.take() {
        provider.stop();
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sessions(admin).await.len(), 1, "the session ended");
    let alice = alice.await.expect("join");
    assert!(alice.get("error").is_none(), "{alice}");
    assert!(
        alice["status"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Connected"),
        "{alice}"
    );
    // Still signed in after the provider went down: the cookie is enough.
    assert_eq!(alice["after"]["status"], 200, "{alice}");

    let opened = audit_events(&setup.audit, "session_open");
    let by = |user: &str| {
        opened
            .iter()
            .find(|event| event["user"] == user)
            .unwrap_or_else(|| panic!("no session of {user}: {opened:?}"))
    };
    assert_eq!(opened.len(), 2, "{opened:?}");
    assert_eq!(by("alice")["email"], "alice@example.org");
    assert_eq!(by("alice")["rule"], "ops-project");
    assert_eq!(by("alice")["instance_uuid"], OPS_INSTANCE);
    assert_eq!(by("bob")["rule"], "dev-watch");
    let closed = audit_events(&setup.audit, "session_close");
    assert!(
        closed.iter().all(|event| event["user"].is_string()),
        "{closed:?}"
    );
    drop(vm);
}

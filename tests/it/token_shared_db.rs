//! Several proxies sharing one real MariaDB or PostgreSQL token database, as nova's cell
//! database: rows written as nova writes them, tokens issued through one proxy used through
//! another, a single-use token and a JWT jti raced on two proxies, and a database outage.

use crate::common;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::common::db::{nova_schema, MariaDb, Postgres};
use crate::common::*;
use sha2::{Digest, Sha256};

enum Db {
    Postgres(Postgres),
    MariaDb(MariaDb),
}

impl Db {
    fn postgres() -> Option<Self> {
        Postgres::start().map(Self::Postgres)
    }

    fn mariadb() -> Option<Self> {
        MariaDb::start().map(Self::MariaDb)
    }

    fn url(&self) -> String {
        match self {
            Self::Postgres(db) => db.url(),
            Self::MariaDb(db) => db.url(),
        }
    }

    fn sql(&self, sql: &str) {
        match self {
            Self::Postgres(db) => db.sql(sql),
            Self::MariaDb(db) => db.sql(sql),
        }
    }

    fn create_nova_schema(&self) {
        self.sql(&nova_schema(matches!(self, Self::Postgres(_))));
    }

    fn down(&mut self) {
        match self {
            Self::Postgres(db) => db.down(),
            Self::MariaDb(db) => db.down(),
        }
    }

    fn up(&mut self) {
        match self {
            Self::Postgres(db) => db.up(),
            Self::MariaDb(db) => db.up(),
        }
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

async fn proxy_on(db: &Db) -> Proxy {
    start_proxy(&format!("[database]\nconnection = {}\n", db.url()), "").await
}

async fn status_of(proxy: &Proxy, token: &str) -> u16 {
    match ws(proxy.addr, &format!("/?token={token}"), &[]).await {
        Ok((socket, _)) => {
            open_console(socket).await.expect("console");
            101
        }
        Err(error) => refusal(Err::<(), _>(error)).0,
    }
}

async fn nova_rows_and_two_proxies(db: Db) {
    let (backend, a, b) = two_proxies(&db, "").await;
    // A row as nova-compute writes it.
    let token = "0b6f8c52-1a2d-4e3f-9a4b-5c6d7e8f9a0b";
    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    db.sql(&format!(
        "INSERT INTO console_auth_tokens (created_at, token_hash, console_type, host, port, instance_uuid, expires, access_url_base) \
         VALUES (CURRENT_TIMESTAMP, '{hash}', 'novnc', '127.0.0.1', {}, 'a1b2c3d4-0000-4000-8000-000000000000', {}, 'http://127.0.0.1:6080/vnc_lite.html')",
        backend.port(),
        now() + 600
    ));
    assert_eq!(status_of(&a, token).await, 101);
    assert_eq!(status_of(&b, token).await, 101);
    // Expired as nova writes it: refused.
    db.sql(&format!(
        "UPDATE console_auth_tokens SET expires = {} WHERE token_hash = '{hash}'",
        now() - 1
    ));
    assert_eq!(status_of(&a, token).await, 403);

    // Issued through A's configuration, used through B. vncgate adds its own table only when
    // told to (init-db), and nova's table stays as it was.
    token_cli(&a, "init-db", &[]);
    let issued = issue_token(&a, backend.port(), &["--ttl", "600"]).0;
    assert_eq!(status_of(&b, &issued).await, 101);
    // Revoked through B's configuration: refused by A.
    revoke_token(&b, &issued);
    assert_eq!(status_of(&a, &issued).await, 403);
}

/// `token` presented to `a` and `b` at once: how many sessions opened.
async fn raced(a: &Proxy, b: &Proxy, token: &str) -> usize {
    let path = format!("/?token={token}");
    let (on_a, on_b) = tokio::join!(ws(a.addr, &path, &[]), ws(b.addr, &path, &[]));
    usize::from(on_a.is_ok()) + usize::from(on_b.is_ok())
}

async fn single_use_raced_on_two_proxies(db: Db) {
    let (backend, a, b) = two_proxies(&db, "").await;
    token_cli(&a, "init-db", &[]);
    for round in 0..10 {
        let token = issue_token(&a, backend.port(), &["--single-use"]).0;
        let opened = raced(&a, &b, &token).await;
        assert_eq!(opened, 1, "round {round}: exactly one session must open");
    }
}

async fn outage_gives_503_and_recovers(mut db: Db) {
    db.create_nova_schema();
    let backend = echo_backend().await;
    let proxy = proxy_on(&db).await;
    token_cli(&proxy, "init-db", &[]);
    let token = issue_token(&proxy, backend.port(), &["--ttl", "600"]).0;
    let (socket, _) = ws(proxy.addr, &format!("/?token={token}"), &[])
        .await
        .expect("upgrade");
    let mut open = open_console(socket).await.expect("console");

    db.down();
    assert_eq!(status_of(&proxy, &token).await, 503);
    // The open session does not depend on the database.
    open.write(b"still relaying").await;
    assert_eq!(open.read(14).await.expect("echo"), b"still relaying");

    db.up();
    let mut recovered = false;
    for _ in 0..60 {
        if status_of(&proxy, &token).await == 101 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        recovered,
        "vncgate did not recover when the database came back"
    );
}

#[tokio::test]
async fn postgres_nova_rows_and_two_proxies() {
    if let Some(db) = Db::postgres() {
        nova_rows_and_two_proxies(db).await;
    }
}

#[tokio::test]
async fn mariadb_nova_rows_and_two_proxies() {
    if let Some(db) = Db::mariadb() {
        nova_rows_and_two_proxies(db).await;
    }
}

#[tokio::test]
async fn postgres_single_use_raced_on_two_proxies() {
    if let Some(db) = Db::postgres() {
        single_use_raced_on_two_proxies(db).await;
    }
}

#[tokio::test]
async fn mariadb_single_use_raced_on_two_proxies() {
    if let Some(db) = Db::mariadb() {
        single_use_raced_on_two_proxies(db).await;
    }
}

#[tokio::test]
async fn postgres_outage_gives_503_and_recovers() {
    if let Some(db) = Db::postgres() {
        outage_gives_503_and_recovers(db).await;
    }
}

#[tokio::test]
async fn mariadb_outage_gives_503_and_recovers() {
    if let Some(db) = Db::mariadb() {
        outage_gives_503_and_recovers(db).await;
    }
}

/// Edge finding 1: a single-use token must never pass as a reusable one because a query on
/// vncgate's table failed for another reason than its absence. Here the proxy's database user
/// loses SELECT on `vncgate_single_use` (table-level grants, since a database-wide GRANT ALL
/// would hide the REVOKE); the token must not open two sessions.
#[tokio::test]
async fn mariadb_single_use_survives_a_revoked_select() {
    let Some(db) = Db::mariadb() else {
        return;
    };
    db.create_nova_schema();
    let backend = echo_backend().await;
    let proxy = proxy_on(&db).await;
    token_cli(&proxy, "init-db", &[]);
    let token = issue_token(&proxy, backend.port(), &["--single-use"]).0;
    db.sql(
        "REVOKE ALL PRIVILEGES ON nova_cell1.* FROM 'nova'@'127.0.0.1'; \
         GRANT SELECT, INSERT, UPDATE, DELETE ON nova_cell1.console_auth_tokens TO 'nova'@'127.0.0.1'; \
         GRANT INSERT, DELETE ON nova_cell1.vncgate_single_use TO 'nova'@'127.0.0.1';",
    );
    let path = format!("/?token={token}");
    let first = ws(proxy.addr, &path, &[]).await;
    let second = ws(proxy.addr, &path, &[]).await;
    let statuses = [&first, &second].map(|attempt| match attempt {
        Ok(_) => 101,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(_) => 0,
    });
    assert!(
        statuses.iter().filter(|s| **s == 101).count() <= 1,
        "a single-use token opened two sessions: {statuses:?}"
    );
    assert!(
        statuses.contains(&503),
        "a failed query must be a 503: {statuses:?}"
    );
}

/// nova's table in `db`, an echo backend, and two proxies on `db` with `own` in `[vncgate]`.
async fn two_proxies(db: &Db, own: &str) -> (std::net::SocketAddr, Proxy, Proxy) {
    db.create_nova_schema();
    let backend = echo_backend().await;
    let config = format!("[database]\nconnection = {}\n[vncgate]\n{own}", db.url());
    let a = start_proxy(&config, "").await;
    let b = start_proxy(&config, "").await;
    (backend, a, b)
}

/// Revocation through one instance closes the session open on another, both on one database.
async fn revoked_on_one_closes_on_another(db: Db) {
    let (backend, a, b) = two_proxies(&db, "session_recheck_interval = 0.5\n").await;
    let token = issue_token(&a, backend.port(), &["--ttl", "600"]).0;
    let (socket, _) = ws(a.addr, &format!("/?token={token}"), &[])
        .await
        .expect("upgrade");
    let mut open = open_console(socket).await.expect("console");
    revoke_token(&b, &token);
    let close = next_close(&mut open.ws).await;
    assert_eq!(
        close.map(|(_, reason)| reason).as_deref(),
        Some("the console access was revoked")
    );
}

#[tokio::test]
async fn postgres_revoked_on_one_closes_on_another() {
    if let Some(db) = Db::postgres() {
        revoked_on_one_closes_on_another(db).await;
    }
}

#[tokio::test]
async fn mariadb_revoked_on_one_closes_on_another() {
    if let Some(db) = Db::mariadb() {
        revoked_on_one_closes_on_another(db).await;
    }
}

/// Polls until the token opens a session (its slot was given back), for up to 5 s.
async fn opens_within_5s(proxy: &Proxy, token: &str) -> bool {
    for _ in 0..50 {
        if status_of(proxy, token).await == 101 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// `max_sessions_per_token` holds across instances: a lease per session in vncgate's table,
/// taken atomically, given back when the session ends, and reclaimed from an instance that
/// died once its lease expired.
async fn session_cap_across_instances(db: Db) {
    let (backend, a, b) = two_proxies(&db, "max_sessions_per_token = 1\n").await;
    token_cli(&a, "init-db", &[]);
    let token = issue_token(&a, backend.port(), &["--ttl", "600"]).0;
    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    let path = format!("/?token={token}");

    let (socket, _) = ws(a.addr, &path, &[]).await.expect("upgrade on A");
    let held = open_console(socket).await.expect("console on A");
    assert_eq!(
        status_of(&b, &token).await,
        429,
        "a second session through another instance"
    );
    drop(held);
    assert!(
        opens_within_5s(&b, &token).await,
        "the slot was not given back when the session on A ended"
    );

    // A lease of an instance that died: counted while unexpired, reclaimed after. (The
    // sessions above are closed; their releases may still be on the way.)
    db.sql(&format!(
        "DELETE FROM vncgate_session_leases; INSERT INTO vncgate_session_leases (token_hash, slot, instance, lease, expires) \
         VALUES ('{hash}', 0, 'dead-host-1-000000', 1, {})",
        now() + 600
    ));
    assert_eq!(status_of(&b, &token).await, 429);
    db.sql(&format!(
        "UPDATE vncgate_session_leases SET expires = {} WHERE instance = 'dead-host-1-000000'",
        now() - 1
    ));
    assert_eq!(
        status_of(&b, &token).await,
        101,
        "an expired lease is reclaimed"
    );

    // Racing for the last slot through two instances: exactly one wins each round.
    for round in 0..10 {
        let (on_a, on_b) = tokio::join!(ws(a.addr, &path, &[]), ws(b.addr, &path, &[]));
        let opened = [&on_a, &on_b].iter().filter(|r| r.is_ok()).count();
        assert_eq!(
            opened, 1,
            "round {round}: exactly one session may hold the slot"
        );
        drop((on_a, on_b));
        assert!(
            opens_within_5s(&a, &token).await,
            "round {round}: slot not freed"
        );
    }
}

/// Without `token init-db`, a nova database has no lease table: the cap still holds, per
/// instance, and nothing fails.
async fn session_cap_without_lease_table(db: Db) {
    let (backend, a, b) = two_proxies(&db, "max_sessions_per_token = 1\n").await;
    let token = "5e1f6f3c-9d9a-4c38-8f0e-0d6c2b7a4e11";
    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    db.sql(&format!(
        "INSERT INTO console_auth_tokens (token_hash, console_type, host, port, instance_uuid, expires) \
         VALUES ('{hash}', 'novnc', '127.0.0.1', {}, 'a1b2c3d4-0000-4000-8000-000000000001', {})",
        backend.port(),
        now() + 600
    ));
    let (socket, _) = ws(a.addr, &format!("/?token={token}"), &[])
        .await
        .expect("upgrade on A");
    let _held = open_console(socket).await.expect("console on A");
    assert_eq!(status_of(&a, token).await, 429, "counted on A");
    assert_eq!(
        status_of(&b, token).await,
        101,
        "B counts its own sessions only"
    );
}

#[tokio::test]
async fn postgres_session_cap_across_instances() {
    if let Some(db) = Db::postgres() {
        session_cap_across_instances(db).await;
    }
}

#[tokio::test]
async fn mariadb_session_cap_across_instances() {
    if let Some(db) = Db::mariadb() {
        session_cap_across_instances(db).await;
    }
}

#[tokio::test]
async fn postgres_session_cap_without_lease_table() {
    if let Some(db) = Db::postgres() {
        session_cap_without_lease_table(db).await;
    }
}

/// With the shared database, each instance's admin API lists every instance's sessions and
/// ends one held by another instance, which shows its page the reason.
async fn sessions_listed_and_ended_across_instances(db: Db) {
    use common::admin::{request, SECRET};
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("admin-secret");
    std::fs::write(&secret, format!("{SECRET}\n")).expect("secret");
    let own = format!("admin_secret_file = {}\n", secret.display());
    let (backend, a, b) = two_proxies(&db, &own).await;
    token_cli(&a, "init-db", &[]);
    let token = issue_token(&a, backend.port(), &["--ttl", "600", "--clipboard", "none"]).0;
    let (socket, _) = ws(b.addr, &format!("/?token={token}"), &[])
        .await
        .expect("upgrade on B");
    let mut open = open_console(socket).await.expect("console on B");

    // B lists it as its own; A, once B has published it, as B's.
    let (_, listed) = request(&b, "GET", "/v1/sessions", Some(SECRET), "").await;
    let on_b: serde_json::Value = serde_json::from_str(&listed).expect("json");
    let session = on_b[0].clone();
    let instance = session["instance"].as_str().expect("instance").to_owned();
    let id = session["id"].as_u64().expect("id");
    let mut seen = None;
    for _ in 0..50 {
        let (status, listed) = request(&a, "GET", "/v1/sessions", Some(SECRET), "").await;
        assert_eq!(status, 200, "{listed}");
        let on_a: serde_json::Value = serde_json::from_str(&listed).expect("json");
        seen = on_a
            .as_array()
            .into_iter()
            .flatten()
            .find(|entry| entry["instance"] == instance.as_str() && entry["id"] == id)
            .cloned();
        if seen.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seen = seen.expect("A lists B's session");
    assert_eq!(seen["target"], backend.to_string());
    assert_eq!(seen["clipboard"], "none");
    assert_eq!(seen["token_hash_prefix"], session["token_hash_prefix"]);

    // Without naming the instance, A has no such session of its own.
    let path = format!("/v1/sessions/{id}?reason=moved");
    assert_eq!(request(&a, "DELETE", &path, Some(SECRET), "").await.0, 404);
    let elsewhere = format!("/v1/sessions/{id}?reason=moved&instance={instance}");
    let (status, answer) = request(&a, "DELETE", &elsewhere, Some(SECRET), "").await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(
        next_close(&mut open.ws).await,
        Some((
            1008,
            "the console session was ended by an administrator: moved".to_owned()
        ))
    );
    // Gone from both lists once B has taken it out.
    let mut gone = false;
    for _ in 0..50 {
        let (_, listed) = request(&a, "GET", "/v1/sessions", Some(SECRET), "").await;
        if !listed.contains(&instance) {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the ended session is still listed");
    let unknown = format!("/v1/sessions/{id}?instance={instance}");
    assert_eq!(
        request(&a, "DELETE", &unknown, Some(SECRET), "").await.0,
        404
    );

    // The same through the CLI pointed at A: `session list` shows B's session and its instance,
    // `session kill --instance` ends it.
    let (socket, _) = ws(b.addr, &format!("/?token={token}"), &[])
        .await
        .expect("upgrade on B");
    let mut second = open_console(socket).await.expect("console on B");
    let config = dir.path().join("cli.conf");
    std::fs::write(
        &config,
        format!(
            "[vncgate]\nadmin_listen = {}\nadmin_secret_file = {}\nstate_dir = {}\n",
            a.admin_addr,
            secret.display(),
            dir.path().join("state").display()
        ),
    )
    .expect("config");
    let config = config.display().to_string();
    let cli = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            vncgate_cli(&args)
        })
    };
    let mut line = None;
    for _ in 0..50 {
        let args = ["session", "list", "--config-file", &config].map(str::to_owned);
        let listed = cli(args.to_vec()).await.expect("join");
        let text = String::from_utf8_lossy(&listed.stdout).into_owned();
        line = text
            .lines()
            .find(|l| l.split_whitespace().any(|word| word == instance.as_str()))
            .map(str::to_owned);
        if line.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let line = line.expect("the CLI lists B's session");
    let id = line.split_whitespace().next().expect("id").to_owned();
    let args = [
        "session",
        "kill",
        "--config-file",
        &config,
        &id,
        "--instance",
        &instance,
        "--reason",
        "by the CLI",
    ]
    .map(str::to_owned);
    let killed = cli(args.to_vec()).await.expect("join");
    assert!(
        killed.status.success(),
        "{}",
        String::from_utf8_lossy(&killed.stderr)
    );
    assert_eq!(
        next_close(&mut second.ws).await,
        Some((
            1008,
            "the console session was ended by an administrator: by the CLI".to_owned()
        ))
    );
}

#[tokio::test]
async fn postgres_sessions_listed_and_ended_across_instances() {
    if let Some(db) = Db::postgres() {
        sessions_listed_and_ended_across_instances(db).await;
    }
}

#[tokio::test]
async fn mariadb_sessions_listed_and_ended_across_instances() {
    if let Some(db) = Db::mariadb() {
        sessions_listed_and_ended_across_instances(db).await;
    }
}

/// A session that ends while the database is away leaves its lease behind: only live leases
/// are renewed, the failed release is tried again, and rows not renewed are deleted, so the
/// token's slot comes back soon after the database does (before, the orphan was renewed for
/// as long as the instance lived and the token stayed at 429).
async fn a_lease_whose_release_failed_is_not_renewed(mut db: Db) {
    let (backend, a, _b) = two_proxies(
        &db,
        "max_sessions_per_token = 1\nsession_lease_timeout = 3\n",
    )
    .await;
    token_cli(&a, "init-db", &[]);
    let token = issue_token(&a, backend.port(), &["--ttl", "600"]).0;
    let (socket, _) = ws(a.addr, &format!("/?token={token}"), &[])
        .await
        .expect("upgrade");
    let held = open_console(socket).await.expect("console");
    db.down();
    drop(held);
    // An outage longer than the pool's 3 s wait for a connection: the release fails. (The
    // outage itself is the scenario, not a wait for a state.)
    tokio::time::sleep(Duration::from_millis(4500)).await;
    db.up();
    // Three lease lifetimes (9 s) at the most: an orphan renewed every second would hold on.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut last = 0;
    while tokio::time::Instant::now() < deadline {
        last = status_of(&a, &token).await;
        if last == 101 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(last, 101, "the ended session's lease still holds the slot");
}

#[tokio::test]
async fn mariadb_a_lease_whose_release_failed_is_not_renewed() {
    if let Some(db) = Db::mariadb() {
        a_lease_whose_release_failed_is_not_renewed(db).await;
    }
}

/// A JWT's `jti` is single use across instances sharing the database: the same token raced on
/// two proxies opens once, and a replay on either later is refused.
async fn jti_raced_on_two_proxies(db: Db) {
    use base64::Engine;
    let work = tempfile::tempdir().expect("tempdir");
    let secret = [7u8; 32];
    let keys = work.path().join("portal.k");
    std::fs::write(
        &keys,
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
    )
    .expect("key");
    let (backend, a, b) = two_proxies(&db, &format!("jwt_keys = {}\n", keys.display())).await;
    token_cli(&a, "init-db", &[]);
    for round in 0..5 {
        let claims = serde_json::json!({
            "host": "127.0.0.1", "port": backend.port(), "jti": format!("console-{round}"),
            "exp": now() + 300,
        });
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(&secret),
        )
        .expect("JWT");
        let opened = raced(&a, &b, &token).await;
        assert_eq!(opened, 1, "round {round}: exactly one session must open");
        for proxy in [&a, &b] {
            assert_eq!(
                status_of(proxy, &token).await,
                403,
                "round {round}: a replay"
            );
        }
    }
}

#[tokio::test]
async fn mariadb_jti_raced_on_two_proxies() {
    if let Some(db) = Db::mariadb() {
        jti_raced_on_two_proxies(db).await;
    }
}

#[tokio::test]
async fn postgres_jti_raced_on_two_proxies() {
    if let Some(db) = Db::postgres() {
        jti_raced_on_two_proxies(db).await;
    }
}

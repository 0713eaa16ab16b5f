//! Three vncgate instances on one shared PostgreSQL or MariaDB database behind Debian's
//! HAProxy, configured from conf/haproxy/: a rolling restart under load loses nothing, a
//! killed instance is routed around and its session leases expire, state is shared, and the
//! client's own address reaches the audit trail in both HAProxy modes.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::cluster::{
    haproxy_available, Cluster, Entry, Extra, Mode, CHECK_FALL, CHECK_INTER,
};
use crate::common::db::{MariaDb, Postgres};
use crate::common::qemu::{self, Qemu};
use crate::common::*;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

/// Where the test's own sessions come from: not HAProxy's address, so that the audit trail
/// shows whether the client's address came through.
const CLIENT: &str = "127.0.0.2";

fn client() -> IpAddr {
    CLIENT.parse().expect("ip")
}

/// New sessions, one every 20 ms (50 a second), each through HAProxy up to an echo, until
/// `stop`; returns (opened, failures).
fn load(
    entry: Entry,
    path: String,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(usize, Vec<String>)> {
    tokio::spawn(async move {
        let opened = Arc::new(AtomicUsize::new(0));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let mut attempts = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            tick.tick().await;
            let (entry, path) = (entry.clone(), path.clone());
            let (opened, failures) = (opened.clone(), failures.clone());
            attempts.push(tokio::spawn(async move {
                match entry.session(client(), &path).await {
                    Ok(_) => {
                        opened.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(error) => failures.lock().expect("lock").push(error),
                }
            }));
        }
        for attempt in attempts {
            let _ = attempt.await;
        }
        let failures = failures.lock().expect("lock").clone();
        (opened.load(Ordering::Relaxed), failures)
    })
}

/// The closes (code, reason) a streaming session saw, and any other error.
type Streamed = (Vec<(u16, String)>, Vec<String>);

/// A session streaming echoes (1 KiB every 50 ms) until `stop`, reconnecting like the
/// console page when closed; returns every close it saw, as (code, reason), and any other
/// error.
fn stream(entry: Entry, path: String, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<Streamed> {
    tokio::spawn(async move {
        let mut closes = Vec::new();
        let mut errors = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let mut console = match entry.session(client(), &path).await {
                Ok(console) => console,
                Err(error) => {
                    errors.push(format!("reconnect: {error}"));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            let payload = vec![7u8; 1024];
            'session: while !stop.load(Ordering::Relaxed) {
                if let Err(error) = console.ws.send(Message::binary(payload.clone())).await {
                    errors.push(format!("send: {error}"));
                    break;
                }
                let mut got = 0;
                while got < payload.len() {
                    match tokio::time::timeout(Duration::from_secs(10), console.ws.next()).await {
                        Ok(Some(Ok(Message::Binary(data)))) => got += data.len(),
                        Ok(Some(Ok(Message::Close(frame)))) => {
                            closes.push(frame.map_or((0, String::new()), |f| {
                                (u16::from(f.code), f.reason.to_string())
                            }));
                            break 'session;
                        }
                        Ok(Some(Ok(_))) => {}
                        other => {
                            errors.push(format!("read: {other:?}"));
                            break 'session;
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        (closes, errors)
    })
}

/// Rolling restart under load: SIGTERM each instance in turn, wait until HAProxy sends it
/// sessions again, move on. No new session fails; streaming sessions on a draining instance
/// end with 1001 and a reason; the console page in Chromium is back within 5 s each time.
#[tokio::test]
async fn rolling_restart_loses_nothing() {
    if !haproxy_available() || !qemu::available() || !browser::available() {
        return;
    }
    let Some(db) = Postgres::start() else {
        return;
    };
    let mut cluster = Cluster::start(Mode::Terminated, 3, &db.url(), Extra::default()).await;
    let echo = echo_backend().await;
    let token = cluster.issue(echo, &["--ttl", "3600"]);
    let path = format!("/?token={token}");
    let vm = Qemu::start(cluster.dir.path(), "", &[]);
    let page_token = cluster.issue(vm.addr, &["--ttl", "3600"]);
    let url = cluster.page_url(&page_token);
    let page = tokio::task::spawn_blocking(move || browser::Watch::start(&url, "cluster-rolling"))
        .await
        .expect("join")
        .expect("the console page connected");

    let stop = Arc::new(AtomicBool::new(false));
    let streams: Vec<_> = (0..20)
        .map(|_| stream(cluster.entry(), path.clone(), stop.clone()))
        .collect();
    let load = load(cluster.entry(), path.clone(), stop.clone());
    tokio::time::sleep(Duration::from_secs(2)).await;
    for i in 0..cluster.instances.len() {
        let status = cluster.stop(i).await;
        assert!(status.success(), "instance {i} exited with {status}");
        cluster.start_again(i).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);

    let (opened, failures) = load.await.expect("load");
    assert!(opened > 100, "the load opened only {opened} sessions");
    assert!(
        failures.is_empty(),
        "{} of {} new sessions failed: {:?}",
        failures.len(),
        opened + failures.len(),
        &failures[..failures.len().min(5)]
    );
    let mut closed = 0;
    for handle in streams {
        let (closes, errors) = handle.await.expect("stream");
        assert!(errors.is_empty(), "a streaming session saw {errors:?}");
        for close in &closes {
            assert_eq!(
                close,
                &(1001, "the console proxy is shutting down".to_owned())
            );
        }
        closed += closes.len();
    }
    // Every instance drained once: each streaming session was on one of them.
    assert!(
        closed >= 20,
        "only {closed} streaming sessions were drained"
    );

    let found = came_back(page, Duration::from_secs(5)).await;
    eprintln!("rolling restart: {opened} new sessions opened, 0 failed; {closed} streaming sessions drained with 1001; console page: {found}");
}

/// Stops watching the console page and checks it lost its session at least once and was
/// connected again within `within` each time, and at the end.
async fn came_back(page: browser::Watch, within: Duration) -> serde_json::Value {
    let found = tokio::task::spawn_blocking(move || page.finish())
        .await
        .expect("join");
    assert!(found["drops"].as_u64().unwrap_or(0) >= 1, "{found}");
    let longest = found["longestMs"].as_u64().unwrap_or(u64::MAX);
    assert!(u128::from(longest) < within.as_millis(), "{found}");
    assert!(
        found["status"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Connected"),
        "{found}"
    );
    found
}

/// The `session_open` events of an audit trail.
fn opened_from(audit: &str) -> Vec<String> {
    audit
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|event| event["event"] == "session_open")
        .map(|event| event["client_ip"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// `kill -9` of the instance holding the console page's session, with TLS passed through
/// HAProxy (PROXY v2) and VeNCrypt with mutual TLS to QEMU: HAProxy marks it down within its
/// check interval, new sessions all succeed on the survivors, the page is back within 10 s,
/// and the dead instance's session lease expires, freeing the per-token cap.
#[tokio::test]
async fn killed_instance_is_routed_around_and_its_leases_expire() {
    if !haproxy_available() || !qemu::available() || !browser::available() {
        return;
    }
    let Some(db) = Postgres::start() else {
        return;
    };
    let lease_timeout = Duration::from_secs(30);
    let own = format!(
        "max_sessions_per_token = 2\nsession_lease_timeout = {}\n",
        lease_timeout.as_secs()
    );
    let extra = Extra {
        own: &own,
        vencrypt_network: Some("127.0.0.3/32"),
        ..Extra::default()
    };
    let mut cluster = Cluster::start(Mode::Passthrough, 3, &db.url(), extra).await;
    let object = format!(
        "tls-creds-x509,id=tls0,dir={},endpoint=server,verify-peer=yes",
        cluster.pki.compute().display()
    );
    let vm = Qemu::start_on(
        "127.0.0.3",
        cluster.dir.path(),
        ",tls-creds=tls0",
        &["-object".into(), object],
    );
    let token = cluster.issue(vm.addr, &["--ttl", "3600"]);
    let url = cluster.page_url(&token);
    let page = tokio::task::spawn_blocking(move || browser::Watch::start(&url, "cluster-killed"))
        .await
        .expect("join")
        .expect("the console page connected over VeNCrypt");
    let victim = cluster.instance_with_a_session().await;

    cluster.kill(victim);
    let killed = std::time::Instant::now();
    // New sessions right away, before HAProxy knows: refused connections are redispatched.
    let echo = echo_backend().await;
    let other = cluster.issue(echo, &["--ttl", "3600"]);
    let entry = cluster.entry();
    let path = format!("/?token={other}");
    let sessions = async {
        let mut failures = Vec::new();
        for _ in 0..40 {
            if let Err(error) = entry.session(client(), &path).await {
                failures.push(error);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        failures
    };
    let marked = async {
        cluster
            .wait_for_state(victim, "DOWN", Duration::from_secs(10))
            .await;
        killed.elapsed()
    };
    let (failures, marked_down) = tokio::join!(sessions, marked);
    assert!(failures.is_empty(), "new sessions failed: {failures:?}");
    let check_interval = CHECK_INTER * CHECK_FALL;
    eprintln!(
        "killed instance marked down after {marked_down:?} (fall x inter = {check_interval:?})"
    );
    assert!(
        marked_down <= check_interval + CHECK_INTER + Duration::from_secs(1),
        "HAProxy took {marked_down:?} to mark the killed instance down"
    );

    // The page reconnected through a survivor.
    let found = came_back(page, Duration::from_secs(10)).await;
    eprintln!("console page after kill -9: {found}");
    // The page's session closed as the browser went; the dead instance's lease still counts
    // with one more session, until it expires.
    let vm_path = format!("/?token={token}");
    let (held, _) = cluster
        .entry()
        .connect(client(), &vm_path)
        .await
        .expect("the second slot");
    let refused = cluster
        .entry()
        .connect(client(), &vm_path)
        .await
        .map(|_| ());
    assert_eq!(
        refused,
        Err("HTTP 429".to_owned()),
        "the dead instance's lease counts"
    );
    let mut freed = None;
    while killed.elapsed() < lease_timeout + Duration::from_secs(5) {
        if cluster.entry().connect(client(), &vm_path).await.is_ok() {
            freed = Some(killed.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    drop(held);
    eprintln!("the dead instance's lease freed its slot {freed:?} after the kill (session_lease_timeout {lease_timeout:?})");
    assert!(freed.is_some(), "the dead instance's lease never expired");

    // Its sessions came through HAProxy in TCP mode; the audit trail names the client.
    let clients: Vec<String> = (0..cluster.instances.len())
        .filter(|i| *i != victim)
        .flat_map(|i| opened_from(&cluster.audit(i)))
        .collect();
    assert!(clients.iter().any(|ip| ip == CLIENT), "{clients:?}");
    assert!(
        clients.iter().all(|ip| ip == CLIENT || ip == "127.0.0.1"),
        "{clients:?}"
    );
}

/// Two instances on MariaDB behind HAProxy terminating TLS: the per-token cap, single use and
/// revocation hold across them, and the client's address (X-Forwarded-For) reaches the audit
/// trail.
#[tokio::test]
async fn state_is_shared_across_instances() {
    if !haproxy_available() {
        return;
    }
    let Some(db) = MariaDb::start() else {
        return;
    };
    let extra = Extra {
        own: "max_sessions_per_token = 1\n",
        ..Extra::default()
    };
    let cluster = Cluster::start(Mode::Terminated, 2, &db.url(), extra).await;
    let echo = echo_backend().await;
    let entry = cluster.entry();

    // One session through HAProxy; a second, straight to the other instance or through
    // HAProxy, is over the cap.
    let token = cluster.issue(echo, &["--ttl", "600"]);
    let path = format!("/?token={token}");
    let held = entry.session(client(), &path).await.expect("first session");
    let on = cluster.instance_with_a_session().await;
    let other = 1 - on;
    let direct = std::net::SocketAddr::from(([127, 0, 0, 1], cluster.instances[other].port));
    assert_eq!(
        ws(direct, &path, &[])
            .await
            .map(|_| ())
            .map_err(|e| refusal(Err::<(), _>(e)).0),
        Err(429),
        "a second session through the other instance"
    );
    for _ in 0..4 {
        assert_eq!(
            entry.connect(client(), &path).await.map(|_| ()),
            Err("HTTP 429".to_owned())
        );
    }

    // Revoked through the other instance's configuration: the session ends with a reason.
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(token.as_bytes()));
    cluster.token_cli_of(other, "revoke", &[&hash[..12]]);
    let mut held = held;
    assert_eq!(
        next_close(&mut held.ws).await,
        Some((1008, "the console access was revoked".to_owned()))
    );

    // A single-use token raced through HAProxy: exactly one session, every round.
    for round in 0..10 {
        let single = cluster.issue(echo, &["--single-use"]);
        let path = format!("/?token={single}");
        let attempts: Vec<_> = (0..4)
            .map(|_| {
                let (entry, path) = (entry.clone(), path.clone());
                tokio::spawn(async move { entry.session(client(), &path).await.is_ok() })
            })
            .collect();
        let mut opened = 0;
        for attempt in attempts {
            opened += usize::from(attempt.await.expect("join"));
        }
        assert_eq!(
            opened, 1,
            "round {round}: a single-use token opened {opened} sessions"
        );
    }

    // A client naming itself in a Forwarded header of its own: HAProxy's sample adds only
    // X-Forwarded-For (and deletes Forwarded), and vncgate reads only that header.
    let forged = cluster.issue(echo, &[]);
    let forged_path = format!("/?token={forged}");
    let forging = entry
        .session_with(
            client(),
            &forged_path,
            &[
                ("Forwarded", "for=198.51.100.66"),
                ("X-Forwarded-For", "198.51.100.67"),
            ],
        )
        .await
        .expect("a session with forged headers");
    drop(forging);

    // X-Forwarded-For from HAProxy, believed because HAProxy is a trusted proxy.
    let clients: Vec<String> = (0..2)
        .flat_map(|i| opened_from(&cluster.audit(i)))
        .collect();
    assert!(clients.len() >= 12, "{clients:?}");
    assert!(clients.iter().all(|ip| ip == CLIENT), "{clients:?}");
}

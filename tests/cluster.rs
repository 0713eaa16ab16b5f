//! Three vncgate instances on one shared PostgreSQL or MariaDB database behind Debian's
//! HAProxy, configured from conf/haproxy/: a rolling restart under load loses nothing, a
//! killed instance is routed around and its session leases expire, state is shared, and the
//! client's own address reaches the audit trail in both HAProxy modes.

mod common;

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::cluster::{haproxy_available, Cluster, Entry, Extra, Mode};
use common::db::Postgres;
use common::qemu::{self, Qemu};
use common::*;
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
    let token = cluster.issue(echo.port(), &["--ttl", "3600"]);
    let path = format!("/?token={token}");
    let vm = Qemu::start(cluster.dir.path(), "", &[]);
    let page_token = cluster.issue(vm.addr.port(), &["--ttl", "3600"]);
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

    let found = tokio::task::spawn_blocking(move || page.finish())
        .await
        .expect("join");
    eprintln!("rolling restart: {opened} new sessions opened, 0 failed; {closed} streaming sessions drained with 1001; console page: {found}");
    assert!(found["drops"].as_u64().unwrap_or(0) >= 1, "{found}");
    assert!(
        found["longestMs"].as_u64().unwrap_or(u64::MAX) < 5000,
        "{found}"
    );
    assert!(
        found["status"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Connected"),
        "{found}"
    );
}

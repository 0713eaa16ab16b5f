//! The soak scenario: a long mixed load with what a console fleet sees, sampled as it runs, so
//! that a leak or a slow growth shows as a curve that does not stay flat.
//!
//! `--sessions` viewers each repeat a VNC-like pattern: a burst of screen updates downstream
//! (16–256 KiB), a pause (0.2–1 s), and now and then a few input bytes upstream whose
//! acknowledgement is the round trip measured. Beside them, short sessions connect and leave
//! steadily. Every `--sample` seconds the proxy's RSS and descriptors, the round trips' p99
//! and the bytes moved are recorded.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{rss_tree, session, Error, Options};

/// A small generator, enough to spread bursts and pauses (no cryptographic use).
struct Spread(u64);

impl Spread {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below.max(1)
    }
}

#[derive(Default)]
struct Counters {
    bytes: AtomicU64,
    errors: AtomicU64,
    connects: AtomicU64,
    round_trips: Mutex<Vec<u64>>,
}

fn descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |dir| dir.count())
}

async fn viewer(
    target: String,
    ca: Option<std::path::PathBuf>,
    index: u64,
    until: Instant,
    counters: Arc<Counters>,
) {
    let mut spread =
        Spread(0x9e37_79b9_7f4a_7c15 ^ (index + 1).wrapping_mul(0x2545_f491_4f6c_dd1d));
    let Ok(mut conn) = session(&target, ca.as_ref()).await else {
        counters.errors.fetch_add(1, Ordering::Relaxed);
        return;
    };
    while Instant::now() < until {
        let step = async {
            let burst = (16 << 10) + spread.next(240 << 10);
            conn.command(1, burst).await?;
            conn.drain(burst).await?;
            counters.bytes.fetch_add(burst, Ordering::Relaxed);
            if spread.next(3) == 0 {
                let sent = Instant::now();
                conn.command(2, 64).await?;
                conn.write(&[0x5a; 64]).await?;
                conn.read_exact(1).await?;
                let took = sent.elapsed().as_micros() as u64;
                counters
                    .round_trips
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(took);
            }
            Ok::<(), Error>(())
        };
        if tokio::time::timeout(Duration::from_secs(20), step)
            .await
            .map_or(true, |r| r.is_err())
        {
            counters.errors.fetch_add(1, Ordering::Relaxed);
            return;
        }
        tokio::time::sleep(Duration::from_millis(200 + spread.next(800))).await;
    }
}

async fn churn(
    target: String,
    ca: Option<std::path::PathBuf>,
    until: Instant,
    counters: Arc<Counters>,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    while Instant::now() < until {
        tick.tick().await;
        let once = async {
            let mut conn = session(&target, ca.as_ref()).await?;
            conn.command(1, 4096).await?;
            conn.drain(4096).await?;
            Ok::<(), Error>(())
        };
        match tokio::time::timeout(Duration::from_secs(10), once).await {
            Ok(Ok(())) => counters.connects.fetch_add(1, Ordering::Relaxed),
            _ => counters.errors.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// Runs the soak and returns its samples.
pub(crate) async fn soak(target: &str, options: &Options) -> Result<serde_json::Value, Error> {
    let pid = options.pid.ok_or("soak needs --pid")?;
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(options.seconds);
    let counters = Arc::new(Counters::default());
    let mut tasks = Vec::new();
    for index in 0..options.sessions as u64 {
        tasks.push(tokio::spawn(viewer(
            target.to_owned(),
            options.ca.clone(),
            index,
            until,
            counters.clone(),
        )));
        // Opened gradually, as a fleet's sessions are.
        if index % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    tasks.push(tokio::spawn(churn(
        target.to_owned(),
        options.ca.clone(),
        until,
        counters.clone(),
    )));
    let every = Duration::from_secs_f64(options.sample.max(1.0));
    let mut samples = Vec::new();
    let mut last_bytes = 0;
    let mut last_connects = 0;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    while Instant::now() < until {
        tick.tick().await;
        let mut trips = std::mem::take(
            &mut *counters
                .round_trips
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        trips.sort_unstable();
        let p99 = trips
            .get((trips.len().saturating_sub(1) * 99) / 100)
            .copied()
            .unwrap_or(0);
        let bytes = counters.bytes.load(Ordering::Relaxed);
        let connects = counters.connects.load(Ordering::Relaxed);
        samples.push(serde_json::json!({
            "t": started.elapsed().as_secs_f64().round(),
            "rss_kib": rss_tree(pid),
            "fds": descriptors(pid),
            "p99_us": p99,
            "round_trips": trips.len(),
            "mb_per_s": (bytes - last_bytes) as f64 / every.as_secs_f64() / 1e6,
            "connects_per_s": (connects - last_connects) as f64 / every.as_secs_f64(),
        }));
        last_bytes = bytes;
        last_connects = connects;
    }
    for task in tasks {
        let _ = task.await;
    }
    Ok(serde_json::json!({
        "sessions": options.sessions,
        "errors": counters.errors.load(Ordering::Relaxed),
        "samples": samples,
    }))
}

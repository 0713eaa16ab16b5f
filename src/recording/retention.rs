//! Retention: recordings older than `recording_max_age_days` are deleted, then the oldest
//! while the directory holds more than `recording_max_total_bytes`. A recording still being
//! written is never deleted. Each deletion is handed back for the audit trail.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// The recordings being written now, which retention leaves alone.
#[derive(Debug, Default)]
pub struct Live(Mutex<HashSet<PathBuf>>);

impl Live {
    pub(super) fn add(&self, path: &Path) {
        if let Ok(mut live) = self.0.lock() {
            live.insert(path.to_path_buf());
        }
    }

    pub(super) fn remove(&self, path: &Path) {
        if let Ok(mut live) = self.0.lock() {
            live.remove(path);
        }
    }

    fn holds(&self, path: &Path) -> bool {
        self.0.lock().is_ok_and(|live| live.contains(path))
    }
}

/// The limits, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    /// Older recordings are deleted.
    pub max_age: Option<Duration>,
    /// The oldest are deleted past this total.
    pub max_total_bytes: Option<u64>,
}

/// A recording retention deleted, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    /// The file.
    pub path: PathBuf,
    /// Its size.
    pub size: u64,
    /// `recording_max_age_days` or `recording_max_total_bytes`.
    pub rule: &'static str,
}

fn is_recording(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    [".vncrec", ".cast", ".vncrec.age", ".cast.age"]
        .iter()
        .any(|end| name.ends_with(end))
}

/// Applies `limits` to the recordings of `dir` at `now`, oldest first.
///
/// # Errors
/// The directory cannot be read (a missing one holds nothing).
pub fn sweep(
    dir: &Path,
    limits: Limits,
    live: &Live,
    now: SystemTime,
) -> std::io::Result<Vec<Deleted>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut files: Vec<(SystemTime, PathBuf, u64)> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| is_recording(path))
        .filter_map(|path| {
            let meta = std::fs::metadata(&path).ok()?;
            Some((meta.modified().ok()?, path, meta.len()))
        })
        .collect();
    files.sort();
    let mut total: u64 = files.iter().map(|(_, _, size)| size).sum();
    let mut deleted = Vec::new();
    for (modified, path, size) in files {
        if live.holds(&path) {
            continue;
        }
        let too_old = limits
            .max_age
            .is_some_and(|age| now.duration_since(modified).unwrap_or_default() > age);
        let too_much = limits.max_total_bytes.is_some_and(|max| total > max);
        let rule = match (too_old, too_much) {
            (true, _) => "recording_max_age_days",
            (false, true) => "recording_max_total_bytes",
            (false, false) => continue,
        };
        if std::fs::remove_file(&path).is_ok() {
            total = total.saturating_sub(size);
            deleted.push(Deleted { path, size, rule });
        }
    }
    Ok(deleted)
}

/// How often retention runs.
pub const PERIOD: Duration = Duration::from_secs(60);

/// Sweeps now and every [`PERIOD`] until `stop`; `deleted` hears of each deletion.
pub async fn run(
    dir: PathBuf,
    limits: Limits,
    live: Arc<Live>,
    deleted: impl Fn(Deleted) + Send + 'static,
    stop: tokio_util::sync::CancellationToken,
) {
    if limits == Limits::default() {
        return;
    }
    let mut tick = tokio::time::interval(PERIOD);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => return,
        }
        let (dir, live) = (dir.clone(), live.clone());
        let swept =
            tokio::task::spawn_blocking(move || sweep(&dir, limits, &live, SystemTime::now()))
                .await;
        match swept {
            Ok(Ok(files)) => files.into_iter().for_each(&deleted),
            Ok(Err(error)) => {
                tracing::warn!(%error, "recording retention could not read the directory")
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{sweep, Limits, Live};
    use std::time::{Duration, SystemTime};

    #[test]
    fn the_oldest_go_first_and_a_live_one_stays() {
        let dir = tempfile::tempdir().expect("tempdir");
        let now = SystemTime::now();
        let day = Duration::from_secs(86_400);
        let mut paths = Vec::new();
        for (name, days) in [
            ("a.vncrec.age", 10),
            ("b.cast", 5),
            ("c.vncrec", 1),
            ("notes.txt", 30),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, vec![0u8; 100]).expect("write");
            let file = std::fs::File::options()
                .write(true)
                .open(&path)
                .expect("open");
            file.set_modified(now - day * days).expect("mtime");
            paths.push(path);
        }
        let live = Live::default();
        live.add(&paths[1]);
        let limits = Limits {
            max_age: Some(day * 7),
            max_total_bytes: Some(150),
        };
        let deleted = sweep(dir.path(), limits, &live, now).expect("sweep");
        let names: Vec<(&str, &str)> = deleted
            .iter()
            .map(|d| {
                (
                    d.path.file_name().and_then(|n| n.to_str()).unwrap_or(""),
                    d.rule,
                )
            })
            .collect();
        // a: too old; b: live, kept; c: the total (b + c = 200) is still over 150.
        assert_eq!(
            names,
            [
                ("a.vncrec.age", "recording_max_age_days"),
                ("c.vncrec", "recording_max_total_bytes")
            ]
        );
        assert!(paths[1].exists() && paths[3].exists());
    }
}

//! Token files in websockify's format: `token: host:port` a line, read from one file or every
//! file of a directory, reloaded when a file changes so that tokens can be added while running.

use crate::chain::chain;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::grant::Grant;
use super::line::parse_line;
use super::secret::TokenHash;

/// A file or directory of token files.
#[derive(Debug, Clone)]
pub struct FileSource {
    path: PathBuf,
    cache: Arc<Mutex<Cache>>,
    /// One scan at a time: lookups that miss together share the next scan.
    scanning: Arc<tokio::sync::Mutex<()>>,
}

/// Parsed entries and the file stamps they were parsed from.
#[derive(Debug, Default)]
struct Cache {
    stamps: Stamps,
    entries: HashMap<TokenHash, Grant>,
    /// When the files were last looked at.
    checked: Option<std::time::Instant>,
    /// How many times they were looked at.
    scans: u64,
}

/// How long the cache is trusted without looking at the files again, and the least time between
/// two looks, however many lookups miss: a flood of unknown tokens costs at most four directory
/// scans a second. A token the cache does not know waits for the next look (at most this long),
/// so new tokens work at once; a token taken out of a file may be accepted for this long after.
const RECHECK: std::time::Duration = std::time::Duration::from_millis(250);

impl FileSource {
    /// A source reading `path` (a file, or every regular file directly in a directory).
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            cache: Arc::default(),
            scanning: Arc::default(),
        }
    }

    /// The grant for a token hash, re-reading the files if any changed.
    pub async fn lookup(&self, hash: &TokenHash) -> Option<Grant> {
        if let Some(grant) = self.cached(hash) {
            return Some(grant);
        }
        let asked = std::time::Instant::now();
        let _turn = self.scanning.lock().await;
        let last = self.lock().checked;
        match last {
            // Someone looked at the files since this lookup began: their answer stands.
            Some(at) if at >= asked => return self.in_cache(hash),
            Some(at) if at.elapsed() < RECHECK => {
                tokio::time::sleep_until((at + RECHECK).into()).await;
            }
            _ => {}
        }
        let source = self.clone();
        // File reads block; keep them off the reactor threads.
        tokio::task::spawn_blocking(move || source.scan())
            .await
            .ok()?;
        self.in_cache(hash)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        // A poisoned lock only means a panic elsewhere mid-reload; the data stays whole.
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The grant from memory, if the files were looked at within [`RECHECK`].
    fn cached(&self, hash: &TokenHash) -> Option<Grant> {
        let fresh = self.lock().checked.is_some_and(|at| at.elapsed() < RECHECK);
        if fresh {
            self.in_cache(hash)
        } else {
            None
        }
    }

    fn in_cache(&self, hash: &TokenHash) -> Option<Grant> {
        // The map is keyed by hash; the final check is constant-time all the same.
        self.lock()
            .entries
            .get_key_value(hash)
            .filter(|(key, _)| key.matches(hash))
            .map(|(_, grant)| grant.clone())
    }

    /// Looks at the files and reloads them if any changed. A failed read (out of descriptors,
    /// say) keeps the tokens known so far: every valid token refused is worse than a token
    /// removed a moment late.
    fn scan(&self) {
        let loaded = stamps(&self.path).and_then(|stamps| {
            if self.lock().stamps == stamps {
                return Ok(None);
            }
            load(&stamps).map(|entries| Some((stamps, entries)))
        });
        let mut cache = self.lock();
        match loaded {
            Ok(Some((stamps, entries))) => {
                cache.entries = entries;
                cache.stamps = stamps;
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(path = %self.path.display(), error = %chain(&error), "token files unreadable; the tokens known so far stay valid");
            }
        }
        cache.checked = Some(std::time::Instant::now());
        cache.scans += 1;
    }

    /// The entries with a `label=`, by label, the files read again if they changed.
    pub async fn labelled(&self) -> Vec<(String, Grant)> {
        let source = self.clone();
        // File reads block; keep them off the reactor threads.
        let _ = tokio::task::spawn_blocking(move || source.scan()).await;
        let mut labelled: Vec<(String, Grant)> = self
            .lock()
            .entries
            .values()
            .filter_map(|grant| Some((grant.label.clone()?, grant.clone())))
            .collect();
        labelled.sort_by(|a, b| a.0.cmp(&b.0));
        labelled
    }

    /// How many times the files were looked at.
    pub fn scans(&self) -> u64 {
        self.lock().scans
    }

    /// Parses every file now and reports each bad line, for `check-config` and start-up.
    pub fn check(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let found = match stamps(&self.path) {
            Ok(found) => found,
            Err(error) => return vec![format!("{}: cannot read: {error}", self.path.display())],
        };
        for (path, _, _) in found {
            match std::fs::read_to_string(&path) {
                Err(error) => problems.push(format!("{}: cannot read: {error}", path.display())),
                Ok(text) => {
                    for (number, line) in text.lines().enumerate() {
                        if let Err(error) = parse_line(line) {
                            problems.push(format!("{}:{}: {error}", path.display(), number + 1));
                        }
                    }
                }
            }
        }
        problems
    }
}

type Stamps = Vec<(PathBuf, Option<SystemTime>, u64)>;

/// The token files of `path` (the file itself, or the regular files directly in the
/// directory), by name. A path that does not exist has none.
///
/// # Errors
/// Any other failure to read the directory.
fn files_of(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path)? {
        let file = entry?.path();
        if file.is_file() {
            files.push(file);
        }
    }
    files.sort();
    Ok(files)
}

fn stamps(path: &Path) -> std::io::Result<Stamps> {
    files_of(path)?
        .into_iter()
        .map(|file| match std::fs::metadata(&file) {
            Ok(meta) => Ok((file, meta.modified().ok(), meta.len())),
            // Removed since the directory was read: gone, like its tokens.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok((file, None, 0)),
            Err(error) => Err(error),
        })
        .collect()
}

fn load(stamps: &Stamps) -> std::io::Result<HashMap<TokenHash, Grant>> {
    let mut entries = HashMap::new();
    for (path, _, _) in stamps {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) if error.kind() == std::io::ErrorKind::InvalidData => {
                tracing::warn!(file = %path.display(), "token file is not UTF-8; skipped");
                continue;
            }
            Err(error) => return Err(error),
        };
        for (number, line) in text.lines().enumerate() {
            match parse_line(line) {
                Ok(Some((token, grant))) => {
                    entries.insert(TokenHash::of(&token), grant);
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(
                    file = %path.display(), line = number + 1, error = %chain(&error), "token file line skipped"
                ),
            }
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    impl FileSource {
        /// A look at the files now, whatever the cache says.
        fn lookup_blocking(&self, hash: &TokenHash) -> Option<Grant> {
            self.scan();
            self.in_cache(hash)
        }
    }

    fn source_with(line: &str) -> (tempfile::TempDir, PathBuf, FileSource) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let tokens = dir.path().join("tokens.d");
        std::fs::create_dir(&tokens).unwrap_or_else(|e| panic!("mkdir: {e}"));
        std::fs::write(tokens.join("a"), line).unwrap_or_else(|e| panic!("write: {e}"));
        let source = FileSource::new(tokens.clone());
        (dir, tokens, source)
    }

    #[tokio::test]
    async fn a_flood_of_unknown_tokens_scans_at_most_every_250_ms() {
        let (_dir, _, source) = source_with("known: 127.0.0.1:5900\n");
        assert!(source.lookup(&TokenHash::of("known")).await.is_some());
        let started = std::time::Instant::now();
        let misses = (0..200).map(|n| {
            let source = source.clone();
            async move { source.lookup(&TokenHash::of(&format!("guess{n}"))).await }
        });
        let found = futures_util::future::join_all(misses).await;
        assert!(found.iter().all(Option::is_none));
        let elapsed = started.elapsed().as_millis() as u64;
        // One scan for the first lookup, then at most one per 250 ms window that passed.
        let allowed = 2 + elapsed / 250;
        assert!(
            source.scans() <= allowed,
            "{} scans in {elapsed} ms for 200 misses",
            source.scans()
        );
    }

    #[tokio::test]
    async fn a_token_added_while_running_works_without_waiting_for_a_miss_window() {
        let (_dir, tokens, source) = source_with("first: 127.0.0.1:5900\n");
        assert!(source.lookup(&TokenHash::of("second")).await.is_none());
        std::fs::write(tokens.join("b"), "second: 127.0.0.1:5901\n")
            .unwrap_or_else(|e| panic!("write: {e}"));
        assert!(source.lookup(&TokenHash::of("second")).await.is_some());
    }

    #[tokio::test]
    async fn a_failed_directory_read_keeps_the_tokens_known() {
        let (dir, tokens, source) = source_with("kept: 127.0.0.1:5900\n");
        assert!(source.lookup(&TokenHash::of("kept")).await.is_some());
        // A symbolic link to itself: reading it fails with ELOOP, which root cannot bypass as
        // it can a permission (the stand-in for EMFILE, which a test cannot cause alone).
        std::fs::rename(&tokens, dir.path().join("elsewhere")).unwrap_or_else(|e| panic!("{e}"));
        std::os::unix::fs::symlink(&tokens, &tokens).unwrap_or_else(|e| panic!("{e}"));
        tokio::time::sleep(RECHECK * 2).await;
        assert!(
            source.lookup(&TokenHash::of("kept")).await.is_some(),
            "a read error emptied the token map"
        );
        // A directory that is gone is no error: its tokens go with it.
        std::fs::remove_file(&tokens).unwrap_or_else(|e| panic!("{e}"));
        tokio::time::sleep(RECHECK * 2).await;
        assert!(source.lookup(&TokenHash::of("kept")).await.is_none());
    }

    #[test]
    fn reloads_a_changed_directory() {
        let dir = tempfile::tempdir().map_err(|e| e.to_string());
        let dir = match dir {
            Ok(dir) => dir,
            Err(error) => panic!("{error}"),
        };
        let write = |name: &str, text: &str| {
            std::fs::write(dir.path().join(name), text).map_err(|e| e.to_string())
        };
        assert_eq!(write("a", "one: h:1\nbroken\n"), Ok(()));
        let source = FileSource::new(dir.path().to_path_buf());
        assert!(source.lookup_blocking(&TokenHash::of("one")).is_some());
        assert!(source.lookup_blocking(&TokenHash::of("two")).is_none());
        assert_eq!(write("b", "two: h:2\n"), Ok(()));
        assert_eq!(
            source
                .lookup_blocking(&TokenHash::of("two"))
                .map(|g| g.target.port),
            Some(2)
        );
        assert_eq!(source.check().len(), 1);
    }
}

//! Token files in websockify's format: `token: host:port` a line, read from one file or every
//! file of a directory, reloaded when a file changes so that tokens can be added while running.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::grant::Grant;
use super::secret::TokenHash;
use crate::console::{ConsoleKind, Secret, Target};

/// Why a line of a token file was skipped. Never holds the line, which holds a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// No `:` between token and target.
    #[error("expected 'token: host:port'")]
    NoSeparator,
    /// The target is not `host:port` or `[v6]:port`.
    #[error("target is not host:port or [ipv6]:port")]
    BadTarget,
    /// An attribute after the target is unknown or malformed.
    #[error("unknown or malformed attribute (known: expires=UNIX_SECONDS, password=TEXT)")]
    BadAttribute,
}

/// Parses one line: `None` for blank lines and comments.
///
/// Beyond websockify's `token: host:port`, vncgate reads optional attributes after the target:
/// `expires=UNIX_SECONDS` and `password=TEXT` (for the `vnc` scheme).
///
/// # Errors
/// A line that is neither blank, a comment, nor a valid entry.
pub fn parse_line(line: &str) -> Result<Option<(String, Grant)>, LineError> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (token, rest) = line.split_once(':').ok_or(LineError::NoSeparator)?;
    let token = token.trim();
    let mut words = rest.split_whitespace();
    let target = parse_target(words.next().ok_or(LineError::BadTarget)?)?;
    if token.is_empty() {
        return Err(LineError::NoSeparator);
    }
    let mut grant = Grant {
        kind: ConsoleKind::Novnc,
        target,
        expires: None,
        password: None,
    };
    for word in words {
        match word.split_once('=') {
            Some(("expires", seconds)) => {
                let seconds: u64 = seconds.parse().map_err(|_| LineError::BadAttribute)?;
                // A time past what the clock can hold is a typo, not a token that never expires.
                let at = UNIX_EPOCH.checked_add(Duration::from_secs(seconds));
                grant.expires = Some(at.ok_or(LineError::BadAttribute)?);
            }
            Some(("password", password)) if !password.is_empty() => {
                grant.password = Some(Secret::new(password));
            }
            _ => return Err(LineError::BadAttribute),
        }
    }
    Ok(Some((token.to_owned(), grant)))
}

fn parse_target(text: &str) -> Result<Target, LineError> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, port) = rest.split_once("]:").ok_or(LineError::BadTarget)?;
        (host, port)
    } else {
        let (host, port) = text.rsplit_once(':').ok_or(LineError::BadTarget)?;
        if host.contains(':') {
            return Err(LineError::BadTarget);
        }
        (host, port)
    };
    let port = port.parse::<u16>().map_err(|_| LineError::BadTarget)?;
    if host.is_empty() || port == 0 {
        return Err(LineError::BadTarget);
    }
    Ok(Target {
        host: host.to_owned(),
        port,
    })
}

/// A file or directory of token files.
#[derive(Debug, Clone)]
pub struct FileSource {
    path: PathBuf,
    cache: Arc<Mutex<Cache>>,
}

/// Parsed entries and the file stamps they were parsed from.
#[derive(Debug, Default)]
struct Cache {
    stamps: Vec<(PathBuf, Option<SystemTime>, u64)>,
    entries: HashMap<TokenHash, Grant>,
    /// When the files were last looked at.
    checked: Option<std::time::Instant>,
}

/// How long a token found in the cache is trusted without looking at the files again. A token
/// the cache does not know always makes vncgate look, so new tokens work at once; a token taken
/// out of a file may be accepted for this long after.
const RECHECK: std::time::Duration = std::time::Duration::from_millis(250);

impl FileSource {
    /// A source reading `path` (a file, or every regular file directly in a directory).
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            cache: Arc::default(),
        }
    }

    /// The grant for a token hash, re-reading the files if any changed.
    pub async fn lookup(&self, hash: &TokenHash) -> Option<Grant> {
        if let Some(grant) = self.cached(hash) {
            return Some(grant);
        }
        let source = self.clone();
        let hash = *hash;
        // File reads block; keep them off the reactor threads.
        tokio::task::spawn_blocking(move || source.lookup_blocking(&hash))
            .await
            .ok()
            .flatten()
    }

    /// The grant from memory, if the files were looked at within [`RECHECK`].
    fn cached(&self, hash: &TokenHash) -> Option<Grant> {
        let cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let fresh = cache.checked.is_some_and(|at| at.elapsed() < RECHECK);
        if !fresh {
            return None;
        }
        cache
            .entries
            .get_key_value(hash)
            .filter(|(key, _)| key.matches(hash))
            .map(|(_, grant)| grant.clone())
    }

    fn lookup_blocking(&self, hash: &TokenHash) -> Option<Grant> {
        let stamps = stamps(&self.path);
        // A poisoned lock only means a panic elsewhere mid-reload; the data is rebuilt below.
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.stamps != stamps {
            cache.entries = load(&stamps);
            cache.stamps = stamps;
        }
        cache.checked = Some(std::time::Instant::now());
        // The map is keyed by hash; the final check is constant-time all the same.
        cache
            .entries
            .get_key_value(hash)
            .filter(|(key, _)| key.matches(hash))
            .map(|(_, g)| g.clone())
    }

    /// Parses every file now and reports each bad line, for `check-config` and start-up.
    pub fn check(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (path, _, _) in stamps(&self.path) {
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

fn files_of(path: &Path) -> Vec<PathBuf> {
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|entry| entry.path())
                    .filter(|path| path.is_file())
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    }
}

fn stamps(path: &Path) -> Vec<(PathBuf, Option<SystemTime>, u64)> {
    files_of(path)
        .into_iter()
        .map(|file| {
            let meta = std::fs::metadata(&file).ok();
            let modified = meta.as_ref().and_then(|m| m.modified().ok());
            let len = meta.map_or(0, |m| m.len());
            (file, modified, len)
        })
        .collect()
}

fn load(stamps: &[(PathBuf, Option<SystemTime>, u64)]) -> HashMap<TokenHash, Grant> {
    let mut entries = HashMap::new();
    for (path, _, _) in stamps {
        let Ok(text) = std::fs::read_to_string(path) else {
            tracing::warn!(file = %path.display(), "token file unreadable");
            continue;
        };
        for (number, line) in text.lines().enumerate() {
            match parse_line(line) {
                Ok(Some((token, grant))) => {
                    entries.insert(TokenHash::of(&token), grant);
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(
                    file = %path.display(), line = number + 1, %error, "token file line skipped"
                ),
            }
        }
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(line: &str) -> (String, Grant) {
        match parse_line(line) {
            Ok(Some(entry)) => entry,
            other => panic!("{line:?}: {other:?}"),
        }
    }

    #[test]
    fn websockify_forms() {
        let (token, grant) = entry("abc: 127.0.0.1:5901");
        assert_eq!(token, "abc");
        assert_eq!(
            grant.target,
            Target {
                host: "127.0.0.1".into(),
                port: 5901
            }
        );
        let (_, grant) = entry("  abc :host.example:5900  ");
        assert_eq!(grant.target.host, "host.example");
        let (_, grant) = entry("v6: [::1]:5901");
        assert_eq!(
            grant.target,
            Target {
                host: "::1".into(),
                port: 5901
            }
        );
        assert_eq!(grant.target.to_string(), "[::1]:5901");
    }

    #[test]
    fn attributes() {
        let (_, grant) = entry("t: h:1 expires=100 password=secret");
        assert_eq!(grant.expires, Some(UNIX_EPOCH + Duration::from_secs(100)));
        assert_eq!(grant.password.as_ref().map(Secret::expose), Some("secret"));
        assert!(!grant.is_live(SystemTime::now()));
    }

    #[test]
    fn blanks_and_comments() {
        for line in ["", "   ", "# t: h:1", "  # comment"] {
            assert!(matches!(parse_line(line), Ok(None)), "{line:?}");
        }
    }

    #[test]
    fn bad_lines() {
        let cases = [
            ("no separator here", LineError::NoSeparator),
            ("t: host", LineError::BadTarget),
            ("t: host:port", LineError::BadTarget),
            ("t: host:70000", LineError::BadTarget),
            ("t: ::1:5900", LineError::BadTarget),
            ("t: [::1]5900", LineError::BadTarget),
            ("t: h:1 expires=soon", LineError::BadAttribute),
            ("t: h:1 colour=red", LineError::BadAttribute),
            // Found by fuzzing: past what SystemTime can hold.
            (
                "t: h:1 expires=0012196084483812869916",
                LineError::BadAttribute,
            ),
            (": h:1", LineError::NoSeparator),
        ];
        for (line, expected) in cases {
            assert_eq!(parse_line(line).err(), Some(expected), "{line:?}");
        }
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

//! Who signed in, as the browser's session cookie holds it, and a sign-in under way, as its
//! login cookie holds it. Both are sealed (`seal.rs`); each carries its own end.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Groups kept at most, and the longest group name: the cookie must stay under browsers'
/// 4 KiB.
const MAX_GROUPS: usize = 64;
const MAX_GROUP_LEN: usize = 128;

/// A signed-in person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The provider's subject identifier.
    pub sub: String,
    /// Their e-mail address, when the provider gives one.
    pub email: Option<String>,
    /// Their groups (`groups_claim`).
    pub groups: Vec<String>,
    /// When the browser session ends, seconds since the epoch.
    pub until: u64,
}

impl Identity {
    /// Whether it is still valid at `now`.
    pub fn valid_at(&self, now: SystemTime) -> bool {
        seconds(now) < self.until
    }

    /// Groups as kept in the cookie: at most 64, each at most 128 bytes (longer ones are left
    /// out rather than cut, so that no group is matched by a prefix).
    pub(super) fn keep_groups(groups: impl IntoIterator<Item = String>) -> Vec<String> {
        groups
            .into_iter()
            .filter(|group| !group.is_empty() && group.len() <= MAX_GROUP_LEN)
            .take(MAX_GROUPS)
            .collect()
    }
}

/// A sign-in under way: what the callback checks the provider's answer against.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Pending {
    /// The `state` sent, for CSRF.
    pub state: String,
    /// The `nonce` sent, checked in the ID token.
    pub nonce: String,
    /// The PKCE verifier.
    pub verifier: String,
    /// The page to land on afterwards (a path on this proxy).
    pub next: String,
    /// When it stops being accepted, seconds since the epoch.
    pub until: u64,
}

/// Seconds since the epoch.
pub(super) fn seconds(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

/// A place on this proxy to land on after sign-in: a local absolute path, or a path on one of
/// `origins` (this proxy's other ports, such as the serial page's), never another site
/// (`//host`, `/\\host`, another scheme or origin), so that sign-in cannot redirect away;
/// `/consoles` otherwise.
pub(super) fn local_path(next: Option<&str>, origins: &[String]) -> String {
    let local = |path: &str| {
        path.starts_with('/')
            && !path.starts_with("//")
            && !path.starts_with("/\\")
            && !path.contains(|c: char| c.is_control())
            && path.len() <= 2048
    };
    match next {
        Some(path) if local(path) => path.to_owned(),
        Some(url)
            if origins
                .iter()
                .any(|origin| url.strip_prefix(origin.as_str()).is_some_and(local)) =>
        {
            url.to_owned()
        }
        _ => "/consoles".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_landed_on() {
        let serial = ["https://console.example.org:6083".to_owned()];
        assert_eq!(
            local_path(Some("/console.html?path=x"), &serial),
            "/console.html?path=x"
        );
        assert_eq!(
            local_path(
                Some("https://console.example.org:6083/serial.html?path=x"),
                &serial
            ),
            "https://console.example.org:6083/serial.html?path=x"
        );
        for away in [
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "https://console.example.org:6083.evil.example/",
            "https://console.example.org:6083//evil.example/",
            "https://console.example.org:6083@evil.example/",
            "https://console.example.org:60831/",
            "evil",
            "/a\nb",
        ] {
            assert_eq!(local_path(Some(away), &serial), "/consoles", "{away:?}");
        }
        assert_eq!(local_path(None, &serial), "/consoles");
    }

    #[test]
    fn groups_are_bounded() {
        let many = (0..100).map(|i| format!("g{i}"));
        assert_eq!(Identity::keep_groups(many).len(), 64);
        let long = vec!["x".repeat(129), "ops".into()];
        assert_eq!(Identity::keep_groups(long), vec!["ops".to_owned()]);
    }
}

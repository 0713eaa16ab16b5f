//! Tokens as file names, as websockify's `TokenFileName` reads them: a directory where each
//! file is named by a token and holds `host:port`. The portal writes one file per console and
//! removes it to stop new sessions. A socket named by a token is that console's Unix socket, as
//! websockify's `UnixDomainSocketDirectory` reads one.

use std::os::unix::fs::FileTypeExt;
use std::path::PathBuf;

use super::grant::Grant;
use super::secret::Token;
use crate::console::Target;

/// The largest file read: one `host:port` line.
const MAX_FILE: u64 = 1024;

/// The directory of token-named files.
#[derive(Debug, Clone)]
pub struct NamesSource {
    dir: PathBuf,
}

impl NamesSource {
    /// The source on `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The grant of `token`, if a regular file of that name holds a target. A token that could
    /// name anything but a file in the directory (a path separator, a leading dot, `..`) names
    /// nothing, and neither does a symbolic link.
    pub async fn lookup(&self, token: &Token) -> Option<Grant> {
        let name = token.expose();
        let plain = name.len() <= 255
            && !name.starts_with('.')
            && name.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'=' | b'+')
            });
        if !plain {
            return None;
        }
        let path = self.dir.join(name);
        let meta = tokio::fs::symlink_metadata(&path).await.ok()?;
        // A socket named by the token is the console itself (websockify's
        // UnixDomainSocketDirectory); it is confined to unix_socket_dirs when it is reached.
        if meta.file_type().is_socket() {
            return Some(Grant::direct(Target::unix(&path)));
        }
        if !meta.is_file() || meta.len() > MAX_FILE {
            return None;
        }
        let text = tokio::fs::read_to_string(&path).await.ok()?;
        Some(Grant::direct(Target::parse(&text)?))
    }
}

#[cfg(test)]
mod tests {
    use super::NamesSource;
    use crate::token::Token;

    #[tokio::test]
    async fn a_file_named_by_the_token_and_nothing_outside_the_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let names = dir.path().join("tokens");
        std::fs::create_dir(&names).expect("dir");
        std::fs::write(names.join("abc123"), "10.0.0.9:5909\n").expect("token");
        std::fs::write(dir.path().join("outside"), "10.0.0.1:5900").expect("outside");
        std::os::unix::fs::symlink(dir.path().join("outside"), names.join("linked")).expect("link");
        std::fs::write(names.join("junk"), "no target").expect("junk");
        let source = NamesSource::new(names);
        let token = |text: &str| Token::new(text).expect("token");
        let grant = source.lookup(&token("abc123")).await.expect("grant");
        assert_eq!(
            (grant.target.host.as_str(), grant.target.port),
            ("10.0.0.9", 5909)
        );
        for refused in ["../outside", "linked", "junk", ".hidden", "nothing", "a/b"] {
            assert!(source.lookup(&token(refused)).await.is_none(), "{refused}");
        }
    }
}

//! The Unix socket transport: a console server on this host behind a socket (QEMU's
//! `-vnc unix:PATH`, a serial chardev `path=`), as websockify's `--unix-target` and
//! `UnixDomainSocketDirectory` reach it. A token may only name sockets inside
//! `[vncgate] unix_socket_dirs`: the path must be absolute and free of `..`, and the socket it
//! names, symbolic links resolved, must still lie inside one of those directories (resolved
//! too) and be a socket. websockify's `UnixDomainSocketDirectory` compares text prefixes and
//! follows links unchecked, so that a token `../sockets-old/x.sock` reaches a sibling directory
//! whose name begins with its directory's, and a link inside reaches anywhere; here the
//! comparison is of resolved paths, component by component.

use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use tokio::net::UnixStream;

/// Why a Unix socket target is not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Confinement {
    /// `unix_socket_dirs` is empty.
    #[error("Unix socket targets are not enabled (set [vncgate] unix_socket_dirs)")]
    Disabled,
    /// A relative path, or one with `..`.
    #[error("{0} is not an absolute path without '..'")]
    NotPlain(String),
    /// Outside every `unix_socket_dirs` entry, before or after resolving links.
    #[error("{0} is outside unix_socket_dirs")]
    Outside(String),
    /// Not a socket.
    #[error("{0} is not a socket")]
    NotSocket(String),
}

/// Where `path` leads, if a token may name it: the resolved socket path.
///
/// # Errors
/// `Ok(Err(io))` when the path cannot be resolved (no such socket: the console is not running),
/// which is a connection failure rather than a refusal; `Err` for a path the token may not name.
pub fn confine(path: &Path, dirs: &[PathBuf]) -> Result<io::Result<PathBuf>, Confinement> {
    let shown = || crate::console::printable(&path.display().to_string());
    if dirs.is_empty() {
        return Err(Confinement::Disabled);
    }
    let plain = path.is_absolute()
        && path
            .components()
            .all(|part| !matches!(part, Component::ParentDir | Component::CurDir));
    if !plain {
        return Err(Confinement::NotPlain(shown()));
    }
    if !dirs.iter().any(|dir| path.starts_with(dir)) {
        return Err(Confinement::Outside(shown()));
    }
    let resolved = match std::fs::canonicalize(path) {
        Ok(resolved) => resolved,
        Err(error) => return Ok(Err(error)),
    };
    let inside = dirs.iter().any(|dir| {
        std::fs::canonicalize(dir).is_ok_and(|dir| resolved.starts_with(&dir) && resolved != dir)
    });
    if !inside {
        return Err(Confinement::Outside(shown()));
    }
    match std::fs::metadata(&resolved) {
        Ok(meta) if meta.file_type().is_socket() => Ok(Ok(resolved)),
        Ok(_) => Err(Confinement::NotSocket(shown())),
        Err(error) => Ok(Err(error)),
    }
}

/// Connects to the socket at `path` (already confined) within `timeout`.
///
/// # Errors
/// Refused, missing or timed out.
pub async fn connect(path: &Path, timeout: Duration) -> io::Result<UnixStream> {
    match tokio::time::timeout(timeout, UnixStream::connect(path)).await {
        Ok(result) => result,
        Err(_) => Err(io::ErrorKind::TimedOut.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_inside_the_directories_that_are_sockets() {
        let work = tempfile::tempdir().expect("tempdir");
        let dir = work.path().join("sockets");
        std::fs::create_dir(&dir).expect("dir");
        let socket = dir.join("vm1.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
        let outside = work.path().join("outside.sock");
        let _other = std::os::unix::net::UnixListener::bind(&outside).expect("bind");
        std::os::unix::fs::symlink(&outside, dir.join("link.sock")).expect("symlink");
        std::fs::write(dir.join("file"), "x").expect("file");
        let dirs = [dir.clone()];

        let found = confine(&socket, &dirs).expect("allowed").expect("resolved");
        assert_eq!(found, std::fs::canonicalize(&socket).expect("canonical"));
        assert!(matches!(confine(&socket, &[]), Err(Confinement::Disabled)));
        assert!(matches!(
            confine(&dir.join("../outside.sock"), &dirs),
            Err(Confinement::NotPlain(_))
        ));
        assert!(matches!(
            confine(Path::new("vm1.sock"), &dirs),
            Err(Confinement::NotPlain(_))
        ));
        assert!(matches!(
            confine(&outside, &dirs),
            Err(Confinement::Outside(_))
        ));
        assert!(
            matches!(
                confine(&dir.join("link.sock"), &dirs),
                Err(Confinement::Outside(_))
            ),
            "a link out of the directory"
        );
        assert!(matches!(
            confine(&dir.join("file"), &dirs),
            Err(Confinement::NotSocket(_))
        ));
        // A sibling whose name starts with the directory's is not inside it.
        let sibling = work.path().join("sockets-other");
        std::fs::create_dir(&sibling).expect("dir");
        assert!(matches!(
            confine(&sibling.join("x.sock"), &dirs),
            Err(Confinement::Outside(_))
        ));
        assert!(
            matches!(confine(&dir.join("gone.sock"), &dirs), Ok(Err(_))),
            "a missing socket is a connection failure"
        );
    }
}

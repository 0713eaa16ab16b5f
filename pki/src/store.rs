//! Writing PEM files: keys 0600, directories 0700, each file through a temporary file and a
//! rename so that a crash never leaves half a key, and nothing overwritten without `force`.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::PkiError;

/// Whether a file is secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A private key: 0600.
    Secret,
    /// A certificate: 0644.
    Public,
}

/// A file to write.
#[derive(Debug)]
pub struct Planned {
    /// Where.
    pub path: PathBuf,
    /// What.
    pub contents: String,
    /// Its permissions.
    pub mode: Mode,
}

/// Writes every planned file, or none: if any exists and `force` is off, nothing is written.
///
/// # Errors
/// Existing files without `force`, or an I/O error (files written before it stay, complete).
pub fn write_all(files: &[Planned], force: bool) -> Result<(), PkiError> {
    if !force {
        let existing: Vec<PathBuf> = files
            .iter()
            .filter(|file| file.path.exists())
            .map(|file| file.path.clone())
            .collect();
        if !existing.is_empty() {
            return Err(PkiError::Exists(existing));
        }
    }
    for file in files {
        write_one(file)?;
    }
    Ok(())
}

/// Refuses to write keys under `dir` when it is a symbolic link (the keys would land wherever
/// it points), writable by other users (they could swap files in), or owned by another user.
/// A directory that does not exist yet is made 0700 and is safe.
///
/// # Errors
/// [`PkiError::UnsafeDir`] with the reason.
pub fn check_dir_trust(dir: &Path) -> Result<(), PkiError> {
    use std::os::unix::fs::MetadataExt;
    let unsafe_dir = |reason: &str| PkiError::UnsafeDir {
        path: dir.to_path_buf(),
        reason: reason.to_owned(),
    };
    let meta = match fs::symlink_metadata(dir) {
        Ok(meta) => meta,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(PkiError::io(dir, error)),
    };
    if meta.file_type().is_symlink() {
        return Err(unsafe_dir("it is a symbolic link"));
    }
    if !meta.is_dir() {
        return Err(unsafe_dir("it is not a directory"));
    }
    if meta.mode() & 0o002 != 0 {
        return Err(unsafe_dir("it is writable by every user"));
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(unsafe_dir(&format!(
            "it is owned by user {}, not by this user ({me})",
            meta.uid()
        )));
    }
    Ok(())
}

fn create_dirs(dir: &Path) -> Result<(), PkiError> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| PkiError::io(dir, e))
}

fn write_one(file: &Planned) -> Result<(), PkiError> {
    let dir = file.path.parent().unwrap_or(Path::new("."));
    create_dirs(dir)?;
    let name = file
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let mode = match file.mode {
        Mode::Secret => 0o600,
        Mode::Public => 0o644,
    };
    let result = (|| {
        // create_new: a stale temporary from a crash is an error, not something to follow.
        let _ = fs::remove_file(&temporary);
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temporary)?;
        out.write_all(file.contents.as_bytes())?;
        out.sync_all()?;
        // The umask may have narrowed the mode at creation; set it exactly.
        fs::set_permissions(&temporary, fs::Permissions::from_mode(mode))?;
        fs::rename(&temporary, &file.path)
    })();
    if let Err(error) = result {
        let _ = fs::remove_file(&temporary);
        return Err(PkiError::io(&file.path, error));
    }
    Ok(())
}

/// Reads a whole file.
///
/// # Errors
/// The file cannot be read.
pub fn read(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(|e| PkiError::io(path, e))
}

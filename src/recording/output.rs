//! The file a recording goes to: created 0600 and never over another, through age when there
//! are recipients, hashed as it is written.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use sha2::{Digest, Sha256};

use super::error::Error;

/// What a finished recording is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The file.
    pub path: PathBuf,
    /// Its size on disk.
    pub size: u64,
    /// The SHA-256 of the file as stored (the ciphertext, when encrypted), hex.
    pub sha256: String,
    /// Whether the browser's input is in it (`record_input`).
    pub input: bool,
}

/// Free space below which no recording starts: a session is refused rather than cut short by a
/// full disk a minute later.
const MIN_FREE: u64 = 64 << 20;

/// The file with its running size and SHA-256.
struct Hashed {
    file: File,
    hash: Sha256,
    size: u64,
}

impl Write for Hashed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let count = self.file.write(buf)?;
        let written = buf.get(..count).unwrap_or_default();
        self.hash.update(written);
        self.size += count as u64;
        Ok(count)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

enum Stream {
    Plain(BufWriter<Hashed>),
    Age(age::stream::StreamWriter<BufWriter<Hashed>>),
}

/// An open recording file.
pub(super) struct Output {
    path: PathBuf,
    stream: Stream,
}

impl Output {
    /// Creates `path` in `dir` (made 0700 if missing), encrypted to `recipients` if any.
    ///
    /// # Errors
    /// The directory or file cannot be made, the file exists, or a recipient does not parse.
    pub(super) fn create(dir: &Path, path: &Path, recipients: &[String]) -> Result<Self, Error> {
        let recipients = parse_recipients(recipients)?;
        let created = |source| Error::Create {
            path: path.to_path_buf(),
            source,
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| Error::Create {
                path: dir.to_path_buf(),
                source,
            })?;
        let free = rustix::fs::statvfs(dir)
            .map(|fs| fs.f_bavail.saturating_mul(fs.f_frsize))
            .map_err(|errno| Error::Create {
                path: dir.to_path_buf(),
                source: errno.into(),
            })?;
        if free < MIN_FREE {
            return Err(Error::NoSpace {
                dir: dir.to_path_buf(),
                free,
            });
        }
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(created)?;
        let hashed = BufWriter::with_capacity(
            64 << 10,
            Hashed {
                file,
                hash: Sha256::new(),
                size: 0,
            },
        );
        let stream = if recipients.is_empty() {
            Stream::Plain(hashed)
        } else {
            let encryptor = age::Encryptor::with_recipients(
                recipients.iter().map(|r| r as &dyn age::Recipient),
            )
            .map_err(Error::Encrypt)?;
            Stream::Age(encryptor.wrap_output(hashed).map_err(Error::Write)?)
        };
        Ok(Self {
            path: path.to_path_buf(),
            stream,
        })
    }

    /// Appends `bytes`.
    ///
    /// # Errors
    /// The write failed (a full disk).
    pub(super) fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        match &mut self.stream {
            Stream::Plain(out) => out.write_all(bytes),
            Stream::Age(out) => out.write_all(bytes),
        }
        .map_err(Error::Write)
    }

    /// Ends the stream (age's last chunk), flushes and syncs the file.
    ///
    /// # Errors
    /// The last writes or the sync failed.
    pub(super) fn finish(self) -> Result<Written, Error> {
        let buffered = match self.stream {
            Stream::Plain(out) => out,
            Stream::Age(out) => out.finish().map_err(Error::Write)?,
        };
        let hashed = buffered
            .into_inner()
            .map_err(|error| Error::Write(error.into_error()))?;
        hashed.file.sync_all().map_err(Error::Write)?;
        Ok(Written {
            path: self.path,
            size: hashed.size,
            sha256: hex::encode(hashed.hash.finalize()),
            input: false,
        })
    }
}

/// The age X25519 recipients of `keys`.
///
/// # Errors
/// A key that is not `age1…`.
pub(super) fn parse_recipients(keys: &[String]) -> Result<Vec<age::x25519::Recipient>, Error> {
    keys.iter()
        .map(|key| {
            age::x25519::Recipient::from_str(key.trim()).map_err(|_| Error::Recipient(key.clone()))
        })
        .collect()
}

//! [`PkiError`]: what can go wrong making, writing or reading certificates.

use std::path::PathBuf;

/// An error of the PKI crate. Paths are named; key material never is.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// Key generation or signing failed.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// RSA key generation failed.
    #[error("RSA key generation failed: {0}")]
    Rsa(String),
    /// The operating system gave no randomness.
    #[error("no randomness: {0}")]
    Random(String),
    /// A name is neither an IP address nor a valid DNS name.
    #[error("{0:?} is neither an IP address nor a DNS name")]
    BadName(String),
    /// Files exist and `--force` was not given. Nothing was written.
    #[error("refusing to overwrite existing {}; nothing was written (use --force to replace)", .0.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    Exists(Vec<PathBuf>),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The output directory is not safe to write keys into.
    #[error("{}: {reason}; refusing to write keys there", path.display())]
    UnsafeDir {
        /// The directory.
        path: PathBuf,
        /// Why: a symbolic link, writable by others, or owned by someone else.
        reason: String,
    },
    /// A PEM file does not hold what it should.
    #[error("{path}: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl PkiError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

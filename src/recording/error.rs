//! Why a recording could not be started or finished.

/// A recording failure. The session that must be recorded is refused or ended with
/// [`Error::public_reason`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The recording directory cannot be made, or the file cannot be created in it.
    #[error("cannot create the recording {path}")]
    Create {
        /// The file or directory.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The recording directory's file system has less room than a recording starts with.
    #[error("the recording directory {dir} has {free} bytes free, under the 64 MiB a recording needs to start")]
    NoSpace {
        /// The directory.
        dir: std::path::PathBuf,
        /// Bytes free.
        free: u64,
    },
    /// Writing or finishing the file failed (a full disk, an I/O error).
    #[error("cannot write the recording")]
    Write(#[source] std::io::Error),
    /// A `recording_recipients` entry is not an age X25519 public key.
    #[error("recording_recipients: {0:?} is not an age X25519 public key (age1…)")]
    Recipient(String),
    /// age refused to start the stream.
    #[error("cannot start the age stream")]
    Encrypt(#[source] age::EncryptError),
    /// The recording could not be encoded (a header that does not serialise).
    #[error("cannot encode the recording")]
    Encode(#[source] serde_json::Error),
    /// The writer did not finish in time.
    #[error("the recording was not finished in time")]
    FinishTimeout,
    /// A recording or identity file cannot be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An age file, and no identity to decrypt it with.
    #[error("the recording is encrypted: pass --identity KEY (the age identity of one of its recipients)")]
    NeedsIdentity,
    /// age could not decrypt it (not one of its recipients, or a damaged file).
    #[error("cannot decrypt the recording")]
    Decrypt(#[source] age::DecryptError),
    /// Not a recording vncgate wrote.
    #[error("not a vncgate recording")]
    NotRecording,
    /// An export that does not fit the recording's console.
    #[error("{0}")]
    WrongExport(&'static str),
    /// The writer task failed.
    #[error("the recording's writer failed: {0}")]
    Writer(String),
}

impl Error {
    /// What the browser is told when a session that must be recorded cannot be.
    pub fn public_reason(&self) -> &'static str {
        "this console must be recorded and recording is unavailable"
    }
}

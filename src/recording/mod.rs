//! Session recording: what a console server sent (and, with `record_input`, what the browser
//! sent), timestamped, one file per session, written as an age file to the configured
//! recipients, so that the host that writes a recording cannot read it back.
//!
//! The relay hands each chunk to a [`Tap`], which queues it for the session's writer thread at
//! once while the session's 32 MiB queue has room. A burst that fills it slows that direction
//! to the disk's pace, and nothing is lost; a writer that makes no progress for 10 s ends a
//! session that must be recorded (or drops a best-effort recording). [`Recorder::close`]
//! finishes the file and gives its name, size and SHA-256 to the session's closing audit event.

mod error;
mod format;
mod output;
pub mod read;
pub mod retention;
mod tap;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::config::Recording as Settings;
use crate::console::ConsoleKind;
pub use error::Error;
use format::Encoder;
pub use format::{Header, Subject};
pub use output::Written;
pub use retention::Live;
use tap::Item;
pub use tap::Tap;

/// How long the end of a session waits for its recording to be finished and hashed.
const FINISH_TIMEOUT: Duration = Duration::from_secs(30);

/// One session's recording while it runs.
pub struct Recorder {
    sender: mpsc::Sender<Item>,
    queue: Arc<tokio::sync::Semaphore>,
    dropped: Arc<AtomicBool>,
    started: Instant,
    kind: ConsoleKind,
    input: bool,
    path: PathBuf,
    live: Arc<Live>,
    writer: tokio::task::JoinHandle<Result<Written, Error>>,
}

impl Recorder {
    /// Creates the session's file (0600, never over an existing one) and starts its writer.
    ///
    /// # Errors
    /// The directory cannot be made or written, or a recipient does not parse.
    pub fn start(settings: &Settings, subject: &Subject, live: &Arc<Live>) -> Result<Self, Error> {
        let header = Header::new(subject, settings.input);
        let encrypted = !settings.recipients.is_empty();
        let path = settings.dir.join(file_name(subject, &header, encrypted));
        let out = output::Output::create(&settings.dir, &path, &settings.recipients)?;
        live.add(&path);
        let mut encoder = Encoder::new(subject.kind, header);
        let (sender, receiver) = mpsc::channel::<Item>();
        let queue = Arc::new(tokio::sync::Semaphore::new(tap::QUEUED_BYTES));
        let writer = {
            let queue = queue.clone();
            tokio::task::spawn_blocking(move || {
                let mut out = out;
                out.write(&encoder.header()?)?;
                for item in receiver {
                    let room = item.room();
                    let (at, bytes, server) = match item {
                        Item::Server(at, bytes) => (at, bytes, true),
                        Item::Client(at, bytes) => (at, bytes, false),
                    };
                    out.write(&encoder.event(at, server, &bytes))?;
                    queue.add_permits(room as usize);
                }
                out.finish()
            })
        };
        Ok(Self {
            sender,
            queue,
            dropped: Arc::default(),
            started: Instant::now(),
            kind: subject.kind,
            input: settings.input,
            path,
            live: live.clone(),
            writer,
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The taps for the relay: toward the browser, toward the server. `required` says what a
    /// full queue does: end the session (`true`) or drop the recording. A SPICE channel has
    /// none: its recording is the header alone (nothing here could replay its channels).
    pub fn taps(&self, required: bool) -> Option<(Tap, Tap)> {
        if self.kind == ConsoleKind::SpiceHtml5 {
            return None;
        }
        let shared = tap::Shared {
            sender: self.sender.clone(),
            queue: self.queue.clone(),
            dropped: self.dropped.clone(),
            started: self.started,
            required,
        };
        let tap = |server| {
            Tap::new(
                shared.clone(),
                server,
                tap::Upstream::new(self.kind, self.input),
            )
        };
        Some((tap(true), tap(false)))
    }

    /// Finishes the file once the taps are gone: `Ok(None)` for a best-effort recording that
    /// was dropped (its file is removed).
    ///
    /// # Errors
    /// The file could not be written or finished.
    pub async fn close(self) -> Result<Option<Written>, Error> {
        drop(self.sender);
        // Finished or not, the file is retention's again after this.
        let _live = Unlisted(&self.live, &self.path);
        let written = match tokio::time::timeout(FINISH_TIMEOUT, self.writer).await {
            Err(_) => return Err(Error::FinishTimeout),
            Ok(Err(join)) => return Err(Error::Writer(join.to_string())),
            Ok(Ok(written)) => written?,
        };
        if self.dropped.load(Ordering::Relaxed) {
            let _ = std::fs::remove_file(&written.path);
            return Ok(None);
        }
        Ok(Some(Written {
            input: self.input,
            ..written
        }))
    }
}

/// Takes a file out of the live set when dropped, however `close` returns.
struct Unlisted<'a>(&'a Live, &'a Path);

impl Drop for Unlisted<'_> {
    fn drop(&mut self) {
        self.0.remove(self.1);
    }
}

/// `20261207T120000Z-INSTANCE-ID-TOKEN.vncrec[.age]`: sortable by time, unique per instance.
fn file_name(subject: &Subject, header: &Header, encrypted: bool) -> String {
    let instance: String = subject
        .instance
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let extension = match subject.kind {
        ConsoleKind::Serial => "cast",
        _ => "vncrec",
    };
    let age = if encrypted { ".age" } else { "" };
    format!(
        "{}-{instance}-{}-{}.{extension}{age}",
        header.compact_start(),
        subject.session,
        subject.token
    )
}

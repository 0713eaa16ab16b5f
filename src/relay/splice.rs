//! Downstream without copies, for sessions with plain TCP on both sides: the console server's
//! bytes move from its socket into a pipe and from the pipe into the browser's socket with
//! `splice(2)`, behind a WebSocket frame header written first. The bytes never enter the
//! proxy's memory; a copying relay moves each one through user space twice.
//!
//! Pipes come from a small per-thread pool and are held only while a frame is in flight, so
//! a quiet session holds no pipe and no extra descriptors.

#![allow(
    clippy::indexing_slicing,
    reason = "offsets come from lengths this framer checked first; fuzzed under fuzz/"
)]

use std::cell::RefCell;
use std::io;
use std::os::fd::OwnedFd;

use rustix::pipe::{PipeFlags, SpliceFlags};
use tokio::io::{Interest, ReadHalf, WriteHalf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio_util::either::Either;

use crate::websocket::writer::{header, BINARY, MAX_HEADER};

/// A pipe's size, and so the largest frame the splice path writes: as the copying path's
/// largest read.
const PIPE_SIZE: usize = 256 * 1024;
/// Pipes kept per worker thread for the next frame.
const POOL: usize = 16;

/// A stream half that may be a plain TCP socket.
pub trait Tcp {
    /// The socket, when this half is plain TCP.
    fn tcp(&self) -> Option<&TcpStream>;
}

impl<T> Tcp for Either<OwnedReadHalf, ReadHalf<T>> {
    fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Either::Left(half) => Some(half.as_ref()),
            Either::Right(_) => None,
        }
    }
}

impl<T> Tcp for Either<OwnedWriteHalf, WriteHalf<T>> {
    fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Either::Left(half) => Some(half.as_ref()),
            Either::Right(_) => None,
        }
    }
}

/// Splits a stream into halves: a plain TCP socket (left) into halves that can still reach
/// the socket, anything else with tokio's split.
pub fn halves<T: tokio::io::AsyncRead + tokio::io::AsyncWrite>(
    stream: Either<TcpStream, T>,
) -> (
    Either<OwnedReadHalf, ReadHalf<T>>,
    Either<OwnedWriteHalf, WriteHalf<T>>,
) {
    match stream {
        Either::Left(tcp) => {
            let (read, write) = tcp.into_split();
            (Either::Left(read), Either::Left(write))
        }
        Either::Right(other) => {
            let (read, write) = tokio::io::split(other);
            (Either::Right(read), Either::Right(write))
        }
    }
}

struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
}

thread_local! {
    static PIPES: RefCell<Vec<Pipe>> = const { RefCell::new(Vec::new()) };
}

impl Pipe {
    fn take() -> io::Result<Self> {
        if let Some(pipe) = PIPES.with(|pool| pool.borrow_mut().pop()) {
            return Ok(pipe);
        }
        let (read, write) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
        // A larger pipe makes larger frames; where the limit forbids it, the default serves.
        let _ = rustix::pipe::fcntl_setpipe_size(&write, PIPE_SIZE);
        Ok(Self { read, write })
    }

    /// Back to the pool; only an empty pipe may be returned.
    fn give_back(self) {
        PIPES.with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.len() < POOL {
                pool.push(self);
            }
        });
    }
}

/// Pipes in this thread's pool: one at least once a frame has been spliced here.
#[cfg(test)]
pub(super) fn pooled() -> usize {
    PIPES.with(|pool| pool.borrow().len())
}

/// One session's splice path: the frame in flight, kept here so that a relay ended in the
/// middle of a frame finishes it ([`Splicer::finish`]) before its close frame.
#[derive(Default)]
pub struct Splicer {
    pipe: Option<Pipe>,
    /// Payload bytes in the pipe, not yet in the browser's socket.
    in_pipe: usize,
    header: [u8; MAX_HEADER],
    header_len: usize,
    header_at: usize,
}

impl Splicer {
    /// Moves what the console server has sent into a pipe and starts a frame of it. Returns
    /// the bytes moved; 0 when the server has closed its side.
    ///
    /// # Errors
    /// The server's connection failed; [`io::ErrorKind::Unsupported`] when nothing moved
    /// because no pipe could be made or the kernel refuses to splice (the caller copies).
    pub async fn fill(&mut self, from: &TcpStream) -> io::Result<usize> {
        loop {
            from.readable().await?;
            let pipe = match self.pipe.take() {
                Some(pipe) => pipe,
                // Out of descriptors or pipe memory: this session copies instead.
                None => Pipe::take().map_err(|e| io::Error::new(io::ErrorKind::Unsupported, e))?,
            };
            let moved = from.try_io(Interest::READABLE, || {
                rustix::pipe::splice(
                    from,
                    None,
                    &pipe.write,
                    None,
                    PIPE_SIZE,
                    SpliceFlags::NONBLOCK | SpliceFlags::MOVE,
                )
                .map_err(io::Error::from)
            });
            match moved {
                Ok(0) => {
                    pipe.give_back();
                    return Ok(0);
                }
                Ok(count) => {
                    self.pipe = Some(pipe);
                    self.in_pipe = count;
                    self.header_len = header(BINARY, count as u64, &mut self.header);
                    self.header_at = 0;
                    return Ok(count);
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => pipe.give_back(),
                Err(error) => {
                    pipe.give_back();
                    return Err(unsupported(error));
                }
            }
        }
    }

    /// Writes the frame in flight, header and payload, to the browser's socket; the pipe goes
    /// back to the pool once empty. Cancel-safe: progress is kept.
    ///
    /// # Errors
    /// The browser's connection failed.
    pub async fn finish(&mut self, to: &TcpStream) -> io::Result<()> {
        while self.header_at < self.header_len {
            let header = &self.header[self.header_at..self.header_len];
            // More follows at once: the header should share a segment with the payload.
            let flags = rustix::net::SendFlags::MORE;
            let sent = wait_writable(to, || {
                rustix::net::send(to, header, flags).map_err(io::Error::from)
            })
            .await?;
            self.header_at += sent;
        }
        while self.in_pipe > 0 {
            let Some(pipe) = &self.pipe else { break };
            let left = self.in_pipe;
            let moved = wait_writable(to, || {
                rustix::pipe::splice(
                    &pipe.read,
                    None,
                    to,
                    None,
                    left,
                    SpliceFlags::NONBLOCK | SpliceFlags::MOVE,
                )
                .map_err(io::Error::from)
            })
            .await?;
            if moved == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            self.in_pipe -= moved;
        }
        if let Some(pipe) = self.pipe.take() {
            pipe.give_back();
        }
        Ok(())
    }
}

/// A kernel or sandbox that refuses `splice(2)` on these descriptors (seccomp, gVisor, an old
/// kernel) says so with these errors, before anything moved: the session then copies.
fn unsupported(error: io::Error) -> io::Error {
    let refused = [
        rustix::io::Errno::INVAL,
        rustix::io::Errno::NOSYS,
        rustix::io::Errno::OPNOTSUPP,
        rustix::io::Errno::PERM,
    ];
    match error.raw_os_error() {
        Some(code) if refused.iter().any(|e| e.raw_os_error() == code) => {
            io::Error::new(io::ErrorKind::Unsupported, error)
        }
        _ => error,
    }
}

/// Runs `write` on `to` once it is writable, again while it would block.
async fn wait_writable(
    to: &TcpStream,
    mut write: impl FnMut() -> io::Result<usize>,
) -> io::Result<usize> {
    loop {
        to.writable().await?;
        match to.try_io(Interest::WRITABLE, &mut write) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            other => return other,
        }
    }
}

//! The browser-to-server half of the relay: WebSocket messages in, through the client filter,
//! to the console server; pings are answered through [`Pongs`], silence ends the session.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::end::End;
use super::filter::Filter;
use super::meters::Meters;
use super::pongs::Pongs;
use super::tap::{self, Tap};
use crate::websocket::{Event, Reader};

/// What the upstream half borrows from the relay.
pub(super) struct Up<'a, R, BW> {
    pub reader: &'a mut Reader<R>,
    pub backend: &'a mut BW,
    pub filter: Filter,
    pub tap: Option<Box<dyn Tap>>,
    pub meters: &'a Meters,
    pub pongs: &'a Pongs,
    /// Longest silence from the browser (pongs count).
    pub client_timeout: Duration,
    pub bytes: &'a mut u64,
}

impl<R, BW> Up<'_, R, BW>
where
    R: AsyncRead + Unpin,
    BW: AsyncWrite + Unpin,
{
    /// Runs until the browser closes, goes silent, sends text, or the filter refuses.
    pub(super) async fn run(mut self) -> End {
        loop {
            let next = tokio::time::timeout(self.client_timeout, self.reader.next()).await;
            let event = match next {
                Err(_) => return End::BrowserTimeout,
                Ok(Err(error)) => return End::from(error),
                Ok(Ok(event)) => event,
            };
            match event {
                Event::Binary(data) => {
                    let size = data.len() as u64;
                    *self.bytes += size;
                    self.meters.to_server.inc_by(size);
                    self.meters.session.up.fetch_add(size, Ordering::Relaxed);
                    let data = match self.filter.apply(data) {
                        Ok(data) => data,
                        Err(error) => return End::Refused(error),
                    };
                    if tap::seen(&mut self.tap, &data).await.is_err() {
                        return End::Unrecorded;
                    }
                    // Flushed each time: over VeNCrypt the last TLS record would otherwise wait
                    // in rustls' buffer while both ends wait for each other (a no-op on TCP).
                    let written = async {
                        self.backend.write_all(&data).await?;
                        self.backend.flush().await
                    };
                    if let Err(error) = written.await {
                        return End::BackendError(error);
                    }
                }
                Event::Ping(payload) => self.pongs.put(payload),
                Event::Pong => {}
                Event::Close(code) => return End::BrowserClosed(code),
                Event::Text => return End::BrowserText,
            }
        }
    }
}

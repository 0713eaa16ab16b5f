//! Pongs from the upstream half of a relay to the downstream half.

use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::Notify;

/// The pong owed to the browser's latest ping, from the upstream half to the downstream half
/// that writes it. One slot: a pong answers the most recent ping only (RFC 6455 §5.5.3), so a
/// browser flooding pings gets nothing buffered for it.
#[derive(Default)]
pub(super) struct Pongs {
    slot: Mutex<Option<Bytes>>,
    notify: Notify,
}

impl Pongs {
    pub(super) fn put(&self, payload: Bytes) {
        *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(payload);
        self.notify.notify_one();
    }

    pub(super) async fn ready(&self) {
        self.notify.notified().await;
    }

    pub(super) fn take(&self) -> Option<Bytes> {
        self.slot.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

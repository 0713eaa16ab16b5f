//! The relay phase of a session: registered among the live sessions (for the admin API, the
//! recheck of revoked tokens and the session cap), relayed until either side ends, then taken
//! out of the registry with its end.

use std::sync::Arc;
use std::time::SystemTime;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_util::either::Either;

use super::context::Context;
use super::{ending, registry, Session};
use crate::backend::Backend;
use crate::relay::filter::{Filters, Policy};
use crate::relay::splice::Tcp;
use crate::relay::{self, Browser, End, Timers};

impl Session {
    /// Relays between the browser and the console server until the session ends.
    pub(super) async fn relay<R, W>(
        &self,
        context: &Context,
        ws: Browser<R, W>,
        backend: Backend,
        filters: Filters,
        policy: Policy,
    ) -> ending::Ending
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Tcp + Send + 'static,
    {
        let expires = if context.timers.enforce_session_timeout {
            self.grant
                .remaining(SystemTime::now())
                .and_then(|left| Instant::now().checked_add(left))
        } else {
            None
        };
        let timers = Timers {
            ping_interval: context.timers.ping_interval,
            client_timeout: context.timers.client_timeout,
            expires,
        };
        let bytes = Arc::new(relay::SessionBytes::default());
        let info = registry::SessionInfo {
            client_ip: self.peer,
            kind: self.grant.kind,
            target: self.grant.target.to_string(),
            started: SystemTime::now(),
            view_only: policy.view_only,
            clipboard: policy.clipboard,
            user: self.grant.person.clone(),
        };
        let registered = context.registry.register(
            self.id,
            self.hash,
            self.grant.expires,
            self.recheck.clone(),
            info,
            bytes.clone(),
        );
        let stop = async {
            tokio::select! {
                () = context.shutdown.cancelled() => End::Shutdown,
                stopped = registered.stopped() => match stopped {
                    registry::Stopped::Revoked => End::Revoked,
                    registry::Stopped::Ended(reason) => End::Ended(reason),
                },
            }
        };
        let (to_browser, to_server) = context.metrics.byte_counters();
        let meters = relay::Meters {
            to_browser,
            to_server,
            spliced: context.metrics.spliced_counter(),
            session: bytes,
        };
        // Plain TCP toward the console server is split so that the relay can splice from it.
        let backend_stream = match backend.stream.into_tcp() {
            Ok(tcp) => Either::Left(tcp),
            Err(other) => Either::Right(other),
        };
        let halves = relay::splice::halves(backend_stream);
        let relayed = relay::relay(ws, halves, timers, context.splice, filters, meters, stop);
        let (outcome, linger) = relayed.await;
        if let Some(linger) = linger {
            // The session's end is accounted for now; the socket lingers on its own, bounded.
            tokio::spawn(linger.run());
        }
        drop(registered);
        ending::Ending::Closed {
            bytes_up: outcome.bytes_up,
            bytes_down: outcome.bytes_down,
            reason: outcome.end.to_string(),
        }
    }
}

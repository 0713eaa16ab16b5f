//! Running the proxy: the listeners, the services beside the front end (admin API, metrics,
//! token recheck and clean-up), reload without drops, and the stop in three steps:
//!
//! 1. draining: `/readyz` answers 503 at once, sessions are still taken for `drain_delay`;
//! 2. the listeners close; open sessions get `shutdown_grace` to end by themselves;
//! 3. the rest are closed with 1001 and a reason the page shows.
//!
//! systemd hears READY, RELOADING and STOPPING, and the watchdog when it asks for one.

mod build;
mod control;
mod database;
mod error;
mod reload;

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Settings;
use crate::console::ConsoleKind;
use crate::front::limiter::Limiter;
use crate::ops::audit::Audit;
use crate::ops::health::Health;
use crate::ops::metrics::Metrics;
use crate::session::directory::Directory;
use crate::token::lease::{instance_name, Leases};
use crate::token::{SqlStore, TokenStore};
use build::Lasting;
pub use control::{notify_systemd, Control, Hook, Listeners};
pub use database::open_token_database;
pub use error::Error;

/// The version and the git commit built from, as `vncgate --version` prints them.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("VNCGATE_COMMIT"), ")");

/// How long sessions closed with 1001 get to finish their closing handshake.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Serves until `control.stop`, then stops as the module says.
///
/// # Errors
/// Only at start-up: a TLS file that cannot be used, a token database URL or file that cannot
/// be, an unreadable admin secret.
pub async fn serve(
    settings: Settings,
    listeners: Listeners,
    control: Control,
) -> Result<(), Error> {
    let sql = open_token_database(&settings).await?;
    let instance = instance_name();
    let leases = sql.clone().map(|store| {
        Arc::new(Leases::new(
            store,
            instance.clone(),
            settings.limits.session_lease_timeout,
        ))
    });
    let directory = sql.clone().map(|store| {
        Arc::new(Directory::new(
            store,
            instance.clone(),
            settings.limits.session_lease_timeout,
        ))
    });
    let mut tokens = TokenStore::new(
        settings.token_source.clone(),
        sql.clone(),
        settings.max_sessions_per_token,
    );
    if let Some(leases) = &leases {
        tokens = tokens.with_leases(leases.clone());
        shared_cap_warning(leases, settings.max_sessions_per_token).await;
    }
    let tokens = Arc::new(ArcSwap::from_pointee(tokens));
    let audit = match &settings.operations.audit_log {
        Some(target) => Some(Arc::new(Audit::open(target).map_err(Error::Audit)?)),
        None => None,
    };
    let lasting = Arc::new(Lasting {
        metrics: Arc::new(Metrics::new(env!("VNCGATE_COMMIT"))),
        audit,
        registry: Arc::default(),
        channels: Arc::default(),
        limiter: Arc::new(Limiter::new(0, 0)),
        health: Arc::new(Health::new(tokens.load_full())),
        tokens,
        connections: TaskTracker::new(),
        stop_accepting: CancellationToken::new(),
        stop_sessions: CancellationToken::new(),
        // A token must never lead the proxy to its own admin API.
        own: listeners
            .admin
            .as_ref()
            .and_then(|listener| listener.local_addr().ok())
            .into_iter()
            .collect(),
    });
    let front = build::front(&settings, &lasting)?;
    let live = Arc::new(ArcSwap::from_pointee(front));
    let services = TaskTracker::new();
    let stop_services = CancellationToken::new();
    if let (Some(listener), Some((_, secret_file)), Some(store), Some(directory)) =
        (listeners.admin, settings.admin_api(), &sql, &directory)
    {
        let secret = crate::admin::read_secret(secret_file).map_err(Error::AdminSecret)?;
        services.spawn(crate::admin::serve(
            listener,
            crate::admin::Api::new(
                store.clone(),
                secret,
                settings.base_urls(),
                settings.token_ttl,
                lasting.audit.clone(),
                lasting.registry.clone(),
                directory.clone(),
            ),
            stop_services.clone(),
        ));
    }
    if let Some(listener) = listeners.metrics {
        services.spawn(crate::ops::monitor::serve(
            listener,
            lasting.metrics.clone(),
            lasting.health.clone(),
            stop_services.clone(),
        ));
    }
    spawn_token_services(
        &services,
        &stop_services,
        &settings,
        sql.as_ref(),
        leases,
        directory,
        &lasting,
    );
    if let Some(reload) = control.reload.clone() {
        services.spawn(reload::run(
            live.clone(),
            settings.clone(),
            lasting.clone(),
            reload,
            control.on_reload.clone(),
            stop_services.clone(),
        ));
    }
    if let Some(period) = sd_notify::watchdog_enabled() {
        services.spawn(watchdog(period, stop_services.clone()));
    }
    if let Ok(addr) = listeners.front.local_addr() {
        let scheme = if settings.tls.is_some() {
            "https"
        } else {
            "http"
        };
        tracing::info!(%addr, scheme, version = VERSION, "listening");
    }
    notify_systemd(&[sd_notify::NotifyState::Ready]);

    let stopping = {
        let lasting = lasting.clone();
        let stop = control.stop.clone();
        let delay = settings.operations.drain_delay;
        async move {
            stop.cancelled().await;
            lasting.health.start_draining();
            notify_systemd(&[sd_notify::NotifyState::Stopping]);
            tracing::info!(
                delay_s = delay.as_secs_f64(),
                "draining: /readyz says 503; still accepting for drain_delay"
            );
            tokio::time::sleep(delay).await;
            lasting.stop_accepting.cancel();
        }
    };
    // nova runs a proxy per console kind; here each kind has its port in one process.
    let ports = std::iter::once((ConsoleKind::Novnc, listeners.front)).chain(listeners.consoles);
    let fronts = futures_util::future::join_all(
        ports.map(|(kind, listener)| crate::front::serve(live.clone(), listener, kind.only())),
    );
    tokio::join!(fronts, stopping);

    wind_down(&lasting, settings.limits.shutdown_grace).await;
    stop_services.cancel();
    services.close();
    let _ = tokio::time::timeout(CLOSE_WAIT, services.wait()).await;
    Ok(())
}

/// Says at start-up where `max_sessions_per_token` is counted.
async fn shared_cap_warning(leases: &Leases, max: usize) {
    if max == 0 {
        return;
    }
    match leases.available().await {
        Ok(true) => tracing::info!(
            instance = leases.instance(),
            "max_sessions_per_token holds across every instance sharing the token database"
        ),
        Ok(false) => tracing::warn!(
            "max_sessions_per_token counts per instance: the token database has no \
             vncgate_session_leases table (run `vncgate token init-db`)"
        ),
        Err(error) => {
            tracing::warn!(%error, "token database unreachable: session leases not checked")
        }
    }
}

/// Tells systemd's watchdog the process lives, twice a period.
async fn watchdog(period: Duration, stop: CancellationToken) {
    let mut tick = tokio::time::interval(period / 2);
    loop {
        tokio::select! {
            _ = tick.tick() => notify_systemd(&[sd_notify::NotifyState::Watchdog]),
            () = stop.cancelled() => return,
        }
    }
}

/// The stop after the listeners closed: open sessions get `grace` to end by themselves, then
/// are ended with 1001 and get [`CLOSE_WAIT`] more.
async fn wind_down(lasting: &Lasting, grace: Duration) {
    lasting.connections.close();
    tracing::info!(
        sessions = lasting.registry.len(),
        grace_s = grace.as_secs_f64(),
        "listener closed; open sessions get the grace period"
    );
    if tokio::time::timeout(grace, lasting.connections.wait())
        .await
        .is_err()
    {
        lasting.stop_sessions.cancel();
        if tokio::time::timeout(CLOSE_WAIT, lasting.connections.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                left = lasting.connections.len(),
                "sessions did not close in time; dropping them"
            );
        }
    }
}

/// The services around the token store: the sweep of expired rows, lease renewal, the
/// publication of live sessions for every instance, the recheck that ends revoked sessions.
fn spawn_token_services(
    services: &TaskTracker,
    stop_services: &CancellationToken,
    settings: &Settings,
    sql: Option<&SqlStore>,
    leases: Option<Arc<Leases>>,
    directory: Option<Arc<Directory>>,
    lasting: &Lasting,
) {
    if let (Some(store), true) = (
        sql,
        settings.delete_expired_tokens || settings.database_connection.is_none(),
    ) {
        services.spawn(database::delete_expired(
            store.clone(),
            stop_services.clone(),
        ));
    }
    if let Some(leases) = leases {
        services.spawn(leases.run(stop_services.clone()));
    }
    // Only a configured database can be shared: vncgate's own SQLite file has one instance,
    // whose admin API knows its sessions without publishing them.
    if let (Some(directory), true) = (directory, settings.database_connection.is_some()) {
        services.spawn(directory.run(lasting.registry.clone(), stop_services.clone()));
    }
    services.spawn(crate::session::recheck::run(
        lasting.registry.clone(),
        lasting.tokens.clone(),
        settings.limits.session_recheck_interval,
        stop_services.clone(),
    ));
}

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

use crate::chain::chain;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Settings;
use crate::console::ConsoleKind;
use crate::front::limiter::Limiter;
use crate::ops::audit::{Audit, Event};
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
    let stores = Stores::open(&settings).await?;
    let lasting = lasting(&settings, &stores, listeners.admin.as_ref()).await?;
    let live = Arc::new(ArcSwap::from_pointee(build::front(&settings, &lasting)?));
    let services = Services::default();
    if let Some(listener) = listeners.admin {
        services.admin(listener, &settings, &stores, &lasting)?;
    }
    if let Some(listener) = listeners.metrics {
        services.spawn(|stop| {
            crate::ops::monitor::serve(
                listener,
                lasting.metrics.clone(),
                lasting.health.clone(),
                stop,
            )
        });
    }
    services.tokens(&settings, stores, &lasting);
    services.retention(&settings, &lasting);
    if let Some(reload) = control.reload.clone() {
        let (live, settings, lasting) = (live.clone(), settings.clone(), lasting.clone());
        let on_reload = control.on_reload.clone();
        services.spawn(|stop| reload::run(live, settings, lasting, reload, on_reload, stop));
    }
    if let Some(period) = sd_notify::watchdog_enabled() {
        services.spawn(|stop| watchdog(period, stop));
    }
    announce(&listeners.front, &settings);
    notify_systemd(&[sd_notify::NotifyState::Ready]);

    let stopping = draining(
        lasting.clone(),
        control.stop.clone(),
        settings.operations.drain_delay,
    );
    // nova runs a proxy per console kind; here each kind has its port in one process.
    let ports = std::iter::once((ConsoleKind::Novnc, listeners.front)).chain(listeners.consoles);
    let fronts = futures_util::future::join_all(
        ports.map(|(kind, listener)| crate::front::serve(live.clone(), listener, kind.only())),
    );
    tokio::join!(fronts, stopping);

    wind_down(&lasting, settings.limits.shutdown_grace).await;
    services.stop().await;
    Ok(())
}

/// The token database and what is built on it: the leases that count sessions across
/// instances and the directory that publishes each instance's sessions.
struct Stores {
    sql: Option<SqlStore>,
    leases: Option<Arc<Leases>>,
    directory: Option<Arc<Directory>>,
}

impl Stores {
    async fn open(settings: &Settings) -> Result<Self, Error> {
        let sql = open_token_database(settings).await?;
        let instance = instance_name();
        let timeout = settings.limits.session_lease_timeout;
        let leases = sql
            .clone()
            .map(|store| Arc::new(Leases::new(store, instance.clone(), timeout)));
        let directory = sql
            .clone()
            .map(|store| Arc::new(Directory::new(store, instance.clone(), timeout)));
        Ok(Self {
            sql,
            leases,
            directory,
        })
    }
}

/// What outlives every reload: the token store, metrics, audit, registries and the stops.
async fn lasting(
    settings: &Settings,
    stores: &Stores,
    admin: Option<&tokio::net::TcpListener>,
) -> Result<Arc<Lasting>, Error> {
    let metrics = Arc::new(Metrics::new(env!("VNCGATE_COMMIT")));
    let mut tokens = TokenStore::new(
        settings.token_source.clone(),
        stores.sql.clone(),
        settings.max_sessions_per_token,
    )
    .with_lookups(crate::token::Lookups::new(metrics.token_lookups()));
    if let Some(leases) = &stores.leases {
        tokens = tokens.with_leases(leases.clone());
        shared_cap_warning(leases, settings.max_sessions_per_token).await;
    }
    let tokens = Arc::new(ArcSwap::from_pointee(tokens));
    let audit = match &settings.operations.audit_log {
        Some(target) => Some(Arc::new(Audit::open(target).map_err(Error::Audit)?)),
        None => None,
    };
    Ok(Arc::new(Lasting {
        metrics,
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
        own: admin
            .and_then(|listener| listener.local_addr().ok())
            .into_iter()
            .collect(),
        recordings: Arc::default(),
        claims: Arc::default(),
    }))
}

/// The tasks beside the front end, stopped together after the sessions.
#[derive(Default)]
struct Services {
    tasks: TaskTracker,
    stop: CancellationToken,
}

impl Services {
    fn spawn<F, T>(&self, task: impl FnOnce(CancellationToken) -> F)
    where
        F: std::future::Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.tasks.spawn(task(self.stop.clone()));
    }

    /// The admin API, when it has a listener, a secret and a database.
    fn admin(
        &self,
        listener: tokio::net::TcpListener,
        settings: &Settings,
        stores: &Stores,
        lasting: &Lasting,
    ) -> Result<(), Error> {
        let (Some((_, secret_file)), Some(store), Some(directory)) =
            (settings.admin_api(), &stores.sql, &stores.directory)
        else {
            return Ok(());
        };
        let secret = crate::admin::read_secret(secret_file).map_err(Error::AdminSecret)?;
        let api = crate::admin::Api::new(
            store.clone(),
            secret,
            settings.base_urls(),
            settings.token_ttl,
            lasting.audit.clone(),
            lasting.registry.clone(),
            directory.clone(),
        );
        self.spawn(|stop| crate::admin::serve(listener, api, stop));
        Ok(())
    }

    /// The services around the token store: the sweep of expired rows, lease renewal, the
    /// publication of live sessions for every instance, the recheck that ends revoked sessions.
    fn tokens(&self, settings: &Settings, stores: Stores, lasting: &Lasting) {
        let shared = settings.database_connection.is_some();
        if let (Some(store), true) = (stores.sql, settings.delete_expired_tokens || !shared) {
            self.spawn(|stop| database::delete_expired(store, stop));
        }
        if let Some(leases) = stores.leases {
            self.spawn(|stop| leases.run(stop));
        }
        // Only a configured database can be shared: vncgate's own SQLite file has one
        // instance, whose admin API knows its sessions without publishing them.
        if let (Some(directory), true) = (stores.directory, shared) {
            let registry = lasting.registry.clone();
            self.spawn(|stop| directory.run(registry, stop));
        }
        let (registry, tokens) = (lasting.registry.clone(), lasting.tokens.clone());
        let every = settings.limits.session_recheck_interval;
        self.spawn(|stop| crate::session::recheck::run(registry, tokens, every, stop));
    }

    /// Recording retention, each deletion audited.
    fn retention(&self, settings: &Settings, lasting: &Lasting) {
        let limits = crate::recording::retention::Limits {
            max_age: settings.recording.max_age,
            max_total_bytes: settings.recording.max_total_bytes,
        };
        let audit = lasting.audit.clone();
        let deleted = move |file: crate::recording::retention::Deleted| {
            tracing::info!(file = %file.path.display(), bytes = file.size, rule = file.rule, "recording deleted");
            if let Some(audit) = &audit {
                let mut event = Event::now(crate::ops::audit::Kind::RecordingDeleted);
                event.recording = Some(file.path.display().to_string());
                event.recording_bytes = Some(file.size);
                event.reason = Some(file.rule.to_owned());
                audit.record(&event);
            }
        };
        let (dir, live) = (settings.recording.dir.clone(), lasting.recordings.clone());
        self.spawn(|stop| crate::recording::retention::run(dir, limits, live, deleted, stop));
    }

    async fn stop(self) {
        self.stop.cancel();
        self.tasks.close();
        let _ = tokio::time::timeout(CLOSE_WAIT, self.tasks.wait()).await;
    }
}

/// The line that says where the front listens.
fn announce(front: &tokio::net::TcpListener, settings: &Settings) {
    if let Ok(addr) = front.local_addr() {
        let scheme = if settings.tls.is_some() {
            "https"
        } else {
            "http"
        };
        tracing::info!(%addr, scheme, version = VERSION, "listening");
    }
}

/// The first step of the stop: `/readyz` says 503 at once, the listeners keep accepting for
/// `delay`, then close.
async fn draining(lasting: Arc<Lasting>, stop: CancellationToken, delay: Duration) {
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
            tracing::warn!(error = %chain(&error), "token database unreachable: session leases not checked")
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

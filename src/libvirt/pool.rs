//! The inventory: one libvirt connection per hypervisor, opened when first needed and again
//! after it fails (no sooner than a pause that doubles up to 30 s, so that a down libvirtd is
//! not hammered), every call on a blocking thread within the deadline.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use virt::connect::Connect;
use virt::domain::{Domain, DomainState};
use virt::enumutil::Enum;
use virt::error::ErrorNumber;

use super::error::Error;
use super::placement::{place, Live, Presence};
use super::target::{pick, DomainRef, Found, Hypervisor, LibvirtSettings};
use super::xml;
use crate::console::ConsoleKind;

/// The longest pause before a failed hypervisor is asked again.
const MAX_PAUSE: Duration = Duration::from_secs(30);

/// A hypervisor and its connection.
#[derive(Debug)]
struct Pooled {
    hypervisor: Hypervisor,
    /// The URI opened: `uri` with `pkipath` added for TLS when `pki_path` is set.
    open_uri: String,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    connection: Option<Arc<Connect>>,
    /// No new attempt before this, after a failure; and the pause that led to it.
    retry_after: Option<Instant>,
    pause: Duration,
}

/// A domain as `vncgate domains list` shows it.
#[derive(Debug, Clone)]
pub struct DomainInfo {
    /// Its name.
    pub name: String,
    /// Its UUID.
    pub uuid: String,
    /// Whether it runs.
    pub running: bool,
    /// Its consoles and live ports (none while stopped).
    pub consoles: xml::Consoles,
}

/// The hypervisors of `[libvirt] uris`.
#[derive(Debug)]
pub struct Inventory {
    pooled: Vec<Arc<Pooled>>,
    timeout: Duration,
}

impl Inventory {
    /// An inventory of `settings`' hypervisors; nothing is opened yet.
    pub fn new(settings: &LibvirtSettings) -> Self {
        // libvirt prints every error to standard error by default; they are returned and
        // logged with their context here instead (an unknown domain is not an error at all).
        virt::error::clear_error_callback();
        let pooled = settings
            .hypervisors
            .iter()
            .map(|hypervisor| {
                let open_uri = match (&settings.pki_path, hypervisor.uri.contains("+tls")) {
                    (Some(dir), true) if !hypervisor.uri.contains("pkipath=") => {
                        let join = if hypervisor.uri.contains('?') {
                            '&'
                        } else {
                            '?'
                        };
                        format!("{}{join}pkipath={}", hypervisor.uri, dir.display())
                    }
                    _ => hypervisor.uri.clone(),
                };
                Arc::new(Pooled {
                    hypervisor: hypervisor.clone(),
                    open_uri,
                    state: Mutex::default(),
                })
            })
            .collect();
        Self {
            pooled,
            timeout: settings.timeout,
        }
    }

    /// The console of `kind` of the domain `reference` names, from its live XML: on the
    /// hypervisor the token names, else on whichever runs it (every hypervisor is asked at
    /// once).
    ///
    /// # Errors
    /// Not found, not running, ambiguous, no such console (refusals), or a hypervisor that
    /// cannot be asked.
    pub async fn console(&self, reference: &DomainRef, kind: ConsoleKind) -> Result<Found, Error> {
        let asked: Vec<&Arc<Pooled>> = match &reference.hypervisor {
            Some(name) => {
                let one = self.pooled.iter().find(|p| &p.hypervisor.name == name);
                vec![one.ok_or_else(|| Error::UnknownHypervisor(name.clone()))?]
            }
            None => self.pooled.iter().collect(),
        };
        let answers = futures_util::future::join_all(asked.iter().map(|pooled| {
            let domain = reference.domain.clone();
            self.call(pooled, move |connection| presence(connection, &domain))
        }))
        .await;
        let hypervisors = asked.iter().map(|pooled| &pooled.hypervisor);
        let (hypervisor, live) = place(&reference.domain, hypervisors.zip(answers))?;
        pick(hypervisor, &xml::consoles(&live.xml)?, kind)
    }

    /// Every domain of every hypervisor, or why a hypervisor could not be asked.
    pub async fn list(&self) -> Vec<(Hypervisor, Result<Vec<DomainInfo>, Error>)> {
        let mut all = Vec::new();
        for pooled in &self.pooled {
            let listed = self.call(pooled, list_domains).await;
            all.push((pooled.hypervisor.clone(), listed));
        }
        all
    }

    /// Runs `work` with `pooled`'s connection on a blocking thread within the deadline; a
    /// failure drops the connection, to be opened again after the pause.
    async fn call<T, F>(&self, pooled: &Arc<Pooled>, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Connect) -> Result<T, virt::error::Error> + Send + 'static,
    {
        let name = pooled.hypervisor.name.clone();
        let shared = pooled.clone();
        let blocking = tokio::task::spawn_blocking(move || {
            let failed = |source| Error::Libvirt {
                hypervisor: shared.hypervisor.name.clone(),
                source,
            };
            let connection = shared.connection()?.map_err(failed)?;
            let result = work(&connection);
            if result.is_err() && !connection.is_alive().unwrap_or(false) {
                shared.failed();
            }
            result.map_err(failed)
        });
        match tokio::time::timeout(self.timeout, blocking).await {
            Err(_) => Err(Error::Timeout(name)),
            Ok(Err(lost)) => Err(Error::Lost(lost)),
            Ok(Ok(result)) => result,
        }
    }
}

impl Pooled {
    fn state(&self) -> MutexGuard<'_, State> {
        // Each update is a few assignments: a poisoned state is still whole.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The open connection, or a new one when the pause after a failure is over: the outer
    /// error is the pause, the inner libvirt's.
    fn connection(&self) -> Result<Result<Arc<Connect>, virt::error::Error>, Error> {
        let mut state = self.state();
        if let Some(connection) = &state.connection {
            return Ok(Ok(connection.clone()));
        }
        if state.retry_after.is_some_and(|at| Instant::now() < at) {
            return Err(Error::Paused(self.hypervisor.name.clone()));
        }
        // Read-only: the proxy only reads domains, and must not be able to change them.
        Ok(match Connect::open_read_only(Some(&self.open_uri)) {
            Ok(connection) => {
                let connection = Arc::new(connection);
                state.connection = Some(connection.clone());
                state.retry_after = None;
                state.pause = Duration::ZERO;
                Ok(connection)
            }
            Err(error) => {
                state.pause = (state.pause * 2).clamp(Duration::from_secs(1), MAX_PAUSE);
                state.retry_after = Some(Instant::now() + state.pause);
                Err(error)
            }
        })
    }

    /// The connection broke: the next call opens another.
    fn failed(&self) {
        self.state().connection = None;
    }
}

/// The domain named by a UUID or a name, `None` if the hypervisor has none.
fn lookup(connection: &Connect, id: &str) -> Result<Option<Domain>, virt::error::Error> {
    let found = if id.len() == 36 && id.chars().filter(|c| *c == '-').count() == 4 {
        connection.lookup_domain_by_uuid_string(id)
    } else {
        connection.lookup_domain_by_name(id)
    };
    match found {
        Ok(domain) => Ok(Some(domain)),
        Err(error) if error.code() == Enum::Known(ErrorNumber::NoDomain) => Ok(None),
        Err(error) => Err(error),
    }
}

/// What `connection`'s hypervisor says about the domain `id` names.
fn presence(connection: &Connect, id: &str) -> Result<Presence, virt::error::Error> {
    let Some(domain) = lookup(connection, id)? else {
        return Ok(Presence::Absent);
    };
    if !domain.is_active()? {
        return Ok(Presence::Stopped);
    }
    let (state, _) = domain.state()?;
    Ok(Presence::Running(Live {
        uuid: domain.uuid_string()?,
        paused: state == Enum::Known(DomainState::Paused),
        xml: domain.xml_desc(0)?,
    }))
}

fn list_domains(connection: &Connect) -> Result<Vec<DomainInfo>, virt::error::Error> {
    let mut listed = Vec::new();
    for domain in connection.list_all_domains(0)? {
        let running = domain.is_active()?;
        let consoles = if running {
            xml::consoles(&domain.xml_desc(0)?).unwrap_or_default()
        } else {
            xml::Consoles::default()
        };
        listed.push(DomainInfo {
            name: domain.name()?,
            uuid: domain.uuid_string()?,
            running,
            consoles,
        });
    }
    listed.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(listed)
}

//! A `libvirt:` target made concrete before the upgrade: the domain's live XML says where its
//! console listens now (a guest with `autoport` gets another port at each start).

use super::context::Front;
use crate::libvirt::{self, DomainRef};
use crate::token::{Grant, RefusalReason};

/// Why a `libvirt:` target was not found.
#[derive(Debug, thiserror::Error)]
pub(super) enum Unlocated {
    /// No `[libvirt] uris`.
    #[error("the token names a libvirt domain and [libvirt] uris is not set")]
    Disabled,
    /// The target does not name a domain the way tokens may.
    #[error("not a libvirt:DOMAIN or libvirt://HYPERVISOR/DOMAIN target")]
    Malformed,
    /// The inventory's answer.
    #[error(transparent)]
    Libvirt(#[from] libvirt::Error),
}

impl Unlocated {
    /// Whether the token or the guest is at fault (403) rather than the hypervisor (503).
    pub(super) fn refuses(&self) -> bool {
        match self {
            Self::Disabled | Self::Malformed => true,
            Self::Libvirt(error) => error.refuses(),
        }
    }

    /// The refusal's label.
    pub(super) fn reason(&self) -> RefusalReason {
        if self.refuses() {
            RefusalReason::VmUnavailable
        } else {
            RefusalReason::HypervisorUnavailable
        }
    }

    /// What the browser may be told.
    pub(super) fn public_reason(&self) -> &'static str {
        match self {
            Self::Disabled | Self::Malformed => "this console cannot be reached",
            Self::Libvirt(error) => error.public_reason(),
        }
    }
}

/// Puts the console's live address into `grant` when its target names a libvirt domain; any
/// other grant is left as it is.
pub(super) async fn locate(front: &Front, grant: &mut Grant) -> Result<(), Unlocated> {
    if !grant.target.is_libvirt() {
        return Ok(());
    }
    let reference = DomainRef::of(&grant.target).ok_or(Unlocated::Malformed)?;
    let inventory = front.libvirt.as_ref().ok_or(Unlocated::Disabled)?;
    let found = inventory.console(&reference, grant.kind).await?;
    grant.target = found.target;
    if grant.tls_port.is_none() {
        grant.tls_port = found.tls_port;
    }
    // TLS as the hypervisor runs the console; a token's own `auth=` still decides for VNC.
    grant.tls = Some(found.tls);
    if grant.schemes.is_none() {
        grant.schemes = found.schemes;
    }
    Ok(())
}

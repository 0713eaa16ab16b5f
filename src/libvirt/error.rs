//! Why a domain's console was not found, and what the browser may be told.

use crate::console::ConsoleKind;

use super::xml;

/// Why a domain's console was not found.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No hypervisor knows the domain.
    #[error("no hypervisor has a domain {0:?}")]
    Unknown(String),
    /// Two hypervisors run different domains of this name.
    #[error("two hypervisors run different domains named {0:?}; name the hypervisor (libvirt://HYPERVISOR/NAME) or use the UUID")]
    Ambiguous(String),
    /// It is defined but not running.
    #[error("the virtual machine is not running")]
    NotRunning,
    /// It has no console of the kind asked.
    #[error("the domain has no {0} console libvirt can reach")]
    NoConsole(ConsoleKind),
    /// A token names a hypervisor that is not in `[libvirt] uris`.
    #[error("no hypervisor {0:?} in [libvirt] uris")]
    UnknownHypervisor(String),
    /// A call failed: libvirtd down, the connection broken, refused.
    #[error("libvirt on {hypervisor} failed")]
    Libvirt {
        /// The hypervisor asked.
        hypervisor: String,
        /// libvirt's error.
        #[source]
        source: virt::error::Error,
    },
    /// A call failed a moment ago; it is tried again after a pause.
    #[error("libvirt on {0} failed a moment ago; asked again after a pause")]
    Paused(String),
    /// A call did not finish within its deadline.
    #[error("libvirt on {0} did not answer in time")]
    Timeout(String),
    /// The live XML does not parse.
    #[error(transparent)]
    Xml(#[from] xml::BadXml),
    /// The blocking call's thread was lost.
    #[error("a libvirt call was lost")]
    Lost(#[source] tokio::task::JoinError),
}

impl Error {
    /// Whether this is the token's or the guest's matter (403), rather than the hypervisor's
    /// (503, nobody's fault).
    pub fn refuses(&self) -> bool {
        matches!(
            self,
            Self::Unknown(_)
                | Self::Ambiguous(_)
                | Self::NotRunning
                | Self::NoConsole(_)
                | Self::UnknownHypervisor(_)
        )
    }

    /// A short text for the browser.
    pub fn public_reason(&self) -> &'static str {
        match self {
            Self::NotRunning => "the virtual machine is not running",
            Self::Unknown(_) | Self::UnknownHypervisor(_) => "the virtual machine does not exist",
            Self::NoConsole(_) => "the virtual machine has no such console",
            Self::Ambiguous(_) => "more than one virtual machine has this name",
            _ => "the hypervisor cannot be asked now",
        }
    }
}

//! Consoles named by their libvirt domain: `libvirt:NAME`, `libvirt:UUID` or
//! `libvirt://HYPERVISOR/NAME` in any token source. The inventory asks the hypervisors of
//! `[libvirt] uris` for the domain's live XML when a session starts, so that a guest whose
//! `autoport` changed at its last start, or that moved to another hypervisor, is still found.
//!
//! libvirt's C library blocks: every call runs on a blocking thread, within a deadline, over one
//! connection per hypervisor that is opened again (with a growing pause) after it fails.

mod error;
mod placement;
mod pool;
mod target;
pub mod xml;

pub use error::Error;
pub use pool::{DomainInfo, Inventory};
pub use target::{DomainRef, Found, Hypervisor, LibvirtSettings};

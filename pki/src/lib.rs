//! vncgate-pki: the certificates VeNCrypt needs, made right the first time. No network I/O.
//!
//! [`Ca`] makes and signs with a dedicated CA; [`profile::Profile`] fixes the X.509 v3
//! extensions of each role; [`layout`] writes the file layout libvirt, QEMU and nova expect.

// Nothing from outside may panic the process: no unwrap, expect, panic or unchecked index
// outside tests. A framer that indexes buffers whose lengths it has checked says so where it
// allows it.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod enrol;
mod error;
pub mod inspect;
pub mod isolation;
pub mod issue;
pub mod layout;
pub mod libvirt;
mod pair;
pub mod profile;
mod report;
mod rules;
pub mod store;

pub use error::PkiError;
pub use issue::{Ca, Issued, KeyType};
pub use profile::Profile;

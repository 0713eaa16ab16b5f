//! What `pki check` reports: findings with their severity and file, and what was expected of
//! the files. No I/O.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth knowing, not wrong (expiry within 30 days, a missing optional extension).
    Warning,
    /// Wrong: QEMU, libvirt, rustls or the proxy will refuse it, or it is unsafe.
    Error,
}

/// One thing found about one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// The file it is about.
    pub path: PathBuf,
    /// What is wrong, and what to do, in plain words.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            formatter,
            "{word}: {}: {}",
            self.path.display(),
            self.message
        )
    }
}

/// What a certificate is meant for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The CA.
    Ca,
    /// A VNC server (or the proxy's HTTPS server).
    Server,
    /// The proxy's VeNCrypt client identity.
    Client,
}

/// Days before expiry from which a warning is given.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// Collects findings.
#[derive(Debug, Default)]
pub struct Report {
    /// Everything found, in order.
    pub findings: Vec<Finding>,
    /// Files checked.
    pub checked: BTreeSet<PathBuf>,
}

impl Report {
    pub(crate) fn add(&mut self, severity: Severity, path: &Path, message: impl Into<String>) {
        self.findings.push(Finding {
            severity,
            path: path.to_path_buf(),
            message: message.into(),
        });
    }

    /// Whether anything is wrong (warnings do not count).
    pub fn has_errors(&self) -> bool {
        self.findings
            .iter()
            .any(|finding| finding.severity == Severity::Error)
    }
}

/// What to check against.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    /// Host names or addresses server certificates must carry in their SAN.
    pub hosts: Vec<String>,
}

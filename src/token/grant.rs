//! What a valid token grants: a console, its expiry, and what the proxy needs to reach it.
//! No I/O.

use std::time::{Duration, SystemTime};

use crate::console::{AuthScheme, Clipboard, ConsoleKind, Reach, Secret, Target};

/// What a valid token grants.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The kind of console.
    pub kind: ConsoleKind,
    /// The console server.
    pub target: Target,
    /// How it is reached beyond its address: TCP, a WebMKS ticket, VMware's authd.
    pub reach: Reach,
    /// Whether sessions may only watch: `Some` when the token source says, else the
    /// configuration's `default_view_only` decides.
    pub view_only: Option<bool>,
    /// Which way the clipboard may flow: `Some` when the token source says, else the
    /// configuration's `default_clipboard` decides.
    pub clipboard: Option<Clipboard>,
    /// A SPICE server's TLS port (nova's `tls_port` column), used with `[vncgate] spice_tls`.
    pub tls_port: Option<u16>,
    /// When the token stops being valid; `None` for file tokens without `expires=`.
    pub expires: Option<SystemTime>,
    /// VNC password for the `vnc` scheme, held by the proxy only.
    pub password: Option<Secret>,
    /// The schemes allowed toward this console server, in order, when the token source says
    /// (a token file's `auth=`); otherwise the configuration decides.
    pub schemes: Option<Vec<AuthScheme>>,
    /// nova's instance UUID, when the token is a nova row.
    pub instance: Option<String>,
    /// Whether its sessions are recorded: `Some` when the token source says, else the
    /// configuration's `record` decides.
    pub record: Option<bool>,
}

impl Grant {
    /// Whether the grant is still valid at `now`.
    pub fn is_live(&self, now: SystemTime) -> bool {
        self.expires.is_none_or(|expires| expires > now)
    }

    /// Time left before expiry, if it expires.
    pub fn remaining(&self, now: SystemTime) -> Option<Duration> {
        self.expires
            .map(|expires| expires.duration_since(now).unwrap_or_default())
    }
}

//! What a valid token grants: a console, its expiry, and what the proxy needs to reach it.
//! No I/O.

use std::time::{Duration, SystemTime};

use crate::access::Narrowing;
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
    /// Whether a serial or SPICE console's own stream is TLS: `Some` when the source knows (a
    /// libvirt domain's live XML), else `serial_tls` and `spice_tls` decide.
    pub tls: Option<bool>,
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
    /// A token-file entry's `label=`, by which `[vncgate] access_policy` grants it.
    pub label: Option<String>,
    /// The person it was minted for: it opens only in their signed-in browser.
    pub person: Option<Person>,
    /// What `[vncgate] access_policy` narrows its sessions to, when a rule granted it on
    /// opening (a rule by nova project); applied over the token's settings and the defaults.
    pub narrowed: Option<Narrowing>,
}

/// The person a token was minted for (`/consoles`, `token issue --user`), or, once admitted,
/// the person signed in in the browser that opened it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Person {
    /// Their subject at the identity provider.
    pub sub: String,
    /// Their e-mail address, when the provider gives one (filled in at admission).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The `access_policy` rule that granted the console.
    pub rule: Option<String>,
}

/// The optional fields the token sources beyond files and nova's table carry (a JWT's claims,
/// a Redis value, the token API's JSON), with the names the token files use.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Extras {
    /// nova's console type.
    pub kind: Option<String>,
    /// A SPICE server's TLS port.
    pub tls_port: Option<u16>,
    /// A watch link.
    pub view_only: Option<bool>,
    /// Which way the clipboard may flow.
    pub clipboard: Option<String>,
    /// Whether sessions are recorded.
    pub record: Option<bool>,
}

impl Grant {
    /// A grant of a noVNC console at `target`, reached directly, everything else left to the
    /// configuration.
    pub fn direct(target: Target) -> Self {
        Self {
            kind: ConsoleKind::Novnc,
            target,
            reach: Reach::Direct,
            view_only: None,
            clipboard: None,
            tls_port: None,
            tls: None,
            expires: None,
            password: None,
            schemes: None,
            instance: None,
            record: None,
            label: None,
            person: None,
            narrowed: None,
        }
    }

    /// Narrows its sessions further by `narrowing` (the tighter of both when narrowed before).
    pub fn narrow(&mut self, narrowing: Narrowing) {
        self.narrowed = Some(
            self.narrowed
                .map_or(narrowing, |before| before.tighter(narrowing)),
        );
    }

    /// Whether its sessions are recorded, when the token or the access policy says: a rule
    /// that records wins over a token that does not.
    pub fn record_wanted(&self) -> Option<bool> {
        match self.narrowed {
            Some(Narrowing {
                record: Some(true), ..
            }) => Some(true),
            _ => self.record,
        }
    }

    /// This grant with `extras` applied; `None` for an unknown kind or clipboard name.
    pub fn with(mut self, extras: Extras) -> Option<Self> {
        if let Some(kind) = extras.kind.as_deref() {
            self.kind = ConsoleKind::from_nova_name(kind)?;
        }
        if let Some(clipboard) = extras.clipboard.as_deref() {
            self.clipboard = Some(Clipboard::from_name(clipboard)?);
        }
        self.tls_port = extras.tls_port.filter(|port| *port > 0);
        self.view_only = extras.view_only;
        self.record = extras.record;
        Some(self)
    }

    /// Whether the grant is still valid at `now`.
    pub fn is_live(&self, now: SystemTime) -> bool {
        self.expires.is_none_or(|expires| expires > now)
    }

    /// Whether the browser of `person` (its signed-in `sub`, if any) may open it: a grant
    /// minted for a person opens only for them.
    pub fn opens_for(&self, person: Option<&str>) -> bool {
        self.person
            .as_ref()
            .is_none_or(|bound| person == Some(bound.sub.as_str()))
    }

    /// Time left before expiry, if it expires.
    pub fn remaining(&self, now: SystemTime) -> Option<Duration> {
        self.expires
            .map(|expires| expires.duration_since(now).unwrap_or_default())
    }
}

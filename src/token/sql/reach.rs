//! `internal_access_path`, read for what it says about reaching the console. No I/O.
//!
//! nova's vmwareapi driver writes `webmks` rows with a JSON object `{"ticket", "cfgFile",
//! "thumbprint"}` for VMware's authd. vncgate writes `novnc` rows for WebMKS ticket URLs with
//! `{"webmks": PATH, "thumbprint": HEX}`. Anything else in a `novnc` row is left alone: nova's
//! own proxies gave it another meaning (an HTTP CONNECT path) that no current driver uses.

use serde::{Deserialize, Serialize};

use crate::console::{ConsoleKind, Reach, Secret, Thumbprint};

/// What nova's `get_mks_console` stores.
#[derive(Deserialize)]
struct MksAuth {
    ticket: String,
    #[serde(rename = "cfgFile")]
    cfg_file: String,
    thumbprint: String,
}

/// What vncgate stores for a WebMKS ticket URL.
#[derive(Deserialize, Serialize)]
pub(super) struct TicketPath {
    webmks: String,
    thumbprint: String,
}

/// The JSON vncgate stores for a WebMKS ticket: its URL's path and the host's thumbprint.
pub(super) fn ticket_path(path: &Secret, thumbprint: &Thumbprint) -> String {
    let stored = TicketPath {
        webmks: path.expose().to_owned(),
        thumbprint: thumbprint.to_hex(),
    };
    serde_json::to_string(&stored).unwrap_or_default()
}

/// How a row of `kind` with `internal_access_path` is reached; `None` for a `webmks` row whose
/// path is not nova's object (it cannot be used).
pub(super) fn reach_of(kind: ConsoleKind, internal_access_path: Option<&str>) -> Option<Reach> {
    match kind {
        ConsoleKind::Webmks => {
            let auth: MksAuth = serde_json::from_str(internal_access_path?).ok()?;
            Some(Reach::Authd {
                ticket: Secret::new(auth.ticket),
                cfg_file: auth.cfg_file,
                thumbprint: Thumbprint::parse(&auth.thumbprint).ok()?,
            })
        }
        ConsoleKind::Serial | ConsoleKind::SpiceHtml5 => Some(Reach::Direct),
        ConsoleKind::Novnc => {
            let stored =
                internal_access_path.and_then(|path| serde_json::from_str::<TicketPath>(path).ok());
            match stored {
                Some(stored) => Some(Reach::WebMks {
                    path: Secret::new(stored.webmks),
                    thumbprint: Thumbprint::parse(&stored.thumbprint).ok()?,
                }),
                None => Some(Reach::Direct),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIN: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn nova_mks_rows_and_vncgate_ticket_rows() {
        let nova = format!(
            r#"{{"ticket": "52f3b6c0", "cfgFile": "[datastore1] vm/vm.vmx", "thumbprint": "{PIN}"}}"#
        );
        let Some(Reach::Authd {
            ticket,
            cfg_file,
            thumbprint,
        }) = reach_of(ConsoleKind::Webmks, Some(&nova))
        else {
            panic!("not authd");
        };
        assert_eq!(ticket.expose(), "52f3b6c0");
        assert_eq!(cfg_file, "[datastore1] vm/vm.vmx");
        assert_eq!(thumbprint.to_hex(), PIN);
        assert_eq!(reach_of(ConsoleKind::Webmks, None), None);
        assert_eq!(reach_of(ConsoleKind::Webmks, Some("{}")), None);

        let pin = Thumbprint::parse(PIN).expect("pin");
        let stored = ticket_path(&Secret::new("/ticket/abc"), &pin);
        assert_eq!(
            reach_of(ConsoleKind::Novnc, Some(&stored)),
            Some(Reach::WebMks {
                path: Secret::new("/ticket/abc"),
                thumbprint: pin
            })
        );
        assert_eq!(reach_of(ConsoleKind::Novnc, None), Some(Reach::Direct));
        assert_eq!(
            reach_of(ConsoleKind::Novnc, Some("/websockify")),
            Some(Reach::Direct)
        );
    }
}

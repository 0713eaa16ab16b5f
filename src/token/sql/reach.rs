//! `internal_access_path`, read for what it says about reaching the console. No I/O.
//!
//! nova's vmwareapi driver writes `webmks` rows with a JSON object `{"ticket", "cfgFile",
//! "thumbprint"}` for VMware's authd. vncgate writes `novnc` rows for WebMKS ticket URLs with
//! `{"webmks": PATH, "thumbprint": HEX}`. Anything else in a `novnc` row is left alone: nova's
//! own proxies gave it another meaning (an HTTP CONNECT path) that no current driver uses.

use serde::Deserialize;

use crate::console::{Clipboard, ConsoleKind, Reach, Secret, Thumbprint};

/// What nova's `get_mks_console` stores.
#[derive(Deserialize)]
struct MksAuth {
    ticket: String,
    #[serde(rename = "cfgFile")]
    cfg_file: String,
    thumbprint: String,
}

/// What vncgate stores for a WebMKS ticket URL.
#[derive(Deserialize)]
struct TicketPath {
    webmks: String,
    thumbprint: String,
}

/// The JSON vncgate stores for a token it issues, when there is anything to store: a WebMKS
/// ticket's path and thumbprint, `view_only`, `clipboard` and `record`.
pub(super) fn stored_path(
    reach: &Reach,
    view_only: bool,
    clipboard: Option<Clipboard>,
    record: Option<bool>,
    person: Option<&crate::token::grant::Person>,
) -> Option<String> {
    let mut stored = serde_json::Map::new();
    if let Some(person) = person.and_then(|p| serde_json::to_value(p).ok()) {
        stored.insert("person".into(), person);
    }
    if let Reach::WebMks { path, thumbprint } = reach {
        stored.insert("webmks".into(), path.expose().into());
        stored.insert("thumbprint".into(), thumbprint.to_hex().into());
    }
    if view_only {
        stored.insert("view_only".into(), true.into());
    }
    if let Some(clipboard) = clipboard {
        stored.insert("clipboard".into(), clipboard.name().into());
    }
    if let Some(record) = record {
        stored.insert("record".into(), record.into());
    }
    (!stored.is_empty()).then(|| serde_json::Value::Object(stored).to_string())
}

/// The `view_only` flag vncgate stored, if it stored one (nova's rows have none).
pub(super) fn view_only_of(internal_access_path: Option<&str>) -> Option<bool> {
    let value: serde_json::Value = serde_json::from_str(internal_access_path?).ok()?;
    value.get("view_only")?.as_bool()
}

/// The person a token was minted for, if vncgate stored one.
pub(super) fn person_of(internal_access_path: Option<&str>) -> Option<crate::token::grant::Person> {
    let value: serde_json::Value = serde_json::from_str(internal_access_path?).ok()?;
    serde_json::from_value(value.get("person")?.clone()).ok()
}

/// The `record` flag vncgate stored, if it stored one (nova's rows have none: the
/// configuration's `record` decides).
pub(super) fn record_of(internal_access_path: Option<&str>) -> Option<bool> {
    let value: serde_json::Value = serde_json::from_str(internal_access_path?).ok()?;
    value.get("record")?.as_bool()
}

/// The `clipboard` vncgate stored, if it stored one (nova's rows have none).
pub(super) fn clipboard_of(internal_access_path: Option<&str>) -> Option<Clipboard> {
    let value: serde_json::Value = serde_json::from_str(internal_access_path?).ok()?;
    Clipboard::from_name(value.get("clipboard")?.as_str()?)
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
        let ticket = Reach::WebMks {
            path: Secret::new("/ticket/abc"),
            thumbprint: pin.clone(),
        };
        let stored = stored_path(&ticket, true, None, None, None).expect("stored");
        assert_eq!(view_only_of(Some(&stored)), Some(true));
        assert_eq!(stored_path(&Reach::Direct, false, None, None, None), None);
        let alice = crate::token::grant::Person {
            sub: "alice".into(),
            email: Some("alice@example.org".into()),
            rule: Some("ops".into()),
        };
        let watch = stored_path(
            &Reach::Direct,
            true,
            Some(Clipboard::None),
            Some(true),
            Some(&alice),
        )
        .expect("stored");
        assert_eq!(person_of(Some(&watch)), Some(alice));
        assert_eq!(person_of(Some(&stored)), None);
        assert_eq!(clipboard_of(Some(&watch)), Some(Clipboard::None));
        assert_eq!(clipboard_of(Some(&stored)), None);
        assert_eq!(
            reach_of(ConsoleKind::Novnc, Some(&watch)),
            Some(Reach::Direct)
        );
        assert_eq!(view_only_of(Some(&watch)), Some(true));
        assert_eq!(view_only_of(Some("/websockify")), None);
        assert_eq!(record_of(Some(&watch)), Some(true));
        assert_eq!(record_of(Some(&stored)), None);
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

//! The console pages with a keyboard and a screen reader's eyes, in Chromium: the screen and the
//! serial terminal keep Tab for the guest until Ctrl+Alt (pressed and let go) leaves them; then
//! Tab walks every control of the bar in order, each showing its focus; and axe-core finds no
//! serious or critical violation (the others are printed). The SPICE page the same, and the
//! recording player (and, in signin.rs, the sign-in list `/consoles`) pass axe-core.

use crate::common::browser;
use crate::common::xvnc;
use crate::common::*;

/// The ids the walk reached, in order, and those that did not show their focus.
fn walked(found: &serde_json::Value) -> (Vec<String>, Vec<String>) {
    let steps = found["walk"].as_array().cloned().unwrap_or_default();
    let ids = steps
        .iter()
        .map(|step| step["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    let unseen = steps
        .iter()
        .filter(|step| step["outline"] == "none")
        .map(|step| step["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    (ids, unseen)
}

/// Fails on axe-core's serious and critical violations (`found["violations"]`, or `found`
/// itself when it is the list); prints the rest.
pub(crate) fn no_serious_violations(page: &str, found: &serde_json::Value) {
    let list = if found.is_array() {
        found
    } else {
        &found["violations"]
    };
    assert!(list.is_array(), "{page}: axe-core did not run: {found}");
    let violations = list.as_array().cloned().unwrap_or_default();
    let (serious, rest): (Vec<_>, Vec<_>) = violations
        .iter()
        .partition(|v| v["impact"] == "serious" || v["impact"] == "critical");
    eprintln!("{page}: axe-core's minor and moderate findings: {rest:?}");
    assert!(serious.is_empty(), "{page}: {serious:?}");
}

#[tokio::test]
async fn the_console_page_is_usable_by_keyboard_and_passes_axe() {
    if !browser::available() || !xvnc::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let (_server, proxy) =
        crate::browser_console::xvnc_behind_https(work.path(), "x: ADDR\n", "").await;
    let url = format!(
        "https://localhost:{}/console.html?path=%3Ftoken%3Dx",
        proxy.addr.port()
    );
    let found = browser::browse("a11y", url, "a11y-console").await;
    assert!(
        found["status"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Connected"),
        "{found}"
    );
    // Tab stays with the guest until Ctrl+Alt leaves the screen.
    assert_eq!(found["onScreen"], "canvas", "{found}");
    assert_eq!(found["tabStays"], "canvas", "{found}");
    assert_eq!(found["afterLeave"], "ctrl-alt-del", "{found}");
    let (ids, unseen) = walked(&found);
    assert_eq!(
        ids[..7],
        [
            "ctrl-alt-del",
            "keys",
            "paste-toggle",
            "settings-toggle",
            "resize",
            "view-only",
            "fullscreen"
        ],
        "{found}"
    );
    assert!(unseen.iter().all(|id| !ids[..7].contains(id)), "{found}");
    no_serious_violations("console.html", &found);
}

#[tokio::test]
async fn the_serial_page_is_usable_by_keyboard_and_passes_axe() {
    if !browser::available() {
        return;
    }
    // A serial line that echoes.
    let line_addr = echo_line().await;
    let proxy = start_proxy(
        "[serial_console]\nenabled = true\n",
        &format!("s: {line_addr} kind=serial\n"),
    )
    .await;
    let serial = proxy.serial_addr.expect("serial port");
    let url = format!(
        "http://127.0.0.1:{}/serial.html?path=%3Ftoken%3Ds",
        serial.port()
    );
    let found = browser::browse("a11y", url, "a11y-serial").await;
    assert!(
        found["status"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Connected"),
        "{found}"
    );
    assert_eq!(found["onScreen"], "textarea", "{found}");
    assert_eq!(found["tabStays"], "textarea", "{found}");
    assert_eq!(found["afterLeave"], "copy", "{found}");
    let (ids, unseen) = walked(&found);
    assert_eq!(ids[..3], ["copy", "paste-toggle", "copy-stty"], "{found}");
    assert!(unseen.iter().all(|id| !ids[..3].contains(id)), "{found}");
    no_serious_violations("serial.html", &found);
}

#[tokio::test]
async fn the_spice_page_is_usable_by_keyboard_and_passes_axe() {
    use crate::common::qemu::{self, Qemu};
    let spice_html5 = std::path::Path::new("/usr/share/spice-html5/main.js").is_file()
        || peer_missing("spice-html5 (apt-get install spice-html5)");
    if !browser::available() || !qemu::available() || !spice_html5 {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let port = crate::common::daemon::free_port();
    let _vm = Qemu::start(
        work.path(),
        "",
        &[
            "-spice".into(),
            format!("port={port},addr=127.0.0.1,disable-ticketing=on"),
        ],
    );
    let proxy = start_proxy(
        "[spice]\nenabled = true\n",
        &format!("sp: 127.0.0.1:{port} kind=spice-html5\n"),
    )
    .await;
    let spice = proxy.spice_addr.expect("SPICE port");
    let url = format!("http://127.0.0.1:{}/console.html?token=sp", spice.port());
    let found = browser::browse("a11y", url, "a11y-spice").await;
    assert_eq!(found["status"], "Connected", "{found}");
    // spice-html5's canvas keeps Tab for the guest; Ctrl+Alt leaves it for the bar.
    assert_eq!(found["onScreen"], "spice_surface_0", "{found}");
    assert_eq!(found["tabStays"], "spice_surface_0", "{found}");
    assert_eq!(found["afterLeave"], "ctrl-alt-del", "{found}");
    let (ids, unseen) = walked(&found);
    assert_eq!(ids[0], "ctrl-alt-del", "{found}");
    assert!(!unseen.contains(&ids[0]), "{found}");
    no_serious_violations("SPICE console.html", &found);
}

#[tokio::test]
async fn the_recording_player_passes_axe() {
    if !browser::available() {
        return;
    }
    let proxy = start_proxy(&format!("[vncgate]\nnovnc_dir = {}\n", browser::NOVNC), "").await;
    let url = format!("http://127.0.0.1:{}/player.html", proxy.addr.port());
    let found = browser::browse("axe", url, "a11y-player").await;
    assert!(
        !found["title"].as_str().unwrap_or_default().is_empty(),
        "{found}"
    );
    no_serious_violations("player.html", &found);
}

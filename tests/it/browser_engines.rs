//! vncgate's console and serial pages in the two engines beside Chromium: Debian's Firefox ESR
//! (puppeteer-core over WebDriver BiDi, tests/browser/firefox.mjs) and WebKitGTK (its WebDriver
//! and selenium under Xvfb, tests/browser/webkit.py). One real QEMU guest serves both pages: its
//! boot sector writes typed keys on the screen and echoes its serial line. Screenshots go to
//! target/browser-screenshots/.

use std::path::Path;
use std::process::Command;

use crate::common::browser::{self, NOVNC};
use crate::common::pki::TestPki;
use crate::common::serial::SerialGuest;
use crate::common::websockify::python;
use crate::common::*;

/// The echo guest behind a proxy serving the console page over HTTPS and the serial page on
/// the serial port: its console URL and its serial URL.
async fn echo_guest_behind_https(work: &Path) -> (SerialGuest, Proxy, String, String) {
    let pki = TestPki::new(work, "pki");
    let guest = SerialGuest::start(work, None);
    let config = format!(
        "[DEFAULT]\ncert = {}\nkey = {}\n[serial_console]\nenabled = true\n[vncgate]\nnovnc_dir = {NOVNC}\n",
        pki.https_cert().display(),
        pki.https_key().display(),
    );
    let tokens = format!(
        "vm: {}\ns: 127.0.0.1:{} kind=serial\n",
        guest.vm.addr, guest.port
    );
    let proxy = start_proxy(&config, &tokens).await;
    let console = format!(
        "https://localhost:{}/console.html?path=%3Ftoken%3Dvm",
        proxy.addr.port()
    );
    let serial_port = proxy.serial_addr.expect("serial port").port();
    let serial = format!("https://localhost:{serial_port}/serial.html?path=%3Ftoken%3Ds");
    (guest, proxy, console, serial)
}

/// Runs an engine's driver off the async threads: its findings.
async fn drive(mut command: Command) -> serde_json::Value {
    let output = tokio::task::spawn_blocking(move || command.output().expect("driver"))
        .await
        .expect("join");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&output.stderr)))
}

/// What every engine must show: the QEMU screen drawn, the typed keys written on it by the
/// guest, and the serial line's echo of a typed line in the terminal.
fn assert_works(found: &serde_json::Value, typed: &str) {
    assert!(found.get("error").is_none(), "{found}");
    let shown = &found["console"];
    assert!(
        shown["status"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Connected"),
        "{found}"
    );
    assert_eq!(
        (shown["width"].as_u64(), shown["height"].as_u64()),
        (Some(720), Some(400)),
        "QEMU's VGA text mode: {found}"
    );
    assert!(shown["colours"].as_u64().unwrap_or(0) >= 2, "{found}");
    // Fifteen glyphs of 9×16 cells: a few hundred pixels at least.
    assert!(shown["changed"].as_u64().unwrap_or(0) > 150, "{found}");
    let serial = &found["serial"];
    assert!(
        serial["status"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Connected"),
        "{found}"
    );
    assert!(
        serial["terminal"]
            .as_str()
            .unwrap_or_default()
            .contains(typed),
        "{found}"
    );
}

fn firefox_available() -> bool {
    let firefox = Path::new("/usr/bin/firefox-esr").exists();
    let driver = browser::dir().join("node_modules/puppeteer-core").is_dir();
    (firefox && driver && browser::available())
        || peer_missing(&format!(
            "Firefox ESR {firefox} with puppeteer-core {driver} (and node, noVNC)"
        ))
}

#[tokio::test]
async fn firefox_shows_types_and_opens_the_serial_terminal() {
    if !firefox_available() || !crate::common::qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let (_guest, _proxy, console, serial) = echo_guest_behind_https(work.path()).await;
    let mut command = Command::new("node");
    command
        .current_dir(browser::dir())
        .arg("firefox.mjs")
        .args([console, serial])
        .arg(browser::screenshot("firefox").with_extension(""))
        // Firefox writes its profile and caches under HOME.
        .env("HOME", work.path());
    let found = drive(command).await;
    assert_works(&found, "typed in firefox");
}

fn webkit_available() -> bool {
    let driver = Path::new("/usr/bin/WebKitWebDriver").exists();
    let xvfb = Path::new("/usr/bin/xvfb-run").exists();
    (driver && xvfb && browser::available())
        || peer_missing(&format!(
            "WebKitGTK's WebDriver {driver} under xvfb-run {xvfb} (webkit2gtk-driver, xvfb)"
        ))
}

#[tokio::test]
async fn webkit_shows_types_and_opens_the_serial_terminal() {
    if !webkit_available() || !crate::common::qemu::available() {
        return;
    }
    let Some(python) = python("selenium") else {
        return;
    };
    let work = tempfile::tempdir().expect("tempdir");
    let (_guest, _proxy, console, serial) = echo_guest_behind_https(work.path()).await;
    let mut command = Command::new("xvfb-run");
    command
        .args(["-a", "-s", "-screen 0 1280x1024x24"])
        .arg(python)
        .arg(browser::dir().join("webkit.py"))
        .args([console, serial])
        .arg(browser::screenshot("webkit").with_extension(""))
        .env("HOME", work.path());
    let found = drive(command).await;
    assert_works(&found, "typed in webkit");
}

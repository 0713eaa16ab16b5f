//! End-to-end in Debian's headless Chromium, driven by playwright-core: vncgate's console page
//! over HTTPS in front of real QEMU and Xvnc with VeNCrypt mutual TLS, and Debian's own
//! vnc_lite.html. Screenshots go to target/browser-screenshots/ for a person to look at.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::common::browser::{self, NOVNC};
use crate::common::pki::TestPki;
use crate::common::qemu::{self, Qemu};
use crate::common::xvnc::{self, Xvnc};
use crate::common::*;

use browser::browse;

/// A text field of the findings, empty when absent.
fn field<'a>(found: &'a serde_json::Value, name: &str) -> &'a str {
    found[name].as_str().unwrap_or_default()
}

pub(crate) fn https_vencrypt_config(pki: &TestPki, extra: &str) -> String {
    format!(
        "[DEFAULT]\ncert = {}\nkey = {}\nweb = {NOVNC}\n{}[vncgate]\nnovnc_dir = {NOVNC}\n{extra}",
        pki.https_cert().display(),
        pki.https_key().display(),
        pki.vencrypt_config("vencrypt"),
    )
}

pub(crate) fn tls_qemu(work: &Path, pki: &TestPki) -> Qemu {
    let object = format!(
        "tls-creds-x509,id=tls0,dir={},endpoint=server,verify-peer=yes",
        pki.compute().display()
    );
    Qemu::start(work, ",tls-creds=tls0", &["-object".into(), object])
}

/// Xvnc (no VNC security) behind a proxy serving the console page over HTTPS, with `tokens`
/// (`ADDR` stands for Xvnc's address) and `extra` lines in `[vncgate]`.
pub(crate) async fn xvnc_behind_https(work: &Path, tokens: &str, extra: &str) -> (Xvnc, Proxy) {
    let pki = TestPki::new(work, "pki");
    let server = Xvnc::start(work, &["-SecurityTypes".into(), "None".into()]);
    let config = format!(
        "[DEFAULT]\ncert = {}\nkey = {}\n[vncgate]\nnovnc_dir = {NOVNC}\n{extra}",
        pki.https_cert().display(),
        pki.https_key().display(),
    );
    let proxy = start_proxy(&config, &tokens.replace("ADDR", &server.addr.to_string())).await;
    (server, proxy)
}

/// Xvnc with an xterm running `cat`, behind VeNCrypt X509None with the test PKI's certificate.
pub(crate) async fn xterm_over_vencrypt(work: &std::path::Path, pki: &TestPki) -> Xvnc {
    let compute = pki.compute();
    let mut server = Xvnc::start(
        work,
        &[
            "-SecurityTypes".into(),
            "X509None".into(),
            "-X509Cert".into(),
            compute.join("server-cert.pem").display().to_string(),
            "-X509Key".into(),
            compute.join("server-key.pem").display().to_string(),
        ],
    );
    server.run_window("xterm", &["-geometry", "80x24+0+0", "-e", "cat"]);
    server
}

pub(crate) fn console_url(proxy: &Proxy, token: &str) -> String {
    format!(
        "https://localhost:{}/console.html?path=%3Ftoken%3D{token}",
        proxy.addr.port()
    )
}

#[tokio::test]
async fn the_console_page_shows_the_qemu_display_over_vencrypt() {
    if !browser::available() || !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(work.path(), "pki");
    let vm = tls_qemu(work.path(), &pki);
    let proxy = start_proxy(
        &https_vencrypt_config(&pki, ""),
        &format!("vm: {}\n", vm.addr),
    )
    .await;
    let url = console_url(&proxy, "vm");
    let found = browse("display", url, "console-qemu").await;
    assert!(field(&found, "status").contains("Connected"), "{found}");
    // QEMU's VGA text or graphics mode, drawn: not a blank canvas.
    assert!(
        matches!(
            (found["width"].as_u64(), found["height"].as_u64()),
            (Some(720), Some(400)) | (Some(640), Some(480))
        ),
        "{found}"
    );
    assert!(found["colours"].as_u64().unwrap_or(0) >= 2, "{found}");
}

/// Keys typed in the console page (through a token with `attributes`) show in an xterm on Xvnc
/// behind VeNCrypt: the screen is drawn and a few hundred pixels change at least.
async fn typing_shows(attributes: &str, screenshot: &'static str) {
    let work = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(work.path(), "pki");
    let server = xterm_over_vencrypt(work.path(), &pki).await;
    let proxy = start_proxy(
        &https_vencrypt_config(&pki, ""),
        &format!("x: {} {attributes}\n", server.addr),
    )
    .await;
    let found = browse("type", console_url(&proxy, "x"), screenshot).await;
    assert!(field(&found, "status").contains("Connected"), "{found}");
    assert!(found["colours"].as_u64().unwrap_or(0) >= 2, "{found}");
    assert!(found["changed"].as_u64().unwrap_or(0) > 200, "{found}");
}

#[tokio::test]
async fn typed_keys_reach_the_guest() {
    if !browser::available() || !xvnc::available() {
        return;
    }
    typing_shows("", "console-typing").await;
}

/// noVNC through a session whose every server message is framed (`clipboard=none`): its
/// encodings narrowed to what the proxy frames, the screen drawn and typing shown.
#[tokio::test]
async fn novnc_works_through_the_clipboard_filter() {
    if !browser::available() || !xvnc::available() {
        return;
    }
    typing_shows("clipboard=none", "console-clipboard-none").await;
}

/// A watch link in the console page: it says "view only", and typing changes nothing on the
/// guest's screen (the page sends nothing, and the proxy would drop it if it did).
#[tokio::test]
async fn a_watch_link_shows_view_only_and_typing_changes_nothing() {
    if !browser::available() || !xvnc::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(work.path(), "pki");
    let mut server = Xvnc::start(work.path(), &["-SecurityTypes".into(), "None".into()]);
    server.run_window("xterm", &["-geometry", "80x24+0+0", "-e", "cat"]);
    let config = format!(
        "[DEFAULT]\ncert = {}\nkey = {}\nweb = {NOVNC}\n[vncgate]\nnovnc_dir = {NOVNC}\n",
        pki.https_cert().display(),
        pki.https_key().display(),
    );
    let proxy = start_proxy(&config, &format!("x: {} view_only=true\n", server.addr)).await;
    let found = browse("type", console_url(&proxy, "x"), "console-view-only").await;
    assert!(field(&found, "status").contains("view only"), "{found}");
    assert!(found["colours"].as_u64().unwrap_or(0) >= 2, "{found}");
    assert_eq!(found["changed"].as_u64(), Some(0), "{found}");
}

/// The clipboard panel shows the text the guest copies (set in Xvnc with xclip) for a token
/// whose clipboard may flow out (`both`, `from-guest`), and nothing for `none`, where the proxy
/// drops it; where the browser grants the async Clipboard API, the text is on the browser's
/// clipboard too. "Send to guest" is off where the clipboard may not flow in. Leaving a
/// connected console asks first.
#[tokio::test]
async fn the_clipboard_panel_shows_the_guests_text_where_the_token_allows_it() {
    if !browser::available() || !xvnc::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(work.path(), "pki");
    let server = Xvnc::start(work.path(), &["-SecurityTypes".into(), "None".into()]);
    let config = format!(
        "[DEFAULT]\ncert = {}\nkey = {}\n[vncgate]\nnovnc_dir = {NOVNC}\n",
        pki.https_cert().display(),
        pki.https_key().display(),
    );
    for (clipboard, out, send, name) in [
        ("both", true, true, "console-clipboard-both"),
        ("from-guest", true, false, "console-clipboard-from-guest"),
        ("none", false, false, "console-clipboard-off"),
    ] {
        let proxy = start_proxy(
            &config,
            &format!("x: {} clipboard={clipboard}\n", server.addr),
        )
        .await;
        let found = browser::browse_with(
            "clipboard",
            console_url(&proxy, "x"),
            name,
            vec![server.display.to_string()],
        )
        .await;
        assert!(field(&found, "status").starts_with("Connected"), "{found}");
        if out {
            assert_eq!(
                found["clipboard"], found["expected"],
                "{clipboard}: {found}"
            );
            assert_eq!(found["local"], found["expected"], "{clipboard}: {found}");
        } else {
            assert_eq!(found["clipboard"], "", "{clipboard}: {found}");
            assert_ne!(found["local"], found["expected"], "{clipboard}: {found}");
            assert!(field(&found, "note").contains("off"), "{found}");
        }
        assert_eq!(found["sendDisabled"], !send, "{clipboard}: {found}");
        assert_eq!(found["leaveDialog"], "beforeunload", "{clipboard}: {found}");
    }
}

/// The other way: text put in the clipboard panel and sent reaches the guest's clipboard (read
/// in Xvnc with xclip) for `both` (any script: the extended clipboard, UTF-8) and `to-guest`
/// (Latin-1, RFB's plain cut text: text beyond it is not sent garbled, the page says why); for
/// `from-guest` the button is off and the guest's clipboard stays as it was.
#[tokio::test]
async fn the_clipboard_panel_sends_text_to_the_guest_where_the_token_allows_it() {
    if !browser::available() || !xvnc::available() {
        return;
    }
    const LATIN1: &str = "sent from the page: grüße";
    const ANY: &str = "sent from the page: grüße, 端末";
    // A new Xvnc each: its clipboard is empty until text is let in. (clipboard, text, arrives)
    for (clipboard, text, arrives, name) in [
        ("from-guest", LATIN1, false, "console-paste-refused"),
        ("to-guest", LATIN1, true, "console-paste-to-guest"),
        ("to-guest", ANY, false, "console-paste-latin1-only"),
        ("both", ANY, true, "console-paste-both"),
    ] {
        let work = tempfile::tempdir().expect("tempdir");
        let (server, proxy) =
            xvnc_behind_https(work.path(), &format!("x: ADDR clipboard={clipboard}\n"), "").await;
        let found = browser::browse_with(
            "paste",
            console_url(&proxy, "x"),
            name,
            vec![server.display.to_string(), text.to_owned()],
        )
        .await;
        assert!(field(&found, "status").starts_with("Connected"), "{found}");
        let send = clipboard != "from-guest";
        assert_eq!(found["sendDisabled"], !send, "{clipboard}: {found}");
        if arrives {
            assert_eq!(found["guest"], text, "{clipboard}: {found}");
        } else {
            assert_eq!(found["guest"], "", "{clipboard}: {found}");
        }
        if send && !arrives {
            assert!(field(&found, "note").contains("Latin-1"), "{found}");
        }
    }
}

/// `resize=remote`: the guest's desktop takes the window's size (SetDesktopSize through the
/// proxy), as the X server itself reports it and a second, raw viewer sees it; with a watch link
/// it stays as it was.
#[tokio::test]
async fn the_guest_resizes_to_the_window() {
    if !browser::available() || !xvnc::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let (server, proxy) =
        xvnc_behind_https(work.path(), "x: ADDR\nwatch: ADDR view_only=true\n", "").await;
    let url = |token: &str| {
        format!(
            "https://localhost:{}/console.html?path=%3Ftoken%3D{token}&resize=remote",
            proxy.addr.port()
        )
    };
    let display = vec![server.display.to_string()];
    let found = browser::browse_with(
        "resize",
        url("watch"),
        "console-resize-watch",
        display.clone(),
    )
    .await;
    assert_eq!(
        found["before"], found["after"],
        "a watch link resized the guest: {found}"
    );
    let found = browser::browse_with("resize", url("x"), "console-resize", display).await;
    assert!(field(&found, "status").starts_with("Connected"), "{found}");
    assert_eq!(found["after"], found["screen"], "{found}");
    assert_ne!(found["before"], found["after"], "{found}");
    // A second, raw viewer through the proxy gets the new size in its ServerInit.
    let (_viewer, width, height) = crate::common::rfb::viewer(&proxy, "x").await;
    assert_eq!(found["after"], format!("{width}x{height}"), "{found}");
}

/// `console_defaults`: the operator's settings where the page's address does not say, and the
/// mandatory ones whatever it says, their controls disabled; the person's own language wins over
/// the operator's default one.
#[tokio::test]
async fn the_operators_console_defaults_apply_and_mandatory_ones_hold() {
    if !browser::available() || !xvnc::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let defaults = r#"{"resize": "off", "quality": 2, "show_dot": true, "lang": "de", "mandatory": {"view_only": true, "compression": 9}}"#;
    let (_server, proxy) = xvnc_behind_https(
        work.path(),
        "x: ADDR\n",
        &format!("console_defaults = {defaults}\n"),
    )
    .await;
    let url = format!(
        "https://localhost:{}/console.html?path=%3Ftoken%3Dx&resize=scale&view_only=false",
        proxy.addr.port()
    );
    let found = browse("settings", url, "console-settings").await;
    assert!(field(&found, "status").starts_with("Connected"), "{found}");
    let control = |id: &str| found["controls"][id].clone();
    // The address says resize=scale: it wins over the default.
    assert_eq!(
        control("resize"),
        serde_json::json!({"value": "scale", "disabled": false})
    );
    assert_eq!(
        control("quality"),
        serde_json::json!({"value": "2", "disabled": false})
    );
    assert_eq!(
        control("show-dot"),
        serde_json::json!({"value": true, "disabled": false})
    );
    // Mandatory: whatever the address says, and not to be changed.
    assert_eq!(
        control("compression"),
        serde_json::json!({"value": "9", "disabled": true})
    );
    assert_eq!(
        control("view-only"),
        serde_json::json!({"value": true, "disabled": true})
    );
    assert_eq!(found["lang"], "en", "{found}");
}

/// A phone (Chromium's mobile emulation: touch, 390×844): a tap clicks, the on-screen keyboard
/// types into the guest, sticky Ctrl then `c` reaches it as Ctrl+C, and Esc is there; as the X
/// server itself sees them (xev on its root window).
#[tokio::test]
async fn a_phone_taps_types_and_sends_ctrl_c() {
    if !browser::available() || !xvnc::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let (server, proxy) = xvnc_behind_https(work.path(), "x: ADDR\n", "").await;
    let found = browser::browse_with(
        "mobile",
        console_url(&proxy, "x"),
        "console-phone",
        vec![server.display.to_string()],
    )
    .await;
    assert!(field(&found, "status").starts_with("Connected"), "{found}");
    assert_eq!(found["inputFocused"], "keyboard-input", "{found}");
    assert_eq!(found["ctrlPressed"], "true", "{found}");
    assert_eq!(found["ctrlAfter"], "false", "{found}");
    let events: Vec<String> = found["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str().map(str::to_owned))
        .collect();
    let at = |wanted: &str| events.iter().position(|e| e == wanted);
    let tap = at("button 1").unwrap_or_else(|| panic!("no click from the tap: {found}"));
    let h = at("h 0x0").unwrap_or_else(|| panic!("no h: {found}"));
    let i = at("i 0x0").unwrap_or_else(|| panic!("no i: {found}"));
    // Ctrl (keysym Control_L) then c with the Control state bit (0x4).
    let ctrl_c = events
        .iter()
        .position(|e| e.starts_with("c ") && e.ends_with('4'))
        .unwrap_or_else(|| panic!("no Ctrl+C: {found}"));
    let esc = at("Escape 0x0").unwrap_or_else(|| panic!("no Esc: {found}"));
    assert!(tap < h && h < i && i < ctrl_c && ctrl_c < esc, "{found}");
}

#[tokio::test]
async fn a_bad_token_shows_a_clear_message_and_does_not_loop() {
    if !browser::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(work.path(), "pki");
    let proxy = start_proxy(&https_vencrypt_config(&pki, ""), "").await;
    let url = console_url(&proxy, "not-a-token");
    let found = browse("badtoken", url, "console-bad-token").await;
    let status = field(&found, "status");
    assert!(status.contains("rejected"), "{found}");
    assert_eq!(
        found["sockets"].as_u64(),
        Some(1),
        "no reconnect loop: {found}"
    );
}

#[tokio::test]
async fn a_token_expiring_mid_session_shows_the_reason() {
    if !browser::available() || !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(work.path(), "pki");
    let vm = tls_qemu(work.path(), &pki);
    let expires = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 8;
    let proxy = start_proxy(
        &https_vencrypt_config(&pki, "[consoleauth]\nenforce_session_timeout = true\n"),
        &format!("vm: {} expires={expires}\n", vm.addr),
    )
    .await;
    let url = console_url(&proxy, "vm");
    let found = browse("expire", url, "console-expired").await;
    assert!(field(&found, "connected").contains("Connected"), "{found}");
    assert!(field(&found, "status").contains("expired"), "{found}");
    assert_eq!(
        found["sockets"].as_u64(),
        Some(1),
        "no reconnect after expiry: {found}"
    );
    // Leaving asked first while the session was open, and no longer once it ended.
    assert_eq!(found["leaveAsksWhileConnected"], true, "{found}");
    assert_eq!(found["leaveAsksAfter"], false, "{found}");
}

#[tokio::test]
async fn debian_vnc_lite_connects_with_the_path_form() {
    if !browser::available() || !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(work.path(), "pki");
    let vm = tls_qemu(work.path(), &pki);
    let proxy = start_proxy(
        &https_vencrypt_config(&pki, ""),
        &format!("vm: {}\n", vm.addr),
    )
    .await;
    let url = format!(
        "https://localhost:{}/vnc_lite.html?path=websockify%3Ftoken%3Dvm",
        proxy.addr.port()
    );
    let found = browse("lite", url, "vnc-lite").await;
    assert!(field(&found, "status").contains("Connected"), "{found}");
    assert!(found["colours"].as_u64().unwrap_or(0) >= 2, "{found}");
    // nova's own form, as access_url builds it for vnc_lite.html: the path is `?token=X`, so
    // the browser opens `/?token=X`.
    let url = format!(
        "https://localhost:{}/vnc_lite.html?path=%3Ftoken%3Dvm",
        proxy.addr.port()
    );
    let found = browse("lite", url, "vnc-lite-nova-form").await;
    assert!(field(&found, "status").contains("Connected"), "{found}");
    assert!(found["colours"].as_u64().unwrap_or(0) >= 2, "{found}");
}

#[tokio::test]
async fn a_missing_novnc_library_is_said_on_the_page() {
    if !browser::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(work.path(), "pki");
    let empty = work.path().join("empty-novnc");
    std::fs::create_dir_all(&empty).expect("dir");
    let config = format!(
        "{}novnc_dir = {}\n",
        https_vencrypt_config(&pki, ""),
        empty.display()
    );
    let proxy = start_proxy(&config, "vm: 127.0.0.1:1\n").await;
    let url = console_url(&proxy, "vm");
    let found = browse("status", url, "console-no-novnc").await;
    assert!(
        field(&found, "status").contains("noVNC library is missing"),
        "{found}"
    );
}

//! The clipboard direction of a token, enforced by the proxy on a real Xvnc display: text put
//! on the guest's clipboard with xclip reaches `both` and `from-guest` viewers (and a view-only
//! one) and never `none` or `to-guest` ones; text a viewer sends reaches the guest's clipboard
//! only from `both` and `to-guest` viewers.

use crate::common;
use std::process::Command;
use std::time::Duration;

use crate::common::rfb::WsBytes;
use crate::common::xvnc::{self, Xvnc};
use crate::common::*;
use tokio::net::TcpStream;

async fn viewer(proxy: &Proxy, token: &str) -> WsBytes<TcpStream> {
    common::rfb::viewer(proxy, token).await.0
}

/// The guest's CLIPBOARD selection, as an X client on the display reads it.
fn guest_clipboard(display: u16) -> Option<String> {
    let output = Command::new("xclip")
        .args(["-o", "-selection", "clipboard"])
        .env("DISPLAY", format!(":{display}"))
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

fn xclip_available() -> bool {
    Command::new("xclip").arg("-version").output().is_ok() || peer_missing("xclip (Debian xclip)")
}

async fn proxy_for(server: &Xvnc) -> Proxy {
    let addr = server.addr;
    start_proxy(
        "",
        &format!(
            "both: {addr} clipboard=both\nnone: {addr} clipboard=none\n\
             to: {addr} clipboard=to-guest\nfrom: {addr} clipboard=from-guest\n\
             watch: {addr} view_only=true\n"
        ),
    )
    .await
}

#[tokio::test]
async fn guest_clipboard_text_reaches_only_the_viewers_allowed_to_receive_it() {
    if !xvnc::available() || !xclip_available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let mut server = Xvnc::start(work.path(), &["-SecurityTypes".into(), "None".into()]);
    let proxy = proxy_for(&server).await;
    let mut allowed = Vec::new();
    for token in ["both", "from", "watch"] {
        allowed.push((token, viewer(&proxy, token).await));
    }
    let mut refused = Vec::new();
    for token in ["none", "to"] {
        refused.push((token, viewer(&proxy, token).await));
    }

    let text = "the guest's clipboard: 7f3a";
    let file = work.path().join("clip.txt");
    std::fs::write(&file, text).expect("clip");
    let path = file.display().to_string();
    server.run_client("xclip", &["-quiet", "-selection", "clipboard", "-i", &path]);

    for (token, viewer) in &mut allowed {
        let got = viewer.cut_text(Duration::from_secs(15)).await;
        assert_eq!(
            got,
            Ok(Some(text.as_bytes().to_vec())),
            "the {token} viewer must receive the guest's clipboard"
        );
    }
    // The text reached the others by now, had the proxy let it through.
    for (token, viewer) in &mut refused {
        let got = viewer.cut_text(Duration::from_secs(2)).await;
        assert_eq!(
            got,
            Ok(None),
            "the {token} viewer received the guest's clipboard"
        );
    }
}

#[tokio::test]
async fn browser_clipboard_text_reaches_the_guest_only_when_allowed() {
    if !xvnc::available() || !xclip_available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let server = Xvnc::start(work.path(), &["-SecurityTypes".into(), "None".into()]);
    let proxy = proxy_for(&server).await;
    let display = server.display;

    for token in ["none", "from", "watch"] {
        let mut sender = viewer(&proxy, token).await;
        let text = format!("sent by the {token} viewer");
        sender.send_cut_text(text.as_bytes()).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_ne!(
            guest_clipboard(display).as_deref(),
            Some(text.as_str()),
            "the {token} viewer's text reached the guest"
        );
    }
    for token in ["both", "to"] {
        let mut sender = viewer(&proxy, token).await;
        let text = format!("sent by the {token} viewer");
        sender.send_cut_text(text.as_bytes()).await;
        let mut seen = None;
        for _ in 0..50 {
            seen = guest_clipboard(display);
            if seen.as_deref() == Some(text.as_str()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(
            seen.as_deref(),
            Some(text.as_str()),
            "the {token} viewer's text must reach the guest"
        );
    }
}

#[tokio::test]
async fn default_clipboard_applies_to_tokens_that_do_not_say() {
    if !xvnc::available() || !xclip_available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let mut server = Xvnc::start(work.path(), &["-SecurityTypes".into(), "None".into()]);
    let addr = server.addr;
    let proxy = start_proxy(
        "default_clipboard = none\n",
        &format!("plain: {addr}\nopen: {addr} clipboard=both\n"),
    )
    .await;
    let mut plain = viewer(&proxy, "plain").await;
    let mut open = viewer(&proxy, "open").await;
    let file = work.path().join("clip.txt");
    std::fs::write(&file, "default policy").expect("clip");
    let path = file.display().to_string();
    server.run_client("xclip", &["-quiet", "-selection", "clipboard", "-i", &path]);
    assert_eq!(
        open.cut_text(Duration::from_secs(15)).await,
        Ok(Some(b"default policy".to_vec()))
    );
    assert_eq!(plain.cut_text(Duration::from_secs(2)).await, Ok(None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issued_tokens_carry_the_clipboard_policy() {
    use common::admin::{admin_proxy, request, SECRET};
    if !xvnc::available() || !xclip_available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let mut server = Xvnc::start(work.path(), &["-SecurityTypes".into(), "None".into()]);
    let (addr, port) = (server.addr, server.addr.port());
    let (proxy, _secret) = admin_proxy(&format!("open: {addr} clipboard=both\n")).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let body = |clipboard: &str| {
        format!(
            r#"{{"host": "127.0.0.1", "port": {port}, "ttl": 300, "clipboard": "{clipboard}"}}"#
        )
    };
    let (status, answer) = request(
        &proxy,
        "POST",
        "/v1/tokens",
        Some(SECRET),
        &body("sideways"),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert!(answer.contains("to-guest"), "{answer}");
    let (status, answer) = request(&proxy, "POST", "/v1/tokens", Some(SECRET), &body("none")).await;
    assert_eq!(status, 201, "{answer}");
    let issued: serde_json::Value = serde_json::from_str(&answer).expect("json");
    let from_api = issued["token"].as_str().expect("token").to_owned();
    let (from_cli, _) = issue_token(&proxy, port, &["--clipboard", "to-guest"]);

    let mut open = viewer(&proxy, "open").await;
    let mut api = viewer(&proxy, &from_api).await;
    let mut cli = viewer(&proxy, &from_cli).await;
    let (status, listed) = request(&proxy, "GET", "/v1/sessions", Some(SECRET), "").await;
    assert_eq!(status, 200);
    for clipboard in ["both", "none", "to-guest"] {
        assert!(
            listed.contains(&format!(r#""clipboard":"{clipboard}""#)),
            "{listed}"
        );
    }

    let file = work.path().join("clip.txt");
    std::fs::write(&file, "issued policy").expect("clip");
    let path = file.display().to_string();
    server.run_client("xclip", &["-quiet", "-selection", "clipboard", "-i", &path]);
    assert_eq!(
        open.cut_text(Duration::from_secs(15)).await,
        Ok(Some(b"issued policy".to_vec()))
    );
    assert_eq!(api.cut_text(Duration::from_secs(2)).await, Ok(None));
    assert_eq!(cli.cut_text(Duration::from_secs(1)).await, Ok(None));
}

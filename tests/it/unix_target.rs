//! Consoles behind Unix sockets on the proxy's own host (`unix:/path` targets), as websockify's
//! `--unix-target` and `UnixDomainSocketDirectory` reach them: a real QEMU with its VNC display
//! and its serial line on sockets, opened through vncgate (a token file's `unix:` target, and a
//! socket named by its token in `token_names_dir`) and through websockify itself; every socket a
//! token may not name is refused with the reason logged.

use crate::common::qemu;
use crate::common::serial::SerialGuest;
use crate::common::websockify::{python, Websockify};
use crate::common::*;
use crate::serial::{echoes, tempest_connect};

#[tokio::test]
async fn vnc_and_serial_consoles_on_unix_sockets_open_through_vncgate_and_websockify() {
    let Some(python) = python("websockify") else {
        return;
    };
    if !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let sockets = work.path().join("sockets");
    std::fs::create_dir(&sockets).expect("dir");
    let (vnc, serial) = (sockets.join("vm1-vnc"), sockets.join("vm1-serial"));
    let _vm = SerialGuest::start_unix(work.path(), &serial, &vnc);
    let proxy = start_proxy(
        &format!(
            "[serial_console]\nenabled = true\n[vncgate]\nunix_socket_dirs = {}\ntoken_names_dir = {}\n",
            sockets.display(),
            sockets.display()
        ),
        &format!(
            "v: unix:{}\ns: unix:{} kind=serial\n",
            vnc.display(),
            serial.display()
        ),
    )
    .await;
    // A token file's unix: target, and the socket named by its token (vm1-vnc).
    for token in ["v", "vm1-vnc"] {
        let (socket, _) = ws(proxy.addr, &format!("/?token={token}"), &[])
            .await
            .expect("upgrade");
        let mut rfb = crate::common::rfb::WsBytes::new(socket);
        let init = rfb.handshake().await.expect("VNC over the Unix socket");
        assert!(init.name.contains("QEMU"), "{token}: {init:?}");
    }
    let mut line = tempest_connect(&proxy, "s", "binary")
        .await
        .expect("serial upgrade");
    echoes(&mut line, "over a unix socket\r")
        .await
        .expect("serial echo");

    let websockify = Websockify::start(
        &python,
        "UnixDomainSocketDirectory",
        &sockets.display().to_string(),
    )
    .await;
    assert_eq!(
        websockify.version("vm1-vnc").await.as_deref(),
        Ok(&b"RFB 003.008\n"[..]),
        "the same socket through websockify"
    );
}

#[tokio::test]
async fn sockets_a_token_may_not_name_are_refused_with_the_reason_logged() {
    let work = tempfile::tempdir().expect("tempdir");
    let sockets = work.path().join("sockets");
    std::fs::create_dir(&sockets).expect("dir");
    let inside = sockets.join("inside.sock");
    let outside = work.path().join("outside.sock");
    let _inside = std::os::unix::net::UnixListener::bind(&inside).expect("bind");
    let _outside = std::os::unix::net::UnixListener::bind(&outside).expect("bind");
    std::os::unix::fs::symlink(&outside, sockets.join("link.sock")).expect("symlink");
    let tokens = work.path().join("tokens");
    std::fs::write(
        &tokens,
        format!(
            "outside: unix:{}\nlink: unix:{}\ndotdot: unix:{}/../outside.sock\n",
            outside.display(),
            sockets.join("link.sock").display(),
            sockets.display()
        ),
    )
    .expect("tokens");
    let (daemon, log) = crate::common::daemon::Daemon::with_options(
        work.path(),
        &format!(
            "token_source = {}\nunix_socket_dirs = {}\n",
            tokens.display(),
            sockets.display()
        ),
    )
    .await;
    let cases = [
        ("outside", "is outside unix_socket_dirs"),
        ("link", "is outside unix_socket_dirs"),
        ("dotdot", "is not an absolute path without '..'"),
    ];
    for (token, _) in cases {
        let refused = refusal(ws(daemon.addr, &format!("/?token={token}"), &[]).await);
        assert_eq!(refused.0, 403, "{token}");
    }
    drop(daemon);
    let log = std::fs::read_to_string(log).unwrap_or_default();
    for (token, reason) in cases {
        assert!(
            log.lines()
                .any(|line| line.contains("console server not allowed") && line.contains(reason)),
            "{token}: {reason:?} not logged:\n{log}"
        );
    }

    // Without unix_socket_dirs, no socket may be named, even one a token file points at.
    let proxy = start_proxy("", &format!("inside: unix:{}\n", inside.display())).await;
    assert_eq!(refusal(ws(proxy.addr, "/?token=inside", &[]).await).0, 403);
}

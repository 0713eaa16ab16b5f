//! Revocation ends live sessions: a token revoked with `token revoke`, or a line taken out of
//! a token file, closes its open sessions within `session_recheck_interval`, with a reason the
//! page shows; a token that merely expired and was cleaned up does not (that is
//! `enforce_session_timeout`'s to say).

use std::time::Duration;

use crate::common::*;

const FAST: &str = "[vncgate]\nsession_recheck_interval = 0.5\n";

async fn console(proxy: &Proxy, token: &str) -> rfb::WsBytes<tokio::net::TcpStream> {
    let (socket, _) = ws(proxy.addr, &format!("/?token={token}"), &[])
        .await
        .expect("upgrade");
    open_console(socket).await.expect("console")
}

async fn assert_alive(console: &mut rfb::WsBytes<tokio::net::TcpStream>) {
    console.write(b"ping").await;
    assert_eq!(console.read(4).await.expect("echo"), b"ping");
}

#[tokio::test]
async fn token_revoke_closes_the_session_with_a_reason() {
    let backend = echo_backend().await;
    let proxy = start_proxy(FAST, "").await;
    let (token, _) = issue_token(&proxy, backend.port(), &["--ttl", "600"]);
    let mut open = console(&proxy, &token).await;
    assert_alive(&mut open).await;
    revoke_token(&proxy, &token);
    let close = next_close(&mut open.ws).await;
    assert_eq!(
        close.map(|(_, reason)| reason).as_deref(),
        Some("the console access was revoked")
    );
}

#[tokio::test]
async fn a_line_taken_out_of_a_token_file_closes_its_sessions() {
    let backend = echo_backend().await;
    let proxy = start_proxy(FAST, &format!("gone: {backend}\nkept: {backend}\n")).await;
    let mut gone = console(&proxy, "gone").await;
    let mut kept = console(&proxy, "kept").await;
    std::fs::write(proxy.tokens_path(), format!("kept: {backend}\n")).expect("rewrite");
    let close = next_close(&mut gone.ws).await;
    assert_eq!(
        close.map(|(_, reason)| reason).as_deref(),
        Some("the console access was revoked")
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_alive(&mut kept).await;
}

#[tokio::test]
async fn an_expired_token_cleaned_up_leaves_its_session_alone() {
    let backend = echo_backend().await;
    let proxy = start_proxy(FAST, "").await;
    // Expiry is stored in whole seconds (cut, not rounded): a 3 s token lives 2 to 3 s, time
    // enough to open its console on a loaded machine, and has expired 3.5 s later.
    let (token, _) = issue_token(&proxy, backend.port(), &["--ttl", "3"]);
    let mut open = console(&proxy, &token).await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    // What nova-compute's periodic task (or vncgate's) does to expired rows.
    let database = proxy.dir.path().join("state/tokens.sqlite");
    if !sqlite(&database, "DELETE FROM console_auth_tokens;") {
        return;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_alive(&mut open).await;
}

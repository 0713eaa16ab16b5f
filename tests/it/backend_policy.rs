//! Where tokens may lead and how the proxy authenticates there: `allowed_backends`, the proxy's
//! own admin port, per-target `auth=` in token files and `auth_schemes_by_network`, with the
//! start-up warning for a fallback to a weaker scheme.

use crate::common::*;

/// The failure a session got, which must be the RFB refusal for an unoffered scheme.
fn assert_no_allowed_scheme(result: Result<(), String>) {
    assert!(
        result
            .as_ref()
            .is_err_and(|reason| reason.contains("no allowed security type")),
        "{result:?}"
    );
}

async fn console(proxy: &Proxy, token: &str) -> Result<(), String> {
    match ws(proxy.addr, &format!("/?token={token}"), &[]).await {
        Ok((socket, _)) => open_console(socket).await.map(|_| ()),
        Err(error) => Err(format!("HTTP {}", refusal(Err::<(), _>(error)).0)),
    }
}

#[tokio::test]
async fn a_token_file_entry_narrows_the_schemes_of_its_target() {
    // The server offers None only; the configuration would fall back to it.
    let backend = echo_backend().await;
    let proxy = start_proxy(
        "[vnc]\nauth_schemes = vnc, none\n",
        &format!("loose: {backend}\nstrict: {backend} auth=vnc password=secret12\n"),
    )
    .await;
    assert_eq!(console(&proxy, "loose").await, Ok(()));
    assert_no_allowed_scheme(console(&proxy, "strict").await);
}

#[tokio::test]
async fn a_network_narrows_the_schemes_of_its_servers() {
    let backend = echo_backend().await;
    let proxy = start_proxy(
        "[vnc]\nauth_schemes = vnc, none\n[vncgate]\nauth_schemes_by_network = 127.0.0.0/8=vnc, 10.0.0.0/8=none\n",
        &format!("loose: {backend}\n"),
    )
    .await;
    assert_no_allowed_scheme(console(&proxy, "loose").await);
}

#[tokio::test]
async fn targets_outside_allowed_backends_get_403_before_the_upgrade() {
    let backend = echo_backend().await;
    let tokens = format!("inside: {backend}\nname: localhost:{}\n", backend.port());
    let closed = start_proxy("[vncgate]\nallowed_backends = 10.0.0.0/8\n", &tokens).await;
    assert_eq!(console(&closed, "inside").await, Err("HTTP 403".into()));
    // A name is resolved and its addresses checked before the upgrade.
    assert_eq!(console(&closed, "name").await, Err("HTTP 403".into()));
    let open = start_proxy("[vncgate]\nallowed_backends = 127.0.0.0/8, ::1\n", &tokens).await;
    assert_eq!(console(&open, "inside").await, Ok(()));
    assert_eq!(console(&open, "name").await, Ok(()));
}

#[tokio::test]
async fn a_token_cannot_lead_to_the_admin_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "an-admin-secret-of-some-length\n").expect("secret");
    let proxy = start_proxy(
        &format!("[vncgate]\nadmin_secret_file = {}\n", secret.display()),
        "",
    )
    .await;
    std::fs::write(
        proxy.tokens_path(),
        format!("admin: {}\n", proxy.admin_addr),
    )
    .expect("tokens");
    assert_eq!(console(&proxy, "admin").await, Err("HTTP 403".into()));
}

#[test]
fn check_config_warns_of_a_fallback_and_of_no_allowed_backends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("vncgate.conf");
    std::fs::write(&config, "[vnc]\nauth_schemes = vnc, none\n").expect("config");
    let (passed, stderr) = check_config(&config);
    assert!(passed, "{stderr}");
    assert!(
        stderr.contains("none is tried when vnc is not offered"),
        "{stderr}"
    );
    assert!(stderr.contains("allowed_backends is empty"), "{stderr}");
    std::fs::write(
        &config,
        "[vnc]\nauth_schemes = none\n[vncgate]\nallowed_backends = 10.0.0.0/8\n",
    )
    .expect("config");
    let (_, stderr) = check_config(&config);
    assert!(!stderr.contains("warning"), "{stderr}");
}

//! Sign-in through a real OpenID Connect provider (node-oidc-provider, its own login and consent
//! forms): Chromium signs in and lands where it asked, the session cookie is `__Host-`,
//! `HttpOnly`, `Secure`, `SameSite=Lax` and ends with `session_lifetime`; the audit trail and
//! `vncgate_signins_total` name the person. Forged and stale callbacks (no login cookie, a
//! wrong `state`, a changed cookie, a code the provider never issued), a provider that is
//! down, and a sign-out from another site are refused, each with its reason.

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::browser;
use crate::common::daemon::{free_port, Daemon};
use crate::common::oidc::{sign_in, OidcProvider, CLIENT_ID, CLIENT_SECRET};
use crate::common::pki::TestPki;
use crate::common::*;
use crate::operations::audit_events;

pub(crate) struct Setup {
    pub(crate) _work: tempfile::TempDir,
    pub(crate) provider: Option<OidcProvider>,
    pub(crate) daemon: Daemon,
    pub(crate) ca: String,
    pub(crate) port: u16,
    pub(crate) audit: PathBuf,
    pub(crate) metrics: std::net::SocketAddr,
}

/// The provider and vncgate (HTTPS on `localhost`), with `[oidc]` pointing at each other and
/// `oidc_extra` added to `[oidc]`.
async fn setup(oidc_extra: &str) -> Option<Setup> {
    setup_with(oidc_extra, "").await
}

/// [`setup`] with `vncgate_extra` added to `[vncgate]` (`@WORK@` is the work directory).
pub(crate) async fn setup_with(oidc_extra: &str, vncgate_extra: &str) -> Option<Setup> {
    setup_provider(oidc_extra, vncgate_extra, &serde_json::json!({})).await
}

/// [`setup_with`], the provider started with `provider` options.
async fn setup_provider(
    oidc_extra: &str,
    vncgate_extra: &str,
    provider: &serde_json::Value,
) -> Option<Setup> {
    let work = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(work.path(), "pki");
    let port = free_port();
    let redirect = format!("https://localhost:{port}/oidc/callback");
    let provider = OidcProvider::start_with(free_port(), &redirect, provider)?;
    let private = |name: &str, contents: &[u8]| {
        use std::os::unix::fs::PermissionsExt;
        let path = work.path().join(name);
        std::fs::write(&path, contents).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        path
    };
    let secret = private("client-secret", CLIENT_SECRET.as_bytes());
    let mut key = [0u8; 64];
    getrandom::fill(&mut key).expect("random");
    let key = private("cookie-key", &key);
    let metrics = free_port();
    let audit = work.path().join("audit.log");
    let config = work.path().join("vncgate.conf");
    std::fs::write(
        &config,
        format!(
            "[DEFAULT]\ncert = {}\nkey = {}\n[vnc]\nnovncproxy_host = 127.0.0.1\nnovncproxy_port = {port}\n\
             [vncgate]\nstate_dir = {}\naudit_log = {}\nmetrics_listen = 127.0.0.1:{metrics}\n{}\
             [oidc]\nissuer = {}\nclient_id = {CLIENT_ID}\nclient_secret_file = {}\nredirect_url = {redirect}\n\
             scopes = openid email groups\ncookie_key_file = {}\n{oidc_extra}",
            pki.https_cert().display(),
            pki.https_key().display(),
            work.path().join("state").display(),
            audit.display(),
            vncgate_extra.replace("@WORK@", &work.path().display().to_string()),
            provider.issuer,
            secret.display(),
            key.display(),
        ),
    )
    .expect("config");
    let daemon = Daemon::start(&config, port, &[]).await;
    Some(Setup {
        ca: pki.https_ca_pem(),
        _work: work,
        provider: Some(provider),
        daemon,
        port,
        audit,
        metrics: format!("127.0.0.1:{metrics}").parse().expect("addr"),
    })
}

/// One HTTPS request to vncgate (`Host: localhost:PORT`): the status, the head and the body.
pub(crate) async fn https(
    setup: &Setup,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String, String) {
    let mut tls = tls_connect(setup.daemon.addr, &setup.ca).await;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\nContent-Length: 0\r\n",
        setup.port
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    tls.write_all(request.as_bytes()).await.expect("request");
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(15), tls.read_to_end(&mut response)).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}

/// The value of header `name` in `head`.
pub(crate) fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// The reasons of the `sign_in_failed` events, in order.
fn failures(setup: &Setup) -> Vec<String> {
    audit_events(&setup.audit, "sign_in_failed")
        .iter()
        .map(|event| event["reason"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_person_signs_in_with_the_providers_own_form_and_the_session_ends() {
    if !browser::available() {
        return;
    }
    let Some(setup) = setup("session_lifetime = 12\n").await else {
        return;
    };
    let url = format!("https://localhost:{}/login?next=/consoles", setup.port);
    let found = sign_in(url, "alice", "signin-alice", Some(Duration::from_secs(13))).await;
    assert!(found.get("error").is_none(), "{found}");
    assert_eq!(
        found["landed"],
        format!("https://localhost:{}/consoles", setup.port),
        "{found}"
    );
    assert!(
        found["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Signed in as alice@example.org (groups: ops)"),
        "{found}"
    );
    let cookies = found["cookies"].as_array().expect("cookies");
    assert_eq!(cookies.len(), 1, "only the session cookie stays: {found}");
    let session = &cookies[0];
    assert_eq!(session["name"], "__Host-vncgate-session");
    assert_eq!(session["httpOnly"], true);
    assert_eq!(session["secure"], true);
    assert_eq!(session["sameSite"], "Lax");
    assert_eq!(session["path"], "/");
    // The callback sent again, login cookie and all: the provider has spent the code.
    assert_eq!(found["replay"]["status"], 403, "{found}");
    // Past session_lifetime, the same browser is sent to sign in again.
    assert_eq!(found["after"]["status"], 303, "{found}");
    assert_eq!(
        found["after"]["location"], "/login?next=/consoles",
        "{found}"
    );

    let signed_in = audit_events(&setup.audit, "sign_in");
    assert_eq!(signed_in.len(), 1, "{signed_in:?}");
    assert_eq!(failures(&setup), ["provider_refused"], "the replay");
    assert_eq!(signed_in[0]["user"], "alice");
    assert_eq!(signed_in[0]["email"], "alice@example.org");
    let (_, metrics) = crate::operations::get(setup.metrics, "/metrics").await;
    assert!(
        metrics.contains("vncgate_signins_total{result=\"ok\"} 1")
            && metrics.contains("vncgate_signins_total{result=\"provider_refused\"} 1"),
        "{metrics}"
    );
}

/// A provider that signs its ID tokens with another key than the one it publishes (the keys'
/// `kid` the same): the proxy fetches the keys again once, and still refuses. No session
/// cookie is set, and the page says why.
#[tokio::test]
async fn an_id_token_signed_by_another_key_is_refused() {
    if !browser::available() {
        return;
    }
    let hostile = serde_json::json!({ "foreign_jwks": true });
    let Some(setup) = setup_provider("", "", &hostile).await else {
        return;
    };
    let url = format!("https://localhost:{}/login?next=/consoles", setup.port);
    let found = sign_in(url, "alice", "signin-foreign-key", None).await;
    assert!(found.get("error").is_none(), "{found}");
    assert!(
        found["landed"]
            .as_str()
            .unwrap_or_default()
            .contains("/oidc/callback"),
        "{found}"
    );
    assert!(
        found["text"]
            .as_str()
            .unwrap_or_default()
            .contains("the identity provider's answer could not be verified"),
        "{found}"
    );
    assert_eq!(
        found["cookies"].as_array().map(Vec::len),
        Some(0),
        "{found}"
    );
    assert!(audit_events(&setup.audit, "sign_in").is_empty());
    assert_eq!(failures(&setup)[0], "id_token_refused");
    let (_, metrics) = crate::operations::get(setup.metrics, "/metrics").await;
    assert!(
        metrics.contains("vncgate_signins_total{result=\"id_token_refused\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn forged_stale_and_cross_site_requests_are_refused_with_reasons() {
    let Some(mut setup) = setup("").await else {
        return;
    };
    // Not signed in, or with a session cookie this proxy did not seal: /consoles sends the
    // browser to sign in.
    let forged = "__Host-vncgate-session=eyJzdWIiOiJhbGljZSJ9AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    for cookie in [None, Some(forged)] {
        let headers: Vec<(&str, &str)> = cookie.map(|c| ("Cookie", c)).into_iter().collect();
        let (status, head, _) = https(&setup, "GET", "/consoles", &headers).await;
        assert_eq!(
            (status, header(&head, "location")),
            (303, Some("/login?next=/consoles"))
        );
    }

    // A callback this browser never started (login CSRF): no login cookie.
    let (status, _, body) = https(&setup, "GET", "/oidc/callback?code=c&state=s", &[]).await;
    assert_eq!(status, 403);
    assert!(body.contains("not started in this browser"), "{body}");

    // /login: to the provider, with a sealed login cookie; an outside `next` is not kept.
    let (status, head, _) = https(&setup, "GET", "/login?next=https://evil.example/", &[]).await;
    assert_eq!(status, 303, "{head}");
    let location = url::Url::parse(header(&head, "location").expect("location")).expect("url");
    assert!(location.as_str().starts_with(&format!(
        "{}/auth?",
        setup.provider.as_ref().expect("provider").issuer
    )));
    let query: std::collections::HashMap<String, String> =
        location.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert!(query["scope"].contains("openid"));
    let set_cookie = header(&head, "set-cookie").expect("login cookie");
    for attribute in [
        "__Host-vncgate-login=",
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
        "Path=/",
    ] {
        assert!(set_cookie.contains(attribute), "{attribute}: {set_cookie}");
    }
    let cookie = set_cookie.split(';').next().expect("pair").to_owned();
    let state = &query["state"];

    let callback = |state: &str| format!("/oidc/callback?code=never-issued&state={state}");
    // Another state than this browser's sign-in sent.
    let (status, _, _) = https(
        &setup,
        "GET",
        &callback("not-the-state"),
        &[("Cookie", &cookie)],
    )
    .await;
    assert_eq!(status, 403);
    // The login cookie changed by one character.
    let mut changed = cookie.clone().into_bytes();
    let at = changed.len() - 5;
    changed[at] = if changed[at] == b'A' { b'B' } else { b'A' };
    let changed = String::from_utf8(changed).expect("ascii");
    let (status, _, _) = https(&setup, "GET", &callback(state), &[("Cookie", &changed)]).await;
    assert_eq!(status, 403);
    // The right state, but a code the provider never issued: the provider refuses it.
    let (status, _, body) = https(&setup, "GET", &callback(state), &[("Cookie", &cookie)]).await;
    assert_eq!(status, 403);
    assert!(body.contains("did not sign you in"), "{body}");
    // The provider down: a clear page, never a session.
    setup.provider.take().expect("provider").stop();
    let (status, _, body) = https(&setup, "GET", &callback(state), &[("Cookie", &cookie)]).await;
    assert_eq!(status, 403);
    assert!(body.contains("cannot be reached now"), "{body}");
    assert!(!body.contains("never-issued"));
    assert_eq!(
        failures(&setup),
        [
            "no_pending_sign_in",
            "state_mismatch",
            "no_pending_sign_in",
            "provider_refused",
            "provider_unavailable"
        ]
    );

    // Sign-out from another site's page is refused; from this one, the cookie is cleared.
    let (status, _, _) = https(
        &setup,
        "POST",
        "/logout",
        &[("Origin", "https://evil.example")],
    )
    .await;
    assert_eq!(status, 403);
    let origin = format!("https://localhost:{}", setup.port);
    let (status, head, _) = https(&setup, "POST", "/logout", &[("Origin", &origin)]).await;
    assert_eq!(status, 200);
    assert!(
        header(&head, "set-cookie")
            .is_some_and(|c| c.starts_with("__Host-vncgate-session=;") && c.contains("Max-Age=0")),
        "{head}"
    );
    // Nothing about the cookies reaches the log.
    let log = std::fs::read_to_string(setup.daemon_log()).unwrap_or_default();
    let sealed = cookie.split_once('=').expect("value").1;
    assert!(
        !log.contains(sealed) && !log.contains(state.as_str()),
        "{log}"
    );
}

impl Setup {
    fn daemon_log(&self) -> PathBuf {
        self._work.path().join("vncgate.log")
    }
}

#[tokio::test]
async fn consoles_are_granted_per_person_and_a_minted_link_opens_only_for_its_person() {
    if !browser::available()
        || !crate::common::qemu::available()
        || !crate::common::xvnc::available()
    {
        return;
    }
    let vm_dir = tempfile::tempdir().expect("tempdir");
    let vm = crate::common::qemu::Qemu::start(vm_dir.path(), "", &[]);
    // beta: a terminal that would show whatever is typed into it.
    let mut desktop =
        crate::common::xvnc::Xvnc::start(vm_dir.path(), &["-SecurityTypes".into(), "None".into()]);
    desktop.run_window("xterm", &["-geometry", "80x24+0+0", "-e", "cat"]);
    // gamma: a serial line (a TCP server that echoes).
    let line_addr = echo_line().await;
    let tokens = tempfile::NamedTempFile::new().expect("tokens");
    // beta's entry itself is not view-only: the policy's rule makes it so.
    std::fs::write(
        tokens.path(),
        format!(
            "ops-alpha-entry: {} label=alpha\ndev-beta-entry: {} label=beta\nplain: {}\n\
             ops-gamma-entry: {line_addr} label=gamma kind=serial\n",
            vm.addr, desktop.addr, vm.addr
        ),
    )
    .expect("tokens");
    let policy = tempfile::NamedTempFile::new().expect("policy");
    std::fs::write(
        policy.path(),
        "[[rules]]\nname = \"ops\"\ngroups = [\"ops\"]\nlabels = [\"alpha\", \"gamma\"]\n\n\
         [[rules]]\nname = \"dev-watch\"\ngroups = [\"dev\"]\nlabels = [\"beta\"]\nview_only = true\n",
    )
    .expect("policy");
    let serial_port = free_port();
    let Some(setup) = setup_with(
        "",
        &format!(
            "token_source = {}\naccess_policy = {}\nnovnc_dir = {}\n\
             [serial_console]\nenabled = true\nserialproxy_host = 127.0.0.1\n\
             serialproxy_port = {serial_port}\nbase_url = wss://localhost:{serial_port}/\n",
            tokens.path().display(),
            policy.path().display(),
            browser::NOVNC
        ),
    )
    .await
    else {
        return;
    };
    let origin = format!("https://localhost:{}", setup.port);
    let found = tokio::task::spawn_blocking(move || {
        let output = std::process::Command::new("node")
            .current_dir(browser::dir())
            .arg("consoles.mjs")
            .arg(&origin)
            .arg(browser::screenshot("consoles"))
            .output()
            .expect("node");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        serde_json::from_str::<serde_json::Value>(stdout.lines().last().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}: {stdout}"))
    })
    .await
    .expect("join");
    assert!(found.get("error").is_none(), "{found}");
    crate::a11y::no_serious_violations("/consoles", &found["alice"]["axe"]);
    // Each sees what their group is granted, and nothing else.
    let alice_list = found["alice"]["list"].as_str().unwrap_or_default();
    assert!(
        alice_list.contains("alpha")
            && alice_list.contains("gamma (serial)")
            && !alice_list.contains("beta"),
        "{found}"
    );
    // gamma, a serial console: opened on the serial port's page, signed in there too.
    assert!(
        found["alice"]["serial"]["location"]
            .as_str()
            .unwrap_or_default()
            .starts_with(&format!(
                "https://localhost:{serial_port}/serial.html?path="
            )),
        "{found}"
    );
    assert!(
        found["alice"]["serial"]["status"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Connected"),
        "{found}"
    );
    let bob_list = found["bob"]["list"].as_str().unwrap_or_default();
    assert!(
        bob_list.contains("beta") && !bob_list.contains("alpha"),
        "{found}"
    );
    assert_eq!(found["alice"]["minted"], 303, "{found}");
    assert_eq!(found["alice"]["notGranted"], 403, "{found}");
    // alice's link in bob's browser: refused, with the reason, and not spent.
    assert_eq!(found["bob"]["tokenStatus"]["status"], 403, "{found}");
    assert_eq!(
        found["bob"]["tokenStatus"]["reason"],
        "this console was opened for another person: sign in as them",
        "{found}"
    );
    // ... and then it opens in alice's.
    assert!(
        found["alice"]["console"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Connected"),
        "{found}"
    );
    assert!(
        found["alice"]["colours"].as_u64().unwrap_or(0) >= 2,
        "{found}"
    );
    // bob's grant of beta is view-only: the page says so, and typing changes nothing.
    assert!(
        found["bob"]["beta"]["status"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Connected (view only)"),
        "{found}"
    );
    assert!(
        found["bob"]["beta"]["colours"].as_u64().unwrap_or(0) >= 2,
        "{found}"
    );
    assert_eq!(found["bob"]["beta"]["changed"], 0, "{found}");
    let opened = audit_events(&setup.audit, "session_open");
    assert_eq!(opened.len(), 3, "{opened:?}");
    assert!(
        opened
            .iter()
            .any(|e| e["user"] == "alice" && e["console"] == "serial"),
        "{opened:?}"
    );
    let alice = opened
        .iter()
        .find(|e| e["user"] == "alice" && e["console"] == "novnc")
        .expect("alice's");
    assert_eq!(alice["rule"], "ops");
    let bob = opened.iter().find(|e| e["user"] == "bob").expect("bob's");
    assert_eq!(bob["rule"], "dev-watch");
    let refusals = audit_events(&setup.audit, "refusal");
    assert!(
        refusals
            .iter()
            .any(|r| r["reason"] == "not_granted" && r["user"] == "alice"),
        "{refusals:?}"
    );
    assert!(
        refusals.iter().any(|r| r["reason"] == "other_person"),
        "{refusals:?}"
    );
    drop(vm);
}

#[tokio::test]
async fn require_login_sends_a_token_link_to_sign_in_and_the_first_person_keeps_it() {
    if !browser::available() || !crate::common::qemu::available() {
        return;
    }
    let vm_dir = tempfile::tempdir().expect("tempdir");
    let vm = crate::common::qemu::Qemu::start(vm_dir.path(), "", &[]);
    let tokens = tempfile::NamedTempFile::new().expect("tokens");
    std::fs::write(tokens.path(), format!("a-nova-style-token: {}\n", vm.addr)).expect("tokens");
    let serial_port = free_port();
    let Some(setup) = setup_with(
        "",
        &format!(
            "token_source = {}\nrequire_login = true\nnovnc_dir = {}\n\
             [serial_console]\nenabled = true\nserialproxy_host = 127.0.0.1\n\
             serialproxy_port = {serial_port}\nbase_url = wss://localhost:{serial_port}/\n",
            tokens.path().display(),
            browser::NOVNC
        ),
    )
    .await
    else {
        return;
    };
    // The serial port's page signs in at the console port's /login and comes back to itself.
    let mut serial = tls_connect(
        format!("127.0.0.1:{serial_port}").parse().expect("addr"),
        &setup.ca,
    )
    .await;
    serial
        .write_all(
            format!(
                "GET /serial.html?path=%3Ftoken%3Dx HTTP/1.1\r\nHost: localhost:{serial_port}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .expect("request");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), serial.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
    assert_eq!(
        header(&answer, "location"),
        Some(
            format!(
                "https://localhost:{}/login?next=https%3A%2F%2Flocalhost%3A{serial_port}%2Fserial.html%3Fpath%3D%253Ftoken%253Dx",
                setup.port
            )
            .as_str()
        ),
        "{answer}"
    );
    // (That /login lands there, and nowhere else, is identity.rs's unit test.)
    let page = "/console.html?path=%3Ftoken%3Da-nova-style-token";
    // Without a session: the page sends the browser to sign in, and the token alone opens
    // nothing.
    let (status, head, _) = https(&setup, "GET", page, &[]).await;
    assert_eq!(status, 303, "{head}");
    assert_eq!(
        header(&head, "location"),
        Some("/login?next=%2Fconsole.html%3Fpath%3D%253Ftoken%253Da-nova-style-token")
    );
    let (status, head, _) =
        https(&setup, "GET", "/token-status?token=a-nova-style-token", &[]).await;
    assert_eq!(status, 403);
    assert_eq!(
        header(&head, "x-console-reason"),
        Some("this console needs you to sign in first")
    );
    let tls = tls_connect(setup.daemon.addr, &setup.ca).await;
    let refused = ws_over(tls, "localhost", "/?token=a-nova-style-token", &[]).await;
    assert_eq!(refusal(refused).0, 403);

    // alice opens the link: sign-in, back to the console, connected.
    let url = format!("https://localhost:{}{page}", setup.port);
    let alice = sign_in(url.clone(), "alice", "require-login-alice", None).await;
    assert!(alice.get("error").is_none(), "{alice}");
    assert_eq!(alice["landed"], url, "{alice}");
    assert!(
        alice["status"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Connected"),
        "{alice}"
    );
    // bob, signed in, holding the same link: refused, with the reason on the page.
    let bob = sign_in(url, "bob", "require-login-bob", None).await;
    assert!(
        bob["status"]
            .as_str()
            .unwrap_or_default()
            .contains("another person"),
        "{bob}"
    );
    let refusals = audit_events(&setup.audit, "refusal");
    let reasons: Vec<&str> = refusals
        .iter()
        .filter_map(|r| r["reason"].as_str())
        .collect();
    assert!(
        reasons.contains(&"sign_in_required") && reasons.contains(&"other_person"),
        "{reasons:?}"
    );
    drop(vm);
}

//! Fake VNC servers that misbehave in ways no real one does: each refusal reaches the browser as
//! a short reason, within the deadline, and nothing hangs.

use std::sync::Arc;

use crate::common::fake_vnc::{self, none_handshake, vencrypt_handshake, Step, V38};
use crate::common::pki::TestPki;
use crate::common::*;

fn vencrypt_proxy_config(pki: &TestPki, extra: &str) -> String {
    format!("{}{extra}", pki.vencrypt_config("vencrypt"))
}

/// A rustls server config from a PKI's compute directory; with client-certificate checks
/// against that PKI's CA when `require_client` is set.
fn server_tls(pki: &TestPki, require_client: bool) -> Arc<rustls::ServerConfig> {
    use rustls_pki_types::pem::PemObject;
    let dir = pki.compute();
    let certs: Vec<_> =
        rustls_pki_types::CertificateDer::pem_file_iter(dir.join("server-cert.pem"))
            .expect("cert")
            .map(|c| c.expect("pem"))
            .collect();
    let key =
        rustls_pki_types::PrivateKeyDer::from_pem_file(dir.join("server-key.pem")).expect("key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions");
    let config = if require_client {
        let mut roots = rustls::RootCertStore::empty();
        for cert in
            rustls_pki_types::CertificateDer::pem_file_iter(dir.join("ca-cert.pem")).expect("ca")
        {
            roots.add(cert.expect("pem")).expect("root");
        }
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .expect("verifier");
        builder
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
    } else {
        builder.with_no_client_auth().with_single_cert(certs, key)
    };
    Arc::new(config.expect("server config"))
}

/// Opens a console through a fresh proxy to a fake serving `script`; returns the browser's view.
async fn through(config: &str, script: Vec<Step>) -> Result<(), String> {
    let backend = fake_vnc::serve(script).await;
    let proxy = start_proxy(config, &format!("t: {backend}\n")).await;
    let (ws, _) = ws(proxy.addr, "/?token=t", &[])
        .await
        .map_err(|e| e.to_string())?;
    open_console(ws).await.map(|_| ())
}

async fn expect_failure(config: &str, script: Vec<Step>, wanted: &str) {
    let failure = through(config, script).await.expect_err("must fail");
    assert!(
        failure.contains(wanted),
        "wanted {wanted:?}, got {failure:?}"
    );
}

#[tokio::test]
async fn fake_none_server_works() {
    through("", none_handshake())
        .await
        .expect("sanity: the fake itself is fine");
}

#[tokio::test]
async fn truncated_version_then_close() {
    expect_failure(
        "",
        vec![Step::Send(b"RFB 003".to_vec())],
        "closed the connection",
    )
    .await;
}

#[tokio::test]
async fn old_protocol_versions_are_refused_clearly() {
    for version in [&b"RFB 003.003\n"[..], b"RFB 003.007\n"] {
        expect_failure(
            "",
            vec![Step::Send(version.to_vec()), Step::Stall],
            "unsupported protocol",
        )
        .await;
    }
    expect_failure(
        "",
        vec![Step::Send(b"HTTP/1.1 400".to_vec()), Step::Stall],
        "unsupported protocol",
    )
    .await;
}

#[tokio::test]
async fn a_4_gib_reason_length_is_not_read() {
    let script = vec![
        Step::Send(V38.to_vec()),
        Step::Read(12),
        Step::Send(vec![0, 0xff, 0xff, 0xff, 0xff]),
        Step::Stall,
    ];
    expect_failure("", script, "refused the connection").await;
}

#[tokio::test]
async fn server_reasons_are_not_shown_to_the_browser() {
    let mut refusal = vec![0, 0, 0, 0, 22];
    refusal.extend_from_slice(b"/etc/secret/path oops!");
    let script = vec![
        Step::Send(V38.to_vec()),
        Step::Read(12),
        Step::Send(refusal),
    ];
    let failure = through("", script).await.expect_err("refused");
    assert!(!failure.contains("/etc/secret"), "{failure}");
    assert!(failure.contains("refused the connection"), "{failure}");
}

#[tokio::test]
async fn downgrade_to_none_is_refused() {
    let root = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(root.path(), "pki");
    expect_failure(
        &vencrypt_proxy_config(&pki, ""),
        none_handshake(),
        "offers no allowed security type",
    )
    .await;
}

#[tokio::test]
async fn wrong_vencrypt_version_and_rejected_subtype() {
    let root = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(root.path(), "pki");
    let config = vencrypt_proxy_config(&pki, "");
    let start = vec![
        Step::Send(V38.to_vec()),
        Step::Read(12),
        Step::Send(vec![1, 19]),
        Step::Read(1),
    ];
    let mut old = start.clone();
    old.push(Step::Send(vec![0, 1]));
    old.push(Step::Stall);
    expect_failure(&config, old, "offers no allowed security type").await;
    let mut rejected = start.clone();
    rejected.extend([
        Step::Send(vec![0, 2]),
        Step::Read(2),
        Step::Send(vec![0]),
        Step::Send(vec![1, 0, 0, 1, 4]),
        Step::Read(4),
        Step::Send(vec![0]),
        Step::Stall,
    ]);
    expect_failure(&config, rejected, "offers no allowed security type").await;
    let mut no_x509 = start;
    no_x509.extend([
        Step::Send(vec![0, 2]),
        Step::Read(2),
        Step::Send(vec![0]),
        Step::Send(vec![2, 0, 0, 1, 1, 0, 0, 1, 3]),
        Step::Stall,
    ]);
    expect_failure(&config, no_x509, "offers no allowed security type").await;
}

#[tokio::test]
async fn vencrypt_fake_with_mutual_tls_works_and_a_foreign_ca_does_not() {
    let root = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(root.path(), "pki");
    let stranger = TestPki::new(root.path(), "stranger");
    let config = vencrypt_proxy_config(&pki, "");
    through(&config, vencrypt_handshake(server_tls(&pki, true)))
        .await
        .expect("mutual TLS with the right CA");
    expect_failure(
        &config,
        vencrypt_handshake(server_tls(&stranger, false)),
        "certificate is not trusted",
    )
    .await;
    // The server demands a client certificate from its own CA, which the proxy's is not.
    expect_failure(
        &config,
        vencrypt_handshake(server_tls(&stranger, true)),
        "certificate",
    )
    .await;
}

#[tokio::test]
async fn a_stalled_server_hits_the_deadline() {
    let script = vec![Step::Send(V38.to_vec()), Step::Read(12), Step::Stall];
    expect_failure(
        "[vncgate]\nhandshake_timeout = 0.5\n",
        script,
        "did not answer in time",
    )
    .await;
}

#[tokio::test]
async fn a_server_that_closes_at_any_step_gives_a_reason() {
    let root = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(root.path(), "pki");
    let config = vencrypt_proxy_config(&pki, "");
    let full = vencrypt_handshake(server_tls(&pki, true));
    // Cut the script before each of its steps: the server closes there.
    for cut in 0..full.len() {
        let failure = through(&config, full[..cut].to_vec())
            .await
            .expect_err("cut short");
        assert!(
            failure.contains("console server") || failure.contains("TLS"),
            "cut {cut}: {failure}"
        );
    }
}

#[tokio::test]
async fn data_sent_in_the_clear_after_tls_was_agreed_is_refused() {
    let root = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(root.path(), "pki");
    let mut script = vencrypt_handshake(server_tls(&pki, true));
    // Sneak cleartext bytes right behind the accept byte, before TLS.
    let position = script
        .iter()
        .position(|s| matches!(s, Step::Tls(_)))
        .expect("tls step");
    script.insert(position, Step::Send(vec![0, 0, 0, 0]));
    expect_failure(&vencrypt_proxy_config(&pki, ""), script, "TLS").await;
}

/// Megabytes both ways through VeNCrypt: writes into the TLS stream toward the VNC server must be
/// flushed, or the last record waits in rustls' buffer while both ends wait for each other.
#[tokio::test]
async fn bulk_data_both_ways_over_vencrypt_arrives_whole() {
    let root = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(root.path(), "pki");
    let mut script = vencrypt_handshake(server_tls(&pki, true));
    script.push(Step::Echo);
    let backend = fake_vnc::serve(script).await;
    let proxy = start_proxy(&vencrypt_proxy_config(&pki, ""), &format!("t: {backend}\n")).await;
    let (socket, _) = ws(proxy.addr, "/?token=t", &[]).await.expect("upgrade");
    let mut console = open_console(socket).await.expect("console");
    // ClientInit first, as every client sends it (the proxy sees to its shared flag).
    console.write(&[1]).await;
    assert_eq!(console.read(1).await.expect("echo"), [1]);
    let chunk: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
    let total = 8 * chunk.len();
    for round in 0..8 {
        for _ in 0..8 {
            console.write(&chunk).await;
        }
        let back = console
            .read(total)
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(back.len(), total);
        assert!(
            back.chunks(chunk.len()).all(|c| c == chunk.as_slice()),
            "round {round}: bytes changed"
        );
    }
}

//! Static files (MIME types, no listing, no traversal, no open redirect) and HTTPS/WSS on the
//! same port, with `ssl_only` and `ssl_minimum_version`.

use std::sync::Arc;

use crate::common::pki::TestPki;
use crate::common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

fn status_line(response: &str) -> &str {
    response.lines().next().unwrap_or_default()
}

#[tokio::test]
async fn serves_files_with_mime_types() {
    let proxy = start_proxy("", "").await;
    let page = raw_http(
        proxy.addr,
        "GET /vnc_lite.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_line(&page), "HTTP/1.1 200 OK", "{page}");
    assert!(
        page.to_ascii_lowercase()
            .contains("content-type: text/html"),
        "{page}"
    );
    assert!(page.contains("noVNC"));
    assert!(page
        .to_ascii_lowercase()
        .contains("x-content-type-options: nosniff"));
    assert!(page
        .to_ascii_lowercase()
        .contains("referrer-policy: no-referrer"));
    let script = raw_http(
        proxy.addr,
        "GET /core/rfb.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        script
            .to_ascii_lowercase()
            .contains("content-type: text/javascript"),
        "{script}"
    );
    let head = raw_http(
        proxy.addr,
        "HEAD /vnc_lite.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_line(&head), "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn no_listing_no_traversal_no_other_methods() {
    let proxy = start_proxy("", "").await;
    // The root is vncgate's own console page, never a listing.
    let root = raw_http(
        proxy.addr,
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_line(&root), "HTTP/1.1 200 OK", "{root}");
    // A listing of the web root would name its files (vnc_lite.html); the console page names
    // its own script (and noVNC's modules under /novnc/, which it preloads).
    assert!(
        root.contains("console.js") && !root.contains("vnc_lite.html"),
        "{root}"
    );
    for path in ["/core/", "/core", "/sub", "/novnc/", "/novnc/core/"] {
        let response = raw_http(
            proxy.addr,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert_eq!(
            status_line(&response),
            "HTTP/1.1 404 Not Found",
            "{path}: {response}"
        );
        assert!(
            !response.to_ascii_lowercase().contains("location:"),
            "{path}: {response}"
        );
    }
    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/core/..%2f..%2fsecret.txt",
        "/..%5csecret.txt",
    ] {
        let response = raw_http(
            proxy.addr,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert!(
            !response.contains("outside the web root"),
            "{path}: {response}"
        );
        assert!(
            !status_line(&response).contains("200"),
            "{path}: {response}"
        );
    }
    let post = raw_http(
        proxy.addr,
        "POST /vnc_lite.html HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_line(&post), "HTTP/1.1 405 Method Not Allowed");
}

#[tokio::test]
async fn double_slash_never_redirects_off_site() {
    // CVE-2021-3654 and its three-slash follow-up.
    let proxy = start_proxy("", "").await;
    std::fs::create_dir_all(proxy.dir.path().join("web/evil.example")).expect("dir");
    for path in [
        "//evil.example/%2F..",
        "///evil.example/%2F..",
        "//evil.example",
    ] {
        let response = raw_http(
            proxy.addr,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert!(
            !response.to_ascii_lowercase().contains("location:"),
            "{path}: {response}"
        );
        assert_eq!(
            status_line(&response),
            "HTTP/1.1 400 Bad Request",
            "{path}: {response}"
        );
    }
}

fn tls_config(pki: &TestPki, extra: &str) -> String {
    format!(
        "[DEFAULT]\ncert = {}\nkey = {}\n{extra}",
        pki.https_cert().display(),
        pki.https_key().display()
    )
}

#[tokio::test]
async fn https_and_http_share_the_port() {
    let root = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(root.path(), "pki");
    let backend = echo_backend().await;
    let proxy = start_proxy(&tls_config(&pki, ""), &format!("good: {backend}\n")).await;

    let mut tls = tls_connect(proxy.addr, &pki.https_ca_pem()).await;
    tls.write_all(b"GET /vnc_lite.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut page = Vec::new();
    let _ = tls.read_to_end(&mut page).await;
    assert!(String::from_utf8_lossy(&page).starts_with("HTTP/1.1 200 OK"));

    let tls = tls_connect(proxy.addr, &pki.https_ca_pem()).await;
    let headers = [("Origin", "https://localhost")];
    let (ws, _) = ws_over(tls, "localhost", "/?token=good", &headers)
        .await
        .expect("wss upgrade");
    let mut console = open_console(ws).await.expect("console over wss");
    console.write(b"over TLS").await;
    assert_eq!(console.read(8).await.expect("echo"), b"over TLS");

    // An http Origin over wss is a scheme mismatch.
    let tls = tls_connect(proxy.addr, &pki.https_ca_pem()).await;
    let (status, _) = refusal(
        ws_over(
            tls,
            "localhost",
            "/?token=good",
            &[("Origin", "http://localhost")],
        )
        .await,
    );
    assert_eq!(status, 403);

    let plain = raw_http(
        proxy.addr,
        "GET /vnc_lite.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_line(&plain), "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn ssl_only_refuses_plain_http() {
    let root = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(root.path(), "pki");
    let backend = echo_backend().await;
    let proxy = start_proxy(
        &tls_config(&pki, "ssl_only = True\n"),
        &format!("good: {backend}\n"),
    )
    .await;
    let plain = raw_http(
        proxy.addr,
        "GET /vnc_lite.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_line(&plain), "HTTP/1.1 403 Forbidden", "{plain}");
    assert!(!plain.contains("noVNC"));
    assert_eq!(refusal(ws(proxy.addr, "/?token=good", &[]).await).0, 403);
    let tls = tls_connect(proxy.addr, &pki.https_ca_pem()).await;
    let (ws, _) = ws_over(tls, "localhost", "/?token=good", &[])
        .await
        .expect("wss upgrade");
    let mut console = open_console(ws).await.expect("console over wss");
    console.write(b"x").await;
    assert_eq!(console.read(1).await.expect("echo"), b"x");
}

#[tokio::test]
async fn minimum_tls_version_is_honoured() {
    let root = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(root.path(), "pki");
    let proxy = start_proxy(
        &tls_config(&pki, "[console]\nssl_minimum_version = tlsv1_3\n"),
        "",
    )
    .await;
    let mut roots = rustls::RootCertStore::empty();
    use rustls_pki_types::pem::PemObject;
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(pki.https_ca_pem().as_bytes()) {
        roots.add(cert.expect("pem")).expect("root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls12_only = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12])
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = TlsConnector::from(Arc::new(tls12_only));
    let tcp = TcpStream::connect(proxy.addr).await.expect("connect");
    let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
    assert!(
        connector.connect(name, tcp).await.is_err(),
        "TLS 1.2 accepted with tlsv1_3 minimum"
    );
    let _ok = tls_connect(proxy.addr, &pki.https_ca_pem()).await;
}

#[tokio::test]
async fn a_combined_cert_and_key_file_serves_https() {
    // nova's [DEFAULT] cert may hold the key too, with no [DEFAULT] key.
    let root = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(root.path(), "pki");
    let combined = root.path().join("self.pem");
    let text = format!(
        "{}{}",
        std::fs::read_to_string(pki.https_cert()).expect("cert"),
        std::fs::read_to_string(pki.https_key()).expect("key")
    );
    std::fs::write(&combined, text).expect("write");
    let proxy = start_proxy(&format!("[DEFAULT]\ncert = {}\n", combined.display()), "").await;
    let mut tls = tls_connect(proxy.addr, &pki.https_ca_pem()).await;
    tls.write_all(b"GET /console.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut page = Vec::new();
    let _ = tls.read_to_end(&mut page).await;
    assert!(String::from_utf8_lossy(&page).starts_with("HTTP/1.1 200 OK"));
}

/// Edge protection: pages carry a Content-Security-Policy (strict on vncgate's own page,
/// frame-ancestors on every page, from `frame_ancestors` or 'self' plus `allowed_origins`), and
/// HSTS over HTTPS only.
#[tokio::test]
async fn pages_carry_security_headers() {
    let root = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(root.path(), "pki");
    let proxy = start_proxy(
        &tls_config(&pki, "[console]\nallowed_origins = horizon.example\n"),
        "",
    )
    .await;
    let request = "GET /console.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let own = raw_http(proxy.addr, request).await.to_ascii_lowercase();
    assert!(
        own.contains("content-security-policy: default-src 'self'; script-src 'self';"),
        "{own}"
    );
    assert!(
        own.contains("frame-ancestors 'self' horizon.example"),
        "{own}"
    );
    assert!(
        !own.contains("strict-transport-security"),
        "HSTS over plain HTTP: {own}"
    );
    let stat = raw_http(
        proxy.addr,
        "GET /vnc_lite.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await
    .to_ascii_lowercase();
    assert!(
        stat.contains("content-security-policy: frame-ancestors 'self' horizon.example\r\n"),
        "{stat}"
    );
    let mut tls = tls_connect(proxy.addr, &pki.https_ca_pem()).await;
    tls.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    assert!(
        answer.contains("strict-transport-security: max-age="),
        "{answer}"
    );

    let framed = start_proxy("[vncgate]\nframe_ancestors = 'none'\n", "").await;
    let page = raw_http(framed.addr, request).await.to_ascii_lowercase();
    assert!(page.contains("frame-ancestors 'none'"), "{page}");
}

fn testssl_available() -> bool {
    std::path::Path::new("/usr/bin/testssl").exists()
        || peer_missing("testssl (apt-get install testssl.sh)")
}

/// Debian's testssl against an HTTPS front with the certificate `vncgate pki init --https`
/// makes by default: no finding above LOW, other than those a private CA brings (the chain
/// to a root browsers ship, revocation URLs, CAA). Among what it checks: protocols, cipher
/// order (the server's), forward secrecy, the known TLS attacks, the leaf's lifetime (at most
/// 398 days).
#[tokio::test]
async fn testssl_finds_nothing_above_low_but_the_private_ca() {
    if !testssl_available() {
        return;
    }
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("pki");
    let dir_text = dir.to_str().expect("utf8");
    let made = vncgate_cli(&[
        "pki",
        "init",
        "--dir",
        dir_text,
        "--server",
        "localhost,127.0.0.1",
        "--https",
        "localhost,127.0.0.1",
    ]);
    assert!(made.status.success(), "{made:?}");
    let config = format!(
        "[DEFAULT]\nssl_only = true\ncert = {dir_text}/https/cert.pem\nkey = {dir_text}/https/key.pem\n"
    );
    let proxy = start_proxy(&config, "").await;
    let report = root.path().join("testssl.json");
    let target = format!("https://{}", proxy.addr);
    let ran = tokio::process::Command::new("testssl")
        .args([
            "--quiet",
            "--color",
            "0",
            "--warnings",
            "off",
            "--jsonfile-pretty",
        ])
        .arg(&report)
        .arg(&target)
        .output();
    // testssl exits non-zero whenever it has findings: its JSON is the answer.
    let ran = tokio::time::timeout(std::time::Duration::from_secs(600), ran)
        .await
        .expect("testssl within 10 minutes")
        .expect("testssl runs");
    let text = std::fs::read_to_string(&report)
        .unwrap_or_else(|_| panic!("no report: {}", String::from_utf8_lossy(&ran.stdout)));
    let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let private_ca = [
        "cert_chain_of_trust",
        "cert_revocation",
        "cert_crlDistributionPoints",
        "cert_ocspURL",
        "OCSP_stapling",
        "DNS_CAArecord",
        "cert_trust",
    ];
    let mut findings = 0;
    let mut above_low = Vec::new();
    for result in json["scanResult"].as_array().into_iter().flatten() {
        for section in result.as_object().into_iter().flat_map(|o| o.values()) {
            for finding in section.as_array().into_iter().flatten() {
                findings += 1;
                let id = finding["id"].as_str().unwrap_or_default();
                let severity = finding["severity"].as_str().unwrap_or_default();
                let serious = matches!(severity, "MEDIUM" | "HIGH" | "CRITICAL");
                if serious && !private_ca.iter().any(|ok| id.starts_with(ok)) {
                    above_low.push(format!("{id} {severity}: {}", finding["finding"]));
                }
            }
        }
    }
    assert!(
        findings > 50,
        "testssl reported only {findings} findings:\n{text}"
    );
    assert!(above_low.is_empty(), "{above_low:#?}");
}

/// The console page names every module of noVNC's graph for the browser to fetch at once
/// (Debian's noVNC, read at start-up), and the built-in files answer a reload with 304 Not
/// Modified when the browser's copy is current (their ETag), 200 when it is not.
#[tokio::test]
async fn the_console_page_preloads_novnc_and_revalidates_with_etags() {
    if !crate::common::browser::available() {
        return;
    }
    let config = format!("[vncgate]\nnovnc_dir = {}\n", crate::common::browser::NOVNC);
    let proxy = start_proxy(&config, "").await;
    let page = raw_http(
        proxy.addr,
        "GET /console.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    for module in ["core/rfb.js", "core/display.js", "core/websock.js"] {
        let link = format!("<link rel=\"modulepreload\" href=\"/novnc/{module}\">");
        assert!(page.contains(&link), "{module}: {page}");
    }
    // Each preloaded module is there to fetch.
    let module = raw_http(
        proxy.addr,
        "GET /novnc/core/display.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(module.starts_with("HTTP/1.1 200"), "{module}");
    for path in ["/console.html", "/console.js", "/messages.js"] {
        let first = raw_http(
            proxy.addr,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        )
        .await;
        let tag = first
            .lines()
            .find_map(|line| {
                line.to_ascii_lowercase()
                    .starts_with("etag:")
                    .then(|| line[5..].trim().to_owned())
            })
            .unwrap_or_else(|| panic!("{path}: no ETag: {first}"));
        let again = format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nIf-None-Match: {tag}\r\n\r\n"
        );
        let held = raw_http(proxy.addr, &again).await;
        assert!(held.starts_with("HTTP/1.1 304"), "{path}: {held}");
        assert!(
            held.ends_with("\r\n\r\n"),
            "{path}: a 304 has no body: {held}"
        );
        let stale = format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nIf-None-Match: \"0\"\r\n\r\n"
        );
        assert!(
            raw_http(proxy.addr, &stale)
                .await
                .starts_with("HTTP/1.1 200"),
            "{path}"
        );
    }
}

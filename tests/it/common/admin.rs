//! The admin API as an operator's script calls it: a proxy with it on, and raw HTTP requests
//! with or without the bearer secret.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{start_proxy, Proxy};

/// The bearer secret of [`admin_proxy`].
pub const SECRET: &str = "an-admin-secret-of-some-length";

/// A proxy with the admin API on and `tokens`, and the directory holding its secret (kept while
/// it runs).
pub async fn admin_proxy(tokens: &str) -> (Proxy, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("admin-secret");
    std::fs::write(&secret, format!("{SECRET}\n")).expect("secret");
    let proxy = start_proxy(
        &format!("[vncgate]\nadmin_secret_file = {}\n", secret.display()),
        tokens,
    )
    .await;
    (proxy, dir)
}

/// One request: its status and body. `secret` goes in the Authorization header when given.
pub async fn request(
    proxy: &Proxy,
    method: &str,
    path: &str,
    secret: Option<&str>,
    body: &str,
) -> (u16, String) {
    request_at(proxy.admin_addr, method, path, secret, body).await
}

/// [`request`] to the admin API at `admin`.
pub async fn request_at(
    admin: std::net::SocketAddr,
    method: &str,
    path: &str,
    secret: Option<&str>,
    body: &str,
) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(admin)
        .await
        .expect("admin connect");
    let auth = secret
        .map(|s| format!("Authorization: Bearer {s}\r\n"))
        .unwrap_or_default();
    let text = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(text.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (status, body)
}

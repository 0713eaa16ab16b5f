//! TigerVNC's Xvnc as the VNC server: VeNCrypt X509None (it lists odd subtypes and does not ask
//! for client certificates), and None.

use crate::common::pki::TestPki;
use crate::common::rfb::WsBytes;
use crate::common::xvnc::{self, Xvnc};
use crate::common::*;

#[tokio::test]
async fn xvnc_x509none_through_the_proxy() {
    if !xvnc::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(work.path(), "pki");
    let compute = pki.compute();
    let server = Xvnc::start(
        work.path(),
        &[
            "-SecurityTypes".into(),
            "X509None,None".into(),
            "-X509Cert".into(),
            compute.join("server-cert.pem").display().to_string(),
            "-X509Key".into(),
            compute.join("server-key.pem").display().to_string(),
        ],
    );
    let proxy_dir = pki.proxy();
    let config = format!(
        "[vnc]\nauth_schemes = vencrypt\nvencrypt_client_cert = {}\nvencrypt_client_key = {}\nvencrypt_ca_certs = {}\n",
        proxy_dir.join("client-cert.pem").display(),
        proxy_dir.join("client-key.pem").display(),
        proxy_dir.join("ca-cert.pem").display(),
    );
    let proxy = start_proxy(&config, &format!("x: {}\n", server.addr)).await;
    let (socket, _) = ws(proxy.addr, "/?token=x", &[]).await.expect("upgrade");
    let mut rfb = WsBytes::new(socket);
    let init = rfb.handshake().await.expect("Xvnc over VeNCrypt");
    assert_eq!((init.width, init.height), (800, 600), "{init:?}");
    let rect = rfb
        .framebuffer_update(init.width, init.height)
        .await
        .expect("update");
    assert!(rect.2 > 0, "{rect:?}");

    // The same server with none preferred: the proxy's order decides, not the server's.
    let none_first = start_proxy(
        "[vnc]\nauth_schemes = none\n",
        &format!("x: {}\n", server.addr),
    )
    .await;
    let (socket, _) = ws(none_first.addr, "/?token=x", &[])
        .await
        .expect("upgrade");
    let init = WsBytes::new(socket)
        .handshake()
        .await
        .expect("Xvnc with None");
    assert_eq!(init.width, 800);
}

//! Two hypervisors of their own (libvirtd in a mount namespace each, over `qemu+tls://` with the
//! layout `pki init --libvirt` wrote): `kvm1` with libvirt's default `qemu.conf`, `kvm2` with
//! the `qemu.conf` lines `pki init --libvirt` writes (`vnc_tls`, `spice_tls`, `chardev_tls`,
//! all with `verify-peer`). One guest, defined on both with one UUID, moves from `kvm1` to
//! `kvm2`: the same `libvirt:NAME` tokens follow it, and TLS follows the host: VNC in clear on
//! `kvm1` (`auth_schemes = none`), VeNCrypt with the proxy's certificate on `kvm2` (`[libvirt]
//! vnc_tls = kvm2`), its serial port and SPICE over TLS because the live XML says so.

use std::time::Duration;

use crate::common::daemon::free_port;
use crate::common::libvirt::{self, Guest, GuestSpec, PrivateLibvirtd};
use crate::common::pki::TestPki;
use crate::common::serial::echo_image;
use crate::common::*;
use crate::libvirt::{desktop_name, domains_list, status_and_reason};
use crate::operations::audit_events;
use crate::serial::{tempest_connect, typed};

/// The `scheme` of each `session_open` in the audit trail, in order.
fn schemes_opened(proxy: &Proxy) -> Vec<String> {
    audit_events(&proxy.dir.path().join("audit.log"), "session_open")
        .iter()
        .map(|event| event["scheme"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A SPICE link through the proxy: the server's reply code (0: accepted).
async fn spice_link(proxy: &Proxy, ca: &str) -> u32 {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let tls = tls_connect(proxy.spice_addr.expect("SPICE port"), ca).await;
    let (mut spice, _) = ws_over(tls, "localhost", "/websockify?token=spice", &[])
        .await
        .expect("upgrade");
    spice
        .send(Message::binary(crate::spice::link_message(1)))
        .await
        .expect("link");
    match tokio::time::timeout(Duration::from_secs(10), spice.next()).await {
        Ok(Some(Ok(Message::Binary(data)))) if data.len() >= 20 && data.starts_with(b"REDQ") => {
            u32::from_le_bytes([data[16], data[17], data[18], data[19]])
        }
        other => panic!("no SPICE link reply: {other:?}"),
    }
}

#[tokio::test]
async fn a_guest_that_moves_is_followed_and_tls_follows_its_host() {
    if !libvirt::installed() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::with_libvirt(work.path(), "pki");
    let node_conf = std::fs::read_to_string(pki.dir.join("libvirt/localhost/qemu.conf"))
        .expect("qemu.conf from pki init --libvirt")
        .replace("/etc/pki/qemu", &pki.compute().display().to_string());
    let kvm1 = PrivateLibvirtd::start(&work.path().join("kvm1"), &pki.dir, "");
    let kvm2 = PrivateLibvirtd::start(&work.path().join("kvm2"), &pki.dir, &node_conf);

    let name = format!("vncgate-move-{}", std::process::id());
    let serial_port = free_port();
    let image = echo_image(work.path());
    let spec = GuestSpec {
        uuid: Some("6d1e7c55-0000-4000-8000-00000000a11e"),
        floppy: Some(&image),
    };
    let on_kvm1 = Guest::define_on(&kvm1.uri, &name, serial_port, &spec);
    let on_kvm2 = Guest::define_on(&kvm2.uri, &name, serial_port, &spec);
    on_kvm1.start();

    let ca = pki.https_ca_pem();
    let proxy = start_proxy(
        &format!(
            "[DEFAULT]\ncert = {}\nkey = {}\n{}[vncgate]\naudit_log = @DIR@/audit.log\n\
             [serial_console]\nenabled = true\n[spice]\nenabled = true\n\
             [libvirt]\nuris = kvm1=qemu+tls://127.0.0.1:{}/system, kvm2=qemu+tls://127.0.0.1:{}/system\n\
             pki_path = {}\nvnc_tls = kvm2\n",
            pki.https_cert().display(),
            pki.https_key().display(),
            pki.vencrypt_config("none"),
            kvm1.port,
            kvm2.port,
            pki.dir.join("libvirt/client").display(),
        ),
        &format!(
            "vm: libvirt:{name}\nserial: libvirt:{name} kind=serial\nspice: libvirt:{name} kind=spice-html5\n"
        ),
    )
    .await;

    // On kvm1: VNC in clear as auth_schemes says, the serial line in clear.
    let desktop = desktop_name(&proxy, &ca, "vm").await.expect("on kvm1");
    assert!(desktop.contains(&name), "{desktop:?}");
    let mut serial = tempest_connect(&proxy, "serial", "binary")
        .await
        .expect("serial on kvm1");
    typed(&mut serial, "kvm1\r").await.expect("echo on kvm1");
    drop(serial);
    assert_eq!(spice_link(&proxy, &ca).await, 0, "SPICE on kvm1");
    assert_eq!(schemes_opened(&proxy), ["none", "tcp", "tcp"]);

    // Moved: shut off on kvm1 (still defined there), running on kvm2.
    on_kvm1.stop();
    on_kvm2.start();
    let desktop = desktop_name(&proxy, &ca, "vm")
        .await
        .expect("on kvm2, over VeNCrypt with the proxy's certificate");
    assert!(desktop.contains(&name), "{desktop:?}");
    let mut serial = tempest_connect(&proxy, "serial", "binary")
        .await
        .expect("serial on kvm2");
    // QEMU's chardev demands TLS and a client certificate: an echo proves both.
    typed(&mut serial, "kvm2\r").await.expect("echo over TLS");
    drop(serial);
    assert_eq!(spice_link(&proxy, &ca).await, 0, "SPICE on kvm2");
    assert_eq!(
        schemes_opened(&proxy)[3..],
        ["vencrypt", "tls", "tls"],
        "TLS as kvm2 runs its consoles"
    );

    // The operator sees the same.
    let listed = domains_list(&proxy.config_path());
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{listed:?}");
    let line = |hypervisor: &str| {
        text.lines()
            .find(|line| line.starts_with(hypervisor) && line.contains(&name))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(line("kvm1").contains("shut off"), "{text}");
    let kvm2_line = line("kvm2");
    assert!(
        kvm2_line.contains("running")
            && kvm2_line.contains(" vencrypt")
            && kvm2_line.contains(&format!("serial 127.0.0.1:{serial_port} tls")),
        "{text}"
    );

    // Shut off everywhere: refused with the reason.
    on_kvm2.stop();
    let (status, reason) = status_and_reason(&proxy, &ca, "vm").await;
    assert_eq!(
        (status, reason.as_str()),
        (403, "the virtual machine is not running")
    );
    drop((on_kvm1, on_kvm2));
    drop((kvm1, kvm2));
}

//! `pki check` on good and deliberately broken certificate sets: the mistakes people make by
//! hand with openssl and certtool, each caught and explained.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rcgen::{
    CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use vncgate_pki::inspect::{check_paths, Expectations, Report, Severity};
use vncgate_pki::layout::{self, InitPlan};
use vncgate_pki::KeyType;

/// A `pki init` plan for `dir`: these compute hosts (names, first the directory), HTTPS names
/// if any, 90 days, the client CN `vncgate`.
fn plan(dir: &Path, servers: &[&[&str]], https: Option<&[&str]>, key_type: KeyType) -> InitPlan {
    let names = |list: &[&str]| list.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    InitPlan {
        dir: dir.to_path_buf(),
        servers: servers.iter().map(|host| names(host)).collect(),
        client_common_name: "vncgate".into(),
        https: https.map(names),
        days: 90,
        key_type,
        force: false,
        libvirt: false,
    }
}

fn init(root: &Path, name: &str, key_type: KeyType) -> PathBuf {
    let dir = root.join(name);
    let plan = plan(&dir, &[&["compute1", "127.0.0.1"]], None, key_type);
    layout::init(&plan).expect("init");
    dir
}

fn errors(report: &Report) -> Vec<String> {
    report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(ToString::to_string)
        .collect()
}

fn assert_error(report: &Report, wanted: &str) {
    let errors = errors(report);
    assert!(
        errors.iter().any(|e| e.contains(wanted)),
        "wanted {wanted:?} among {errors:#?}"
    );
}

fn check(paths: &[PathBuf]) -> Report {
    check_paths(paths, &Expectations::default())
}

#[test]
fn a_fresh_init_is_clean_for_every_key_type() {
    let root = tempfile::tempdir().expect("tempdir");
    for (index, key_type) in [KeyType::EcdsaP256, KeyType::EcdsaP384, KeyType::Rsa2048]
        .into_iter()
        .enumerate()
    {
        let dir = init(root.path(), &format!("pki{index}"), key_type);
        let report = check_paths(
            std::slice::from_ref(&dir),
            &Expectations {
                hosts: vec!["compute1".into(), "127.0.0.1".into()],
            },
        );
        assert!(
            errors(&report).is_empty(),
            "{key_type:?}: {:#?}",
            report.findings
        );
        assert!(
            report.findings.is_empty(),
            "{key_type:?}: {:#?}",
            report.findings
        );
        // The role directories alone, as they sit on the hosts.
        let compute = layout::compute_dir(&dir, "compute1");
        assert!(!check(&[compute, layout::proxy_dir(&dir)]).has_errors());
    }
}

#[test]
fn init_twice_without_force_changes_nothing() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = init(root.path(), "pki", KeyType::EcdsaP256);
    let before = std::fs::read(layout::ca_cert(&dir)).expect("read");
    let plan = InitPlan {
        dir: dir.clone(),
        servers: vec![vec!["compute1".into()]],
        client_common_name: "vncgate".into(),
        https: None,
        days: 90,
        key_type: KeyType::EcdsaP256,
        force: false,
        libvirt: false,
    };
    let error = layout::init(&plan).expect_err("must refuse").to_string();
    assert!(
        error.contains("refusing to overwrite") && error.contains("ca-key.pem"),
        "{error}"
    );
    assert_eq!(std::fs::read(layout::ca_cert(&dir)).expect("read"), before);
    // With --force it replaces.
    layout::init(&InitPlan {
        force: true,
        libvirt: false,
        ..plan
    })
    .expect("forced");
    assert_ne!(std::fs::read(layout::ca_cert(&dir)).expect("read"), before);
}

#[test]
fn modes_and_no_ca_key_outside_the_ca_directory() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = init(root.path(), "pki", KeyType::EcdsaP256);
    let mode = |p: PathBuf| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(dir.join("ca/ca-key.pem")), 0o600);
    assert_eq!(mode(dir.join("compute/compute1/server-key.pem")), 0o600);
    assert_eq!(mode(dir.join("proxy/client-key.pem")), 0o600);
    assert_eq!(mode(dir.join("proxy")), 0o700);
    assert_eq!(mode(dir.join("proxy/client-cert.pem")), 0o644);
    assert!(!dir.join("compute/compute1/ca-key.pem").exists());
    assert!(!dir.join("proxy/ca-key.pem").exists());
}

#[test]
fn a_ca_without_basic_constraints() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("bad");
    std::fs::create_dir_all(&dir).expect("dir");
    let ca_key = KeyPair::generate().expect("key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "hand-made CA");
    ca_params.is_ca = IsCa::NoCa;
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca");
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().expect("key");
    let mut leaf = CertificateParams::new(vec!["compute1".to_owned()]).expect("params");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).expect("leaf");
    write(&dir.join("ca-cert.pem"), &ca_cert.pem(), 0o644);
    write(&dir.join("server-cert.pem"), &leaf_cert.pem(), 0o644);
    write(
        &dir.join("server-key.pem"),
        &leaf_key.serialize_pem(),
        0o600,
    );
    let report = check(&[dir.join("ca-cert.pem")]);
    assert_error(&report, "has no basicConstraints extension: gnutls");
    // The same set as a QEMU certificate directory.
    assert_error(&check(&[dir]), "has no basicConstraints extension: gnutls");
}

fn write(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn a_server_certificate_without_server_auth() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = init(root.path(), "pki", KeyType::EcdsaP256);
    // The classic: the client certificate copied in as the server's.
    let compute = layout::compute_dir(&dir, "compute1");
    std::fs::copy(
        dir.join("proxy/client-cert.pem"),
        compute.join("server-cert.pem"),
    )
    .expect("copy");
    std::fs::copy(
        dir.join("proxy/client-key.pem"),
        compute.join("server-key.pem"),
    )
    .expect("copy");
    let report = check(&[compute]);
    assert_error(&report, "lacks serverAuth");
}

#[test]
fn a_client_certificate_signed_by_another_ca() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = init(root.path(), "pki", KeyType::EcdsaP256);
    let other = init(root.path(), "other", KeyType::EcdsaP256);
    for name in ["client-cert.pem", "client-key.pem"] {
        std::fs::copy(other.join("proxy").join(name), dir.join("proxy").join(name)).expect("copy");
    }
    let report = check(std::slice::from_ref(&dir));
    assert_error(&report, "signature does not verify with the CA");
    // Given as loose files with the right CA, the same.
    let loose = check(&[
        dir.join("ca/ca-cert.pem"),
        dir.join("proxy/client-cert.pem"),
        dir.join("proxy/client-key.pem"),
    ]);
    assert_error(&loose, "signature does not verify");
}

#[test]
fn an_expired_certificate() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("expired");
    std::fs::create_dir_all(&dir).expect("dir");
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec!["compute1".to_owned()]).expect("params");
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let cert = params.self_signed(&key).expect("cert");
    write(&dir.join("ca-cert.pem"), &cert.pem(), 0o644);
    assert_error(&check(&[dir.join("ca-cert.pem")]), "expired on");
}

#[test]
fn expiring_soon_is_a_warning_only() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("pki");
    layout::init(&InitPlan {
        dir: dir.clone(),
        servers: vec![vec!["compute1".into()]],
        client_common_name: "vncgate".into(),
        https: None,
        days: 10,
        key_type: KeyType::EcdsaP256,
        force: false,
        libvirt: false,
    })
    .expect("init");
    let report = check(&[dir]);
    assert!(!report.has_errors(), "{:#?}", report.findings);
    assert!(report
        .findings
        .iter()
        .any(|f| f.severity == Severity::Warning && f.message.contains("within 30 days")));
}

#[test]
fn a_key_that_belongs_to_another_certificate() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = init(root.path(), "pki", KeyType::EcdsaP256);
    let compute = layout::compute_dir(&dir, "compute1");
    std::fs::copy(
        dir.join("proxy/client-key.pem"),
        compute.join("server-key.pem"),
    )
    .expect("copy");
    assert_error(
        &check(&[compute]),
        "does not belong to the certificate beside it",
    );
}

#[test]
fn a_world_readable_key() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = init(root.path(), "pki", KeyType::EcdsaP256);
    let key = dir.join("proxy/client-key.pem");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    assert_error(&check(&[layout::proxy_dir(&dir)]), "readable by others");
}

#[test]
fn the_expected_host_must_be_in_the_san() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = init(root.path(), "pki", KeyType::EcdsaP256);
    let report = check_paths(
        &[layout::compute_dir(&dir, "compute1")],
        &Expectations {
            hosts: vec!["compute2.example".into()],
        },
    );
    assert_error(&report, "subjectAltName does not include compute2.example");
}

#[test]
fn a_ca_key_copied_to_a_host_and_a_missing_ca_cert() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = init(root.path(), "pki", KeyType::EcdsaP256);
    let compute = layout::compute_dir(&dir, "compute1");
    std::fs::copy(dir.join("ca/ca-key.pem"), compute.join("ca-key.pem")).expect("copy");
    std::fs::remove_file(dir.join("proxy/ca-cert.pem")).expect("remove");
    assert_error(
        &check(std::slice::from_ref(&dir)),
        "the CA's private key is in a host's directory",
    );
    assert_error(
        &check(&[dir]),
        "missing: QEMU, libvirt and nova need the CA certificate",
    );
}

#[test]
fn rustls_accepts_the_chains_for_both_roles() {
    use rustls::client::danger::ServerCertVerifier;
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
    use std::sync::Arc;

    let root = tempfile::tempdir().expect("tempdir");
    let dir = init(root.path(), "pki", KeyType::EcdsaP256);
    let cert = |p: PathBuf| CertificateDer::from_pem_file(p).expect("pem");
    // What each side loads: the proxy its bundle of node CAs, a node its own CA and the
    // proxy-client CA.
    let roots_of = |p: PathBuf| {
        let mut roots = rustls::RootCertStore::empty();
        for der in CertificateDer::pem_file_iter(p).expect("pem") {
            roots.add(der.expect("pem")).expect("root");
        }
        Arc::new(roots)
    };
    let roots = roots_of(dir.join("proxy/ca-cert.pem"));
    let node_roots = roots_of(dir.join("compute/compute1/ca-cert.pem"));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::client::WebPkiServerVerifier::builder_with_provider(
        roots.clone(),
        provider.clone(),
    )
    .build()
    .expect("verifier");
    let server_cert = cert(dir.join("compute/compute1/server-cert.pem"));
    for name in ["compute1", "127.0.0.1"] {
        let name = ServerName::try_from(name).expect("name");
        server
            .verify_server_cert(&server_cert, &[], &name, &[], UnixTime::now())
            .expect("server chain");
    }
    let client = rustls::server::WebPkiClientVerifier::builder_with_provider(node_roots, provider)
        .build()
        .expect("verifier");
    client
        .verify_client_cert(
            &cert(dir.join("proxy/client-cert.pem")),
            &[],
            UnixTime::now(),
        )
        .expect("client chain");
    // And each role is refused in the other's place.
    assert!(client
        .verify_client_cert(&server_cert, &[], UnixTime::now())
        .is_err());
    let name = ServerName::try_from("vncgate").expect("name");
    assert!(server
        .verify_server_cert(
            &cert(dir.join("proxy/client-cert.pem")),
            &[],
            &name,
            &[],
            UnixTime::now()
        )
        .is_err());
}

fn init_with_https(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    let plan = plan(
        &dir,
        &[&["compute1", "127.0.0.1"]],
        Some(&["console.example", "127.0.0.1"]),
        KeyType::EcdsaP256,
    );
    layout::init(&plan).expect("init");
    dir
}

/// Edge finding 7: the browser-facing certificate has a CA of its own, and `pki check` flags
/// one signed by the VNC CA.
#[test]
fn the_https_certificate_has_its_own_ca_and_one_from_the_vnc_ca_is_flagged() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = init_with_https(root.path(), "pki");
    assert!(dir.join("https-ca/ca-cert.pem").is_file());
    let mode = std::fs::metadata(dir.join("https-ca/ca-key.pem"))
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_ne!(
        std::fs::read(dir.join("https-ca/ca-cert.pem")).expect("read"),
        std::fs::read(dir.join("ca/ca-cert.pem")).expect("read")
    );
    let report = check(std::slice::from_ref(&dir));
    assert!(errors(&report).is_empty(), "{:#?}", errors(&report));

    // The old way: the HTTPS pair issued from the VNC CA.
    for (from, to) in [
        ("server-cert.pem", "cert.pem"),
        ("server-key.pem", "key.pem"),
    ] {
        std::fs::copy(
            dir.join("compute/compute1").join(from),
            dir.join("https").join(to),
        )
        .expect("copy");
    }
    assert_error(&check(&[dir]), "signed by a VNC CA");
}

/// Edge finding 10: `pki init` writes keys only into a directory it can trust.
#[test]
fn init_refuses_a_directory_it_cannot_trust() {
    let root = tempfile::tempdir().expect("tempdir");
    let plan = |dir: PathBuf| plan(&dir, &[&["compute1"]], None, KeyType::EcdsaP256);
    let open = root.path().join("open");
    std::fs::create_dir(&open).expect("mkdir");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let refused = layout::init(&plan(open.clone()))
        .map(|_| ())
        .map_err(|e| e.to_string());
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.contains("writable by every user")),
        "{refused:?}"
    );
    assert!(!open.join("ca").exists(), "nothing written");

    let real = root.path().join("real");
    std::fs::create_dir(&real).expect("mkdir");
    let link = root.path().join("link");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    let refused = layout::init(&plan(link))
        .map(|_| ())
        .map_err(|e| e.to_string());
    assert!(
        refused.as_ref().is_err_and(|e| e.contains("symbolic link")),
        "{refused:?}"
    );

    // Owned by someone else: only root can make one to test with.
    if rustix::process::geteuid().is_root() {
        let foreign = root.path().join("foreign");
        std::fs::create_dir(&foreign).expect("mkdir");
        std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).expect("chown");
        let refused = layout::init(&plan(foreign))
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert!(
            refused
                .as_ref()
                .is_err_and(|e| e.contains("owned by user 65534")),
            "{refused:?}"
        );
    } else {
        eprintln!("SKIPPED: the foreign-owner case needs root to chown");
    }
    // A fresh directory is made 0700 and is fine.
    assert!(layout::init(&plan(root.path().join("fresh"))).is_ok());
}

fn init_two_nodes(root: &Path) -> PathBuf {
    let dir = root.join("pki");
    let plan = plan(&dir, &[&["node1"], &["node2"]], None, KeyType::EcdsaP256);
    layout::init(&plan).expect("init");
    dir
}

/// Compute-node isolation: `pki check` flags a node whose CA file would accept another node's
/// certificate as a client (the one-CA set-up), a proxy that does not trust a node, and a node
/// that would refuse the proxy; `pki issue server` keeps a layout clean.
#[test]
fn isolation_is_checked_across_the_layout() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = init_two_nodes(root.path());
    let report = check(std::slice::from_ref(&dir));
    assert!(errors(&report).is_empty(), "{:#?}", errors(&report));
    let node1 = layout::compute_dir(&dir, "node1");
    let node2 = layout::compute_dir(&dir, "node2");
    let read = |p: PathBuf| std::fs::read_to_string(p).expect("read");

    // A node added later: its CA joins the proxy's bundle, and all stays clean.
    vncgate_pki::enrol::issue_server(&dir, &["node3".into()], 90, KeyType::EcdsaP256, false)
        .expect("issue");
    assert!(read(dir.join("proxy/ca-cert.pem"))
        .contains(read(dir.join("ca/nodes/node3/ca-cert.pem")).trim()));
    let report = check(std::slice::from_ref(&dir));
    assert!(errors(&report).is_empty(), "{:#?}", errors(&report));

    // What a one-CA set-up amounts to: node2 trusting node1's CA too.
    let original = read(node2.join("ca-cert.pem"));
    write(
        &node2.join("ca-cert.pem"),
        &format!("{original}{}", read(dir.join("ca/nodes/node1/ca-cert.pem"))),
        0o644,
    );
    assert_error(
        &check(std::slice::from_ref(&dir)),
        "accepts the server certificates of node1",
    );
    write(&node2.join("ca-cert.pem"), &original, 0o644);

    // A node missing from the proxy's bundle; a node without the proxy-client CA.
    let bundle = read(dir.join("proxy/ca-cert.pem"));
    let node1_ca = read(dir.join("ca/nodes/node1/ca-cert.pem"));
    write(
        &dir.join("proxy/ca-cert.pem"),
        &bundle.replace(&node1_ca, ""),
        0o644,
    );
    assert_error(
        &check(std::slice::from_ref(&dir)),
        "does not hold the CA of compute/node1",
    );
    write(&dir.join("proxy/ca-cert.pem"), &bundle, 0o644);
    write(&node1.join("ca-cert.pem"), &node1_ca, 0o644);
    assert_error(&check(&[dir]), "will refuse the proxy");
}

/// Browsers refuse public leaves valid more than 398 days: `pki init` makes the HTTPS leaf
/// valid 397 days at most whatever `--days` says, and `pki check` warns about a longer one.
#[test]
fn the_https_leaf_is_valid_at_most_397_days_and_a_longer_one_is_flagged() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("pki");
    let mut long = plan(
        &dir,
        &[&["compute1", "127.0.0.1"]],
        Some(&["console.example"]),
        KeyType::EcdsaP256,
    );
    long.days = vncgate_pki::profile::LEAF_DAYS;
    layout::init(&long).expect("init");
    let pem = std::fs::read(dir.join("https/cert.pem")).expect("cert");
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::CertificateDer::pem_slice_iter(&pem)
        .next()
        .expect("a certificate")
        .expect("PEM");
    let (_, cert) = x509_parser::parse_x509_certificate(&der).expect("X.509");
    let validity = cert.validity();
    let days = (validity.not_after.timestamp() - validity.not_before.timestamp()) / 86_400;
    assert_eq!(days, 397);
    let lifetime = |report: &Report| {
        report
            .findings
            .iter()
            .any(|f| f.severity == Severity::Warning && f.message.contains("398 days"))
    };
    assert!(!lifetime(&check(std::slice::from_ref(&dir))));

    // A leaf made by hand for 825 days.
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec!["console.example".to_owned()]).expect("params");
    params.not_before = rcgen::date_time_ymd(2026, 1, 1);
    params.not_after = rcgen::date_time_ymd(2028, 4, 5);
    let by_hand = params.self_signed(&key).expect("cert");
    write(&dir.join("https/cert.pem"), &by_hand.pem(), 0o644);
    write(&dir.join("https/key.pem"), &key.serialize_pem(), 0o600);
    assert!(lifetime(&check(&[dir])));
}

#[test]
fn the_libvirt_layout_is_written_with_libvirts_names_and_checked() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("pki");
    layout::init(&InitPlan {
        libvirt: true,
        ..plan(
            &dir,
            &[&["compute1", "127.0.0.1"]],
            None,
            KeyType::EcdsaP256,
        )
    })
    .expect("init --libvirt");
    let node = dir.join("libvirt/compute1");
    let mode = |path: PathBuf| {
        std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(node.join("libvirt/private/serverkey.pem")), 0o600);
    assert_eq!(mode(dir.join("libvirt/client/clientkey.pem")), 0o600);
    assert_eq!(mode(node.join("libvirt/servercert.pem")), 0o644);
    assert_eq!(
        std::fs::read(node.join("libvirt/servercert.pem")).expect("cert"),
        std::fs::read(dir.join("compute/compute1/server-cert.pem")).expect("cert"),
    );
    let qemu_conf = std::fs::read_to_string(node.join("qemu.conf")).expect("qemu.conf");
    for line in [
        "vnc_tls = 1",
        "vnc_tls_x509_verify = 1",
        "spice_tls = 1",
        "chardev_tls = 1",
    ] {
        assert!(qemu_conf.contains(line), "{line}: {qemu_conf}");
    }
    // libvirtd lets in the proxy's certificate alone, by its DN as GnuTLS prints it.
    let libvirtd_conf = std::fs::read_to_string(node.join("libvirtd.conf")).expect("libvirtd.conf");
    let identity = vncgate_pki::inspect::qemu_identity(&dir.join("libvirt/client/clientcert.pem"))
        .expect("subject")
        .replace(",,", ",");
    assert!(
        libvirtd_conf.contains(&format!("\ntls_allowed_dn_list = [\"{identity}\"]\n")),
        "{libvirtd_conf}"
    );
    assert!(errors(&check(std::slice::from_ref(&dir))).is_empty());
    // A key that is not the certificate's, under libvirt's name: caught.
    std::fs::copy(
        dir.join("libvirt/client/clientkey.pem"),
        node.join("libvirt/private/serverkey.pem"),
    )
    .expect("swap");
    assert_error(
        &check(&[dir]),
        "does not belong to the certificate beside it",
    );
}

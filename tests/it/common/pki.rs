//! Certificates minted per test with the project's own PKI crate.

use std::path::{Path, PathBuf};

use vncgate_pki::layout::{self, InitPlan};
use vncgate_pki::KeyType;

/// A PKI directory made by `pki init` with one compute host and an HTTPS certificate, both
/// for `localhost` and 127.0.0.1.
pub struct TestPki {
    pub dir: PathBuf,
}

impl TestPki {
    pub fn new(root: &Path, name: &str) -> Self {
        Self::init(root, name, false)
    }

    /// With libvirt's layout too (`pki init --libvirt`).
    pub fn with_libvirt(root: &Path, name: &str) -> Self {
        Self::init(root, name, true)
    }

    fn init(root: &Path, name: &str, libvirt: bool) -> Self {
        let dir = root.join(name);
        let plan = InitPlan {
            dir: dir.clone(),
            servers: vec![vec!["localhost".into(), "127.0.0.1".into()]],
            client_common_name: "vncgate".into(),
            https: Some(vec!["localhost".into(), "127.0.0.1".into()]),
            days: 30,
            key_type: KeyType::EcdsaP256,
            force: false,
            libvirt,
        };
        layout::init(&plan).expect("pki init");
        Self { dir }
    }

    /// The CA a browser trusts for the proxy's HTTPS (its own, not the VNC CA).
    pub fn https_ca_pem(&self) -> String {
        std::fs::read_to_string(layout::https_ca_dir(&self.dir).join("ca-cert.pem")).expect("ca")
    }

    pub fn https_cert(&self) -> PathBuf {
        self.dir.join("https/cert.pem")
    }

    pub fn https_key(&self) -> PathBuf {
        self.dir.join("https/key.pem")
    }

    pub fn compute(&self) -> PathBuf {
        layout::compute_dir(&self.dir, "localhost")
    }

    pub fn proxy(&self) -> PathBuf {
        layout::proxy_dir(&self.dir)
    }

    /// A `[vnc]` section with `auth_schemes` and this PKI's proxy files.
    pub fn vencrypt_config(&self, schemes: &str) -> String {
        let proxy = self.proxy();
        format!(
            "[vnc]\nauth_schemes = {schemes}\nvencrypt_client_cert = {}\nvencrypt_client_key = {}\nvencrypt_ca_certs = {}\n",
            proxy.join("client-cert.pem").display(),
            proxy.join("client-key.pem").display(),
            proxy.join("ca-cert.pem").display(),
        )
    }
}

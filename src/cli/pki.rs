//! `vncgate pki ...`: the PKI crate's work, printed for an operator with the next steps.

use crate::chain::chain;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use vncgate_pki::inspect::{check_paths, Expectations};
use vncgate_pki::layout::{self, InitPlan};

use super::args::{IssueKind, PkiCheck, PkiCommand, PkiInit};

/// Runs a `pki` subcommand.
pub fn run(command: PkiCommand) -> ExitCode {
    let result = match command {
        PkiCommand::Init(init) => self::init(&init),
        PkiCommand::Issue {
            kind: IssueKind::Server { names, issue },
        } => vncgate_pki::enrol::issue_server(
            &issue.dir,
            &split(&names),
            issue.days,
            issue.key_type,
            issue.force,
        )
        .map(|files| {
            print_written(&files);
            if let Some(first) = split(&names).first() {
                print_server_steps(&issue.dir, first);
            }
            println!(
                "\nThe node's CA was added to {}/ca-cert.pem: reload the proxy (SIGHUP) or restart it.",
                layout::proxy_dir(&issue.dir).display()
            );
        }),
        PkiCommand::Issue {
            kind: IssueKind::Client { name, issue },
        } => vncgate_pki::enrol::issue_client(&issue.dir, &name, issue.days, issue.key_type, issue.force)
            .map(|files| print_written(&files)),
        PkiCommand::Check(check) => return self::check(&check),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("vncgate pki: {}", chain(&error));
            ExitCode::FAILURE
        }
    }
}

fn split(names: &str) -> Vec<String> {
    names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect()
}

fn init(init: &PkiInit) -> Result<(), vncgate_pki::PkiError> {
    let servers: Vec<Vec<String>> = init
        .servers
        .iter()
        .map(|s| split(s))
        .filter(|s| !s.is_empty())
        .collect();
    let plan = InitPlan {
        dir: init.issue.dir.clone(),
        servers: servers.clone(),
        client_common_name: init.client_cn.clone(),
        https: init.https.as_deref().map(split),
        days: init.issue.days,
        key_type: init.issue.key_type,
        force: init.issue.force,
        libvirt: init.libvirt,
    };
    let files = layout::init(&plan)?;
    print_written(&files);
    let dir = &init.issue.dir;
    for first in servers.iter().filter_map(|names| names.first()) {
        print_server_steps(dir, first);
    }
    let proxy = layout::proxy_dir(dir);
    println!(
        "\nOn the console proxy, copy {proxy}/ to /etc/pki/nova-novncproxy/ and set:\n\n\
         [vnc]\n\
         auth_schemes = vencrypt\n\
         vencrypt_client_cert = /etc/pki/nova-novncproxy/client-cert.pem\n\
         vencrypt_client_key = /etc/pki/nova-novncproxy/client-key.pem\n\
         vencrypt_ca_certs = /etc/pki/nova-novncproxy/ca-cert.pem\n\n\
         [vncgate]\n\
         # The proxy trusts every node's CA: the name decides which node a certificate speaks for.\n\
         vencrypt_verify_hostname = true\n",
        proxy = proxy.display()
    );
    if init.libvirt {
        print_libvirt_steps(dir, &servers);
    }
    if init.https.is_some() {
        println!(
            "For the browser-facing HTTPS of the proxy (its own CA, {0}/https-ca/, which browsers \
             may trust; it can sign nothing the compute nodes or the proxy accept):\n\n\
             [DEFAULT]\ncert = {0}/https/cert.pem\nkey = {0}/https/key.pem\n",
            dir.display()
        );
    }
    println!(
        "Keep {} on the CA host only. Check everything with: vncgate pki check {}",
        layout::ca_key(dir).display(),
        dir.display()
    );
    Ok(())
}

fn print_written(files: &[PathBuf]) {
    println!("wrote:");
    for file in files {
        println!("  {}", file.display());
    }
}

fn print_server_steps(dir: &Path, host: &str) {
    let identity =
        vncgate_pki::inspect::qemu_identity(&layout::proxy_dir(dir).join("client-cert.pem"));
    println!(
        "\nOn compute host {host}, copy {from}/ to /etc/pki/libvirt-vnc/ (owned by root, key 0600; \
         libvirt's QEMU user must be able to read it) and set in /etc/libvirt/qemu.conf:\n\n\
         vnc_tls = 1\n\
         vnc_tls_x509_verify = 1\n\
         vnc_tls_x509_cert_dir = \"/etc/pki/libvirt-vnc\"\n\n\
         Plain QEMU: -object tls-creds-x509,id=vnc-tls,dir=/etc/pki/libvirt-vnc,endpoint=server,verify-peer=yes \
         -vnc ...,tls-creds=vnc-tls",
        from = layout::compute_dir(dir, host).display()
    );
    if let Some(identity) = identity {
        println!(
            "Without libvirt, QEMU can also accept the proxy's certificate alone (a second layer):\n\
             -object authz-simple,id=vnc-authz,identity={identity} \
             -vnc ...,tls-creds=vnc-tls,tls-authz=vnc-authz"
        );
    }
}

/// Where `pki init --libvirt`'s files go.
fn print_libvirt_steps(dir: &std::path::Path, servers: &[Vec<String>]) {
    for host in servers.iter().filter_map(|names| names.first()) {
        let at = vncgate_pki::libvirt::node_dir(dir, host);
        println!(
            "\nOn {host}, for libvirtd --listen (listen_tls = 1) and TLS on every guest console:\n  \
             copy {at}/CA/cacert.pem to /etc/pki/CA/cacert.pem\n  \
             copy {at}/libvirt/ to /etc/pki/libvirt/ (private/serverkey.pem stays 0600)\n  \
             copy {compute}/ to /etc/pki/qemu/ and add {at}/qemu.conf to /etc/libvirt/qemu.conf\n  \
             add {at}/libvirtd.conf to /etc/libvirt/libvirtd.conf (TLS only, the proxy's certificate alone)",
            at = at.display(),
            compute = vncgate_pki::layout::compute_dir(dir, host).display(),
        );
    }
    println!(
        "\nOn the console proxy: [libvirt] pki_path = {} (a copy of it), uris = qemu+tls://HOST/system, \
         vnc_tls = * (the hosts with those qemu.conf lines)",
        vncgate_pki::libvirt::client_dir(dir).display()
    );
}

fn check(check: &PkiCheck) -> ExitCode {
    let report = check_paths(
        &check.paths,
        &Expectations {
            hosts: check.hosts.clone(),
        },
    );
    for finding in &report.findings {
        println!("{finding}");
    }
    if report.has_errors() {
        let errors = report
            .findings
            .iter()
            .filter(|f| f.severity == vncgate_pki::inspect::Severity::Error)
            .count();
        println!(
            "{errors} problem(s) in {} file(s) checked",
            report.checked.len()
        );
        ExitCode::FAILURE
    } else {
        println!("OK: {} file(s) checked", report.checked.len());
        ExitCode::SUCCESS
    }
}

//! `vncgate domains list`: every domain the libvirt inventory sees, with its state and the
//! live ports of its consoles, as the proxy would find them for a `libvirt:` token.

use std::fmt::Write;
use std::process::ExitCode;

use super::args::DomainsCommand;
use super::startup::{block_on, load_settings};
use crate::chain::chain;
use crate::libvirt::{xml, Inventory};

/// Runs a `domains` subcommand.
pub fn run(command: DomainsCommand) -> ExitCode {
    let DomainsCommand::List { files } = command;
    let settings = match load_settings(&files) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    let Some(libvirt) = settings.libvirt else {
        eprintln!("vncgate domains: [libvirt] uris is not set: no hypervisor to ask");
        return ExitCode::FAILURE;
    };
    block_on("domains", async move {
        let inventory = Inventory::new(&libvirt);
        let mut out = format!(
            "{:<12} {:<24} {:<8} CONSOLES\n",
            "HYPERVISOR", "NAME", "STATE"
        );
        let mut failed = Vec::new();
        for (hypervisor, listed) in inventory.list().await {
            match listed {
                Ok(domains) => {
                    for domain in domains {
                        let state = if domain.running {
                            "running"
                        } else {
                            "shut off"
                        };
                        let _ = writeln!(
                            out,
                            "{:<12} {:<24} {state:<8} {}",
                            hypervisor.name,
                            domain.name,
                            consoles(&domain.consoles, hypervisor.vnc_tls)
                        );
                    }
                }
                Err(error) => failed.push(format!("{}: {}", hypervisor.name, chain(&error))),
            }
        }
        print!("{out}");
        if failed.is_empty() {
            Ok(())
        } else {
            Err(failed.join("; "))
        }
    })
}

/// `vnc 127.0.0.1:5901, spice 127.0.0.1:5902 tls 5903, serial 127.0.0.1:4555`, or `-`; a VNC
/// server on a `vnc_tls` hypervisor and a serial port with TLS say `vencrypt` and `tls`.
fn consoles(consoles: &xml::Consoles, vnc_tls: bool) -> String {
    let graphics = |name: &str, graphics: &xml::Graphics| {
        let at = match &graphics.listen {
            xml::Listen::Address(address) => match graphics.port {
                Some(port) => format!("{address}:{port}"),
                None => address.clone(),
            },
            xml::Listen::Socket(path) => format!("unix:{path}"),
        };
        match graphics.tls_port {
            Some(tls) => format!("{name} {at} tls {tls}"),
            None => format!("{name} {at}"),
        }
    };
    let mut parts = Vec::new();
    if let Some(vnc) = &consoles.vnc {
        let vnc = graphics("vnc", vnc);
        parts.push(if vnc_tls { vnc + " vencrypt" } else { vnc });
    }
    if let Some(spice) = &consoles.spice {
        parts.push(graphics("spice", spice));
    }
    if let Some(serial) = &consoles.serial {
        let tls = if serial.tls { " tls" } else { "" };
        parts.push(format!("serial {}:{}{tls}", serial.host, serial.port));
    }
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join(", ")
    }
}

//! A real libvirtd (Debian's `libvirt-daemon-system`), started by hand with virtlogd when none
//! runs (no systemd here), and TCG guests with no disk defined in it: VNC and SPICE with
//! `autoport`, a serial port bound to TCP. Only what was started here is stopped, by PID; the
//! guests are destroyed and undefined when their guard drops.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The URI every test uses.
pub const URI: &str = "qemu:///system";

/// `virsh -c URI ARGS`: its standard output, or its error.
pub fn virsh(args: &[&str]) -> Result<String, String> {
    let out = Command::new("virsh")
        .args(["-c", URI])
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// libvirtd and virtlogd, when this process started them.
pub struct Libvirtd {
    started: Vec<Child>,
}

impl Libvirtd {
    /// The running libvirtd, or one started now; `None` (a skip, a failure in CI) without
    /// libvirt installed.
    pub fn start() -> Option<Self> {
        if !Path::new("/usr/sbin/libvirtd").exists()
            || Command::new("virsh").arg("-v").output().is_err()
        {
            super::peer_missing("libvirtd (apt-get install libvirt-daemon-system libvirt-clients)");
            return None;
        }
        let mut this = Self {
            started: Vec::new(),
        };
        if virsh(&["version"]).is_err() {
            this.started.push(spawn("/usr/sbin/virtlogd"));
            this.started.push(spawn("/usr/sbin/libvirtd"));
            assert!(
                this.answers(Duration::from_secs(30)),
                "libvirtd did not answer"
            );
        }
        Some(this)
    }

    /// Whether this process started libvirtd (and may stop it).
    pub fn owned(&self) -> bool {
        !self.started.is_empty()
    }

    /// Stops the libvirtd started here (the guests run on).
    pub fn kill_libvirtd(&mut self) {
        if let Some(mut libvirtd) = self.started.pop() {
            let _ = libvirtd.kill();
            let _ = libvirtd.wait();
        }
    }

    /// Starts libvirtd again after [`Libvirtd::kill_libvirtd`], with `args`.
    pub fn restart_libvirtd(&mut self, args: &[&str]) {
        let libvirtd = Command::new("/usr/sbin/libvirtd")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("libvirtd");
        self.started.push(libvirtd);
        assert!(
            self.answers(Duration::from_secs(30)),
            "libvirtd did not come back"
        );
    }

    fn answers(&self, within: Duration) -> bool {
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if virsh(&["version"]).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }
}

/// A `libvirtd.conf` for `libvirtd --listen`: TLS on `port` on loopback with the server files
/// of a `pki init --libvirt` directory's node `host`, no TCP.
pub fn tls_listen_conf(pki: &Path, host: &str, port: u16) -> String {
    let node = pki.join("libvirt").join(host);
    format!(
        "listen_tls = 1\nlisten_tcp = 0\nlisten_addr = \"127.0.0.1\"\ntls_port = \"{port}\"\n\
         auth_tls = \"none\"\nkey_file = \"{}\"\ncert_file = \"{}\"\nca_file = \"{}\"\n",
        node.join("libvirt/private/serverkey.pem").display(),
        node.join("libvirt/servercert.pem").display(),
        node.join("CA/cacert.pem").display(),
    )
}

fn spawn(program: &str) -> Child {
    Command::new(program)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect(program)
}

impl Drop for Libvirtd {
    fn drop(&mut self) {
        while let Some(mut child) = self.started.pop() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A guest defined in libvirt: TCG, no disk, VNC and SPICE with `autoport` on loopback, COM1
/// bound to `serial_port`.
pub struct Guest {
    pub name: String,
    pub uuid: String,
}

impl Guest {
    /// Defines the guest (not started).
    pub fn define(name: &str, serial_port: u16) -> Self {
        let xml = format!(
            "<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>\
             <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='network'/></os>\
             <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>\
             <serial type='tcp'><source mode='bind' host='127.0.0.1' service='{serial_port}'/><protocol type='raw'/></serial>\
             <graphics type='vnc' autoport='yes' listen='127.0.0.1'/>\
             <graphics type='spice' autoport='yes' listen='127.0.0.1'/>\
             <video><model type='vga'/></video></devices></domain>"
        );
        let file = std::env::temp_dir().join(format!("{name}.xml"));
        std::fs::write(&file, xml).expect("xml");
        let _ = virsh(&["destroy", name]);
        let _ = virsh(&["undefine", name]);
        virsh(&["define", file.to_str().expect("path")]).expect("define");
        let _ = std::fs::remove_file(&file);
        let uuid = virsh(&["domuuid", name]).expect("uuid").trim().to_owned();
        Self {
            name: name.to_owned(),
            uuid,
        }
    }

    pub fn start(&self) {
        virsh(&["start", &self.name]).expect("start");
    }

    pub fn stop(&self) {
        virsh(&["destroy", &self.name]).expect("destroy");
    }

    /// The live VNC port, from the live XML.
    pub fn vnc_port(&self) -> u16 {
        let xml = virsh(&["dumpxml", &self.name]).expect("dumpxml");
        let at = xml
            .find("<graphics type='vnc' port='")
            .expect("vnc graphics");
        let rest = &xml[at + "<graphics type='vnc' port='".len()..];
        rest[..rest.find('\'').expect("quote")]
            .parse()
            .expect("port")
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = virsh(&["destroy", &self.name]);
        let _ = virsh(&["undefine", &self.name]);
    }
}

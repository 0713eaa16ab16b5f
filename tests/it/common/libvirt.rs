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
    virsh_on(URI, args)
}

/// `virsh -c uri ARGS`.
pub fn virsh_on(uri: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new("virsh")
        .args(["-c", uri])
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

/// Whether libvirtd and virsh are installed; if not, a skip (a failure in CI).
pub fn installed() -> bool {
    let installed = Path::new("/usr/sbin/libvirtd").exists()
        && Command::new("virsh").arg("-v").output().is_ok();
    if !installed {
        super::peer_missing("libvirtd (apt-get install libvirt-daemon-system libvirt-clients)");
    }
    installed
}

impl Libvirtd {
    /// The running libvirtd, or one started now; `None` (a skip, a failure in CI) without
    /// libvirt installed.
    pub fn start() -> Option<Self> {
        if !installed() {
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

/// A `libvirtd.conf` for `libvirtd --listen`: the lines `pki init --libvirt` wrote for the node
/// `host` (TLS only, the proxy's DN alone), listening on `port` on loopback, with that node's
/// files where they are rather than at libvirt's default paths.
pub fn tls_listen_conf(pki: &Path, host: &str, port: u16) -> String {
    let node = pki.join("libvirt").join(host);
    let written = std::fs::read_to_string(node.join("libvirtd.conf")).expect("libvirtd.conf");
    format!(
        "{written}listen_addr = \"127.0.0.1\"\ntls_port = \"{port}\"\n\
         key_file = \"{}\"\ncert_file = \"{}\"\nca_file = \"{}\"\n",
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

/// A hypervisor of its own on this host: libvirtd and virtlogd in a mount namespace
/// (`unshare`) with their own `qemu.conf`, run and state directories and domain definitions, so
/// that its `qemu.conf` (`vnc_tls = 1`, ...) touches nothing else. It listens for
/// `qemu+tls://127.0.0.1:PORT/system` with the node `localhost` of a `pki init --libvirt`
/// directory; QEMU runs as root, with no security driver.
pub struct PrivateLibvirtd {
    libvirtd: Child,
    virtlogd_pid: std::path::PathBuf,
    /// The URI with the proxy's client files, for virsh.
    pub uri: String,
    /// Its TLS port.
    pub port: u16,
}

impl PrivateLibvirtd {
    /// Starts it in `dir`, with `qemu_conf` (lines for `qemu.conf`) and `pki`'s libvirt layout.
    pub fn start(dir: &Path, pki: &Path, qemu_conf: &str) -> Self {
        for sub in ["run", "lib", "domains"] {
            std::fs::create_dir_all(dir.join(sub)).expect("dir");
        }
        let conf =
            format!("{qemu_conf}\nuser = \"root\"\ngroup = \"root\"\nsecurity_driver = \"none\"\n");
        std::fs::write(dir.join("qemu.conf"), conf).expect("qemu.conf");
        let port = super::daemon::free_port();
        std::fs::write(
            dir.join("libvirtd.conf"),
            tls_listen_conf(pki, "localhost", port),
        )
        .expect("libvirtd.conf");
        let d = dir.display();
        let script = format!(
            "set -e\nmount --bind {d}/run /run/libvirt\nmount --bind {d}/lib /var/lib/libvirt\n\
             mount --bind {d}/domains /etc/libvirt/qemu\nmount --bind {d}/qemu.conf /etc/libvirt/qemu.conf\n\
             /usr/sbin/virtlogd -p {d}/virtlogd.pid &\n\
             exec /usr/sbin/libvirtd -f {d}/libvirtd.conf -p {d}/libvirtd.pid --listen\n"
        );
        let libvirtd = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("unshare");
        let uri = format!(
            "qemu+tls://127.0.0.1:{port}/system?pkipath={}",
            pki.join("libvirt/client").display()
        );
        let this = Self {
            libvirtd,
            virtlogd_pid: dir.join("virtlogd.pid"),
            uri,
            port,
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while virsh_on(&this.uri, &["version"]).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the private libvirtd did not answer"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        this
    }
}

impl Drop for PrivateLibvirtd {
    fn drop(&mut self) {
        let _ = self.libvirtd.kill();
        let _ = self.libvirtd.wait();
        let pid = std::fs::read_to_string(&self.virtlogd_pid).unwrap_or_default();
        if let Ok(pid) = pid.trim().parse::<i32>() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

/// What a guest has beyond the defaults.
#[derive(Default)]
pub struct GuestSpec<'a> {
    /// Its UUID (the same guest on two hypervisors); libvirt's choice if `None`.
    pub uuid: Option<&'a str>,
    /// A floppy image it boots from, instead of the network.
    pub floppy: Option<&'a Path>,
}

/// A guest defined in libvirt: TCG, no disk, VNC and SPICE with `autoport` on loopback, COM1
/// bound to `serial_port`.
pub struct Guest {
    pub name: String,
    pub uuid: String,
    uri: String,
}

impl Guest {
    /// Defines the guest in the system libvirtd (not started).
    pub fn define(name: &str, serial_port: u16) -> Self {
        Self::define_on(URI, name, serial_port, &GuestSpec::default())
    }

    /// Defines the guest in the libvirtd at `uri` (not started).
    pub fn define_on(uri: &str, name: &str, serial_port: u16, spec: &GuestSpec<'_>) -> Self {
        let uuid = spec
            .uuid
            .map(|uuid| format!("<uuid>{uuid}</uuid>"))
            .unwrap_or_default();
        let (boot, floppy) = match spec.floppy {
            Some(image) => (
                "fd",
                format!(
                    "<disk type='file' device='floppy'><source file='{}'/><target dev='fda' bus='fdc'/></disk>",
                    image.display()
                ),
            ),
            None => ("network", String::new()),
        };
        let xml = format!(
            "<domain type='qemu'><name>{name}</name>{uuid}<memory unit='MiB'>64</memory><vcpu>1</vcpu>\
             <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='{boot}'/></os>\
             <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>{floppy}\
             <serial type='tcp'><source mode='bind' host='127.0.0.1' service='{serial_port}'/><protocol type='raw'/></serial>\
             <graphics type='vnc' autoport='yes' listen='127.0.0.1'/>\
             <graphics type='spice' autoport='yes' listen='127.0.0.1'/>\
             <video><model type='vga'/></video></devices></domain>"
        );
        let file = std::env::temp_dir().join(format!("{name}-{}.xml", super::daemon::free_port()));
        std::fs::write(&file, xml).expect("xml");
        let _ = virsh_on(uri, &["destroy", name]);
        let _ = virsh_on(uri, &["undefine", name]);
        virsh_on(uri, &["define", file.to_str().expect("path")]).expect("define");
        let _ = std::fs::remove_file(&file);
        let uuid = virsh_on(uri, &["domuuid", name])
            .expect("uuid")
            .trim()
            .to_owned();
        Self {
            name: name.to_owned(),
            uuid,
            uri: uri.to_owned(),
        }
    }

    pub fn start(&self) {
        virsh_on(&self.uri, &["start", &self.name]).expect("start");
    }

    pub fn stop(&self) {
        virsh_on(&self.uri, &["destroy", &self.name]).expect("destroy");
    }

    /// The live VNC port, from the live XML.
    pub fn vnc_port(&self) -> u16 {
        let xml = virsh_on(&self.uri, &["dumpxml", &self.name]).expect("dumpxml");
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
        let _ = virsh_on(&self.uri, &["destroy", &self.name]);
        let _ = virsh_on(&self.uri, &["undefine", &self.name]);
    }
}

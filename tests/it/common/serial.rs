//! Something real on the guest side of a serial line and of a screen: a 512-byte boot sector
//! that QEMU's SeaBIOS loads, which prints a banner on COM1, then echoes every byte it receives
//! there and writes every key typed on the keyboard to the screen (BIOS teletype). QEMU exposes
//! COM1 as a socket chardev, plain or with `tls-creds-x509,verify-peer=yes`, and the screen on
//! its VNC server.

use std::path::{Path, PathBuf};

use super::daemon::free_port;
use super::pki::TestPki;
use super::qemu::Qemu;

/// What the guest prints when it starts.
pub const BANNER: &str = "vncgate serial echo\r\n";

/// The boot sector, assembled by hand (real mode, loaded at 0000:7C00).
fn boot_sector() -> Vec<u8> {
    let mut code = vec![0xBA, 0xF8, 0x03]; // mov dx, 0x3F8 (COM1 data)
    for byte in BANNER.bytes() {
        code.extend_from_slice(&[0xB0, byte, 0xEE]); // mov al, byte; out dx, al
    }
    code.extend_from_slice(&[
        0xBA, 0xFD, 0x03, // poll: mov dx, 0x3FD (line status)
        0xEC, //             in al, dx
        0xA8, 0x01, //       test al, 1 (data ready)
        0x74, 0x05, //       jz keys
        0xBA, 0xF8, 0x03, // mov dx, 0x3F8
        0xEC, //             in al, dx
        0xEE, //             out dx, al (the echo; QEMU's UART takes it at once)
        0xB4, 0x01, //       keys: mov ah, 1 (a key waiting?)
        0xCD, 0x16, //       int 0x16
        0x74, 0xED, //       jz poll
        0x30, 0xE4, //       xor ah, ah (read it)
        0xCD, 0x16, //       int 0x16
        0xB4, 0x0E, //       mov ah, 0x0E (teletype: write al at the cursor)
        0x31, 0xDB, //       xor bx, bx (page 0)
        0xCD, 0x10, //       int 0x10
        0xEB, 0xE1, //       jmp poll
    ]);
    code.resize(510, 0);
    code.extend_from_slice(&[0x55, 0xAA]);
    code
}

/// The echo's boot floppy, written into `work`.
pub fn echo_image(work: &Path) -> PathBuf {
    let image: PathBuf = work.join("serial-echo.img");
    std::fs::write(&image, boot_sector()).expect("boot sector");
    image
}

/// QEMU's arguments for COM1 on the socket `chardev` (id `ser0`) and the echo's boot floppy,
/// written into `work`.
fn com1_and_disk(work: &Path, chardev: String) -> Vec<String> {
    let image = echo_image(work);
    vec![
        "-chardev".to_owned(),
        chardev,
        "-serial".to_owned(),
        "chardev:ser0".to_owned(),
        "-drive".to_owned(),
        format!("file={},format=raw,if=floppy", image.display()),
        "-boot".to_owned(),
        "a".to_owned(),
    ]
}

/// A QEMU guest running the echo, its COM1 a socket chardev on `port`.
pub struct SerialGuest {
    pub vm: Qemu,
    pub port: u16,
}

impl SerialGuest {
    /// Boots the echo guest; with `pki`, COM1 demands TLS and a client certificate from that
    /// PKI's CA (`verify-peer=yes`).
    pub fn start(work: &Path, pki: Option<&TestPki>) -> Self {
        let port = free_port();
        let mut chardev = format!("socket,id=ser0,host=127.0.0.1,port={port},server=on,wait=off");
        let mut extra = Vec::new();
        if let Some(pki) = pki {
            chardev.push_str(",tls-creds=tls0");
            extra.push("-object".to_owned());
            extra.push(format!(
                "tls-creds-x509,id=tls0,dir={},endpoint=server,verify-peer=yes",
                pki.compute().display()
            ));
        }
        extra.extend(com1_and_disk(work, chardev));
        let vm = Qemu::start(work, "", &extra);
        Self { vm, port }
    }

    /// Boots the echo guest with COM1 on the Unix socket `serial` and its VNC display on the
    /// Unix socket `vnc`, as a guest on the proxy's own host may be reached.
    pub fn start_unix(work: &Path, serial: &Path, vnc: &Path) -> Qemu {
        let chardev = format!(
            "socket,id=ser0,path={},server=on,wait=off",
            serial.display()
        );
        Qemu::start_unix(work, vnc, "", &com1_and_disk(work, chardev))
    }
}

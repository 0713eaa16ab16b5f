//! What an ESXi host or an operator hands vncgate for VMware consoles: authd reply lines
//! (decoded repeatedly, as a stream), thumbprints and WebMKS ticket URLs. Nothing panics, and a
//! decoded reply never claims more bytes than it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vncgate::backend::authd::reply::decode;
use vncgate::console::{ticket_target, Thumbprint};

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(Some((_, used))) = decode(rest) {
        assert!(used > 0 && used <= rest.len());
        rest = &rest[used..];
    }
    let text = String::from_utf8_lossy(data);
    if let Ok(pin) = Thumbprint::parse(&text) {
        assert_eq!(Thumbprint::parse(&pin.to_hex()).ok(), Some(pin.clone()));
        let _ = pin.matches(data);
    }
    let mut halves = text.splitn(2, ' ');
    let _ = ticket_target(halves.next().unwrap_or_default(), halves.next());
});

//! The parsers of operator- and browser-supplied text: oslo INI, websockify token lines,
//! Origin/Host checks and token extraction. Nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vncgate::config::oslo::parse_sections;
use vncgate::front::upgrade::{choose_subprotocol, find_token, host_name, OriginCheck};
use vncgate::token::parse_line;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_sections(text);
    for line in text.lines() {
        let _ = parse_line(line);
    }
    let mut parts = text.splitn(3, '\n');
    let (first, second, third) = (parts.next(), parts.next(), parts.next());
    let check = OriginCheck { origin: first, host: second, forwarded_proto: third, tls: data.len() % 2 == 0 };
    let _ = check.verify(&["allowed.example".to_owned()]);
    let _ = host_name(text);
    let _ = find_token(first, &[second.unwrap_or_default()]);
    let _ = choose_subprotocol(&[text]);
});

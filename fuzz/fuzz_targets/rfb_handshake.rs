//! Every RFB/VeNCrypt decoder, and the handshake state machine fed a server transcript in
//! arbitrary cuts: nothing panics, nothing claims more bytes than it was given.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use vncgate::console::{AuthScheme, Secret};
use vncgate::rfb::handshake::{Handshake, Output, Policy};
use vncgate::rfb::wire;

fuzz_target!(|data: &[u8]| {
    fn bounded<T>(input: &[u8], decoded: wire::Decoded<T>) {
        if let Ok(Some((_, used))) = decoded {
            assert!(used <= input.len());
        }
    }
    bounded(data, wire::decode_version(data));
    bounded(data, wire::decode_security_types(data));
    bounded(data, wire::decode_reason(data));
    bounded(data, wire::decode_security_result(data));
    bounded(data, wire::decode_vencrypt_version(data));
    bounded(data, wire::decode_vencrypt_subtypes(data));
    bounded(data, wire::decode_challenge(data));

    let Some((&control, transcript)) = data.split_first() else {
        return;
    };
    let orders: [&[AuthScheme]; 4] = [
        &[AuthScheme::Vencrypt],
        &[AuthScheme::Vencrypt, AuthScheme::None],
        &[AuthScheme::None],
        &[AuthScheme::Vnc, AuthScheme::None],
    ];
    let policy = Policy {
        schemes: orders[usize::from(control & 3)].to_vec(),
        password: (control & 4 != 0).then(|| Secret::new("password")),
    };
    // Feed the transcript in chunks whose size the control byte picks, by the one calling rule
    // the driver follows.
    let chunk = usize::from(control >> 3).max(1);
    let mut handshake = Handshake::new(policy);
    let mut buffer = BytesMut::new();
    let mut fed = 0;
    loop {
        let before = buffer.len();
        match handshake.feed(&mut buffer) {
            Err(_) | Ok(Output::Done(_)) => return,
            Ok(Output::NeedMore) => {
                assert!(buffer.len() <= before);
                if fed >= transcript.len() {
                    return;
                }
                let end = (fed + chunk).min(transcript.len());
                buffer.extend_from_slice(&transcript[fed..end]);
                fed = end;
            }
            Ok(_) => assert!(buffer.len() <= before),
        }
    }
});

//! The handshake state machine against byte transcripts: nova's test_rfb.py and
//! test_authvencrypt.py scenarios, plus every-prefix, hostile lengths and odd type lists.

use super::*;
use bytes::BytesMut;

fn policy(schemes: &[AuthScheme]) -> Policy {
    Policy {
        schemes: schemes.to_vec(),
        password: None,
    }
}

/// Feeds `transcript` all at once and collects outputs until the machine needs more or is done.
fn run(policy: Policy, transcript: &[u8]) -> Result<Vec<Output>, Error> {
    let mut handshake = Handshake::new(policy);
    let mut buffer = BytesMut::from(transcript);
    collect(&mut handshake, &mut buffer)
}

/// Outputs from `buffer` until the machine needs more (not pushed) or is done (pushed).
fn collect(handshake: &mut Handshake, buffer: &mut BytesMut) -> Result<Vec<Output>, Error> {
    let mut outputs = Vec::new();
    loop {
        match handshake.feed(buffer)? {
            Output::NeedMore => return Ok(outputs),
            done @ Output::Done(_) => {
                outputs.push(done);
                return Ok(outputs);
            }
            other => outputs.push(other),
        }
    }
}

/// Feeds `transcript` in two cuts at every position; the outputs must equal the one-piece run,
/// and the first cut must never be answered with more than its whole messages allow.
fn every_prefix(policy: &Policy, transcript: &[u8]) {
    let whole = run(policy.clone(), transcript).map_err(|e| e.to_string());
    for cut in 0..=transcript.len() {
        let mut handshake = Handshake::new(policy.clone());
        let mut buffer = BytesMut::from(&transcript[..cut]);
        let result = collect(&mut handshake, &mut buffer).and_then(|mut outputs| {
            if matches!(outputs.last(), Some(Output::Done(_))) {
                return Ok(outputs);
            }
            buffer.extend_from_slice(&transcript[cut..]);
            outputs.extend(collect(&mut handshake, &mut buffer)?);
            Ok(outputs)
        });
        assert_eq!(result.map_err(|e| e.to_string()), whole, "cut at {cut}");
    }
}

fn transcript(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

const V38: &[u8] = b"RFB 003.008\n";
const OK: &[u8] = &[0, 0, 0, 0];

fn vencrypt_server() -> Vec<u8> {
    transcript(&[
        V38,
        &[1, 19],
        &[0, 2],
        &[0],
        &[2, 0, 0, 1, 4, 0, 0, 1, 5],
        &[1],
        OK,
    ])
}

#[test]
fn full_run_with_none() {
    // nova test_full_run: the server offers [1, 2]; None is configured.
    let outputs = run(
        policy(&[AuthScheme::None]),
        &transcript(&[V38, &[2, 1, 2], OK]),
    );
    assert_eq!(
        outputs.ok(),
        Some(vec![
            Output::Send(V38.to_vec()),
            Output::Send(vec![1]),
            Output::Done(AuthScheme::None)
        ])
    );
}

#[test]
fn vencrypt_x509none_with_accept_byte() {
    // nova test_security_handshake_with_x509: subtypes [260, 261], sends 260, accept 1.
    let outputs = run(policy(&[AuthScheme::Vencrypt]), &vencrypt_server());
    assert_eq!(
        outputs.ok(),
        Some(vec![
            Output::Send(V38.to_vec()),
            Output::Send(vec![19]),
            Output::Send(vec![0, 2]),
            Output::Send(vec![0, 0, 1, 4]),
            Output::StartTls,
            Output::Done(AuthScheme::Vencrypt),
        ])
    );
}

#[test]
fn every_prefix_needs_more_then_gives_the_same_answer() {
    every_prefix(&policy(&[AuthScheme::Vencrypt]), &vencrypt_server());
    every_prefix(
        &policy(&[AuthScheme::None]),
        &transcript(&[V38, &[2, 1, 2], OK]),
    );
    every_prefix(
        &policy(&[AuthScheme::None]),
        &transcript(&[V38, &[0, 0, 0, 0, 6], b"cheese"]),
    );
    every_prefix(
        &policy(&[AuthScheme::None]),
        &transcript(&[V38, &[1, 1], &[0, 0, 0, 1, 0, 0, 0, 3], b"bad"]),
    );
    let with_password = Policy {
        schemes: vec![AuthScheme::Vnc],
        password: Some(Secret::new("pw")),
    };
    every_prefix(&with_password, &transcript(&[V38, &[1, 2], &[9u8; 16], OK]));
}

#[test]
fn compute_versions_other_than_3_8_are_refused() {
    // nova test_fails_on_compute_version: 3.7 and 3.9; and 3.3, 3.889, 4.0.
    for version in [
        &b"RFB 003.007\n"[..],
        b"RFB 003.009\n",
        b"RFB 003.003\n",
        b"RFB 003.889\n",
        b"RFB 004.000\n",
    ] {
        let result = run(policy(&[AuthScheme::None]), version);
        assert!(
            matches!(result, Err(Error::UnsupportedVersion(..))),
            "{version:?}: {result:?}"
        );
    }
    assert!(matches!(
        run(policy(&[AuthScheme::None]), b"SSH-2.0-Open"),
        Err(Error::BadVersion(_))
    ));
}

#[test]
fn zero_security_types_forward_the_reason() {
    // nova test_fails_on_sec_type_cnt_zero.
    let result = run(
        policy(&[AuthScheme::None]),
        &transcript(&[V38, &[0, 0, 0, 0, 6], b"cheese"]),
    );
    assert!(
        matches!(result, Err(Error::ServerRefused(Some(ref r))) if r == "cheese"),
        "{result:?}"
    );
}

#[test]
fn oversized_reasons_are_not_read() {
    // nova test_fails_on_sec_type_cnt_zero_oversized_reason (1000), and 4 GiB.
    for length in [1000u32, u32::MAX] {
        let result = run(
            policy(&[AuthScheme::None]),
            &transcript(&[V38, &[0], &length.to_be_bytes()]),
        );
        assert!(
            matches!(result, Err(Error::ServerRefused(None))),
            "{length}: {result:?}"
        );
    }
    let result = run(
        policy(&[AuthScheme::None]),
        &transcript(&[V38, &[1, 1], &[0, 0, 0, 1], &u32::MAX.to_be_bytes()]),
    );
    assert!(matches!(result, Err(Error::AuthFailed(None))), "{result:?}");
}

#[test]
fn no_configured_scheme_offered() {
    // nova test_exception_in_choose_security_type_fails: [2, 5] with none configured.
    let result = run(policy(&[AuthScheme::None]), &transcript(&[V38, &[2, 2, 5]]));
    assert!(
        matches!(result, Err(Error::NoAllowedScheme { .. })),
        "{result:?}"
    );
    // nova test_find_scheme_fail: TIGHT only.
    let result = run(
        policy(&[AuthScheme::None, AuthScheme::Vencrypt]),
        &transcript(&[V38, &[1, 16]]),
    );
    assert!(
        matches!(result, Err(Error::NoAllowedScheme { .. })),
        "{result:?}"
    );
}

#[test]
fn none_only_server_with_vencrypt_required_is_a_refused_downgrade() {
    let result = run(
        policy(&[AuthScheme::Vencrypt]),
        &transcript(&[V38, &[1, 1]]),
    );
    let message = result.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("downgrade refused"), "{message}");
}

#[test]
fn configured_order_wins_over_the_servers() {
    // nova's test_find_scheme_priority has the server's order win; here the config decides.
    let outputs = run(
        policy(&[AuthScheme::Vencrypt, AuthScheme::None]),
        &transcript(&[V38, &[2, 1, 19]]),
    );
    assert_eq!(
        outputs
            .ok()
            .and_then(|o| o.get(1).map(|x| format!("{x:?}"))),
        Some("Send([19])".into())
    );
    let outputs = run(
        policy(&[AuthScheme::None, AuthScheme::Vencrypt]),
        &transcript(&[V38, &[2, 19, 1]]),
    );
    assert_eq!(
        outputs
            .ok()
            .and_then(|o| o.get(1).map(|x| format!("{x:?}"))),
        Some("Send([1])".into())
    );
    // The fallback nova's upgrade path relies on: vencrypt,none against a plain server.
    let outputs = run(
        policy(&[AuthScheme::Vencrypt, AuthScheme::None]),
        &transcript(&[V38, &[1, 1], OK]),
    );
    assert!(
        matches!(outputs.as_deref(), Ok([_, Output::Send(t), Output::Done(AuthScheme::None)]) if t == &vec![1])
    );
}

#[test]
fn unknown_types_and_subtypes_are_taken_in_stride() {
    // nova crashes building a log line for types missing from its enum (7, 13).
    let outputs = run(
        policy(&[AuthScheme::Vencrypt]),
        &transcript(&[
            V38,
            &[4, 7, 13, 200, 19],
            &[0, 2],
            &[0],
            &[3, 0, 0, 0, 1, 0, 0, 3, 231, 0, 0, 1, 4],
            &[1],
            OK,
        ]),
    );
    assert!(
        matches!(
            outputs.as_deref(),
            Ok([.., Output::StartTls, Output::Done(AuthScheme::Vencrypt)])
        ),
        "{outputs:?}"
    );
}

#[test]
fn vencrypt_refusals() {
    let base = transcript(&[V38, &[1, 19]]);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        // nova test_security_handshake_fails_on_low_version.
        (transcript(&[&base, &[0, 1]]), "VeNCrypt 0.1"),
        // nova test_security_handshake_fails_on_cant_use_version.
        (
            transcript(&[&base, &[0, 2], &[1]]),
            "did not accept VeNCrypt 0.2",
        ),
        // nova test_security_handshake_fails_on_missing_subauth: only 261.
        (
            transcript(&[&base, &[0, 2], &[0], &[1, 0, 0, 1, 5]]),
            "does not offer VeNCrypt X509None",
        ),
        (
            transcript(&[&base, &[0, 2], &[0], &[0]]),
            "does not offer VeNCrypt X509None",
        ),
        // nova test_security_handshake_fails_on_auth_not_accepted.
        (
            transcript(&[&base, &[0, 2], &[0], &[1, 0, 0, 1, 4], &[0]]),
            "rejected VeNCrypt X509None",
        ),
    ];
    for (bytes, wanted) in cases {
        let message = run(policy(&[AuthScheme::Vencrypt]), &bytes)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.contains(wanted), "{wanted}: {message}");
    }
}

#[test]
fn later_vencrypt_versions_are_answered_with_0_2() {
    let outputs = run(
        policy(&[AuthScheme::Vencrypt]),
        &transcript(&[V38, &[1, 19], &[0, 3]]),
    );
    assert_eq!(
        outputs
            .ok()
            .and_then(|o| o.last().map(|x| format!("{x:?}"))),
        Some("Send([0, 2])".into())
    );
}

#[test]
fn vnc_password_scheme() {
    let with_password = Policy {
        schemes: vec![AuthScheme::Vnc],
        password: Some(Secret::new("password")),
    };
    let outputs = run(with_password, &transcript(&[V38, &[1, 2], &[0u8; 16], OK]));
    let response = password::response(&Secret::new("password"), &[0u8; 16]).to_vec();
    assert_eq!(
        outputs.ok(),
        Some(vec![
            Output::Send(V38.to_vec()),
            Output::Send(vec![2]),
            Output::Send(response),
            Output::Done(AuthScheme::Vnc)
        ])
    );
    // Chosen, but no password for this target: refused before answering the challenge.
    let result = run(policy(&[AuthScheme::Vnc]), &transcript(&[V38, &[1, 2]]));
    assert!(matches!(result, Err(Error::NoPassword)), "{result:?}");
    // A wrong password: the server's reason is kept for the log.
    let wrong = Policy {
        schemes: vec![AuthScheme::Vnc],
        password: Some(Secret::new("x")),
    };
    let result = run(
        wrong,
        &transcript(&[V38, &[1, 2], &[1u8; 16], &[0, 0, 0, 1, 0, 0, 0, 4], b"nope"]),
    );
    assert!(
        matches!(result, Err(Error::AuthFailed(Some(ref r))) if r == "nope"),
        "{result:?}"
    );
}

#[test]
fn bad_security_result_status() {
    let result = run(
        policy(&[AuthScheme::None]),
        &transcript(&[V38, &[1, 1], &[0, 0, 0, 9]]),
    );
    assert!(
        matches!(result, Err(Error::BadSecurityResult(9))),
        "{result:?}"
    );
}

#[test]
fn phases_name_where_a_close_happened() {
    let mut handshake = Handshake::new(policy(&[AuthScheme::Vencrypt]));
    assert_eq!(handshake.phase(), "the protocol version");
    let _ = handshake.handle(V38);
    assert_eq!(handshake.phase(), "the security types");
    let _ = handshake.handle(&[1, 19]);
    assert_eq!(handshake.phase(), "the VeNCrypt version");
    assert_eq!(handshake.chosen(), Some(AuthScheme::Vencrypt));
}

//! Encrypted tokens (JWE) as websockify's portals mint them with jwcrypto: a JWT signed with
//! the portal's key, encrypted to the proxy's public key. They open a real QEMU console through
//! vncgate with `jwe_keys` set to the one private key file websockify reads, and the same tokens
//! open it through websockify itself (`--token-plugin JWTTokenApi`). Every way a JWE is refused
//! is refused with its reason logged, and the token never is.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::common::qemu::{self, Qemu};
use crate::common::websockify::{python, python_for_jwe, Websockify};
use crate::common::*;
use crate::token_jwt::{keys, now, through_vncgate};

/// How a token is made: signed with `sign` (an algorithm, or `None` for bare claims) by the key
/// at `signer`, then encrypted with `alg` and `enc` to the public key at `recipient`.
struct Mint<'a> {
    sign: Option<&'a str>,
    signer: &'a Path,
    alg: &'a str,
    enc: &'a str,
    recipient: &'a Path,
    zip: bool,
}

impl Mint<'_> {
    /// The compact JWE jwcrypto makes, as websockify's own tests make one.
    fn token(&self, python: &Path, claims: &serde_json::Value) -> String {
        let script = "import json, sys\n\
            from jwcrypto import jwk, jwt\n\
            sign, signer, alg, enc, recipient, claims, zip_ = sys.argv[1:8]\n\
            inner = json.loads(claims)\n\
            if sign != '-':\n\
            \x20   signed = jwt.JWT(header={'alg': sign}, claims=inner)\n\
            \x20   signed.make_signed_token(jwk.JWK.from_pem(open(signer, 'rb').read()))\n\
            \x20   inner = signed.serialize()\n\
            header = {'alg': alg, 'enc': enc}\n\
            if zip_ == 'zip':\n\
            \x20   header['zip'] = 'DEF'\n\
            outer = jwt.JWT(header=header, claims=inner, algs=[alg, enc])\n\
            outer.make_encrypted_token(jwk.JWK.from_pem(open(recipient, 'rb').read()))\n\
            print(outer.serialize())";
        let out = Command::new(python)
            .args(["-c", script, self.sign.unwrap_or("-")])
            .arg(self.signer)
            .args([self.alg, self.enc])
            .arg(self.recipient)
            .arg(claims.to_string())
            .arg(if self.zip { "zip" } else { "-" })
            .output()
            .expect("python");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

/// `key` readable by its owner only, as a private key file must be.
fn owner_only(key: &Path) {
    std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

/// The key in OpenSSL's traditional form (`BEGIN RSA PRIVATE KEY`), as older portals keep it.
fn traditional(key: &Path) -> std::path::PathBuf {
    let out = key.with_extension("traditional");
    let done = Command::new("openssl")
        .args(["pkey", "-traditional", "-in"])
        .arg(key)
        .arg("-out")
        .arg(&out)
        .status()
        .expect("openssl");
    assert!(done.success());
    owner_only(&out);
    out
}

#[tokio::test]
async fn jwes_minted_by_jwcrypto_open_a_qemu_console_through_vncgate_and_websockify() {
    let Some(python) = python("jwt, cryptography, websockify, jwcrypto") else {
        return;
    };
    let Some(websockify_python) = python_for_jwe("websockify, jwcrypto") else {
        return;
    };
    if !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let vm = Qemu::start(work.path(), "", &[]);
    let (rsa, rsa_public) = keys(work.path(), "RS256");
    let rsa_traditional = traditional(&rsa);
    let (ec, ec_public) = keys(work.path(), "ES256");
    owner_only(&ec);
    // websockify's own test: RS256 inside RSA-OAEP with A256CBC-HS512, one key file.
    let cases = [
        (
            "RS256",
            &rsa_traditional,
            "RSA-OAEP",
            "A256CBC-HS512",
            &rsa_public,
        ),
        (
            "RS256",
            &rsa_traditional,
            "RSA-OAEP",
            "A256GCM",
            &rsa_public,
        ),
        ("ES256", &ec, "ECDH-ES", "A256GCM", &ec_public),
        ("ES256", &ec, "ECDH-ES+A256KW", "A256GCM", &ec_public),
    ];
    for (sign, private, alg, enc, public) in cases {
        let mint = Mint {
            sign: Some(sign),
            signer: private,
            alg,
            enc,
            recipient: public,
            zip: false,
        };
        let claims = serde_json::json!({"host": "127.0.0.1", "port": vm.addr.port().to_string(), "exp": now() + 300});
        let token = mint.token(&python, &claims);
        let proxy = start_proxy(
            &format!("[vncgate]\njwe_keys = {}\n", private.display()),
            "",
        )
        .await;
        assert_eq!(
            through_vncgate(&proxy, &token).await,
            Ok(()),
            "{alg} {enc} through vncgate"
        );
        let websockify = Websockify::start(
            &websockify_python,
            "JWTTokenApi",
            &private.display().to_string(),
        )
        .await;
        assert_eq!(
            websockify.version(&token).await.as_deref(),
            Ok(&b"RFB 003.008\n"[..]),
            "{alg} {enc} through websockify"
        );
    }
}

#[tokio::test]
async fn bad_jwes_are_refused_each_with_its_reason_logged() {
    let Some(python) = python("jwt, cryptography, websockify, jwcrypto") else {
        return;
    };
    let work = tempfile::tempdir().expect("tempdir");
    let backend = closed_port().await;
    let (private, public) = keys(work.path(), "RS256");
    owner_only(&private);
    let other_dir = work.path().join("other");
    std::fs::create_dir_all(&other_dir).expect("dir");
    let (other, other_public) = keys(&other_dir, "RS256");
    let (daemon, log) = crate::common::daemon::Daemon::with_options(
        work.path(),
        &format!("jwe_keys = {}\n", private.display()),
    )
    .await;
    let claims =
        serde_json::json!({"host": "127.0.0.1", "port": backend.port(), "exp": now() + 300});
    let good = Mint {
        sign: Some("RS256"),
        signer: &private,
        alg: "RSA-OAEP",
        enc: "A256GCM",
        recipient: &public,
        zip: false,
    };
    let cases = [
        (
            "cannot decrypt (another key?)",
            Mint {
                recipient: &other_public,
                ..good
            },
        ),
        ("compressed JWE", Mint { zip: true, ..good }),
        (
            "JWE algorithm not allowed for the key",
            Mint {
                alg: "RSA1_5",
                ..good
            },
        ),
        (
            "JWE without a signed JWT inside",
            Mint { sign: None, ..good },
        ),
        (
            "bad signature",
            Mint {
                signer: &other,
                ..good
            },
        ),
    ];
    let tokens: Vec<(&str, String)> = cases
        .iter()
        .map(|(reason, mint)| (*reason, mint.token(&python, &claims)))
        .collect();
    for (reason, token) in &tokens {
        let refused = refusal(ws(daemon.addr, &format!("/?token={token}"), &[]).await);
        assert_eq!(refused.0, 403, "{reason}");
    }
    let expired = good.token(
        &python,
        &serde_json::json!({"host": "127.0.0.1", "port": backend.port(), "exp": now() - 60}),
    );
    let refused = refusal(ws(daemon.addr, &format!("/?token={expired}"), &[]).await);
    assert_eq!(refused.0, 403, "expired inside a JWE");
    drop(daemon);
    let log = std::fs::read_to_string(log).unwrap_or_default();
    assert!(log.contains("reason=expired"), "no expiry logged:\n{log}");
    for (reason, token) in &tokens {
        assert!(
            log.contains(&format!("reason=\"{reason}\"")),
            "{reason} not logged:\n{log}"
        );
        assert!(!log.contains(token.as_str()), "a token reached the log");
    }
}

#[test]
fn check_config_refuses_a_jwe_key_others_can_read_or_that_is_no_private_key() {
    let work = tempfile::tempdir().expect("tempdir");
    let (private, public) = keys(work.path(), "RS256");
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let check = |key: &Path| {
        let config = work.path().join("vncgate.conf");
        std::fs::write(
            &config,
            format!(
                "[vncgate]\nstate_dir = {}\njwe_keys = {}\n",
                work.path().display(),
                key.display()
            ),
        )
        .expect("config");
        check_config(&config)
    };
    let (ok, said) = check(&private);
    assert!(!ok, "a world-readable private key passed");
    assert!(
        said.contains("jwe_keys") && said.contains("readable by others"),
        "{said}"
    );
    let (ok, said) = check(&public);
    assert!(!ok, "a public key passed as jwe_keys");
    assert!(said.contains("private key"), "{said}");
    owner_only(&private);
    let (ok, said) = check(&private);
    assert!(ok, "{said}");
}

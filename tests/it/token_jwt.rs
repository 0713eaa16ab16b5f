//! JWTs as tokens, interoperating with what websockify's portals mint: tokens made by PyJWT and jwcrypto
//! (RS256, ES256, EdDSA, HS256) open a real QEMU console through vncgate, and the same tokens
//! open it through websockify itself (`--token-plugin JWTTokenApi`); every refusal the issue
//! names is refused with its reason logged, and the token never is.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::common::qemu::{self, Qemu};
use crate::common::websockify::{python, Websockify};
use crate::common::*;

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// A key pair for `alg` in `dir`: (private key for PyJWT, what `jwt_keys` and websockify read).
pub(crate) fn keys(dir: &Path, alg: &str) -> (PathBuf, PathBuf) {
    let private = dir.join(format!("{alg}.key"));
    let public = dir.join(format!("{alg}.pub"));
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl");
        assert!(out.status.success(), "{args:?}: {out:?}");
    };
    let (p, q) = (private.to_str().expect("p"), public.to_str().expect("q"));
    match alg {
        "RS256" => openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            p,
        ]),
        "ES256" => openssl(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            p,
        ]),
        "EdDSA" => openssl(&["genpkey", "-algorithm", "ED25519", "-out", p]),
        _ => {
            // An HMAC secret: 32 random bytes; websockify and vncgate read it base64url (a JWK's k).
            let secret: Vec<u8> = (0..32u8)
                .map(|i| i.wrapping_mul(37).wrapping_add(11))
                .collect();
            use base64::Engine;
            let k = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&secret);
            std::fs::write(&private, &secret).expect("secret");
            std::fs::write(&public, k).expect("k");
            return (private, public);
        }
    }
    openssl(&["pkey", "-in", p, "-pubout", "-out", q]);
    (private, public)
}

/// A token PyJWT mints with `alg`, the key at `key`, and `claims`.
fn mint(python: &Path, alg: &str, key: &Path, claims: &serde_json::Value) -> String {
    let script = "import json, sys, jwt\n\
                  alg, path, claims = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])\n\
                  key = open(path, 'rb').read()\n\
                  print(jwt.encode(claims, key, algorithm=alg))";
    run_script(
        python,
        script,
        &[alg.as_ref(), key.as_os_str(), claims.to_string().as_ref()],
    )
}

/// The same token as jwcrypto mints it (websockify's own tests use jwcrypto): the HMAC key as a
/// JWK `k`, the others from their PEM.
fn mint_jwcrypto(python: &Path, alg: &str, key: &Path, claims: &serde_json::Value) -> String {
    let script = "import base64, json, sys\n\
                  from jwcrypto import jwk, jwt\n\
                  alg, path, claims = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])\n\
                  data = open(path, 'rb').read()\n\
                  k = base64.urlsafe_b64encode(data).rstrip(b'=').decode()\n\
                  key = jwk.JWK(kty='oct', k=k) if alg.startswith('HS') else jwk.JWK.from_pem(data)\n\
                  token = jwt.JWT(header={'alg': alg}, claims=claims)\n\
                  token.make_signed_token(key)\n\
                  print(token.serialize())";
    run_script(
        python,
        script,
        &[alg.as_ref(), key.as_os_str(), claims.to_string().as_ref()],
    )
}

/// What `script` prints, run by `python` with `args`.
fn run_script(python: &Path, script: &str, args: &[&std::ffi::OsStr]) -> String {
    let out = Command::new(python)
        .args(["-c", script])
        .args(args)
        .output()
        .expect("python");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The classic confusion: an HS256 token whose HMAC key is the RSA public key's PEM, as an
/// attacker who has the public key makes one (PyJWT refuses to, so it is made by hand).
fn confused(python: &Path, public: &Path, claims: &serde_json::Value) -> String {
    let script = "import base64, hashlib, hmac, json, sys\n\
                  b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b'=').decode()\n\
                  key = open(sys.argv[1], 'rb').read()\n\
                  head = b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())\n\
                  body = b64(sys.argv[2].encode())\n\
                  mac = hmac.new(key, (head + '.' + body).encode(), hashlib.sha256).digest()\n\
                  print(head + '.' + body + '.' + b64(mac))";
    run_script(
        python,
        script,
        &[public.as_os_str(), claims.to_string().as_ref()],
    )
}

/// Opens a console with `token` through vncgate: the RFB handshake's outcome.
pub(crate) async fn through_vncgate(proxy: &Proxy, token: &str) -> Result<(), String> {
    let (socket, _) = ws(proxy.addr, &format!("/?token={token}"), &[])
        .await
        .map_err(|error| format!("{error}"))?;
    open_console(socket).await.map(|_| ())
}

#[tokio::test]
async fn tokens_minted_by_pyjwt_and_jwcrypto_open_a_qemu_console_through_vncgate_and_websockify() {
    let Some(python) = python("jwt, cryptography, websockify, jwcrypto") else {
        return;
    };
    if !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let vm = Qemu::start(work.path(), "", &[]);
    for alg in ["RS256", "ES256", "EdDSA", "HS256"] {
        let (private, public) = keys(work.path(), alg);
        let proxy = start_proxy(&format!("[vncgate]\njwt_keys = {}\n", public.display()), "").await;
        // As websockify's portals write them: the port a string, no exp.
        let websockify_style = serde_json::json!({"host": "127.0.0.1", "port": vm.addr.port().to_string(), "exp": now() + 300});
        let websockify =
            Websockify::start(&python, "JWTTokenApi", &public.display().to_string()).await;
        for (minter, token) in [
            ("PyJWT", mint(&python, alg, &private, &websockify_style)),
            (
                "jwcrypto",
                mint_jwcrypto(&python, alg, &private, &websockify_style),
            ),
        ] {
            assert_eq!(
                through_vncgate(&proxy, &token).await,
                Ok(()),
                "{alg} by {minter} through vncgate"
            );
            assert_eq!(
                websockify.version(&token).await.as_deref(),
                Ok(&b"RFB 003.008\n"[..]),
                "{alg} by {minter} through websockify"
            );
        }
    }
}

#[tokio::test]
async fn bad_jwts_are_refused_each_with_its_reason_logged() {
    let Some(python) = python("jwt, cryptography, websockify, jwcrypto") else {
        return;
    };
    let work = tempfile::tempdir().expect("tempdir");
    let backend = closed_port().await;
    let (private, public) = keys(work.path(), "RS256");
    let (other, _) = keys(&work.path().join("other").tap_dir(), "RS256");
    let (daemon, log) = crate::common::daemon::Daemon::with_options(
        work.path(),
        &format!(
            "jwt_keys = {}\njwt_audience = consoles\njwt_leeway = 5\n",
            public.display()
        ),
    )
    .await;
    let claims = |extra: serde_json::Value| {
        let mut claims = serde_json::json!({"host": "127.0.0.1", "port": backend.port(), "aud": "consoles", "exp": now() + 300});
        if let (Some(claims), Some(extra)) = (claims.as_object_mut(), extra.as_object()) {
            for (key, value) in extra {
                if value.is_null() {
                    claims.remove(key);
                } else {
                    claims.insert(key.clone(), value.clone());
                }
            }
        }
        claims
    };
    use base64::Engine;
    let b64 = |json: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string())
    };
    let unsigned = format!(
        "{}.{}.",
        b64(&serde_json::json!({"alg": "none", "typ": "JWT"})),
        b64(&claims(serde_json::json!({})))
    );
    let public_as_secret = work.path().join("public-as-secret");
    std::fs::copy(&public, &public_as_secret).expect("copy");
    let cases = [
        (
            "expired",
            mint(
                &python,
                "RS256",
                &private,
                &claims(serde_json::json!({"exp": now() - 60})),
            ),
        ),
        (
            "not yet valid",
            mint(
                &python,
                "RS256",
                &private,
                &claims(serde_json::json!({"nbf": now() + 600})),
            ),
        ),
        (
            "wrong audience",
            mint(
                &python,
                "RS256",
                &private,
                &claims(serde_json::json!({"aud": "elsewhere"})),
            ),
        ),
        (
            "bad signature",
            mint(&python, "RS256", &other, &claims(serde_json::json!({}))),
        ),
        ("bad header", unsigned),
        (
            "algorithm not allowed for the key",
            confused(&python, &public_as_secret, &claims(serde_json::json!({}))),
        ),
        (
            "no exp",
            mint(
                &python,
                "RS256",
                &private,
                &claims(serde_json::json!({"exp": null})),
            ),
        ),
    ];
    for (reason, token) in &cases {
        let refused = refusal(ws(daemon.addr, &format!("/?token={token}"), &[]).await);
        assert_eq!(refused.0, 403, "{reason}");
    }
    drop(daemon);
    let log = std::fs::read_to_string(log).unwrap_or_default();
    for (reason, token) in &cases {
        if *reason != "expired" {
            assert!(
                log.contains(&format!("reason={reason:?}"))
                    || log.contains(&format!("reason=\"{reason}\"")),
                "{reason} not logged:\n{log}"
            );
        }
        assert!(!log.contains(token.as_str()), "a token reached the log");
    }
}

trait TapDir {
    fn tap_dir(self) -> PathBuf;
}

impl TapDir for PathBuf {
    fn tap_dir(self) -> PathBuf {
        std::fs::create_dir_all(&self).expect("dir");
        self
    }
}

#[tokio::test]
async fn a_jti_opens_one_session_and_a_token_without_exp_only_when_allowed() {
    let Some(python) = python("jwt, cryptography, websockify, jwcrypto") else {
        return;
    };
    let work = tempfile::tempdir().expect("tempdir");
    let backend = crate::common::fake_vnc::echo().await;
    let (private, public) = keys(work.path(), "ES256");
    let proxy = start_proxy(
        &format!(
            "[vncgate]\njwt_keys = {}\njwt_require_exp = false\nsession_recheck_interval = 1\n",
            public.display()
        ),
        "",
    )
    .await;
    let port = backend.port();
    let once = mint(
        &python,
        "ES256",
        &private,
        &serde_json::json!({"host": "127.0.0.1", "port": port, "jti": "a1", "exp": now() + 300}),
    );
    assert_eq!(through_vncgate(&proxy, &once).await, Ok(()));
    assert_eq!(
        refusal(ws(proxy.addr, &format!("/?token={once}"), &[]).await).0,
        403,
        "a replayed jti"
    );
    let forever = mint(
        &python,
        "ES256",
        &private,
        &serde_json::json!({"host": "127.0.0.1", "port": port}),
    );
    // No exp, jwt_require_exp = false: it opens, and the recheck that ends revoked tokens'
    // sessions leaves it alone (no source holds a JWT to be revoked from).
    let (socket, _) = ws(proxy.addr, &format!("/?token={forever}"), &[])
        .await
        .expect("upgrade");
    let mut console = open_console(socket).await.expect("console");
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    console.write(b"still here").await;
    assert_eq!(console.read(10).await.expect("echo"), b"still here");
}

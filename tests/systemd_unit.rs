//! The systemd integration as shipped: the unit's sandbox rates "OK" or better by
//! `systemd-analyze security`, and a key handed over with `LoadCredential=` is found through
//! `${CREDENTIALS_DIRECTORY}` (and said missing when the service was not started so).

mod common;

use std::process::Command;

use common::pki::TestPki;
use common::*;

#[test]
fn the_unit_rates_ok_or_better() {
    let unit = concat!(env!("CARGO_MANIFEST_DIR"), "/conf/vncgate.service");
    let Ok(output) = Command::new("systemd-analyze")
        .args(["security", "--offline=true", unit])
        .output()
    else {
        peer_missing("systemd-analyze (Debian systemd)");
        return;
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let verdict = text
        .lines()
        .find(|line| line.contains("Overall exposure level"))
        .unwrap_or_else(|| {
            panic!(
                "no verdict: {text}{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    let level: f64 = verdict
        .split(':')
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
        .unwrap_or(10.0);
    assert!(
        ["OK", "SAFE", "PERFECT"]
            .iter()
            .any(|word| verdict.contains(word))
            && level < 5.0,
        "{verdict}"
    );
}

#[test]
fn keys_can_come_from_systemd_credentials() {
    let work = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(work.path(), "pki");
    let credentials = work.path().join("credentials");
    std::fs::create_dir(&credentials).expect("mkdir");
    std::fs::copy(
        pki.proxy().join("client-key.pem"),
        credentials.join("client-key.pem"),
    )
    .expect("copy");
    let config = work.path().join("vncgate.conf");
    let text = pki.vencrypt_config("vencrypt").replace(
        &pki.proxy().join("client-key.pem").display().to_string(),
        "${CREDENTIALS_DIRECTORY}/client-key.pem",
    );
    std::fs::write(
        &config,
        format!("{text}[vncgate]\nvencrypt_verify_hostname = true\n"),
    )
    .expect("config");
    let check = |credentials_dir: Option<&std::path::Path>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_vncgate"));
        command.args(["check-config", "--config-file"]).arg(&config);
        command.env_remove("CREDENTIALS_DIRECTORY");
        if let Some(dir) = credentials_dir {
            command.env("CREDENTIALS_DIRECTORY", dir);
        }
        command.output().expect("run")
    };
    let with = check(Some(&credentials));
    assert!(
        with.status.success(),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
    let without = check(None);
    assert_eq!(without.status.code(), Some(64));
    assert!(
        String::from_utf8_lossy(&without.stderr).contains("CREDENTIALS_DIRECTORY is not set"),
        "{}",
        String::from_utf8_lossy(&without.stderr)
    );
}

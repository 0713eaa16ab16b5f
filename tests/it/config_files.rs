//! Every sample and fixture config is loaded; each invalid one fails with the message its
//! `# expect:` line names, with file, section and option.

use std::path::{Path, PathBuf};

use vncgate::config::{AuthScheme, Settings};

fn files_in(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == "conf" || ext == "sample")
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no files in {dir}");
    files
}

#[test]
fn samples_and_valid_fixtures_load() {
    let mut all = files_in("conf");
    all.extend(files_in("tests/fixtures/conf/valid"));
    for file in all {
        if let Err(error) = Settings::load(std::slice::from_ref(&file), &[]) {
            panic!("{}: {error}", file.display());
        }
    }
}

#[test]
fn a_whole_nova_conf_loads_with_the_options_vncgate_reads() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conf/valid/nova.conf");
    let settings = Settings::load(&[file], &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(settings.listen_host, "127.0.0.1");
    assert_eq!(settings.listen_port, 6080);
    assert_eq!(
        settings.base_url,
        "https://console.example.com:6080/vnc_lite.html"
    );
    assert_eq!(settings.allowed_origins, vec!["console.example.com"]);
    assert!(settings.enforce_session_timeout);
    assert!(
        settings.tls.is_none(),
        "nova's default self.pem is absent: plain HTTP"
    );
    assert_eq!(
        settings
            .database_connection
            .as_ref()
            .map(|c| c.expose().to_owned()),
        Some("mysql+pymysql://nova:NOVA_DBPASS@controller/nova_cell1".to_owned())
    );
    // The password in the URL never reaches a Debug print.
    assert!(!format!("{settings:?}").contains("NOVA_DBPASS"));
}

#[test]
fn invalid_fixtures_fail_with_file_section_option_and_reason() {
    for file in files_in("tests/fixtures/conf/invalid") {
        let text = std::fs::read_to_string(&file).expect("read");
        let expect = text
            .lines()
            .find_map(|line| line.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} has no '# expect:' line", file.display()));
        match Settings::load(std::slice::from_ref(&file), &[]) {
            Ok(_) => panic!("{} loaded", file.display()),
            Err(error) => {
                let message = error.to_string();
                let wanted = format!("{}: {expect}", file.display());
                assert!(
                    message.contains(&wanted),
                    "{}:\n  wanted {wanted}\n  got    {message}",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("many.conf");
    std::fs::write(
        &file,
        "[DEFAULT]\ndebug = maybe\n[vnc]\nnovncproxy_port = x\nauth_schemes = bogus\n",
    )
    .expect("write");
    let error = Settings::load(&[file], &[]).expect_err("invalid");
    assert_eq!(error.problems.len(), 3, "{error}");
}

#[test]
fn later_files_and_config_dir_override_earlier_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = dir.path().join("first.conf");
    let second = dir.path().join("second.conf");
    std::fs::write(
        &first,
        "[vnc]\nnovncproxy_port = 1000\nnovncproxy_host = 127.0.0.2\n",
    )
    .expect("write");
    std::fs::write(&second, "[vnc]\nnovncproxy_port = 2000\n").expect("write");
    let conf_dir = dir.path().join("nova.conf.d");
    std::fs::create_dir(&conf_dir).expect("dir");
    std::fs::write(
        conf_dir.join("20-last.conf"),
        "[vnc]\nauth_schemes = none\n[console]\nallowed_origins = b\n",
    )
    .expect("write");
    std::fs::write(
        conf_dir.join("10-first.conf"),
        "[console]\nallowed_origins = a\n",
    )
    .expect("write");
    std::fs::write(conf_dir.join("ignored.txt"), "not ini at all").expect("write");

    let settings = Settings::load(&[first.clone(), second], std::slice::from_ref(&conf_dir))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(settings.listen_port, 2000);
    assert_eq!(settings.listen_host, "127.0.0.2");
    assert_eq!(settings.allowed_origins, vec!["b"]);
    assert_eq!(settings.auth_schemes, vec![AuthScheme::None]);

    // Several directories, as the container image reads them (/etc/nova, then /etc/vncgate):
    // an empty one adds nothing, a later one overrides an earlier one.
    let empty = dir.path().join("empty");
    let later = dir.path().join("vncgate");
    std::fs::create_dir(&empty).expect("dir");
    std::fs::create_dir(&later).expect("dir");
    std::fs::write(
        later.join("vncgate.conf"),
        "[console]\nallowed_origins = c\n",
    )
    .expect("write");
    let settings =
        Settings::load(&[first], &[conf_dir, empty, later]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(settings.allowed_origins, vec!["c"]);
    assert_eq!(settings.auth_schemes, vec![AuthScheme::None]);
}

#[test]
fn deprecated_default_section_names_are_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("old.conf");
    std::fs::write(&file, "[DEFAULT]\nnovncproxy_port = 6999\nconsole_allowed_origins = old.example\nconsole_token_ttl = 60\n").expect("write");
    let settings = Settings::load(&[file], &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(settings.listen_port, 6999);
    assert_eq!(settings.allowed_origins, vec!["old.example"]);
    assert_eq!(settings.token_ttl.as_secs(), 60);
}

#[test]
fn auth_scheme_order_is_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("order.conf");
    std::fs::write(&file, "[vnc]\nauth_schemes = none, vencrypt\nvencrypt_client_cert = /dev/null\nvencrypt_client_key = /dev/null\nvencrypt_ca_certs = /dev/null\n").expect("write");
    let settings = Settings::load(&[file], &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        settings.auth_schemes,
        vec![AuthScheme::None, AuthScheme::Vencrypt]
    );
    assert!(settings.vencrypt.is_some());
}

#[test]
fn the_sample_documents_every_option_read() {
    let sample = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/vncgate.conf.sample"),
    )
    .expect("sample");
    // Each option's `#name = default` line must stand in its own section, with the default the
    // option table declares; deprecated [DEFAULT] aliases are mentioned by the options they
    // stand for.
    let mut section = String::new();
    let mut documented = Vec::new();
    for line in sample.lines() {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
        } else if let Some((name, value)) = line
            .strip_prefix('#')
            .and_then(|l| l.split_once(" ="))
            .filter(|(name, _)| !name.contains(' '))
        {
            documented.push((section.clone(), name.to_owned(), value.trim().to_owned()));
        }
    }
    for spec in vncgate::config::OPTIONS {
        let entry = documented
            .iter()
            .find(|(section, name, _)| section == spec.section && name == spec.name);
        let Some((_, _, default)) = entry else {
            panic!(
                "[{}] {} is not documented in conf/vncgate.conf.sample",
                spec.section, spec.name
            );
        };
        assert_eq!(
            default, spec.default,
            "[{}] {}: the sample's default differs from the option table's",
            spec.section, spec.name
        );
        if let Some(alias) = spec.alias {
            assert!(sample.contains(alias), "alias {alias} not mentioned");
        }
    }
    for (section, name, _) in &documented {
        assert!(
            vncgate::config::table::is_known(section, name),
            "the sample documents [{section}] {name}, which vncgate does not read"
        );
    }
}

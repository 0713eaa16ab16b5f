//! `vncgate check-config`: everything `serve` would refuse at start-up, found without serving.

use std::process::ExitCode;

use super::args::ConfigFiles;
use super::startup::{load_settings, open_token_store, EX_USAGE};
use crate::chain::chain;
use crate::config::Settings;
use crate::token::FileSource;

/// Every problem of a configuration, beyond what loading it finds: TLS files that do not parse
/// or match, token-file lines that would be skipped.
pub fn problems(settings: &Settings) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(tls) = &settings.tls {
        if let Err(error) = crate::tls::front_config(tls) {
            problems.push(format!("[DEFAULT] cert/key: {error}"));
        }
    }
    if let Some(files) = &settings.vencrypt {
        use vncgate_pki::inspect::{check_role_files, Role, Severity};
        let report = check_role_files(
            &files.ca_certs,
            &files.client_cert,
            &files.client_key,
            Role::Client,
        );
        for finding in report.findings {
            let line = format!("[vnc] vencrypt_*: {finding}");
            match finding.severity {
                Severity::Error => problems.push(line),
                Severity::Warning => eprintln!("warning: {line}"),
            }
        }
        if let Some(warning) =
            crate::tls::several_cas_warning(files, settings.vencrypt_verify_hostname)
        {
            eprintln!("warning: {warning}");
        }
        if let Err(error) = crate::tls::backend_config(files, settings.vencrypt_verify_hostname) {
            problems.push(format!("[vnc] vencrypt_*: {error}"));
        }
    }
    if let Some(path) = &settings.token_source {
        for problem in FileSource::new(path.clone()).check() {
            problems.push(format!("[vncgate] token_source: {problem}"));
        }
    }
    if let Some(api) = &settings.token_api {
        if api.url.starts_with("https:") {
            if let Err(error) = crate::tls::api_client_config(&api.ca) {
                problems.push(format!("[vncgate] token_api_ca: {}", chain(&error)));
            }
        }
        if let Some(file) = &api.bearer_file {
            if let Err(error) = crate::admin::read_secret(file) {
                problems.push(format!("[vncgate] token_api_bearer_file: {error}"));
            }
        }
    }
    problems
}

/// Whether Redis answers now, as a warning when it does not: `serve` runs without it, and its
/// tokens get 503 until it answers.
fn redis_warning(settings: &Settings) -> Option<String> {
    let (url, prefix) = settings.redis.as_ref()?;
    let source = match crate::token::redis::RedisSource::new(url.expose(), prefix) {
        Ok(source) => source,
        Err(error) => return Some(format!("[vncgate] redis_url: {}", chain(&error))),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    let probe = crate::token::Token::new("vncgate-check-config")?;
    match runtime.block_on(source.lookup(&probe)) {
        Ok(_) => None,
        Err(error) => Some(format!(
            "[vncgate] redis_url: not reachable now: {}",
            chain(&error)
        )),
    }
}

/// What a configured token database lacks, as warnings: the database is nova's or an operator's
/// to set up, and `serve` runs without vncgate's tables, but some tokens then get 503.
fn database_warnings(settings: &Settings) -> Vec<String> {
    if settings.database_connection.is_none() {
        return Vec::new();
    }
    let probe = async {
        let store = open_token_store(settings, false).await?;
        let tokens = store.list().await.err();
        let single_use = store.has_single_use_table().await?;
        let leases = store.has_lease_table().await?;
        Ok::<_, crate::token::StoreError>((tokens, single_use, leases))
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let answer = match runtime {
        Ok(runtime) => runtime.block_on(probe),
        Err(error) => return vec![format!("[database] connection: not checked: {error}")],
    };
    let mut warnings = Vec::new();
    match answer {
        Err(error) => warnings.push(format!("[database] connection: not reachable now: {error}")),
        Ok((tokens, single_use, leases)) => {
            if let Some(error) = tokens {
                warnings.push(format!("[database] connection: {error}"));
            }
            if !single_use {
                warnings.push(
                    "[database] connection: no vncgate_single_use table: single-use tokens and \
                     nova's webmks rows get 503 until `vncgate token init-db` runs"
                        .to_owned(),
                );
            }
            if !leases && settings.max_sessions_per_token > 0 {
                warnings.push(
                    "[database] connection: no vncgate_session_leases table: \
                     max_sessions_per_token counts per instance until `vncgate token init-db` runs"
                        .to_owned(),
                );
            }
        }
    }
    warnings
}

/// Prints every problem and returns 64 if there is one, else prints a summary and returns 0.
pub fn run(files: &ConfigFiles) -> ExitCode {
    let settings = match load_settings(files) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    for warning in settings
        .warnings
        .iter()
        .chain(&database_warnings(&settings))
        .chain(&redis_warning(&settings))
    {
        eprintln!("warning: {warning}");
    }
    let problems = problems(&settings);
    if !problems.is_empty() {
        for problem in &problems {
            eprintln!("{problem}");
        }
        return ExitCode::from(EX_USAGE);
    }
    let names: Vec<&str> = settings
        .auth_schemes
        .iter()
        .map(|scheme| scheme.name())
        .collect();
    println!(
        "configuration OK: listen {}:{} ({}), auth_schemes {}",
        settings.listen_host,
        settings.listen_port,
        if settings.tls.is_some() {
            "HTTPS and HTTP"
        } else {
            "HTTP"
        },
        names.join(",")
    );
    ExitCode::SUCCESS
}

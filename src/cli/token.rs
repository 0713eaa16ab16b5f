//! `vncgate token ...`: issue, list, revoke, init-db, against the configured token database.

use crate::chain::chain;
use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

use super::args::TokenCommand;
use super::startup::{block_on, load_settings, open_token_store};
use crate::config::Settings;
use crate::console::Reach;
use crate::token::issue::{self, Request};
use crate::token::{hex_prefix, SqlStore, LOG_PREFIX, REVOKE_PREFIX};

/// Runs a `token` subcommand.
pub fn run(command: TokenCommand) -> ExitCode {
    let files = match &command {
        TokenCommand::Issue { files, .. }
        | TokenCommand::List { files }
        | TokenCommand::Revoke { files, .. }
        | TokenCommand::InitDb { files } => files.clone(),
    };
    let settings = match load_settings(&files) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    block_on("token", execute(&settings, command))
}

/// The target of `--domain` (and `--uri`): `libvirt:DOMAIN` or `libvirt://NAME/DOMAIN`, once
/// the configuration has that hypervisor.
fn libvirt_target(
    settings: &Settings,
    domain: &str,
    hypervisor: Option<&str>,
) -> Result<crate::console::Target, String> {
    let libvirt = settings
        .libvirt
        .as_ref()
        .ok_or("--domain needs [libvirt] uris in the configuration")?;
    if let Some(name) = hypervisor {
        if !libvirt.hypervisors.iter().any(|h| h.name == name) {
            return Err(format!("no hypervisor {name:?} in [libvirt] uris"));
        }
    }
    issue::domain_target(domain, hypervisor)
}

async fn open(settings: &Settings, init: bool) -> Result<SqlStore, String> {
    open_token_store(settings, init)
        .await
        .map_err(|error| chain(&error).to_string())
}

async fn execute(settings: &Settings, command: TokenCommand) -> Result<(), String> {
    match command {
        TokenCommand::Issue {
            host,
            port,
            url,
            thumbprint,
            domain,
            uri,
            kind,
            tls_port,
            view_only,
            clipboard,
            ttl,
            instance,
            single_use,
            record,
            user,
            ..
        } => {
            let (target, reach) = match domain {
                Some(domain) => (
                    libvirt_target(settings, &domain, uri.as_deref())?,
                    Reach::Direct,
                ),
                None => issue::destination(
                    host.as_deref(),
                    port,
                    url.as_deref(),
                    thumbprint.as_deref(),
                )?,
            };
            // A ticket is good once.
            let single_use = single_use || reach != Reach::Direct;
            let request = Request {
                kind,
                target,
                tls_port,
                view_only,
                clipboard,
                reach,
                ttl: ttl.map_or(settings.token_ttl, Duration::from_secs),
                instance_uuid: instance,
                single_use,
                record,
                person: user.map(|sub| crate::token::Person {
                    sub,
                    email: None,
                    rule: None,
                }),
            };
            issue_one(settings, &request).await
        }
        TokenCommand::List { .. } => list(settings).await,
        TokenCommand::Revoke { hash_prefix, .. } => revoke(settings, &hash_prefix).await,
        TokenCommand::InitDb { .. } => {
            let store = open(settings, true).await?;
            store.ping().await.map_err(|e| chain(&e).to_string())?;
            println!("token tables ready ({:?})", store.dialect());
            Ok(())
        }
    }
}

/// `token issue`: the token, its hash prefix, target, expiry and URL, shown once.
async fn issue_one(settings: &Settings, request: &Request) -> Result<(), String> {
    request
        .enforceable()
        .map_err(|error| chain(&error).to_string())?;
    let store = open(settings, false).await?;
    let issued = issue::issue(&store, &settings.base_urls(), request)
        .await
        .map_err(|e| chain(&e).to_string())?;
    let expires = issued
        .expires
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    record(
        settings,
        crate::ops::audit::Kind::TokenIssued,
        issued.token.hash().short(),
        Some(request.target.to_string()),
    );
    println!("token:   {}", issued.token.expose());
    println!("hash:    {}", issued.token.hash().prefix());
    println!("target:  {}", request.target);
    println!(
        "expires: {expires} (in {} s){}",
        request.ttl.as_secs(),
        if request.single_use {
            ", single use"
        } else {
            ""
        }
    );
    println!("url:     {}", issued.url);
    Ok(())
}

/// `token list`: hash prefixes, targets, expiry; never tokens.
async fn list(settings: &Settings) -> Result<(), String> {
    let store = open(settings, false).await?;
    let rows = store.list().await.map_err(|e| chain(&e).to_string())?;
    println!(
        "{:<14} {:<30} {:<12} {:<37} {:<10} kind",
        "hash", "target", "expires", "instance", "single-use"
    );
    for row in rows {
        println!(
            "{:<14} {:<30} {:<12} {:<37} {:<10} {}",
            hex_prefix(&row.hash, REVOKE_PREFIX),
            row.target.to_string(),
            row.expires,
            row.instance_uuid,
            if row.single_use { "yes" } else { "no" },
            row.kind
        );
    }
    Ok(())
}

/// `token revoke`: by the first 12 or more hex characters of the token's hash.
async fn revoke(settings: &Settings, hash_prefix: &str) -> Result<(), String> {
    let store = open(settings, false).await?;
    let hash = store
        .revoke(hash_prefix)
        .await
        .map_err(|e| chain(&e).to_string())?;
    record(
        settings,
        crate::ops::audit::Kind::TokenRevoked,
        hex_prefix(&hash, LOG_PREFIX),
        None,
    );
    println!("revoked {}", hex_prefix(&hash, REVOKE_PREFIX));
    Ok(())
}

/// Writes a token event to the configured audit trail (`[vncgate] audit_log`), if any.
fn record(
    settings: &Settings,
    kind: crate::ops::audit::Kind,
    hash: String,
    target: Option<String>,
) {
    let Some(target_file) = &settings.operations.audit_log else {
        return;
    };
    match crate::ops::audit::Audit::open(target_file) {
        Ok(audit) => {
            let mut event = crate::ops::audit::Event::now(kind);
            event.token_hash = Some(hash);
            event.target = target;
            event.reason = Some("command line".into());
            audit.record(&event);
        }
        Err(error) => eprintln!("vncgate token: audit log not written: {}", chain(&error)),
    }
}

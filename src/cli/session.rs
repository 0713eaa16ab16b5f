//! `vncgate session list|kill`: the running proxy's live sessions, through its admin API on
//! `[vncgate] admin_listen` with the bearer secret of `admin_secret_file`.

use crate::chain::chain;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

use super::args::SessionCommand;
use super::startup::{block_on, load_settings};
use crate::config::Settings;

/// How long the admin API gets to answer.
const DEADLINE: Duration = Duration::from_secs(10);

/// Runs a `session` subcommand.
pub fn run(command: SessionCommand) -> ExitCode {
    let files = match &command {
        SessionCommand::List { files } | SessionCommand::Kill { files, .. } => files.clone(),
    };
    let settings = match load_settings(&files) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    block_on("session", async {
        tokio::time::timeout(DEADLINE, execute(&settings, command))
            .await
            .unwrap_or_else(|_| Err("the admin API did not answer in time".into()))
    })
}

async fn execute(settings: &Settings, command: SessionCommand) -> Result<(), String> {
    match command {
        SessionCommand::List { .. } => list(settings).await,
        SessionCommand::Kill {
            id,
            reason,
            instance,
            ..
        } => kill(settings, id, &reason, instance.as_deref()).await,
    }
}

/// `session list`: the admin API's live sessions, one line each.
async fn list(settings: &Settings) -> Result<(), String> {
    let (status, body) = call(settings, "GET", "/v1/sessions").await?;
    if status != 200 {
        return Err(format!("the admin API answered {status}: {body}"));
    }
    let sessions: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| format!("the admin API's answer: {e}"))?;
    println!(
        "{:<6} {:<10} {:<40} {:<12} {:<30} {:<11} {:>12} {:>12} {:<9} {:<10} {:<16} user",
        "id",
        "token",
        "client",
        "console",
        "target",
        "started",
        "to-browser",
        "to-server",
        "view-only",
        "clipboard",
        "instance"
    );
    for session in sessions.as_array().into_iter().flatten() {
        let text = |name: &str| session[name].as_str().unwrap_or_default().to_owned();
        let number = |name: &str| session[name].as_u64().unwrap_or_default();
        println!(
            "{:<6} {:<10} {:<40} {:<12} {:<30} {:<11} {:>12} {:>12} {:<9} {:<10} {:<16} {}",
            number("id"),
            text("token_hash_prefix"),
            text("client_ip"),
            text("console"),
            text("target"),
            number("started"),
            number("bytes_to_browser"),
            number("bytes_to_server"),
            if session["view_only"].as_bool() == Some(true) {
                "yes"
            } else {
                "no"
            },
            text("clipboard"),
            text("instance"),
            // The person, by e-mail where known; "-" for a bearer link.
            session["email"]
                .as_str()
                .or_else(|| session["user"].as_str())
                .unwrap_or("-"),
        );
    }
    Ok(())
}

/// `session kill`: asks the admin API to end one session, on whichever instance holds it.
async fn kill(
    settings: &Settings,
    id: u64,
    reason: &str,
    instance: Option<&str>,
) -> Result<(), String> {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("reason", reason);
    if let Some(instance) = instance {
        query.append_pair("instance", instance);
    }
    let query = query.finish();
    let (status, body) = call(settings, "DELETE", &format!("/v1/sessions/{id}?{query}")).await?;
    match status {
        204 => {
            println!("session {id} ended");
            Ok(())
        }
        202 => {
            let answer: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            println!(
                "{}",
                answer
                    .get("message")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("end requested")
            );
            Ok(())
        }
        _ => Err(format!("the admin API answered {status}: {body}")),
    }
}

/// One request to the admin API: its status and body.
async fn call(settings: &Settings, method: &str, path: &str) -> Result<(u16, String), String> {
    let Some((addr, secret_file)) = settings.admin_api() else {
        return Err(
            "the admin API is off: set [vncgate] admin_listen and admin_secret_file".into(),
        );
    };
    let secret = crate::admin::read_secret(secret_file)?;
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot reach the admin API on {addr}: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| chain(&e).to_string())?;
    tokio::spawn(connection);
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string())
        .header("authorization", format!("Bearer {}", secret.expose()))
        .body(Full::new(Bytes::new()))
        .map_err(|e| chain(&e).to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| chain(&e).to_string())?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| chain(&e).to_string())?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

//! `vncgate healthcheck`: asks the running proxy's `/healthz` on `[vncgate] metrics_listen`
//! (plain HTTP, read from the same configuration as `serve`), for a container's HEALTHCHECK,
//! where no curl is at hand. Exit 0 for 200, 1 otherwise, with the reason.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;

use super::args::ConfigFiles;
use super::startup::{block_on, load_settings};
use crate::chain::chain;
use crate::http_client::HttpClient;

/// A health check answers within this, or the process is taken as stuck.
const DEADLINE: Duration = Duration::from_secs(3);

/// Runs `vncgate healthcheck`.
pub fn run(files: &ConfigFiles) -> ExitCode {
    let settings = match load_settings(files) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    let Some(listen) = settings.operations.metrics_listen else {
        eprintln!(
            "vncgate healthcheck: [vncgate] metrics_listen is off: there is no /healthz to ask"
        );
        return ExitCode::FAILURE;
    };
    block_on("healthcheck", ask(local(listen)))
}

/// Where to reach a listener: its own address, or loopback for a wildcard one.
fn local(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

async fn ask(at: SocketAddr) -> Result<(), String> {
    let client = HttpClient {
        tls: None,
        timeout: DEADLINE,
        max_body: 1024,
    };
    let url = format!("http://{at}/healthz");
    let request = http::Request::get(&url)
        .body(Bytes::new())
        .map_err(|error| error.to_string())?;
    let answer = client
        .send(request)
        .await
        .map_err(|error| format!("{url}: {}", chain(&error)))?;
    if answer.status() == http::StatusCode::OK {
        println!("{url}: ok");
        Ok(())
    } else {
        Err(format!("{url}: {}", answer.status()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_listener_is_asked_on_loopback() {
        let ask = |text: &str| local(text.parse().expect("addr")).to_string();
        assert_eq!(ask("0.0.0.0:9180"), "127.0.0.1:9180");
        assert_eq!(ask("[::]:9180"), "[::1]:9180");
        assert_eq!(ask("127.0.0.2:9180"), "127.0.0.2:9180");
    }
}

//! The command line: `serve` and `check-config`, with oslo.config's option names.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// A console proxy: noVNC in the browser to VNC servers over VeNCrypt with mutual TLS.
#[derive(Debug, Parser)]
#[command(name = "vncgate", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Config files, read as oslo.config does.
#[derive(Debug, Clone, Args)]
pub struct ConfigFiles {
    /// An INI file (nova.conf form); repeat it, later files override earlier ones.
    #[arg(long = "config-file", value_name = "FILE")]
    pub config_file: Vec<PathBuf>,
    /// A directory whose *.conf files are read after --config-file, in name order.
    #[arg(long = "config-dir", value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the proxy.
    Serve(ConfigFiles),
    /// Check the configuration: exit 0 when valid, else print every problem and exit 64.
    CheckConfig(ConfigFiles),
}

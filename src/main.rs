//! The `vncgate` binary: the command line, then [`vncgate::cli::run`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    vncgate::cli::run(vncgate::cli::Cli::parse())
}

//! The command line: [`args`] declares it (clap derive; the doc comments are the help text),
//! and one file per subcommand runs it. [`startup`] holds what they share: loading the
//! settings, opening the token database, the exit codes.

pub mod args;
pub mod check;
pub mod docs;
pub mod domains;
pub mod health;
pub mod pki;
pub mod recording;
pub mod serve;
pub mod session;
mod startup;
pub mod token;

use std::process::ExitCode;

pub use args::{Cli, Command, ConfigFiles};

/// Runs the command the line asked for.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(files) => serve::run(&files),
        Command::CheckConfig(files) => check::run(&files),
        Command::Healthcheck(files) => health::run(&files),
        Command::Pki { command } => pki::run(command),
        Command::Token { command } => token::run(command),
        Command::Session { command } => session::run(command),
        Command::Recording { command } => recording::run(command),
        Command::Domains { command } => domains::run(command),
        Command::GenerateDocs { out } => docs::run(&out),
    }
}

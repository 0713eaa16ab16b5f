//! `vncgate generate-docs --out DIR`: the man page (`vncgate.1`, from the same clap definitions
//! as `--help`) and bash, zsh and fish completions, for the Debian package.

use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

use super::args::Cli;

/// Writes the man page and completions into `out`.
pub fn run(out: &Path) -> ExitCode {
    match write(out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("vncgate generate-docs: {}: {error}", out.display());
            ExitCode::FAILURE
        }
    }
}

fn write(out: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    let command = Cli::command();
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page)?;
    std::fs::write(out.join("vncgate.1"), page)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut command.clone(), "vncgate", out)?;
    }
    Ok(())
}

//! The `vncgate` binary: the command line, then [`vncgate::cli::run`].

// Nothing from outside may panic the process: no unwrap, expect, panic or unchecked index
// outside tests. A framer that indexes buffers whose lengths it has checked says so where it
// allows it.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    vncgate::cli::run(vncgate::cli::Cli::parse())
}

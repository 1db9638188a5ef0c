//! patchbay: routes and translates show-control signals between protocols.

mod cli;
mod logging;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let _args = cli::Args::parse();
    ExitCode::SUCCESS
}

//! `mydht`: run a MyDHT node, put and get values through the DHT, a local
//! demo network in one process, and the benchmarks with their baselines.
//!
//! Every failure a user can cause ends with one line on standard error
//! (`error: ...`) and a non-zero exit code (see [`error`]).

mod args;
mod bench;
mod cli;
mod conf;
mod datadir;
mod demo;
mod error;
mod logging;
mod node;
mod peer;
mod send;
mod stats;
mod table;
mod transfer;

use clap::error::ErrorKind as ClapKind;
use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::{CliError, EXIT_USAGE};

fn main() {
    // A bug is still one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal failure: {info}");
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => std::process::exit(usage_error(e)),
    };
    if let Err(e) = run(cli) {
        eprintln!("error: {e}");
        std::process::exit(e.code());
    }
}

/// Help and version go out whole; any other clap error as its first line.
fn usage_error(e: clap::Error) -> i32 {
    match e.kind() {
        ClapKind::DisplayHelp | ClapKind::DisplayVersion => {
            let _ = e.print();
            0
        }
        ClapKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            EXIT_USAGE
        }
        _ => {
            let text = e.render().to_string();
            let line = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("error: bad usage");
            eprintln!("{line} (see mydht --help)");
            EXIT_USAGE
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Node(args) => node::run(args, cli.verbose),
        Command::Put(args) => peer::put(args, cli.verbose),
        Command::Get(args) => peer::get(args, cli.verbose),
        Command::Send(args) => send::run(args, cli.verbose),
        Command::Demo(args) => demo::run(args, cli.verbose),
        Command::Bench(args) => bench::run(args),
    }
}

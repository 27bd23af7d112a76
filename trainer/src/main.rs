//! `matpac`: the command-line entry point. Each subcommand lives in `cli/`.
use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = matpac_trainer::cli::Cli::parse();
    match matpac_trainer::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

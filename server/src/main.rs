use clap::Parser;
use tally_server::config::{Cli, Command};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tally_server::telemetry::init();
    let cli = Cli::parse();
    let outcome: Result<(), Box<dyn std::error::Error>> = match cli.command.unwrap_or(Command::Serve(cli.serve)) {
        Command::Serve(args) => tally_server::serve(args).await.map_err(Into::into),
        Command::Demo(args) => tally_server::demo::run(args).await.map_err(Into::into),
        Command::Program(args) => tally_server::cli::program(args).await.map_err(Into::into),
        Command::User(args) => tally_server::cli::user(args).await.map_err(Into::into),
        Command::Import(args) => tally_server::cli::import(args).await.map_err(Into::into),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tally: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

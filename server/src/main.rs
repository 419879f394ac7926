use clap::Parser;
use tally_server::config::{Cli, Command};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tally_server::telemetry::init();
    let cli = Cli::parse();
    let outcome = match cli.command.unwrap_or(Command::Serve(cli.serve)) {
        Command::Serve(args) => tally_server::serve(args).await,
        Command::Demo(args) => tally_server::demo::run(args).await,
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("tally: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

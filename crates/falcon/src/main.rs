//! `falcon`: the command line. Each subcommand lives in its own module;
//! this file only parses arguments and dispatches.

mod cli;
mod memory;
mod wiring;

use clap::{Parser, Subcommand};

/// Serve scikit-learn text models natively: exact, fast, observable.
#[derive(Parser)]
#[command(name = "falcon", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Predict JSON Lines texts with a model file (stdin → stdout).
    Predict(cli::predict::PredictArgs),
    /// Inspect or benchmark a model file.
    #[command(subcommand)]
    Model(cli::model::ModelCommand),
    /// Run the inference server.
    Serve(Box<cli::serve::ServeArgs>),
    /// Drive load at a server and summarize latency, throughput, errors.
    Bench(Box<cli::bench::BenchArgs>),
    /// Write a performance report (Markdown, SVG/PNG charts) from bench runs.
    Report(cli::report::ReportArgs),
    /// Run N workers on local ports, optionally behind nginx.
    #[command(subcommand)]
    Cluster(cli::cluster::ClusterCommand),
    /// Sweep worker counts under load and recommend one (writes a report).
    Tune(Box<cli::tune::TuneArgs>),
    /// Query the prediction log: statistics, export for retraining.
    #[command(subcommand)]
    Log(cli::log::LogCommand),
    /// Manage API keys: create (shown once), list, revoke.
    #[command(subcommand)]
    Keys(cli::keys::KeysCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Predict(args) => cli::predict::run(args),
        Command::Model(cmd) => cli::model::run(cmd),
        Command::Serve(args) => cli::serve::run(*args),
        Command::Bench(args) => cli::bench::run(*args),
        Command::Report(args) => cli::report::run(args),
        Command::Cluster(cmd) => cli::cluster::run(cmd),
        Command::Tune(args) => cli::tune::run(*args),
        Command::Log(cmd) => cli::log::run(cmd),
        Command::Keys(cmd) => cli::keys::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", cli::error_text(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

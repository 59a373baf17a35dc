//! `falcon serve`: wiring of the HTTP server (being built; see issue 3).

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct ServeArgs {}

pub fn run(_args: ServeArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("falcon serve is not available in this build")
}

//! Headless faces of the live console: `nodes`, `users`, and the activity
//! sample that `status --record` stores.

use clap::Args;

use super::{CmdResult, Failure, Out};
use crate::config::Config;

#[derive(Debug, Args)]
pub struct NodesArgs {}

#[derive(Debug, Args)]
pub struct UsersArgs {
    /// Only users active in the last 15 minutes.
    #[arg(long)]
    pub active: bool,
}

pub async fn nodes(_cfg: &Config, _out: Out, _a: &NodesArgs) -> CmdResult {
    Err(Failure::failed(anyhow::anyhow!(
        "`nodes` is not implemented yet"
    )))
}

pub async fn users(_cfg: &Config, _out: Out, _a: &UsersArgs) -> CmdResult {
    Err(Failure::failed(anyhow::anyhow!(
        "`users` is not implemented yet"
    )))
}

/// Takes one activity sample and stores it (for `status --record`).
pub async fn record_sample(_cfg: &Config) -> Result<serde_json::Value, Failure> {
    Err(Failure::failed(anyhow::anyhow!(
        "activity recording is not implemented yet"
    )))
}

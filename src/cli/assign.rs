//! Headless assignment commands: release, collect, return, audit.

use clap::Args;

use super::{CmdResult, Failure, Out};
use crate::config::Config;

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    pub assignment: String,
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    pub assignment: String,
}

#[derive(Debug, Args)]
pub struct ReturnArgs {
    pub assignment: String,
}

#[derive(Debug, Args)]
pub struct AuditArgs {}

fn todo() -> CmdResult {
    Err(Failure::failed(anyhow::anyhow!("not implemented yet")))
}

pub async fn release(_cfg: &Config, _out: Out, _a: &ReleaseArgs) -> CmdResult {
    todo()
}
pub async fn collect(_cfg: &Config, _out: Out, _a: &CollectArgs) -> CmdResult {
    todo()
}
pub async fn return_feedback(_cfg: &Config, _out: Out, _a: &ReturnArgs) -> CmdResult {
    todo()
}
pub async fn audit(_cfg: &Config, _out: Out, _a: &AuditArgs) -> CmdResult {
    todo()
}

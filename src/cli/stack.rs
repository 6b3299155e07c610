//! `up`, `down`, `status`, `logs`, and the hidden `supervise` daemon.

use clap::{Args, ValueEnum};

use super::{CmdResult, Failure, Out};
use crate::config::Config;

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Run the supervisor in this process instead of detaching (for systemd).
    #[arg(long)]
    pub foreground: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Also take one activity sample and store it (for a cron line).
    #[arg(long)]
    pub record: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Component {
    Hub,
    Proxy,
    Supervisor,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[arg(value_enum)]
    pub component: Component,
    /// Keep printing new lines.
    #[arg(short, long)]
    pub follow: bool,
    /// Lines from the end.
    #[arg(short = 'n', long, default_value_t = 50)]
    pub lines: usize,
}

fn todo() -> CmdResult {
    Err(Failure::failed(anyhow::anyhow!("not implemented yet")))
}

pub async fn up(_cfg: &Config, _out: Out, _a: &UpArgs) -> CmdResult {
    todo()
}
pub async fn down(_cfg: &Config, _out: Out) -> CmdResult {
    todo()
}
pub async fn status(_cfg: &Config, _out: Out, _a: &StatusArgs) -> CmdResult {
    todo()
}
pub async fn logs(_cfg: &Config, _a: &LogsArgs) -> CmdResult {
    todo()
}
pub fn supervise(_cfg: &Config) -> CmdResult {
    todo()
}

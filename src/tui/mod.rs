//! The console: a thin layer over app state (placeholder until the live console lands).

use crate::config::Config;

pub async fn run(_cfg: Config, _read_only: bool) -> anyhow::Result<()> {
    anyhow::bail!("the console is not implemented yet")
}

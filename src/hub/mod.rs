//! JupyterHub REST client (reqwest) and its wire types. Plain async Rust: the
//! supervisor, the console's pollers and the headless commands share it.

mod client;
mod users;

pub use client::*;
pub use users::*;

use crate::config::Config;

/// A client with coursectl's own service token from the config.
pub fn client_from_config(cfg: &Config) -> anyhow::Result<HubClient> {
    let token = crate::secrets::read_secret(&cfg.hub_token_file(), "hub API token")?;
    Ok(HubClient::new(
        &cfg.hub.api_url,
        Some(token),
        std::time::Duration::from_secs(10),
    )?)
}

//! Health probes: hub `GET /hub/api/` (no token needed) and proxy
//! `GET /api/routes` with its token. Short timeouts: the console and `status`
//! must never hang on a dead component.

use std::time::Duration;

use crate::config::Config;
use crate::hub::HubClient;
use crate::proxy::ProxyClient;
use crate::secrets::{self, Secret};

const TIMEOUT: Duration = Duration::from_secs(3);

pub async fn hub(cfg: &Config) -> Result<String, String> {
    let client = HubClient::new(&cfg.hub.api_url, None, TIMEOUT).map_err(|e| e.to_string())?;
    client
        .info()
        .await
        .map(|i| format!("JupyterHub {} answers at {}", i.version, cfg.hub.api_url))
        .map_err(|e| e.to_string())
}

pub async fn proxy(cfg: &Config, token: Option<&Secret>) -> Result<String, String> {
    let token = match token {
        Some(t) => t.clone(),
        None => secrets::read_secret(&cfg.proxy_token_file(), "proxy auth token")
            .map_err(|e| e.to_string())?,
    };
    let client = ProxyClient::new(&cfg.proxy_api_url(), token, TIMEOUT);
    client
        .routes()
        .await
        .map(|r| format!("{} routes, public {}", r.len(), cfg.proxy_public_url()))
        .map_err(|e| e.to_string())
}

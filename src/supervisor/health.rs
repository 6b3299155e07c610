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
    let routes = client.routes().await.map_err(|e| e.to_string())?;
    // The API can answer while the public listener failed (port taken): check both.
    let ip = match cfg.proxy.public_ip.as_str() {
        "" | "0.0.0.0" => "127.0.0.1",
        "::" => "::1",
        ip => ip,
    };
    let scheme = if cfg.proxy.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    let url = format!("{scheme}://{ip}:{}/", cfg.proxy.public_port);
    // Any HTTP answer proves the proxy itself holds the public port; no
    // credentials are sent, so an unverified certificate is harmless here.
    let probe = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    match probe.get(&url).send().await {
        Ok(_) => Ok(format!(
            "{} routes, public {}",
            routes.len(),
            cfg.proxy_public_url()
        )),
        Err(e) => Err(format!(
            "API answers but the public port {url} does not: {}",
            crate::hub::short_reason(&e)
        )),
    }
}

//! Health probes: the hub's `/hub/health` (no token needed), the proxy's
//! `GET /api/routes` with its token plus its public port. Short timeouts: the
//! console and `status` must never hang on a dead component.

use std::time::Duration;

use crate::config::Config;
use crate::proxy::ProxyClient;
use crate::secrets::{self, Secret};

const TIMEOUT: Duration = Duration::from_secs(3);

/// `GET /hub/health`: the hub logs it at debug level (a probe every few
/// seconds would otherwise fill hub.log), and every hub answer carries its
/// version in `X-JupyterHub-Version`.
pub async fn hub(cfg: &Config) -> Result<String, String> {
    let url = format!("{}/hub/health", cfg.hub_origin());
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    let resp = client.get(&url).send().await.map_err(|e| {
        format!(
            "hub {url} unreachable: {} (is the hub running? `coursectl status`)",
            crate::hub::short_reason(&e)
        )
    })?;
    if !resp.status().is_success() {
        return Err(format!("hub {url} answered {}", resp.status()));
    }
    let version = resp
        .headers()
        .get("x-jupyterhub-version")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("?")
        .to_string();
    Ok(format!(
        "JupyterHub {version} answers at {}",
        cfg.hub.api_url
    ))
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
    // Proxied to the hub's health handler, which logs at debug level only.
    let url = format!("{scheme}://{ip}:{}/hub/health", cfg.proxy.public_port);
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

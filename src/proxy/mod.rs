//! configurable-http-proxy REST client: its route table (`GET /api/routes`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::hub::short_reason;
use crate::secrets::Secret;

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("proxy API {url} unreachable: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("proxy API {url} answered {status}{hint}")]
    Status {
        url: String,
        status: u16,
        hint: String,
    },
    #[error("proxy API {url} sent an answer coursectl cannot read: {reason}")]
    Decode { url: String, reason: String },
}

/// One route: its path prefix maps to a target, with the hub's bookkeeping.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Route {
    pub target: String,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub server_name: Option<String>,
    #[serde(default)]
    pub last_activity: Option<String>,
}

#[derive(Clone)]
pub struct ProxyClient {
    http: reqwest::Client,
    api: String,
    token: Secret,
}

impl ProxyClient {
    pub fn new(api_url: &str, token: Secret, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .unwrap_or_default();
        Self {
            http,
            api: api_url.trim_end_matches('/').to_string(),
            token,
        }
    }

    /// The route table, keyed by path prefix (`/user/alice`).
    pub async fn routes(&self) -> Result<BTreeMap<String, Route>, ProxyError> {
        let url = format!("{}/api/routes", self.api);
        let resp = self
            .http
            .get(&url)
            .header("Authorization", format!("token {}", self.token.expose()))
            .send()
            .await
            .map_err(|e| ProxyError::Unreachable {
                url: url.clone(),
                reason: short_reason(&e),
            })?;
        let status = resp.status().as_u16();
        if status != 200 {
            let hint = if status == 403 {
                ": the proxy token differs from coursectl's (was the proxy started by another tool?)".into()
            } else {
                String::new()
            };
            return Err(ProxyError::Status { url, status, hint });
        }
        let bytes = resp.bytes().await.map_err(|e| ProxyError::Unreachable {
            url: url.clone(),
            reason: short_reason(&e),
        })?;
        // CHP stores extra route data beside `target`; unknown fields are fine.
        serde_json::from_slice::<BTreeMap<String, Route>>(&bytes).map_err(|e| ProxyError::Decode {
            url,
            reason: e.to_string(),
        })
    }
}

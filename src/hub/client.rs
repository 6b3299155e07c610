//! The HTTP layer: base URL, token header, timeouts, errors that name the URL
//! and the fix but never the token.

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::secrets::Secret;

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("hub API {url} unreachable: {reason} (is the hub running? `coursectl status`)")]
    Unreachable { url: String, reason: String },
    #[error("hub API {method} {url} answered {status}: {body}")]
    Status {
        method: String,
        url: String,
        status: u16,
        body: String,
    },
    #[error("hub API {url} sent an answer coursectl cannot read: {reason}")]
    Decode { url: String, reason: String },
    #[error("hub API URL `{0}` is not a valid URL: set [hub] api-url like \"http://127.0.0.1:8081/hub/api\"")]
    BadUrl(String),
}

impl HubError {
    /// 401/403: the token or its scopes are wrong, not a transient failure.
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            HubError::Status {
                status: 401 | 403,
                ..
            }
        )
    }
    pub fn is_not_found(&self) -> bool {
        matches!(self, HubError::Status { status: 404, .. })
    }
}

/// `GET /hub/api/` — the only endpoint that answers without a token.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct HubInfo {
    pub version: String,
}

#[derive(Clone)]
pub struct HubClient {
    http: reqwest::Client,
    base: Url,
    token: Option<Secret>,
}

impl std::fmt::Debug for HubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubClient")
            .field("base", &self.base.as_str())
            .finish()
    }
}

impl HubClient {
    /// `api_url` like `http://127.0.0.1:8081/hub/api`.
    pub fn new(api_url: &str, token: Option<Secret>, timeout: Duration) -> Result<Self, HubError> {
        let mut s = api_url.trim_end_matches('/').to_string();
        s.push('/');
        let base = Url::parse(&s).map_err(|_| HubError::BadUrl(api_url.into()))?;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .pool_max_idle_per_host(8)
            .build()
            .map_err(|e| HubError::Unreachable {
                url: base.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Self { http, base, token })
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The URL of `path` below the API base (`users`, `users/alice/server`).
    pub fn url(&self, path: &str) -> Url {
        self.base
            .join(path.trim_start_matches('/'))
            .unwrap_or_else(|_| self.base.clone())
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut rb = self.http.request(method, self.url(path));
        if let Some(t) = &self.token {
            rb = rb.header(
                reqwest::header::AUTHORIZATION,
                format!("token {}", t.expose()),
            );
        }
        rb
    }

    /// Sends, maps transport and status errors; returns the successful response.
    pub async fn send(&self, rb: reqwest::RequestBuilder) -> Result<reqwest::Response, HubError> {
        let req = rb.build().map_err(|e| HubError::Unreachable {
            url: self.base.to_string(),
            reason: e.to_string(),
        })?;
        let method = req.method().to_string();
        let url = strip_query(req.url());
        let resp = self
            .http
            .execute(req)
            .await
            .map_err(|e| HubError::Unreachable {
                url: url.clone(),
                reason: short_reason(&e),
            })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.text().await.unwrap_or_default();
        Err(HubError::Status {
            method,
            url,
            status: status.as_u16(),
            body: excerpt(&body),
        })
    }

    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, HubError> {
        let resp = self.send(self.request(Method::GET, path)).await?;
        decode(resp).await
    }

    pub async fn info(&self) -> Result<HubInfo, HubError> {
        self.get_json("").await
    }

    /// `POST /hub/api/proxy`: the hub re-adds every route it knows. Used right
    /// after a proxy restart so students are back in seconds.
    pub async fn resync_proxy(&self) -> Result<(), HubError> {
        self.send(self.request(Method::POST, "proxy"))
            .await
            .map(|_| ())
    }

    /// Whether the token authenticates (`GET /hub/api/user` answers for it).
    pub async fn whoami(&self) -> Result<serde_json::Value, HubError> {
        self.get_json("user").await
    }
}

pub async fn decode<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T, HubError> {
    let url = strip_query(resp.url());
    let bytes = resp.bytes().await.map_err(|e| HubError::Unreachable {
        url: url.clone(),
        reason: short_reason(&e),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| HubError::Decode {
        url,
        reason: e.to_string(),
    })
}

fn strip_query(u: &Url) -> String {
    let mut u = u.clone();
    u.set_query(None);
    u.to_string()
}

/// reqwest's chain of causes, shortened ("connection refused").
pub fn short_reason(e: &reqwest::Error) -> String {
    use std::error::Error;
    if e.is_timeout() {
        return "timed out".into();
    }
    let mut cause: &dyn Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn excerpt(body: &str) -> String {
    // The hub answers errors as {"status":..,"message":".."}; keep the message.
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        if let Some(m) = v.get("message").and_then(|m| m.as_str()) {
            return m.chars().take(300).collect();
        }
    }
    body.chars().take(300).collect()
}

pub fn is_status(e: &HubError, code: StatusCode) -> bool {
    matches!(e, HubError::Status { status, .. } if *status == code.as_u16())
}

//! Runs JupyterHub and configurable-http-proxy detached, adopts running ones,
//! restarts crashed ones with backoff, stops them cleanly.

use serde::Serialize;

use crate::config::Config;

/// Problems that would stop `up` (bad secret files, missing binaries); empty when fine.
pub fn preflight(_cfg: &Config) -> Vec<String> {
    Vec::new()
}

/// One supervised component as `status` and the console header show it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ComponentStatus {
    /// "hub", "proxy" or "supervisor".
    pub name: String,
    pub pid: Option<u32>,
    /// The process exists (pid alive with the expected command line).
    pub running: bool,
    /// Its health endpoint answered.
    pub healthy: bool,
    pub uptime_secs: Option<u64>,
    /// Human-readable detail ("GET /hub/api/ 200, version 6.1.1", or the error).
    pub detail: String,
    /// Restarts done by the supervisor since it started.
    pub restarts: u32,
    /// The supervisor stopped restarting it after too many rapid failures.
    pub gave_up: bool,
}

/// Hub, proxy and supervisor at once.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StackStatus {
    pub hub: ComponentStatus,
    pub proxy: ComponentStatus,
    pub supervisor: ComponentStatus,
}

/// Reads pidfiles and the supervisor's state file, probes health endpoints.
/// Never blocks longer than a few seconds (short HTTP timeouts).
pub async fn stack_status(_cfg: &Config) -> StackStatus {
    let c = |n: &str| ComponentStatus {
        name: n.into(),
        pid: None,
        running: false,
        healthy: false,
        uptime_secs: None,
        detail: "not implemented yet".into(),
        restarts: 0,
        gave_up: false,
    };
    StackStatus {
        hub: c("hub"),
        proxy: c("proxy"),
        supervisor: c("supervisor"),
    }
}

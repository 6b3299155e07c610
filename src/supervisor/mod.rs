//! Runs JupyterHub and configurable-http-proxy detached, adopts running ones,
//! restarts crashed ones with backoff, stops them cleanly.

use crate::config::Config;

/// Problems that would stop `up` (bad secret files, missing binaries); empty when fine.
pub fn preflight(_cfg: &Config) -> Vec<String> {
    Vec::new()
}

//! Where the supervisor keeps its files under the state dir, and the exact
//! commands it runs for the hub and the proxy.

use std::path::{Path, PathBuf};

use crate::config::Config;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Proxy,
    Hub,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Proxy => "proxy",
            Kind::Hub => "hub",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Layout {
    pub state: PathBuf,
    pub run: PathBuf,
    pub logs: PathBuf,
    pub hub_dir: PathBuf,
    pub generated_config: PathBuf,
}

impl Layout {
    pub fn new(cfg: &Config) -> Self {
        let state = cfg.state_dir();
        Self {
            run: state.join("run"),
            logs: cfg.log_dir(),
            hub_dir: cfg
                .hub
                .working_dir
                .clone()
                .unwrap_or_else(|| state.join("hub")),
            generated_config: state.join("jupyterhub_config.py"),
            state,
        }
    }
    pub fn pidfile(&self, name: &str) -> PathBuf {
        self.run.join(format!("{name}.pid"))
    }
    pub fn log(&self, name: &str) -> PathBuf {
        self.logs.join(format!("{name}.log"))
    }
    pub fn supervisor_state(&self) -> PathBuf {
        self.run.join("supervisor.json")
    }
    pub fn supervisor_lock(&self) -> PathBuf {
        self.run.join("supervisor.lock")
    }
}

/// A command to run, and how to recognise it later.
#[derive(Debug, Clone)]
pub struct Spec {
    pub kind: Kind,
    pub program: String,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    /// Env values that are secrets: passed to the child, never logged.
    pub secret_env: Vec<(String, String)>,
    pub marker: String,
}

impl Spec {
    /// The command as shown to people (no secrets: those are in env only).
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn venv_bin(cfg: &Config, name: &str) -> Option<String> {
    cfg.hub
        .venv
        .as_ref()
        .map(|v| v.join("bin").join(name).display().to_string())
}

fn path_with_venv(cfg: &Config) -> String {
    let base = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
    match &cfg.hub.venv {
        Some(v) => format!("{}:{base}", v.join("bin").display()),
        None => base,
    }
}

pub fn hub_spec(cfg: &Config, layout: &Layout) -> Spec {
    let (program, mut args) = match &cfg.hub.command {
        Some(cmd) if !cmd.is_empty() => (cmd[0].clone(), cmd[1..].to_vec()),
        _ => (
            venv_bin(cfg, "jupyterhub").unwrap_or_else(|| "jupyterhub".into()),
            Vec::new(),
        ),
    };
    let conf = layout.generated_config.display().to_string();
    args.push("-f".into());
    args.push(conf.clone());
    let mut env = vec![("PATH".to_string(), path_with_venv(cfg))];
    env.extend(cfg.hub.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    Spec {
        kind: Kind::Hub,
        program,
        args,
        cwd: layout.hub_dir.clone(),
        env,
        secret_env: Vec::new(),
        marker: conf,
    }
}

pub fn proxy_spec(cfg: &Config, layout: &Layout, token: &str) -> Spec {
    let (program, mut args) = match &cfg.proxy.command {
        Some(cmd) if !cmd.is_empty() => (cmd[0].clone(), cmd[1..].to_vec()),
        _ => ("configurable-http-proxy".to_string(), Vec::new()),
    };
    let hub = cfg
        .proxy
        .default_target
        .clone()
        .unwrap_or_else(|| cfg.hub_origin());
    args.extend([
        "--ip".into(),
        cfg.proxy.public_ip.clone(),
        "--port".into(),
        cfg.proxy.public_port.to_string(),
        "--api-ip".into(),
        cfg.proxy.api_ip.clone(),
        "--api-port".into(),
        cfg.proxy.api_port.to_string(),
        "--default-target".into(),
        hub.clone(),
        "--error-target".into(),
        format!("{hub}/hub/error"),
    ]);
    if let (Some(cert), Some(key)) = (&cfg.proxy.tls_cert, &cfg.proxy.tls_key) {
        args.extend([
            "--ssl-cert".into(),
            cert.display().to_string(),
            "--ssl-key".into(),
            key.display().to_string(),
        ]);
    }
    args.extend(cfg.proxy.extra_args.iter().cloned());
    Spec {
        kind: Kind::Proxy,
        program,
        args,
        cwd: layout.state.clone(),
        env: vec![("PATH".to_string(), path_with_venv(cfg))],
        secret_env: vec![("CONFIGPROXY_AUTH_TOKEN".into(), token.into())],
        marker: format!(
            "--api-ip {} --api-port {}",
            cfg.proxy.api_ip, cfg.proxy.api_port
        ),
    }
}

/// `program` as an absolute path, or found on PATH (with the venv first).
pub fn resolve_program(cfg: &Config, program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = Path::new(program);
        return p.is_file().then(|| p.to_path_buf());
    }
    path_with_venv(cfg)
        .split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}

//! Shared helpers for tests against the real stack that `scripts/testbed up`
//! starts: its env file, free ports, a coursectl config in a temp dir, and a
//! guard that stops everything a test started (by pid) even when it fails.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub const ENV_FILE: &str = "/run/coursectl-testbed/env";

/// The test stack's facts; panics with the fix when it is not up.
pub fn testbed() -> HashMap<String, String> {
    let text = std::fs::read_to_string(ENV_FILE).unwrap_or_else(|_| {
        panic!("{ENV_FILE} missing: run `scripts/testbed up` first (scripts/test does it)")
    });
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect()
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_coursectl")
}

/// A port free on `ip` right now.
pub fn free_port(ip: &str) -> u16 {
    TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `f` every 100 ms until it returns Some, or panics after `timeout` naming `what`.
pub fn poll<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// A course config in a temp dir, and the coursectl processes it runs.
pub struct Course {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub hub_port: u16,
    pub public_port: u16,
    pub api_port: u16,
    pub hub_ip: String,
}

impl Course {
    /// A course on the test stack: hub with the real SwarmSpawner config on a
    /// free port of the testbed bridge, proxy on free loopback ports.
    pub fn swarm(extra: &str) -> Course {
        let tb = testbed();
        let hub_ip = tb["TESTBED_HUB_IP"].clone();
        let hub_port = free_port(&hub_ip);
        let public_port = free_port("127.0.0.1");
        let api_port = free_port("127.0.0.1");
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        let text = format!(
            r#"[course]
name = "Test course"
[paths]
state-dir = "state"
home = "{homes}/{{username}}"
course-dir = "course"
[hub]
venv = "{venv}"
config-file = "{swarm}"
api-url = "http://{hub_ip}:{hub_port}/hub/api"
start-timeout = "90s"
# Tests create users through coursectl's own token.
admin-users-scope = true
[hub.env]
TESTBED_HUB_PORT = "{hub_port}"
[proxy]
command = ["{chp}"]
public-ip = "127.0.0.1"
public-port = {public_port}
api-port = {api_port}
[supervisor]
backoff-initial = "200ms"
check-interval = "200ms"
{extra}
"#,
            homes = tb["TESTBED_HOMES"],
            venv = tb["TESTBED_VENV"],
            swarm = tb["TESTBED_SWARM_CONFIG"],
            chp = tb["TESTBED_CHP"],
        );
        std::fs::write(&config, text).unwrap();
        Course {
            dir,
            config,
            hub_port,
            public_port,
            api_port,
            hub_ip,
        }
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Command::new(bin())
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("NO_COLOR")
            .output()
            .unwrap()
            .into()
    }

    pub fn pid(&self, name: &str) -> Option<u32> {
        let text = std::fs::read_to_string(self.state().join(format!("run/{name}.pid"))).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        v["pid"].as_u64().map(|p| p as u32)
    }

    pub fn hub_token(&self) -> String {
        std::fs::read_to_string(self.state().join("secrets/hub-token"))
            .unwrap()
            .trim()
            .to_string()
    }

    pub fn proxy_token(&self) -> String {
        std::fs::read_to_string(self.state().join("secrets/proxy-token"))
            .unwrap()
            .trim()
            .to_string()
    }

    pub fn hub_api(&self) -> String {
        format!("http://{}:{}/hub/api", self.hub_ip, self.hub_port)
    }

    pub fn public(&self) -> String {
        format!("http://127.0.0.1:{}", self.public_port)
    }
}

impl Drop for Course {
    fn drop(&mut self) {
        // Stop what this test started even when it failed half-way.
        let _ = self.run(&["down"]);
        for n in ["supervisor", "hub", "proxy"] {
            if let Some(pid) = self.pid(n) {
                if pid_alive(pid) {
                    let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
                }
            }
        }
    }
}

pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().next())
            .is_some_and(|st| st != "Z"),
        Err(_) => false,
    }
}

pub fn kill9(pid: u32) {
    assert!(Command::new("kill")
        .arg("-9")
        .arg(pid.to_string())
        .status()
        .unwrap()
        .success());
}

/// A blocking HTTP client for tests.
pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn read_all_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() {
                if let Ok(b) = std::fs::read(&p) {
                    out.push((p, b));
                }
            }
        }
    }
    out
}

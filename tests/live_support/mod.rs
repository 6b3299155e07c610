//! Shared by the real-stack tests: the testbed's env file, a private
//! hub + proxy started with `coursectl up` (own ports and state dir, stopped
//! with `coursectl down`), Docker and hub API helpers, and polling.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

#[path = "../support/mod.rs"]
mod common;

/// The testbed's variables; fails with "run scripts/testbed up" without it.
pub use common::testbed;

/// Polls `f` until it returns Some, or panics after `timeout` naming `what`.
pub fn wait_for<T>(what: &str, timeout: Duration, f: impl FnMut() -> Option<T>) -> T {
    common::poll(timeout, what, f)
}

/// The coursectl binary. Not copied aside: executing a freshly written copy
/// from a multi-threaded test races with other threads' forks that still
/// hold its write fd (ETXTBSY, "Text file busy"). `COURSECTL_TEST_BIN` names
/// a private copy when worktrees share one target dir.
pub fn binary(_dir: &Path) -> PathBuf {
    std::env::var_os("COURSECTL_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_coursectl")))
}

pub struct Stack {
    pub dir: tempfile::TempDir,
    pub bin: PathBuf,
    pub config: PathBuf,
    pub env: HashMap<String, String>,
    pub api: String,
    pub token: String,
    pub up: bool,
}

/// Options of a test's stack.
pub struct StackOpts {
    /// Ports: hub base+81, proxy public base+0, proxy api base+1.
    pub port_base: u16,
    pub docker_host: Option<String>,
    pub start: bool,
}

impl Stack {
    /// Writes a config and, with `start`, runs `coursectl up` (hub on the
    /// SwarmSpawner test config, listening on the testbed bridge).
    pub fn new(o: StackOpts) -> Stack {
        let env = testbed();
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = binary(dir.path());
        let hub_ip = env
            .get("TESTBED_HUB_IP")
            .cloned()
            .unwrap_or("10.213.7.1".into());
        let hub_port = o.port_base + 81;
        let api = format!("http://{hub_ip}:{hub_port}/hub/api");
        let docker = o
            .docker_host
            .unwrap_or_else(|| env.get("TESTBED_DOCKER_HOST").cloned().unwrap_or_default());
        let config = dir.path().join("config.toml");
        let text = format!(
            r#"[course]
name = "Live test course"
[paths]
state-dir = "{state}"
home = "{homes}/{{username}}"
[hub]
venv = "{venv}"
config-file = "{hubcfg}"
api-url = "{api}"
admin-users-scope = true
[hub.env]
TESTBED_HUB_PORT = "{hub_port}"
[proxy]
command = ["{chp}"]
public-ip = "127.0.0.1"
public-port = {pp}
api-port = {ap}
[docker]
host = "{docker}"
timeout = "5s"
[ui]
refresh = "1s"
[activity]
sample-interval = "1s"
"#,
            state = dir.path().join("state").display(),
            homes = env.get("TESTBED_HOMES").cloned().unwrap_or_default(),
            venv = env.get("TESTBED_VENV").cloned().unwrap_or_default(),
            hubcfg = env.get("TESTBED_SWARM_CONFIG").cloned().unwrap_or_default(),
            chp = env.get("TESTBED_CHP").cloned().unwrap_or_default(),
            pp = o.port_base,
            ap = o.port_base + 1,
        );
        std::fs::write(&config, text).expect("config");
        let mut s = Stack {
            dir,
            bin,
            config,
            env,
            api,
            token: String::new(),
            up: false,
        };
        if o.start {
            let out = s.coursectl(&["up"]);
            assert!(
                out.status.success(),
                "coursectl up failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            s.up = true;
            s.token = std::fs::read_to_string(s.dir.path().join("state/secrets/hub-token"))
                .expect("hub token")
                .trim()
                .to_string();
        }
        s
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn coursectl(&self, args: &[&str]) -> Output {
        Command::new(&self.bin)
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("NO_COLOR")
            .output()
            .expect("run coursectl")
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let out = self.coursectl(&a);
        assert!(
            out.status.success(),
            "coursectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json")
    }

    /// A hub API call with coursectl's token (the token goes through curl's stdin config).
    pub fn hub(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        use std::io::Write;
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-K", "-", "-X", method, "-w", "\n%{http_code}"])
            .arg(format!("{}/{}", self.api, path.trim_start_matches('/')));
        if let Some(b) = body {
            cmd.args(["-d", b]);
        }
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("curl");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("header = \"Authorization: token {}\"\n", self.token).as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("curl output");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    pub fn create_users(&self, names: &[String]) {
        let body = serde_json::json!({ "usernames": names }).to_string();
        let (code, text) = self.hub("POST", "users", Some(&body));
        assert!(code == 201 || code == 409, "create users: {code} {text}");
    }

    pub fn start_servers(&self, names: &[String], timeout: Duration) {
        for n in names {
            let (code, text) = self.hub("POST", &format!("users/{n}/server"), None);
            assert!(
                code == 201 || code == 202 || code == 400,
                "start {n}: {code} {text}"
            );
        }
        for n in names {
            wait_for(&format!("{n}'s server ready"), timeout, || {
                let (_, t) = self.hub("GET", &format!("users/{n}"), None);
                let v: serde_json::Value = serde_json::from_str(&t).ok()?;
                v["servers"][""]["ready"].as_bool().filter(|r| *r)
            });
        }
    }

    pub fn stop_servers(&self, names: &[String]) {
        for n in names {
            let _ = self.hub("DELETE", &format!("users/{n}/server"), None);
        }
    }

    /// `docker` against the testbed's main engine (or another socket).
    pub fn docker(&self, host: Option<&str>, args: &[&str]) -> String {
        let h = host.map(str::to_string).unwrap_or_else(|| {
            self.env
                .get("TESTBED_DOCKER_HOST")
                .cloned()
                .unwrap_or_default()
        });
        let out = Command::new(
            self.env
                .get("TESTBED_DOCKER")
                .map(String::as_str)
                .unwrap_or("docker"),
        )
        .args(["-H", &h])
        .args(args)
        .output()
        .expect("docker");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Where Docker itself says `user`'s service runs (desired state running).
    pub fn docker_node_of(&self, service: &str) -> String {
        self.docker(
            None,
            &[
                "service",
                "ps",
                service,
                "--filter",
                "desired-state=running",
                "--format",
                "{{.Node}}",
            ],
        )
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if self.up {
            let _ = self.coursectl(&["down"]);
        }
    }
}

/// The testbed script (this repo's, else the testbed worktree's).
pub fn testbed_script() -> PathBuf {
    let mine = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/testbed");
    if mine.exists() {
        return mine;
    }
    PathBuf::from("/work/wt/testbed/scripts/testbed")
}

//! The supervisor loop (`coursectl supervise`): adopts or starts the proxy and
//! the hub, restarts a crashed one with exponential backoff, gives up loudly
//! after too many rapid failures, resyncs routes after a proxy restart, caps
//! log sizes, and on SIGTERM stops both and exits.

use std::collections::VecDeque;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tracing::{error, info, warn};

use super::layout::{hub_spec, proxy_spec, Kind, Layout, Spec};
use super::process::{self, PidRecord};
use super::{health, SupervisorError};
use crate::config::Config;
use crate::secrets::Secret;

/// What the supervisor tells `status` and the console (written to run/supervisor.json).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SupervisorState {
    pub pid: u32,
    pub components: Vec<ComponentState>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ComponentState {
    pub name: String,
    pub restarts: u32,
    pub gave_up: bool,
    pub last_exit: Option<String>,
    /// Seconds until the next start attempt, when one is scheduled.
    pub next_start_in: Option<u64>,
}

struct Component {
    spec: Spec,
    child: Option<duct::Handle>,
    rec: Option<PidRecord>,
    failures: VecDeque<Instant>,
    next_start: Option<Instant>,
    restarts: u32,
    gave_up: bool,
    last_exit: Option<String>,
}

impl Component {
    fn new(spec: Spec) -> Self {
        Self {
            spec,
            child: None,
            rec: None,
            failures: VecDeque::new(),
            next_start: Some(Instant::now()),
            restarts: 0,
            gave_up: false,
            last_exit: None,
        }
    }

    fn name(&self) -> &'static str {
        self.spec.kind.name()
    }

    /// Still running? Reaps our own child; checks identity for an adopted one.
    fn check_alive(&mut self) -> bool {
        if let Some(child) = &self.child {
            match child.try_wait() {
                Ok(None) => return true,
                Ok(Some(out)) => {
                    self.last_exit = Some(describe_exit(&out.status));
                    self.child = None;
                    return false;
                }
                Err(e) => {
                    self.last_exit = Some(format!("wait failed: {e}"));
                    self.child = None;
                    return false;
                }
            }
        }
        match &self.rec {
            Some(rec) if process::still_running(rec) => true,
            Some(_) => {
                self.last_exit = Some("exited (adopted process, status unknown)".into());
                false
            }
            None => false,
        }
    }
}

fn describe_exit(status: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited with code {c}"),
        (None, Some(s)) => format!(
            "killed by signal {}",
            nix::sys::signal::Signal::try_from(s)
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|_| s.to_string())
        ),
        _ => "exited".into(),
    }
}

/// Starts `spec` detached in its own session (it outlives us and our terminal).
pub fn spawn(spec: &Spec, log: &Path) -> Result<(duct::Handle, PidRecord), SupervisorError> {
    let io = |what: &str, e: std::io::Error| SupervisorError::Spawn {
        component: spec.kind.name().into(),
        command: spec.display(),
        reason: format!("{what}: {e}"),
    };
    fs::create_dir_all(&spec.cwd).map_err(|e| io("cannot create its working dir", e))?;
    let logf = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| io("cannot open its log", e))?;
    let mut expr = duct::cmd(&spec.program, &spec.args)
        .dir(&spec.cwd)
        .stdin_null()
        // duct applies the innermost (first) redirection last: stderr joins stdout in the log.
        .stderr_to_stdout()
        .stdout_file(logf)
        .unchecked()
        .before_spawn(|cmd| {
            // Own session: no SIGHUP from a closing SSH terminal, and survives our exit.
            unsafe {
                cmd.pre_exec(|| {
                    nix::unistd::setsid().map_err(std::io::Error::from)?;
                    Ok(())
                });
            }
            Ok(())
        });
    for (k, v) in spec.env.iter().chain(spec.secret_env.iter()) {
        expr = expr.env(k, v);
    }
    let handle = expr.start().map_err(|e| io("cannot start", e))?;
    let pid = handle.pids().first().copied().unwrap_or(0);
    let start_ticks = process::start_ticks(pid).unwrap_or(0);
    Ok((
        handle,
        PidRecord {
            pid,
            start_ticks,
            marker: spec.marker.clone(),
        },
    ))
}

/// Rotates `log` when over `max` bytes: the old content goes to `.1`, the file
/// is truncated in place (children write with O_APPEND, so they follow).
fn cap_log(log: &Path, max: u64) {
    let Ok(meta) = fs::metadata(log) else { return };
    if meta.len() <= max {
        return;
    }
    let old = log.with_extension("log.1");
    if fs::copy(log, &old).is_ok() {
        if let Ok(f) = fs::OpenOptions::new().write(true).open(log) {
            let _ = f.set_len(0);
        }
    }
}

pub struct Supervisor {
    cfg: Config,
    layout: Layout,
    proxy_token: Secret,
    hub: Component,
    proxy: Component,
    need_resync: bool,
    last_state: Option<SupervisorState>,
}

impl Supervisor {
    pub fn new(cfg: Config, proxy_token: Secret) -> Self {
        let layout = Layout::new(&cfg);
        let hub = Component::new(hub_spec(&cfg, &layout));
        let proxy = Component::new(proxy_spec(&cfg, &layout, proxy_token.expose()));
        Self {
            cfg,
            layout,
            proxy_token,
            hub,
            proxy,
            need_resync: false,
            last_state: None,
        }
    }

    fn comp(&mut self, kind: Kind) -> &mut Component {
        match kind {
            Kind::Hub => &mut self.hub,
            Kind::Proxy => &mut self.proxy,
        }
    }

    /// Takes over a process a previous supervisor started, if it is still ours.
    fn adopt(&mut self, kind: Kind) {
        let pidfile = self.layout.pidfile(kind.name());
        let marker = self.comp(kind).spec.marker.clone();
        if let Some(rec) = process::read_pidfile(&pidfile) {
            if rec.marker == marker && process::is_ours(&rec) {
                info!(
                    component = kind.name(),
                    pid = rec.pid,
                    "adopted running process"
                );
                let c = self.comp(kind);
                c.rec = Some(rec);
                c.next_start = None;
            }
        }
    }

    fn start(&mut self, kind: Kind) {
        let log = self.layout.log(kind.name());
        let pidfile = self.layout.pidfile(kind.name());
        let c = self.comp(kind);
        match spawn(&c.spec, &log) {
            Ok((handle, rec)) => {
                info!(component = kind.name(), pid = rec.pid, command = %c.spec.display(), "started");
                if let Err(e) = process::write_pidfile(&pidfile, &rec) {
                    warn!(component = kind.name(), "cannot write pidfile: {e}");
                }
                c.child = Some(handle);
                c.rec = Some(rec);
                c.next_start = None;
            }
            Err(e) => {
                error!(component = kind.name(), "{e}");
                c.last_exit = Some(e.to_string());
                self.record_failure(kind);
            }
        }
    }

    /// Counts a failure; schedules a restart with backoff, or gives up.
    fn record_failure(&mut self, kind: Kind) {
        let sup = self.cfg.supervisor.clone();
        let c = self.comp(kind);
        let now = Instant::now();
        c.failures.push_back(now);
        while c
            .failures
            .front()
            .is_some_and(|t| now.duration_since(*t) > sup.restart_window)
        {
            c.failures.pop_front();
        }
        let n = c.failures.len() as u32;
        if n > sup.max_restarts {
            c.gave_up = true;
            c.next_start = None;
            error!(
                component = c.name(),
                failures = n,
                "GAVE UP: {} failed {n} times within {}; not restarting. Fix the cause (coursectl logs {}), then run `coursectl up`",
                c.name(),
                humantime::format_duration(sup.restart_window),
                c.name()
            );
            return;
        }
        let factor = 2u32.saturating_pow(n.saturating_sub(1).min(16));
        let delay = sup
            .backoff_initial
            .saturating_mul(factor)
            .min(sup.backoff_max);
        c.next_start = Some(now + delay);
        warn!(
            component = c.name(),
            last_exit = c.last_exit.as_deref().unwrap_or("?"),
            "will restart in {}",
            humantime::format_duration(delay)
        );
    }

    /// A `coursectl up` while we run: clear a give-up so the next tick retries.
    pub fn reset(&mut self) {
        for kind in [Kind::Proxy, Kind::Hub] {
            let c = self.comp(kind);
            if c.gave_up {
                info!(component = c.name(), "reset by coursectl up: trying again");
                c.gave_up = false;
                c.failures.clear();
                c.next_start = Some(Instant::now());
            }
        }
    }

    fn running(&mut self, kind: Kind) -> bool {
        self.comp(kind).check_alive()
    }

    /// One pass: notice deaths, start what is due, resync routes when needed.
    pub async fn tick(&mut self) {
        for kind in [Kind::Proxy, Kind::Hub] {
            let was_up = self.comp(kind).rec.is_some();
            if was_up && !self.running(kind) {
                let c = self.comp(kind);
                c.rec = None;
                error!(
                    component = c.name(),
                    "{} died: {}",
                    c.name(),
                    c.last_exit.as_deref().unwrap_or("unknown")
                );
                self.record_failure(kind);
            }
            let due = {
                let c = self.comp(kind);
                c.rec.is_none() && !c.gave_up && c.next_start.is_some_and(|t| Instant::now() >= t)
            };
            if due {
                if kind == Kind::Hub && self.proxy.rec.is_some() {
                    // The hub needs the proxy's API at start: give it a moment.
                    self.wait_proxy_api(Duration::from_secs(10)).await;
                }
                let restart = self.comp(kind).restarts > 0 || !self.comp(kind).failures.is_empty();
                self.start(kind);
                if self.comp(kind).rec.is_some() && restart {
                    self.comp(kind).restarts += 1;
                }
                if kind == Kind::Proxy && self.proxy.rec.is_some() && restart {
                    // A new proxy has an empty route table.
                    self.need_resync = true;
                }
            }
        }
        if self.need_resync {
            self.try_resync().await;
        }
        let max = self.cfg.supervisor.log_max_mb.saturating_mul(1024 * 1024);
        for name in ["hub", "proxy", "supervisor"] {
            cap_log(&self.layout.log(name), max);
        }
        self.write_state();
    }

    async fn wait_proxy_api(&mut self, timeout: Duration) {
        let start = Instant::now();
        while start.elapsed() < timeout && self.proxy.check_alive() {
            if health::proxy(&self.cfg, Some(&self.proxy_token))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn try_resync(&mut self) {
        if health::proxy(&self.cfg, Some(&self.proxy_token))
            .await
            .is_err()
        {
            return;
        }
        match crate::hub::client_from_config(&self.cfg) {
            Ok(client) => match client.resync_proxy().await {
                Ok(()) => {
                    info!("proxy routes resynced from the hub (POST /hub/api/proxy)");
                    self.need_resync = false;
                }
                Err(e) => warn!("route resync not done yet: {e}"),
            },
            Err(e) => warn!("route resync impossible: {e:#}"),
        }
    }

    fn write_state(&mut self) {
        let now = Instant::now();
        let comp_state = |c: &Component| ComponentState {
            name: c.name().into(),
            restarts: c.restarts,
            gave_up: c.gave_up,
            last_exit: c.last_exit.clone(),
            next_start_in: c
                .next_start
                .filter(|_| c.rec.is_none())
                .map(|t| t.saturating_duration_since(now).as_secs()),
        };
        let state = SupervisorState {
            pid: std::process::id(),
            components: vec![comp_state(&self.hub), comp_state(&self.proxy)],
        };
        if self.last_state.as_ref() == Some(&state) {
            return;
        }
        let path = self.layout.supervisor_state();
        let tmp = path.with_extension("json.tmp");
        if fs::write(&tmp, serde_json::to_vec_pretty(&state).unwrap_or_default()).is_ok() {
            let _ = fs::rename(&tmp, &path);
        }
        self.last_state = Some(state);
    }

    /// Stops the hub first (it may still talk to the proxy), then the proxy.
    pub fn stop_all(&mut self) {
        let timeout = self.cfg.supervisor.stop_timeout;
        for kind in [Kind::Hub, Kind::Proxy] {
            let pidfile = self.layout.pidfile(kind.name());
            let c = self.comp(kind);
            if let Some(rec) = c.rec.clone() {
                info!(component = c.name(), pid = rec.pid, "stopping");
                let killed = process::terminate(rec.pid, timeout, || !c.check_alive());
                if killed {
                    warn!(
                        component = c.name(),
                        "did not stop within {timeout:?}: killed"
                    );
                }
            }
            c.rec = None;
            c.child = None;
            let _ = fs::remove_file(pidfile);
        }
    }

    pub async fn run(mut self) -> Result<(), SupervisorError> {
        use tokio::signal::unix::{signal, SignalKind};
        let sig = |k| signal(k).map_err(|e| SupervisorError::Io(format!("signal handler: {e}")));
        let mut term = sig(SignalKind::terminate())?;
        let mut int = sig(SignalKind::interrupt())?;
        let mut usr1 = sig(SignalKind::user_defined1())?;
        let mut hup = sig(SignalKind::hangup())?;
        self.adopt(Kind::Proxy);
        self.adopt(Kind::Hub);
        let mut every = tokio::time::interval(self.cfg.supervisor.check_interval);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => self.tick().await,
                _ = usr1.recv() => { self.reset(); self.tick().await }
                _ = hup.recv() => info!("SIGHUP ignored: the supervisor outlives terminals"),
                _ = term.recv() => break,
                _ = int.recv() => break,
            }
        }
        info!("stopping hub and proxy");
        // Blocking is fine here: nothing else runs on this runtime any more.
        self.stop_all();
        let _ = fs::remove_file(self.layout.supervisor_state());
        Ok(())
    }
}

//! `up`, `down`, `status`, `logs`, and the hidden `supervise` daemon.

use std::io::{BufRead, Seek, SeekFrom};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};

use super::{CmdResult, Failure, Out};
use crate::config::Config;
use crate::exit::ExitCode;
use crate::supervisor::{self, ComponentStatus, Layout, StackStatus};

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Run the supervisor in this process instead of detaching (for systemd).
    #[arg(long)]
    pub foreground: bool,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Leave students' servers running (default: ask the hub to stop them first).
    #[arg(long)]
    pub keep_servers: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Also take one activity sample and store it (for a cron line).
    #[arg(long)]
    pub record: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Component {
    Hub,
    Proxy,
    Supervisor,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[arg(value_enum)]
    pub component: Component,
    /// Keep printing new lines.
    #[arg(short, long)]
    pub follow: bool,
    /// Lines from the end.
    #[arg(short = 'n', long, default_value_t = 50)]
    pub lines: usize,
}

fn preflight_or_fail(cfg: &Config) -> Result<(), Failure> {
    let problems = supervisor::preflight(cfg);
    if problems.is_empty() {
        return Ok(());
    }
    Err(Failure::usage(anyhow::anyhow!(
        "{}\nnothing was started",
        problems.join("\n")
    )))
}

pub async fn up(cfg: &Config, out: Out, a: &UpArgs) -> CmdResult {
    preflight_or_fail(cfg)?;
    if a.foreground {
        supervisor::run_foreground(cfg).map_err(Failure::failed)?;
        return Ok(ExitCode::Ok);
    }
    let started = match supervisor::supervisor_pid(cfg) {
        Some(pid) => {
            // Clears a give-up so a fixed component is retried now.
            supervisor::process::signal(pid, nix::sys::signal::Signal::SIGUSR1);
            false
        }
        None => {
            supervisor::spawn_detached(cfg).map_err(Failure::failed)?;
            true
        }
    };
    let timeout = cfg.hub.start_timeout + Duration::from_secs(10);
    let st = supervisor::wait_healthy(cfg, timeout).await;
    let ok = st.healthy();
    if out.json {
        out.json(&serde_json::json!({ "ok": ok, "started_supervisor": started, "status": st }));
    } else {
        if !started {
            println!("already running: nothing new started");
        }
        print_status(&st, out);
        if !ok {
            let layout = Layout::new(cfg);
            eprintln!(
                "coursectl: hub and proxy not both healthy after {}s; see {} and {}",
                timeout.as_secs(),
                layout.log("hub").display(),
                layout.log("supervisor").display()
            );
        }
    }
    Ok(if ok { ExitCode::Ok } else { ExitCode::Failed })
}

/// Asks the hub to stop every running server, and waits for them (bounded).
async fn stop_servers(cfg: &Config) -> Result<usize, String> {
    let client = crate::hub::client_from_config(cfg).map_err(|e| format!("{e:#}"))?;
    let users = crate::hub::list_users(&client)
        .await
        .map_err(|e| e.to_string())?
        .users;
    let mut n = 0;
    for u in &users {
        for name in u.servers.keys() {
            let path = if name.is_empty() {
                format!("users/{}/server", u.name)
            } else {
                format!("users/{}/servers/{}", u.name, name)
            };
            match client
                .send(client.request(reqwest::Method::DELETE, &path))
                .await
            {
                Ok(_) => n += 1,
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(90) {
        let listing = crate::hub::list_users(&client)
            .await
            .map_err(|e| e.to_string())?;
        if listing.users.iter().all(|u| u.servers.is_empty()) {
            return Ok(n);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err("servers still stopping after 90s".into())
}

pub async fn down(cfg: &Config, out: Out, a: &DownArgs) -> CmdResult {
    let mut servers_note = None;
    if !a.keep_servers && supervisor::health::hub(cfg).await.is_ok() {
        servers_note = Some(stop_servers(cfg).await);
    }
    let stopped = tokio::task::spawn_blocking({
        let cfg = cfg.clone();
        move || supervisor::stop(&cfg)
    })
    .await
    .map_err(Failure::failed)?;
    let layout = Layout::new(cfg);
    let (left, stopped): (Vec<_>, Vec<_>) = stopped
        .into_iter()
        .map(|(n, rec)| (n, rec.pid, supervisor::process::still_running(&rec)))
        .partition(|(_, _, alive)| *alive);
    let left: Vec<(String, u32)> = left.into_iter().map(|(n, p, _)| (n, p)).collect();
    let stopped: Vec<(String, u32)> = stopped.into_iter().map(|(n, p, _)| (n, p)).collect();
    let ok = left.is_empty() && !matches!(servers_note, Some(Err(_)));
    if out.json {
        out.json(&serde_json::json!({
            "ok": ok,
            "stopped": stopped.iter().map(|(n, p)| serde_json::json!({"name": n, "pid": p})).collect::<Vec<_>>(),
            "servers_stopped": servers_note.as_ref().and_then(|r| r.as_ref().ok()),
            "servers_error": servers_note.as_ref().and_then(|r| r.as_ref().err()),
            "still_running": left.iter().map(|(n, p)| serde_json::json!({"name": n, "pid": p})).collect::<Vec<_>>(),
        }));
    } else {
        match &servers_note {
            Some(Ok(n)) => println!("stopped {n} students' servers through the hub"),
            Some(Err(e)) => eprintln!("coursectl: could not stop students' servers: {e}"),
            None if a.keep_servers => println!("students' servers left running (--keep-servers)"),
            None => println!("hub not answering: students' servers not stopped"),
        }
        if stopped.is_empty() {
            println!("nothing was running ({})", layout.run.display());
        }
        for (n, p) in &stopped {
            println!("stopped {n} (pid {p})");
        }
        for (n, p) in &left {
            eprintln!("coursectl: {n} (pid {p}) is still running");
        }
    }
    Ok(if ok { ExitCode::Ok } else { ExitCode::Failed })
}

fn fmt_uptime(secs: Option<u64>) -> String {
    match secs {
        None => "-".into(),
        Some(s) if s < 60 => format!("{s}s"),
        Some(s) if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        Some(s) if s < 86400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        Some(s) => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

fn status_line(c: &ComponentStatus, out: Out) -> String {
    let state = if c.healthy {
        out.state("healthy", Some(true))
    } else if c.running {
        out.state("unhealthy", None)
    } else {
        out.state("down", Some(false))
    };
    let pid = c.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into());
    let restarts = if c.restarts > 0 {
        format!("  restarts {}", c.restarts)
    } else {
        String::new()
    };
    format!(
        "{:<11} {:<9} pid {:<8} up {:<8} {}{}",
        c.name,
        state,
        pid,
        fmt_uptime(c.uptime_secs),
        c.detail,
        restarts
    )
}

fn print_status(st: &StackStatus, out: Out) {
    for c in [&st.hub, &st.proxy, &st.supervisor] {
        println!("{}", status_line(c, out));
    }
}

/// Whether the configured Docker engine answers (students' servers need it).
async fn docker_status(cfg: &Config) -> ComponentStatus {
    let probe = tokio::time::timeout(
        Duration::from_secs(5),
        crate::swarm::SwarmClient::connect(&cfg.docker),
    )
    .await;
    let (healthy, detail) = match probe {
        Ok(Ok(_)) => (true, format!("engine API answers at {}", cfg.docker.host)),
        Ok(Err(e)) => (false, e.to_string()),
        Err(_) => (
            false,
            format!("{} did not answer within 5s", cfg.docker.host),
        ),
    };
    ComponentStatus {
        name: "docker".into(),
        pid: None,
        running: healthy,
        healthy,
        uptime_secs: None,
        detail,
        restarts: 0,
        gave_up: false,
    }
}

pub async fn status(cfg: &Config, out: Out, a: &StatusArgs) -> CmdResult {
    let (st, docker) = tokio::join!(supervisor::stack_status(cfg), docker_status(cfg));
    let record = if a.record {
        Some(super::live::record_sample(cfg).await)
    } else {
        None
    };
    let ok = st.healthy() && docker.healthy && !matches!(record, Some(Err(_)));
    if out.json {
        let mut v = serde_json::json!({ "ok": ok, "hub": st.hub, "proxy": st.proxy, "supervisor": st.supervisor, "docker": docker });
        match &record {
            Some(Ok(sample)) => v["recorded"] = sample.clone(),
            Some(Err(e)) => v["record_error"] = format!("{:#}", e.error).into(),
            None => {}
        }
        out.json(&v);
    } else {
        print_status(&st, out);
        println!("{}", status_line(&docker, out));
        match &record {
            Some(Ok(_)) => println!("activity sample recorded"),
            Some(Err(e)) => eprintln!("coursectl: activity sample not recorded: {:#}", e.error),
            None => {}
        }
    }
    Ok(if ok { ExitCode::Ok } else { ExitCode::Failed })
}

pub async fn logs(cfg: &Config, a: &LogsArgs) -> CmdResult {
    let name = match a.component {
        Component::Hub => "hub",
        Component::Proxy => "proxy",
        Component::Supervisor => "supervisor",
    };
    let path = Layout::new(cfg).log(name);
    let text = std::fs::read(&path).map_err(|e| {
        Failure::failed(anyhow::anyhow!(
            "{}: {e} (has `coursectl up` run with this config?)",
            path.display()
        ))
    })?;
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    for l in &lines[lines.len().saturating_sub(a.lines)..] {
        println!("{l}");
    }
    if a.follow {
        let mut pos = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            if len < pos {
                // Rotated: start again from the top of the new file.
                pos = 0;
            }
            if len > pos {
                let mut f2 = std::fs::File::open(&path).map_err(Failure::failed)?;
                f2.seek(SeekFrom::Start(pos)).map_err(Failure::failed)?;
                let mut r = std::io::BufReader::new(f2);
                let mut line = String::new();
                while r.read_line(&mut line).map_err(Failure::failed)? > 0 {
                    print!("{line}");
                    line.clear();
                }
                pos = len;
            }
        }
    }
    Ok(ExitCode::Ok)
}

pub fn supervise(cfg: &Config) -> CmdResult {
    let _guard = crate::logging::init_file(&cfg.log_dir(), "supervisor");
    supervisor::run_foreground(cfg).map_err(Failure::failed)?;
    Ok(ExitCode::Ok)
}

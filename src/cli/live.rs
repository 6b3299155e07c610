//! Headless faces of the live console: `nodes`, `users`, and the activity
//! sample that `status --record` stores. JSON output uses its own report
//! types (never a raw service spec: it holds the server's API token).

use chrono::{DateTime, Utc};
use clap::Args;
use serde::Serialize;

use super::{CmdResult, Failure, Out};
use crate::activity::{sample_from_users, ActivityStore, LastSeenTracker, Sample};
use crate::config::Config;
use crate::exit::ExitCode;
use crate::hub::{self, HubUser, ServerState};
use crate::swarm::{EngineMode, NodeAvailability, NodeHealth, Placement, SwarmClient};

#[derive(Debug, Args)]
pub struct NodesArgs {}

#[derive(Debug, Args)]
pub struct UsersArgs {
    /// Only users active in the last 15 minutes.
    #[arg(long)]
    pub active: bool,
}

#[derive(Debug, Serialize)]
struct StudentReport {
    user: String,
    name: String,
    state: String,
    running: bool,
    uptime_secs: Option<i64>,
}

#[derive(Debug, Serialize)]
struct NodeReport {
    id: String,
    hostname: String,
    role: String,
    leader: bool,
    state: NodeHealth,
    availability: NodeAvailability,
    cpus: f64,
    memory_bytes: i64,
    reserved_cpus: f64,
    reserved_memory_bytes: i64,
    tasks: usize,
    students: Vec<StudentReport>,
}

#[derive(Debug, Serialize)]
struct NodesReport {
    ok: bool,
    engine: String,
    mode: EngineMode,
    nodes: Vec<NodeReport>,
    /// Students' services with no task on any node.
    unplaced: Vec<StudentReport>,
    notes: Vec<String>,
}

fn student(c: &crate::swarm::StudentContainer, now: DateTime<Utc>) -> StudentReport {
    StudentReport {
        user: c.user.clone(),
        name: c.name.clone(),
        state: c.state.clone(),
        running: c.running,
        uptime_secs: c.since.map(|t| (now - t).num_seconds()),
    }
}

fn nodes_report(engine: &str, p: &Placement, now: DateTime<Utc>) -> NodesReport {
    NodesReport {
        ok: true,
        engine: engine.into(),
        mode: p.mode,
        nodes: p
            .nodes
            .iter()
            .map(|n| NodeReport {
                id: n.id.clone(),
                hostname: n.hostname.clone(),
                role: n.role.clone(),
                leader: n.leader,
                state: n.state,
                availability: n.availability,
                cpus: n.cpus,
                memory_bytes: n.memory_bytes,
                reserved_cpus: n.reserved_cpus,
                reserved_memory_bytes: n.reserved_memory_bytes,
                tasks: n.tasks,
                students: p.containers_on(&n.id).map(|c| student(c, now)).collect(),
            })
            .collect(),
        unplaced: p
            .containers
            .iter()
            .filter(|c| c.node_id.is_none())
            .map(|c| student(c, now))
            .collect(),
        notes: p.notes.clone(),
    }
}

async fn placement(cfg: &Config) -> Result<(SwarmClient, Placement), Failure> {
    let c = SwarmClient::connect(&cfg.docker)
        .await
        .map_err(Failure::failed)?;
    let p = c.placement().await.map_err(Failure::failed)?;
    Ok((c, p))
}

pub async fn nodes(cfg: &Config, out: Out, _a: &NodesArgs) -> CmdResult {
    let (client, p) = placement(cfg).await?;
    let now = Utc::now();
    let report = nodes_report(client.host(), &p, now);
    if out.json {
        out.json(&report);
        return Ok(ExitCode::Ok);
    }
    for n in &report.nodes {
        let good = n.state == NodeHealth::Ready;
        println!(
            "{:<16} {:<8} {:<12} {:<7} cpu {:.1}/{:.0}  mem {}/{}  tasks {}  students {}",
            n.hostname,
            if n.leader { "leader" } else { n.role.as_str() },
            out.state(n.state.word(), Some(good)),
            n.availability.word(),
            n.reserved_cpus,
            n.cpus,
            crate::tui::view::bytes(n.reserved_memory_bytes),
            crate::tui::view::bytes(n.memory_bytes),
            n.tasks,
            n.students.len()
        );
        for s in &n.students {
            println!(
                "    {:<24} {:<10} {}",
                s.user,
                out.state(&s.state, Some(s.running)),
                s.uptime_secs
                    .map(crate::tui::view::short_duration)
                    .unwrap_or_else(|| "-".into())
            );
        }
    }
    for s in &report.unplaced {
        println!("unplaced: {} ({})", s.user, s.state);
    }
    for note in &report.notes {
        eprintln!("note: {note}");
    }
    Ok(ExitCode::Ok)
}

#[derive(Debug, Serialize)]
struct UserReport {
    name: String,
    admin: bool,
    server: ServerState,
    named_servers: Vec<String>,
    started: Option<DateTime<Utc>>,
    last_activity: Option<DateTime<Utc>>,
    idle_secs: Option<i64>,
    node: Option<String>,
}

#[derive(Debug, Serialize)]
struct UsersReport {
    ok: bool,
    total: usize,
    shown: usize,
    /// Placement could not be read: `node` is null for everyone.
    docker_error: Option<String>,
    users: Vec<UserReport>,
}

fn is_active(u: &HubUser, now: DateTime<Utc>) -> bool {
    u.latest_activity()
        .is_some_and(|t| now - t <= chrono::Duration::minutes(15))
}

pub async fn users(cfg: &Config, out: Out, a: &UsersArgs) -> CmdResult {
    let client = hub::client_from_config(cfg).map_err(Failure::failed)?;
    let (listing, placed) = tokio::join!(hub::list_users(&client), placement(cfg));
    let listing = listing.map_err(Failure::failed)?;
    let now = Utc::now();
    let (nodes, docker_error) = match &placed {
        Ok((_, p)) => (
            p.node_of_users()
                .into_iter()
                .map(|(u, n)| (u.to_string(), n.to_string()))
                .collect(),
            None,
        ),
        Err(f) => (
            std::collections::HashMap::new(),
            Some(format!("{:#}", f.error)),
        ),
    };
    let total = listing.users.len();
    let users: Vec<UserReport> = listing
        .users
        .iter()
        .filter(|u| !a.active || is_active(u, now))
        .map(|u| {
            let state = u.server_state();
            let last = u.latest_activity();
            UserReport {
                name: u.name.clone(),
                admin: u.admin,
                server: state,
                named_servers: u.named_servers().map(str::to_string).collect(),
                started: u.default_server().and_then(|s| s.started),
                last_activity: last,
                idle_secs: last
                    .filter(|_| state.is_active())
                    .map(|t| (now - t).num_seconds()),
                node: nodes.get(&u.name).cloned(),
            }
        })
        .collect();
    let report = UsersReport {
        ok: true,
        total,
        shown: users.len(),
        docker_error,
        users,
    };
    if out.json {
        out.json(&report);
        return Ok(ExitCode::Ok);
    }
    for u in &report.users {
        println!(
            "{:<24} {:<9} {:<12} {:<14} {}",
            u.name,
            out.state(u.server.word(), Some(u.server == ServerState::Ready)),
            u.node.as_deref().unwrap_or("-"),
            crate::tui::view::ago(now, u.last_activity),
            if u.admin { "admin" } else { "" }
        );
    }
    eprintln!("{} of {} users", report.shown, report.total);
    if let Some(e) = &report.docker_error {
        eprintln!("coursectl: note: nodes unknown: {e}");
    }
    Ok(ExitCode::Ok)
}

/// Takes one activity sample and stores it (for `status --record`).
pub async fn record_sample(cfg: &Config) -> Result<serde_json::Value, Failure> {
    let client = hub::client_from_config(cfg).map_err(Failure::failed)?;
    let listing = hub::list_users(&client).await.map_err(Failure::failed)?;
    let now = Utc::now();
    let sample = sample_from_users(&listing.users, now);
    let store = ActivityStore::for_config(cfg);
    let users = listing.users;
    let stored: Result<Sample, crate::activity::StoreError> =
        tokio::task::spawn_blocking(move || {
            let mut tracker = LastSeenTracker::from_history(&store.load_last_seen()?);
            store.append_sample(&sample)?;
            store.append_last_seen(&tracker.changes(&users))?;
            store.compact_if_due(now)?;
            Ok(sample)
        })
        .await
        .map_err(Failure::failed)?;
    let sample = stored.map_err(Failure::failed)?;
    serde_json::to_value(sample).map_err(Failure::failed)
}

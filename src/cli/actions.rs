//! Headless one-shot actions the console also offers, for scripts and cron:
//! start or stop a student's server, drain or activate a Swarm node. They
//! never prompt; the console asks before the destructive ones.

use std::time::{Duration, Instant};

use clap::Subcommand;
use serde::Serialize;

use super::{CmdResult, Failure, Out};
use crate::config::Config;
use crate::exit::ExitCode;
use crate::hub::{self, HubUser, ServerState};
use crate::swarm::{self, NodeAvailability, SwarmClient};

#[derive(Debug, Subcommand)]
pub enum ServerCmd {
    /// Start USER's default server (POST /hub/api/users/USER/server).
    Start {
        user: String,
        /// Wait until it is ready (at most [hub] start-timeout).
        #[arg(long)]
        wait: bool,
    },
    /// Stop USER's default server (DELETE /hub/api/users/USER/server).
    Stop {
        user: String,
        /// Wait until it has stopped (at most [hub] start-timeout).
        #[arg(long)]
        wait: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum NodeCmd {
    /// Move every task off NODE (docker node update --availability drain).
    Drain { node: String },
    /// Let NODE take tasks again (docker node update --availability active).
    Activate { node: String },
}

#[derive(Serialize)]
struct ServerReport<'a> {
    ok: bool,
    user: &'a str,
    action: &'a str,
    state: &'static str,
}

async fn server_state(client: &hub::HubClient, user: &str) -> Result<ServerState, Failure> {
    let u: HubUser = client
        .get_json(&format!("users/{user}"))
        .await
        .map_err(|e| Failure::failed(anyhow::anyhow!("{e}")))?;
    Ok(u.server_state())
}

pub async fn server(cfg: &Config, out: Out, cmd: &ServerCmd) -> CmdResult {
    let (user, start, wait) = match cmd {
        ServerCmd::Start { user, wait } => (user, true, *wait),
        ServerCmd::Stop { user, wait } => (user, false, *wait),
    };
    crate::names::check_component(user)
        .map_err(|m| Failure::usage(anyhow::anyhow!("user name {m}")))?;
    let client = hub::client_from_config(cfg).map_err(Failure::failed)?;
    let sent = if start {
        hub::start_server(&client, user).await
    } else {
        hub::stop_server(&client, user).await
    };
    // Starting a running server answers 400: the wanted state holds, fine.
    // (Stopping a stopped one already answers 204.)
    match sent {
        Ok(()) => {}
        Err(hub::HubError::Status { status: 400, .. }) if start => {}
        Err(e) => return Err(Failure::failed(anyhow::anyhow!("{e}"))),
    }
    let wanted = |s: ServerState| {
        if start {
            s == ServerState::Ready
        } else {
            s == ServerState::Stopped
        }
    };
    let mut state = server_state(&client, user).await?;
    if wait {
        let t0 = Instant::now();
        while !wanted(state) && t0.elapsed() < cfg.hub.start_timeout {
            tokio::time::sleep(Duration::from_millis(500)).await;
            state = server_state(&client, user).await?;
        }
    }
    let ok = !wait || wanted(state);
    let action = if start { "start" } else { "stop" };
    if out.json {
        out.json(&ServerReport {
            ok,
            user,
            action,
            state: state.word(),
        });
    } else {
        println!("{user}: {action} asked; server {}", state.word());
    }
    if !ok {
        eprintln!(
            "coursectl: {user}'s server is {} after {}s",
            state.word(),
            cfg.hub.start_timeout.as_secs()
        );
    }
    Ok(if ok { ExitCode::Ok } else { ExitCode::Failed })
}

#[derive(Serialize)]
struct NodeReport<'a> {
    ok: bool,
    node: &'a str,
    availability: &'static str,
    /// Students whose servers run there (they move when it is drained).
    students: Vec<String>,
    equivalent: String,
}

pub async fn node(cfg: &Config, out: Out, cmd: &NodeCmd) -> CmdResult {
    let (node, availability) = match cmd {
        NodeCmd::Drain { node } => (node, NodeAvailability::Drain),
        NodeCmd::Activate { node } => (node, NodeAvailability::Active),
    };
    let client = SwarmClient::connect(&cfg.docker)
        .await
        .map_err(|e| Failure::failed(anyhow::anyhow!("{e}")))?;
    let placement = client
        .placement()
        .await
        .map_err(|e| Failure::failed(anyhow::anyhow!("{e}")))?;
    let Some(info) = placement
        .nodes
        .iter()
        .find(|n| n.hostname == *node || n.id == *node)
    else {
        let known: Vec<&str> = placement
            .nodes
            .iter()
            .map(|n| n.hostname.as_str())
            .collect();
        return Err(Failure::usage(anyhow::anyhow!(
            "no Swarm node `{node}`: the nodes are {}",
            known.join(", ")
        )));
    };
    let students: Vec<String> = placement
        .containers
        .iter()
        .filter(|c| c.running && c.node_id.as_deref() == Some(info.id.as_str()))
        .map(|c| c.user.clone())
        .collect();
    client
        .set_availability(&info.id, availability)
        .await
        .map_err(|e| Failure::failed(anyhow::anyhow!("{e}")))?;
    let report = NodeReport {
        ok: true,
        node: &info.hostname,
        availability: availability.word(),
        equivalent: swarm::availability_command(&info.hostname, availability),
        students,
    };
    if out.json {
        out.json(&report);
    } else {
        println!("{}: {}", report.node, report.availability);
        if availability == NodeAvailability::Drain && !report.students.is_empty() {
            println!("moving: {}", report.students.join(" "));
        }
    }
    Ok(ExitCode::Ok)
}

//! Docker / Swarm client (bollard): nodes, students' services, tasks and
//! containers, container stats, and node drain/activate. Plain async Rust,
//! shared by the console's pollers and the headless `nodes`/`users`.
//!
//! Service specs hold each server's `JUPYTERHUB_API_TOKEN`: they are read
//! only to find the student's name and never stored, logged or printed.

mod crosscheck;
mod model;

pub use crosscheck::*;
pub use model::*;

use std::collections::HashMap;
use std::path::Path;

use bollard::models::{NodeSpecAvailabilityEnum, SwarmInfo};
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListTasksOptionsBuilder, StatsOptionsBuilder,
    UpdateNodeOptionsBuilder,
};
use bollard::Docker;
use futures::StreamExt;
use serde::Serialize;

use crate::config::DockerConfig;

#[derive(Debug, thiserror::Error)]
pub enum SwarmError {
    #[error("Docker socket {path} does not exist: is dockerd running there? (set [docker] host to the engine's socket or tcp:// address)")]
    SocketMissing { path: String },
    #[error("Docker engine {host} unreachable: {reason} (is dockerd running? check [docker] host and, for tcp, tls-ca/tls-cert/tls-key)")]
    Unreachable { host: String, reason: String },
    #[error("Docker engine {host}: {what} failed: {reason}")]
    Api {
        host: String,
        what: String,
        reason: String,
    },
    #[error("Docker engine {host} is not a Swarm manager: node {node} cannot be updated there (point [docker] host at a manager)")]
    NotManager { host: String, node: String },
}

/// A connected engine plus how to recognise students' servers.
#[derive(Clone)]
pub struct SwarmClient {
    docker: Docker,
    host: String,
    pub matcher: UserMatcher,
}

impl std::fmt::Debug for SwarmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SwarmClient")
            .field("host", &self.host)
            .finish()
    }
}

/// One container's resource use, from the stats API.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ContainerStats {
    pub cpu_percent: f64,
    pub memory_bytes: u64,
    pub memory_limit_bytes: u64,
}

fn short(e: &bollard::errors::Error) -> String {
    use std::error::Error;
    let mut cause: &dyn Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let s = cause.to_string();
    if s.is_empty() {
        e.to_string()
    } else {
        s
    }
}

impl SwarmClient {
    /// Connects to `[docker] host` (unix socket, or tcp with optional TLS) and
    /// negotiates the API version (the engine may be older than bollard's default).
    pub async fn connect(cfg: &DockerConfig) -> Result<Self, SwarmError> {
        let host = cfg.host.clone();
        let timeout = cfg.timeout.as_secs().max(1);
        let v = bollard::API_DEFAULT_VERSION;
        let unreachable = |e: bollard::errors::Error| SwarmError::Unreachable {
            host: host.clone(),
            reason: short(&e),
        };
        let docker = if let Some(path) = host.strip_prefix("unix://") {
            if !Path::new(path).exists() {
                return Err(SwarmError::SocketMissing { path: path.into() });
            }
            Docker::connect_with_unix(path, timeout, v).map_err(unreachable)?
        } else if let (Some(ca), Some(cert), Some(key)) = (&cfg.tls_ca, &cfg.tls_cert, &cfg.tls_key)
        {
            Docker::connect_with_ssl(&host, key, cert, ca, timeout, v).map_err(unreachable)?
        } else {
            Docker::connect_with_http(&host, timeout, v).map_err(unreachable)?
        };
        let docker = docker.negotiate_version().await.map_err(unreachable)?;
        Ok(Self {
            docker,
            host,
            matcher: UserMatcher::new(&cfg.user_label, &cfg.name_template),
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    fn api(&self, what: &str, e: bollard::errors::Error) -> SwarmError {
        let reason = short(&e);
        if matches!(e, bollard::errors::Error::HyperResponseError { .. })
            || reason.contains("onnection refused")
            || reason.contains("No such file")
        {
            return SwarmError::Unreachable {
                host: self.host.clone(),
                reason,
            };
        }
        SwarmError::Api {
            host: self.host.clone(),
            what: what.into(),
            reason,
        }
    }

    /// Nodes and students' servers: from the Swarm when the engine is a
    /// manager, else from the engine's own containers.
    pub async fn placement(&self) -> Result<Placement, SwarmError> {
        let info = self
            .docker
            .info()
            .await
            .map_err(|e| self.api("GET /info", e))?;
        let swarm: Option<&SwarmInfo> = info.swarm.as_ref();
        let active = swarm
            .and_then(|s| s.local_node_state)
            .map(|s| s.to_string() == "active")
            .unwrap_or(false);
        let manager = swarm.and_then(|s| s.control_available).unwrap_or(false);
        if active && manager {
            let local = swarm.and_then(|s| s.node_id.clone());
            let mut filters = HashMap::new();
            filters.insert("desired-state", vec!["running"]);
            let topts = ListTasksOptionsBuilder::default().filters(&filters).build();
            let (nodes, services, tasks) = tokio::try_join!(
                async {
                    self.docker
                        .list_nodes(None)
                        .await
                        .map_err(|e| self.api("GET /nodes", e))
                },
                async {
                    self.docker
                        .list_services(None)
                        .await
                        .map_err(|e| self.api("GET /services", e))
                },
                async {
                    self.docker
                        .list_tasks(Some(topts))
                        .await
                        .map_err(|e| self.api("GET /tasks", e))
                },
            )?;
            return Ok(placement_from_swarm(
                &nodes,
                &services,
                &tasks,
                local,
                &self.matcher,
            ));
        }
        let mut notes = Vec::new();
        if active {
            notes.push(format!(
                "{} is a Swarm worker: only its own containers are shown (point [docker] host at a manager to see every node)",
                self.host
            ));
        }
        let list = self
            .docker
            .list_containers(Some(
                ListContainersOptionsBuilder::default().all(true).build(),
            ))
            .await
            .map_err(|e| self.api("GET /containers/json", e))?;
        let facts = EngineFacts {
            name: info.name.clone().unwrap_or_else(|| "engine".into()),
            cpus: info.ncpu.unwrap_or(0),
            memory_bytes: info.mem_total.unwrap_or(0),
        };
        Ok(placement_from_containers(
            &facts,
            &list,
            &self.matcher,
            notes,
        ))
    }

    /// One stats reading of a container (the engine waits one cycle to give
    /// a CPU delta, about a second).
    pub async fn stats(&self, container_id: &str) -> Result<ContainerStats, SwarmError> {
        let opts = StatsOptionsBuilder::default()
            .stream(false)
            .one_shot(false)
            .build();
        let mut s = self.docker.stats(container_id, Some(opts));
        match s.next().await {
            Some(Ok(r)) => Ok(stats_from(&r)),
            Some(Err(e)) => Err(self.api(&format!("stats of {container_id}"), e)),
            None => Err(SwarmError::Api {
                host: self.host.clone(),
                what: format!("stats of {container_id}"),
                reason: "no answer".into(),
            }),
        }
    }

    /// `docker node update --availability drain|active NODE`.
    pub async fn set_availability(
        &self,
        node: &str,
        availability: NodeAvailability,
    ) -> Result<(), SwarmError> {
        let n = self.docker.inspect_node(node).await.map_err(|e| {
            let r = short(&e);
            if r.contains("not a swarm manager") || r.contains("This node is not") {
                SwarmError::NotManager {
                    host: self.host.clone(),
                    node: node.into(),
                }
            } else {
                self.api(&format!("GET /nodes/{node}"), e)
            }
        })?;
        let mut spec = n.spec.unwrap_or_default();
        spec.availability = Some(match availability {
            NodeAvailability::Active => NodeSpecAvailabilityEnum::ACTIVE,
            NodeAvailability::Drain => NodeSpecAvailabilityEnum::DRAIN,
            NodeAvailability::Pause => NodeSpecAvailabilityEnum::PAUSE,
        });
        let version = n.version.and_then(|v| v.index).unwrap_or(0) as i64;
        let opts = UpdateNodeOptionsBuilder::default().version(version).build();
        self.docker
            .update_node(node, spec, opts)
            .await
            .map_err(|e| self.api(&format!("POST /nodes/{node}/update"), e))
    }
}

/// The command an operator would type for the same change.
pub fn availability_command(hostname: &str, a: NodeAvailability) -> String {
    format!("docker node update --availability {} {hostname}", a.word())
}

/// CPU% and memory (without page cache) as `docker stats` computes them.
pub fn stats_from(r: &bollard::models::ContainerStatsResponse) -> ContainerStats {
    let cpu = r.cpu_stats.as_ref();
    let pre = r.precpu_stats.as_ref();
    let total = |c: Option<&bollard::models::ContainerCpuStats>| {
        c.and_then(|c| c.cpu_usage.as_ref())
            .and_then(|u| u.total_usage)
            .unwrap_or(0)
    };
    let system = |c: Option<&bollard::models::ContainerCpuStats>| {
        c.and_then(|c| c.system_cpu_usage).unwrap_or(0)
    };
    let cpu_delta = total(cpu).saturating_sub(total(pre)) as f64;
    let sys_delta = system(cpu).saturating_sub(system(pre)) as f64;
    let ncpu = cpu
        .and_then(|c| c.online_cpus)
        .filter(|n| *n > 0)
        .unwrap_or(1) as f64;
    let cpu_percent = if sys_delta > 0.0 {
        cpu_delta / sys_delta * ncpu * 100.0
    } else {
        0.0
    };
    let mem = r.memory_stats.as_ref();
    let usage = mem.and_then(|m| m.usage).unwrap_or(0);
    let cache = mem
        .and_then(|m| m.stats.as_ref())
        .and_then(|s| {
            s.get("inactive_file")
                .or_else(|| s.get("total_inactive_file"))
        })
        .copied()
        .unwrap_or(0);
    ContainerStats {
        cpu_percent,
        memory_bytes: usage.saturating_sub(cache),
        memory_limit_bytes: mem.and_then(|m| m.limit).unwrap_or(0),
    }
}

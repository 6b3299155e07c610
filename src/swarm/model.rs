//! Placement as coursectl sees it: nodes and the students' containers on
//! them, built by pure functions from the engine's answers (bollard models),
//! so the same code serves the console, `coursectl nodes` and the tests.

use std::collections::HashMap;

use bollard::models::{
    ContainerSummary, ContainerSummaryStateEnum, Node, NodeSpecAvailabilityEnum, NodeSpecRoleEnum,
    NodeState, Service, Task, TaskState,
};
use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;

/// Whether the engine is a Swarm manager or a plain engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EngineMode {
    /// Nodes, services and tasks come from the Swarm manager.
    Swarm,
    /// One engine: its containers (DockerSpawner), shown as one node.
    Engine,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeAvailability {
    Active,
    Pause,
    Drain,
}

impl NodeAvailability {
    pub fn word(self) -> &'static str {
        match self {
            NodeAvailability::Active => "active",
            NodeAvailability::Pause => "pause",
            NodeAvailability::Drain => "drain",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeHealth {
    Ready,
    Down,
    Disconnected,
    Unknown,
}

impl NodeHealth {
    pub fn word(self) -> &'static str {
        match self {
            NodeHealth::Ready => "ready",
            NodeHealth::Down => "down",
            NodeHealth::Disconnected => "disconnected",
            NodeHealth::Unknown => "unknown",
        }
    }
}

/// One node (a plain engine is one pseudo-node).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeInfo {
    pub id: String,
    pub hostname: String,
    /// "manager" or "worker" ("engine" for a plain engine).
    pub role: String,
    pub leader: bool,
    pub state: NodeHealth,
    pub availability: NodeAvailability,
    pub addr: Option<String>,
    /// Capacity in CPUs and bytes.
    pub cpus: f64,
    pub memory_bytes: i64,
    /// Reserved by running tasks.
    pub reserved_cpus: f64,
    pub reserved_memory_bytes: i64,
    /// Running (or starting) tasks of every service on the node.
    pub tasks: usize,
    /// Of which students' servers.
    pub students: usize,
    /// The Swarm object version (needed to update the node).
    #[serde(skip)]
    pub version: Option<u64>,
}

/// One student's server container (or Swarm task).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StudentContainer {
    pub user: String,
    /// Service or container name.
    pub name: String,
    /// Node id (Swarm) or the engine's pseudo-node id.
    pub node_id: Option<String>,
    pub node: Option<String>,
    /// Task or container state ("running", "pending", "exited", ...).
    pub state: String,
    pub running: bool,
    /// When it entered its current state (task) or started (container).
    pub since: Option<DateTime<Utc>>,
    /// Container id, when known (for stats).
    pub container_id: Option<String>,
    /// The configured engine can reach this container (stats available).
    pub local: bool,
}

/// What the engine showed at one refresh.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Placement {
    pub mode: EngineMode,
    /// The configured engine's node id (Swarm) or name.
    pub local_node: Option<String>,
    pub nodes: Vec<NodeInfo>,
    /// Sorted by user.
    pub containers: Vec<StudentContainer>,
    /// Why the view is limited, e.g. a Swarm worker was configured.
    pub notes: Vec<String>,
}

impl Placement {
    pub fn node_by_id(&self, id: &str) -> Option<&NodeInfo> {
        self.nodes.iter().find(|n| n.id == id)
    }
    /// Students' containers on `node_id`.
    pub fn containers_on<'a>(
        &'a self,
        node_id: &'a str,
    ) -> impl Iterator<Item = &'a StudentContainer> + 'a {
        self.containers
            .iter()
            .filter(move |c| c.node_id.as_deref() == Some(node_id))
    }
    /// user -> node hostname, for joining with hub users.
    pub fn node_of_users(&self) -> HashMap<&str, &str> {
        self.containers
            .iter()
            .filter_map(|c| Some((c.user.as_str(), c.node.as_deref()?)))
            .collect()
    }
}

/// Recognises students' services/containers: by label, else by name template,
/// else (Swarm services of dockerspawner 14, which sets no label) by the
/// `JUPYTERHUB_USER` variable of the spec — only that one variable is read.
#[derive(Debug, Clone)]
pub struct UserMatcher {
    pub label: String,
    prefix: String,
    suffix: String,
}

impl UserMatcher {
    pub fn new(label: &str, name_template: &str) -> Self {
        let (prefix, suffix) = name_template
            .split_once("{username}")
            .unwrap_or((name_template, ""));
        Self {
            label: label.to_string(),
            prefix: prefix.to_string(),
            suffix: suffix.to_string(),
        }
    }

    /// The user a name made from the template stands for.
    pub fn user_from_name(&self, name: &str) -> Option<String> {
        let name = name.trim_start_matches('/');
        let rest = name.strip_prefix(&self.prefix)?;
        let user = rest.strip_suffix(&self.suffix)?;
        (!user.is_empty()).then(|| user.to_string())
    }

    /// The name of `user`'s service/container.
    pub fn name_of(&self, user: &str) -> String {
        format!("{}{}{}", self.prefix, user, self.suffix)
    }

    fn label_in(&self, labels: Option<&HashMap<String, String>>) -> Option<String> {
        labels?.get(&self.label).filter(|v| !v.is_empty()).cloned()
    }

    fn env_user(env: Option<&Vec<String>>) -> Option<String> {
        env?.iter()
            .find_map(|e| e.strip_prefix("JUPYTERHUB_USER="))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    pub fn user_of_service(&self, s: &Service) -> Option<String> {
        let spec = s.spec.as_ref()?;
        let cs = spec
            .task_template
            .as_ref()
            .and_then(|t| t.container_spec.as_ref());
        self.label_in(spec.labels.as_ref())
            .or_else(|| self.label_in(cs.and_then(|c| c.labels.as_ref())))
            .or_else(|| spec.name.as_deref().and_then(|n| self.user_from_name(n)))
            .or_else(|| Self::env_user(cs.and_then(|c| c.env.as_ref())))
    }

    pub fn user_of_container(&self, c: &ContainerSummary) -> Option<String> {
        self.label_in(c.labels.as_ref()).or_else(|| {
            c.names
                .as_ref()?
                .iter()
                .find_map(|n| self.user_from_name(n))
        })
    }
}

fn parse_time(s: Option<&String>) -> Option<DateTime<Utc>> {
    let s = s?;
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .filter(|t| t.timestamp() > 0)
}

fn availability(n: &Node) -> NodeAvailability {
    match n.spec.as_ref().and_then(|s| s.availability) {
        Some(NodeSpecAvailabilityEnum::DRAIN) => NodeAvailability::Drain,
        Some(NodeSpecAvailabilityEnum::PAUSE) => NodeAvailability::Pause,
        _ => NodeAvailability::Active,
    }
}

fn health(n: &Node) -> NodeHealth {
    match n.status.as_ref().and_then(|s| s.state) {
        Some(NodeState::READY) => NodeHealth::Ready,
        Some(NodeState::DOWN) => NodeHealth::Down,
        Some(NodeState::DISCONNECTED) => NodeHealth::Disconnected,
        _ => NodeHealth::Unknown,
    }
}

/// States in which a task holds (or is about to hold) a container.
fn task_is_live(state: Option<TaskState>) -> bool {
    matches!(
        state,
        Some(
            TaskState::NEW
                | TaskState::ALLOCATED
                | TaskState::PENDING
                | TaskState::ASSIGNED
                | TaskState::ACCEPTED
                | TaskState::PREPARING
                | TaskState::READY
                | TaskState::STARTING
                | TaskState::RUNNING
        )
    )
}

fn task_rank(state: Option<TaskState>) -> u8 {
    match state {
        Some(TaskState::RUNNING) => 3,
        s if task_is_live(s) => 2,
        _ => 1,
    }
}

/// Builds the placement from a Swarm manager's nodes, services and tasks
/// (tasks already filtered to desired-state running by the caller, or not).
pub fn placement_from_swarm(
    nodes: &[Node],
    services: &[Service],
    tasks: &[Task],
    local_node: Option<String>,
    m: &UserMatcher,
) -> Placement {
    let mut infos: Vec<NodeInfo> = nodes
        .iter()
        .map(|n| {
            let d = n.description.as_ref();
            let res = d.and_then(|d| d.resources.as_ref());
            NodeInfo {
                id: n.id.clone().unwrap_or_default(),
                hostname: d
                    .and_then(|d| d.hostname.clone())
                    .unwrap_or_else(|| "?".into()),
                role: match n.spec.as_ref().and_then(|s| s.role) {
                    Some(NodeSpecRoleEnum::MANAGER) => "manager".into(),
                    _ => "worker".into(),
                },
                leader: n
                    .manager_status
                    .as_ref()
                    .and_then(|m| m.leader)
                    .unwrap_or(false),
                state: health(n),
                availability: availability(n),
                addr: n.status.as_ref().and_then(|s| s.addr.clone()),
                cpus: res.and_then(|r| r.nano_cpus).unwrap_or(0) as f64 / 1e9,
                memory_bytes: res.and_then(|r| r.memory_bytes).unwrap_or(0),
                reserved_cpus: 0.0,
                reserved_memory_bytes: 0,
                tasks: 0,
                students: 0,
                version: n.version.as_ref().and_then(|v| v.index),
            }
        })
        .collect();
    infos.sort_by(|a, b| a.hostname.cmp(&b.hostname));
    let ids: Vec<String> = infos.iter().map(|n| n.id.clone()).collect();
    let index: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let hostnames: Vec<String> = infos.iter().map(|n| n.hostname.clone()).collect();

    let students: HashMap<&str, (String, String)> = services
        .iter()
        .filter_map(|s| {
            let user = m.user_of_service(s)?;
            let name = s.spec.as_ref()?.name.clone().unwrap_or_default();
            Some((s.id.as_deref()?, (user, name)))
        })
        .collect();

    // Per node: reservations and counts over live tasks of every service.
    // Per student service: the best task (running > starting > ended, newest).
    let mut best: HashMap<&str, &Task> = HashMap::new();
    for t in tasks {
        let state = t.status.as_ref().and_then(|s| s.state);
        let desired_live = t
            .desired_state
            .map(|d| task_is_live(Some(d)))
            .unwrap_or(true);
        if task_is_live(state) && desired_live {
            if let Some(&i) = t.node_id.as_deref().and_then(|id| index.get(id)) {
                let n = &mut infos[i];
                n.tasks += 1;
                if let Some(r) = t
                    .spec
                    .as_ref()
                    .and_then(|s| s.resources.as_ref())
                    .and_then(|r| r.reservations.as_ref())
                {
                    n.reserved_cpus += r.nano_cpus.unwrap_or(0) as f64 / 1e9;
                    n.reserved_memory_bytes += r.memory_bytes.unwrap_or(0);
                }
            }
        }
        let Some(sid) = t.service_id.as_deref() else {
            continue;
        };
        if !students.contains_key(sid) {
            continue;
        }
        let key = |t: &Task| {
            let st = t.status.as_ref().and_then(|s| s.state);
            let live = t
                .desired_state
                .map(|d| task_is_live(Some(d)))
                .unwrap_or(true);
            (
                live as u8,
                task_rank(st),
                t.updated_at.clone().unwrap_or_default(),
            )
        };
        match best.get(sid) {
            Some(b) if key(b) >= key(t) => {}
            _ => {
                best.insert(sid, t);
            }
        }
    }

    let mut containers: Vec<StudentContainer> = students
        .iter()
        .map(|(sid, (user, name))| {
            let t = best.get(sid);
            let status = t.and_then(|t| t.status.as_ref());
            let state = status.and_then(|s| s.state);
            let node_id = t.and_then(|t| t.node_id.clone()).filter(|s| !s.is_empty());
            let node = node_id
                .as_deref()
                .and_then(|id| index.get(id))
                .map(|&i| hostnames[i].clone());
            let live = t
                .map(|t| {
                    t.desired_state
                        .map(|d| task_is_live(Some(d)))
                        .unwrap_or(true)
                })
                .unwrap_or(false);
            StudentContainer {
                user: user.clone(),
                name: name.clone(),
                local: node_id.is_some() && node_id == local_node,
                node_id,
                node,
                state: match state {
                    Some(s) => s.to_string(),
                    None => "no task".into(),
                },
                running: live && state == Some(TaskState::RUNNING),
                since: status.and_then(|s| parse_time(s.timestamp.as_ref())),
                container_id: status
                    .and_then(|s| s.container_status.as_ref())
                    .and_then(|c| c.container_id.clone())
                    .filter(|c| !c.is_empty()),
            }
        })
        .collect();
    containers.sort_by(|a, b| a.user.cmp(&b.user).then(a.name.cmp(&b.name)));
    for c in &containers {
        if let Some(&i) = c.node_id.as_deref().and_then(|id| index.get(id)) {
            if c.running || c.state != "no task" {
                infos[i].students += 1;
            }
        }
    }
    Placement {
        mode: EngineMode::Swarm,
        local_node,
        nodes: infos,
        containers,
        notes: vec![
            "CPU and memory are sampled only for containers on the configured engine's node; other nodes' containers are reachable only through their own engine".into(),
        ],
    }
}

/// Engine facts for the plain-engine pseudo-node.
#[derive(Debug, Clone, Default)]
pub struct EngineFacts {
    pub name: String,
    pub cpus: i64,
    pub memory_bytes: i64,
}

/// Builds the placement for a plain engine (DockerSpawner containers).
pub fn placement_from_containers(
    engine: &EngineFacts,
    list: &[ContainerSummary],
    m: &UserMatcher,
    notes: Vec<String>,
) -> Placement {
    let node_id = engine.name.clone();
    let mut containers: Vec<StudentContainer> = list
        .iter()
        .filter_map(|c| {
            let user = m.user_of_container(c)?;
            let name = c
                .names
                .as_ref()
                .and_then(|n| n.first())
                .map(|n| n.trim_start_matches('/').to_string())
                .unwrap_or_default();
            let state = c.state.map(|s| s.to_string()).unwrap_or_default();
            Some(StudentContainer {
                user,
                name,
                node_id: Some(node_id.clone()),
                node: Some(engine.name.clone()),
                running: c.state == Some(ContainerSummaryStateEnum::RUNNING),
                state,
                since: c.created.and_then(|s| Utc.timestamp_opt(s, 0).single()),
                container_id: c.id.clone(),
                local: true,
            })
        })
        .collect();
    containers.sort_by(|a, b| a.user.cmp(&b.user).then(a.name.cmp(&b.name)));
    let running = list
        .iter()
        .filter(|c| c.state == Some(ContainerSummaryStateEnum::RUNNING))
        .count();
    let node = NodeInfo {
        id: node_id.clone(),
        hostname: engine.name.clone(),
        role: "engine".into(),
        leader: false,
        state: NodeHealth::Ready,
        availability: NodeAvailability::Active,
        addr: None,
        cpus: engine.cpus as f64,
        memory_bytes: engine.memory_bytes,
        reserved_cpus: 0.0,
        reserved_memory_bytes: 0,
        tasks: running,
        students: containers.len(),
        version: None,
    };
    Placement {
        mode: EngineMode::Engine,
        local_node: Some(node_id),
        nodes: vec![node],
        containers,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matcher_reads_template() {
        let m = UserMatcher::new("org.jupyterhub.user", "jupyter-{username}");
        assert_eq!(m.user_from_name("/jupyter-alice").as_deref(), Some("alice"));
        assert_eq!(m.user_from_name("jupyter-"), None);
        assert_eq!(m.user_from_name("other"), None);
        assert_eq!(m.name_of("bob"), "jupyter-bob");
        let m = UserMatcher::new("l", "nb-{username}-srv");
        assert_eq!(m.user_from_name("nb-x-srv").as_deref(), Some("x"));
    }

    #[test]
    fn service_user_from_env_when_no_label_or_name() {
        let m = UserMatcher::new("org.jupyterhub.user", "jupyter-{username}");
        let s: Service = serde_json::from_value(serde_json::json!({
            "ID": "s1",
            "Spec": {"Name": "custom", "TaskTemplate": {"ContainerSpec": {"Env": ["JUPYTERHUB_API_TOKEN=x", "JUPYTERHUB_USER=carol"]}}}
        }))
        .unwrap();
        assert_eq!(m.user_of_service(&s).as_deref(), Some("carol"));
    }

    #[test]
    fn swarm_placement_joins_tasks_to_nodes() {
        let nodes: Vec<Node> = serde_json::from_value(serde_json::json!([
            {"ID": "n1", "Version": {"Index": 9}, "Spec": {"Role": "manager", "Availability": "active"},
             "Description": {"Hostname": "vm", "Resources": {"NanoCPUs": 2000000000u64, "MemoryBytes": 1000}},
             "Status": {"State": "ready", "Addr": "10.0.0.1"}, "ManagerStatus": {"Leader": true}},
            {"ID": "n2", "Spec": {"Role": "worker", "Availability": "drain"},
             "Description": {"Hostname": "node2", "Resources": {"NanoCPUs": 1000000000u64, "MemoryBytes": 500}},
             "Status": {"State": "down"}}
        ]))
        .unwrap();
        let services: Vec<Service> = serde_json::from_value(serde_json::json!([
            {"ID": "s-a", "Spec": {"Name": "jupyter-alice"}},
            {"ID": "s-b", "Spec": {"Name": "jupyter-bob"}},
            {"ID": "s-x", "Spec": {"Name": "monitoring"}}
        ]))
        .unwrap();
        let tasks: Vec<Task> = serde_json::from_value(serde_json::json!([
            {"ID": "t1", "ServiceID": "s-a", "NodeID": "n1", "DesiredState": "running", "UpdatedAt": "2026-01-01T10:00:00Z",
             "Spec": {"Resources": {"Reservations": {"NanoCPUs": 500000000, "MemoryBytes": 100}}},
             "Status": {"State": "running", "Timestamp": "2026-01-01T10:00:00.5Z", "ContainerStatus": {"ContainerID": "c1"}}},
            {"ID": "t0", "ServiceID": "s-a", "NodeID": "n2", "DesiredState": "shutdown", "UpdatedAt": "2026-01-01T09:00:00Z",
             "Status": {"State": "shutdown"}},
            {"ID": "t2", "ServiceID": "s-b", "NodeID": "n1", "DesiredState": "running", "UpdatedAt": "2026-01-01T10:00:00Z",
             "Status": {"State": "preparing"}},
            {"ID": "t3", "ServiceID": "s-x", "NodeID": "n1", "DesiredState": "running",
             "Status": {"State": "running"}}
        ]))
        .unwrap();
        let m = UserMatcher::new("org.jupyterhub.user", "jupyter-{username}");
        let p = placement_from_swarm(&nodes, &services, &tasks, Some("n1".into()), &m);
        assert_eq!(p.nodes.len(), 2);
        let vm = &p.nodes[1];
        assert_eq!(vm.hostname, "vm");
        assert!(vm.leader);
        assert_eq!(vm.tasks, 3);
        assert_eq!(vm.students, 2);
        assert!((vm.reserved_cpus - 0.5).abs() < 1e-9);
        assert_eq!(p.nodes[0].state, NodeHealth::Down);
        assert_eq!(p.nodes[0].availability, NodeAvailability::Drain);
        let alice = &p.containers[0];
        assert_eq!(alice.user, "alice");
        assert_eq!(alice.node.as_deref(), Some("vm"));
        assert!(alice.running && alice.local);
        assert_eq!(alice.container_id.as_deref(), Some("c1"));
        assert_eq!(p.containers[1].state, "preparing");
        assert!(!p.containers[1].running);
    }
}

//! Cross-check of the hub, the engine and the proxy: orphans each side
//! holds that the others do not know. Pure over three snapshots.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::Placement;
use crate::hub::{HubUser, ServerState};
use crate::proxy::Route;

/// One inconsistency.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Orphan {
    /// The hub says the server is ready, but no running container/service holds it.
    ServerWithoutContainer {
        user: String,
        container_state: Option<String>,
    },
    /// A running container/service whose user has no active hub server.
    ContainerWithoutServer {
        user: String,
        name: String,
        node: Option<String>,
        known_user: bool,
    },
    /// A proxy route to a user's server the hub does not have.
    RouteWithoutServer { path: String, user: String },
}

impl Orphan {
    /// One line for the Overview and `status`.
    pub fn describe(&self) -> String {
        match self {
            Orphan::ServerWithoutContainer {
                user,
                container_state,
            } => match container_state {
                Some(s) => format!("hub server of {user}: its container is {s}, not running"),
                None => format!("hub server of {user}: no container or service"),
            },
            Orphan::ContainerWithoutServer {
                user,
                name,
                node,
                known_user,
            } => {
                let on = node.as_deref().unwrap_or("?");
                if *known_user {
                    format!("container {name} on {on}: {user} has no hub server")
                } else {
                    format!("container {name} on {on}: no hub user {user}")
                }
            }
            Orphan::RouteWithoutServer { path, user } => {
                format!("proxy route {path}: {user} has no hub server")
            }
        }
    }
}

/// The user a proxy route belongs to: its `user` field, else `/user/<name>/...`.
fn route_user(path: &str, r: &Route) -> Option<String> {
    if let Some(u) = &r.user {
        return Some(u.clone());
    }
    let rest = path.trim_start_matches('/');
    let rest = rest.split_once("user/").map(|(_, r)| r)?;
    let name = rest.split('/').next()?;
    (!name.is_empty()).then(|| name.to_string())
}

/// Orphans in three snapshots, sorted.
pub fn cross_check(
    users: &[HubUser],
    placement: &Placement,
    routes: &BTreeMap<String, Route>,
) -> Vec<Orphan> {
    let by_name: HashMap<&str, &HubUser> = users.iter().map(|u| (u.name.as_str(), u)).collect();
    let mut containers: HashMap<&str, Vec<&super::StudentContainer>> = HashMap::new();
    for c in &placement.containers {
        containers.entry(c.user.as_str()).or_default().push(c);
    }
    let mut out = Vec::new();
    for u in users {
        if u.server_state() != ServerState::Ready {
            continue;
        }
        let cs = containers.get(u.name.as_str());
        if cs.is_some_and(|cs| cs.iter().any(|c| c.running)) {
            continue;
        }
        out.push(Orphan::ServerWithoutContainer {
            user: u.name.clone(),
            container_state: cs.and_then(|cs| cs.first()).map(|c| c.state.clone()),
        });
    }
    for c in placement.containers.iter().filter(|c| c.running) {
        let hub = by_name.get(c.user.as_str());
        let active = hub.is_some_and(|u| u.server_state().is_active());
        if !active {
            out.push(Orphan::ContainerWithoutServer {
                user: c.user.clone(),
                name: c.name.clone(),
                node: c.node.clone(),
                known_user: hub.is_some(),
            });
        }
    }
    for (path, r) in routes {
        let Some(user) = route_user(path, r) else {
            continue;
        };
        let server = r.server_name.clone().unwrap_or_default();
        let has = by_name.get(user.as_str()).is_some_and(|u| {
            if server.is_empty() {
                u.server_state().is_active()
            } else {
                u.servers.contains_key(&server)
            }
        });
        if !has {
            out.push(Orphan::RouteWithoutServer {
                path: path.clone(),
                user,
            });
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swarm::{EngineMode, StudentContainer};

    fn user(name: &str, ready: bool) -> HubUser {
        let servers = if ready {
            serde_json::json!({"": {"name": "", "ready": true}})
        } else {
            serde_json::json!({})
        };
        serde_json::from_value(serde_json::json!({"name": name, "servers": servers})).unwrap()
    }

    fn container(user: &str, running: bool) -> StudentContainer {
        StudentContainer {
            user: user.into(),
            name: format!("jupyter-{user}"),
            node_id: Some("n1".into()),
            node: Some("node1".into()),
            state: if running { "running" } else { "failed" }.into(),
            running,
            since: None,
            container_id: None,
            local: false,
        }
    }

    fn route(user: Option<&str>) -> Route {
        Route {
            target: "http://10.0.0.2:9000".into(),
            user: user.map(str::to_string),
            server_name: None,
            last_activity: None,
        }
    }

    #[test]
    fn consistent_snapshots_have_no_orphans() {
        let users = vec![user("a", true), user("b", false)];
        let p = Placement {
            mode: EngineMode::Swarm,
            local_node: None,
            nodes: vec![],
            containers: vec![container("a", true)],
            notes: vec![],
        };
        let mut routes = BTreeMap::new();
        routes.insert("/".to_string(), route(None));
        routes.insert("/user/a/".to_string(), route(Some("a")));
        assert!(cross_check(&users, &p, &routes).is_empty());
    }

    #[test]
    fn flags_each_kind_of_orphan() {
        let users = vec![user("a", true), user("b", false), user("c", true)];
        let p = Placement {
            mode: EngineMode::Swarm,
            local_node: None,
            nodes: vec![],
            containers: vec![
                container("b", true),
                container("c", false),
                container("ghost", true),
            ],
            notes: vec![],
        };
        let mut routes = BTreeMap::new();
        routes.insert("/user/b/".to_string(), route(None));
        let found = cross_check(&users, &p, &routes);
        assert_eq!(
            found,
            vec![
                Orphan::ServerWithoutContainer {
                    user: "a".into(),
                    container_state: None
                },
                Orphan::ServerWithoutContainer {
                    user: "c".into(),
                    container_state: Some("failed".into())
                },
                Orphan::ContainerWithoutServer {
                    user: "b".into(),
                    name: "jupyter-b".into(),
                    node: Some("node1".into()),
                    known_user: true
                },
                Orphan::ContainerWithoutServer {
                    user: "ghost".into(),
                    name: "jupyter-ghost".into(),
                    node: Some("node1".into()),
                    known_user: false
                },
                Orphan::RouteWithoutServer {
                    path: "/user/b/".into(),
                    user: "b".into()
                },
            ]
        );
        assert!(found[3].describe().contains("no hub user ghost"));
    }

    #[test]
    fn pending_spawn_is_not_an_orphan() {
        let u: HubUser = serde_json::from_value(
            serde_json::json!({"name": "p", "servers": {"": {"pending": "spawn"}}}),
        )
        .unwrap();
        let p = Placement {
            mode: EngineMode::Engine,
            local_node: None,
            nodes: vec![],
            containers: vec![],
            notes: vec![],
        };
        assert!(cross_check(&[u], &p, &BTreeMap::new()).is_empty());
    }
}

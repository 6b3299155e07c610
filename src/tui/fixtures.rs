//! Fixed fake data for the snapshot tests and the benchmark: wire JSON as
//! the hub and the Docker engine send it, and an `App` fed with it through
//! the same messages the pollers send. Deterministic (no randomness, fixed clock).

use std::collections::BTreeMap;

use bollard::models::{Node, Service, Task};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Value};

use super::app::{App, LogKind, LogTail, Msg};
use super::panels::assignments::{AssignMsg, StatusData};
use crate::activity::Sample;
use crate::course::status::{AssignmentRow, StudentRow};
use crate::course::{Item, ItemKind, OpReport, Operation, StudentReport};
use crate::hub::{HubUser, UserListing};
use crate::proxy::Route;
use crate::swarm::{placement_from_swarm, ContainerStats, Placement, UserMatcher};

/// The fixed clock of the fixtures: 2026-03-02 14:30:00 UTC.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 14, 30, 0)
        .single()
        .unwrap_or_default()
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

pub fn user_name(i: usize) -> String {
    format!("student{i:04}")
}

/// User `i` of `n`: about a third running, a few pending, the rest stopped.
pub fn user_json(i: usize, now: DateTime<Utc>) -> Value {
    let name = user_name(i);
    let last = now - Duration::seconds(((i * 397) % 20_000) as i64);
    let started = now - Duration::seconds(3600 + ((i * 131) % 30_000) as i64);
    let state = i % 10;
    let server = |ready: bool, pending: Value| {
        json!({"": {
            "name": "", "ready": ready, "pending": pending, "stopped": false,
            "url": format!("/user/{name}/"), "progress_url": format!("/hub/api/users/{name}/server/progress"),
            "started": iso(started), "last_activity": iso(last), "user_options": {},
            "state": {"object_id": format!("svc{i:05}"), "object_name": format!("jupyter-{name}")}
        }})
    };
    let (servers, pending, server_url) = match state {
        0..=2 => (
            server(true, Value::Null),
            Value::Null,
            json!(format!("/user/{name}/")),
        ),
        3 => (server(false, json!("spawn")), json!("spawn"), Value::Null),
        _ => (json!({}), Value::Null, Value::Null),
    };
    json!({
        "kind": "user", "name": name, "admin": i == 0, "roles": ["user"], "groups": [],
        "server": server_url, "pending": pending, "created": iso(now - Duration::days(30)),
        "last_activity": iso(last), "servers": servers, "auth_state": null
    })
}

/// One page of `GET /users` with pagination, as the hub sends it.
pub fn users_page_json(total: usize, offset: usize, limit: usize, now: DateTime<Utc>) -> String {
    let items: Vec<Value> = (offset..(offset + limit).min(total))
        .map(|i| user_json(i, now))
        .collect();
    let next = if offset + limit < total {
        json!({"offset": offset + limit, "limit": limit, "url": "http://hub/hub/api/users"})
    } else {
        Value::Null
    };
    json!({"items": items, "_pagination": {"offset": offset, "limit": limit, "total": total, "next": next}})
        .to_string()
}

pub fn node_id(k: usize) -> String {
    format!("node{k:02}id")
}

/// `GET /nodes` for `n` nodes (the first a leader; the last one down when `n > 2`).
pub fn nodes_json(n: usize) -> String {
    let v: Vec<Value> = (0..n)
        .map(|k| {
            let host = if k == 0 { "vm".to_string() } else { format!("node{}", k + 1) };
            json!({
                "ID": node_id(k), "Version": {"Index": 10 + k},
                "CreatedAt": "2026-03-01T08:00:00.000000000Z", "UpdatedAt": "2026-03-02T14:00:00.000000000Z",
                "Spec": {"Labels": {}, "Role": if k == 0 {"manager"} else {"worker"},
                         "Availability": if k == 1 && n > 3 {"drain"} else {"active"}},
                "Description": {"Hostname": host, "Platform": {"Architecture": "x86_64", "OS": "linux"},
                    "Resources": {"NanoCPUs": 8_000_000_000u64, "MemoryBytes": 32u64 << 30},
                    "Engine": {"EngineVersion": "20.10.24"}},
                "Status": {"State": if n > 2 && k == n - 1 {"down"} else {"ready"}, "Addr": format!("10.213.7.{}", k + 1)},
                "ManagerStatus": if k == 0 { json!({"Leader": true, "Reachability": "reachable", "Addr": "10.213.7.1:2377"}) } else { Value::Null }
            })
        })
        .collect();
    Value::Array(v).to_string()
}

/// `GET /services` for `n` students (dockerspawner style: env holds a token).
pub fn services_json(n: usize) -> String {
    let v: Vec<Value> = (0..n)
        .map(|i| {
            let name = user_name(i);
            json!({
                "ID": format!("svc{i:05}"), "Version": {"Index": 100 + i},
                "CreatedAt": "2026-03-02T09:00:00.000000000Z", "UpdatedAt": "2026-03-02T09:00:00.000000000Z",
                "Spec": {"Name": format!("jupyter-{name}"), "Labels": {},
                    "TaskTemplate": {"ContainerSpec": {"Image": "coursectl-singleuser:test",
                        "Env": [format!("JUPYTERHUB_USER={name}"), "JUPYTERHUB_API_TOKEN=0123456789abcdef0123456789abcdef",
                                "JUPYTERHUB_API_URL=http://10.213.7.1:8081/hub/api", format!("JUPYTERHUB_SERVICE_PREFIX=/user/{name}/")],
                        "Args": ["jupyterhub-singleuser"], "Mounts": [{"Type": "bind", "Source": format!("/srv/homes/{name}"), "Target": "/home/jovyan"}]},
                        "Resources": {"Limits": {"MemoryBytes": 2u64 << 30}, "Reservations": {"NanoCPUs": 250_000_000u64, "MemoryBytes": 512u64 << 20}},
                        "RestartPolicy": {"Condition": "on-failure", "MaxAttempts": 5},
                        "Placement": {"Constraints": []}, "ForceUpdate": 0, "Runtime": "container"},
                    "Mode": {"Replicated": {"Replicas": 1}},
                    "EndpointSpec": {"Mode": "vip"}},
                "Endpoint": {"Spec": {}}
            })
        })
        .collect();
    Value::Array(v).to_string()
}

/// `GET /tasks?desired-state=running`: student `i` on node `i % nodes`.
pub fn tasks_json(n: usize, nodes: usize, now: DateTime<Utc>) -> String {
    let v: Vec<Value> = (0..n)
        .map(|i| {
            let running = i % 10 != 7;
            json!({
                "ID": format!("task{i:05}"), "Version": {"Index": 200 + i},
                "CreatedAt": "2026-03-02T09:00:00.000000000Z", "UpdatedAt": "2026-03-02T09:00:05.000000000Z",
                "Labels": {}, "ServiceID": format!("svc{i:05}"), "Slot": 1, "NodeID": node_id(i % nodes.max(1)),
                "Spec": {"ContainerSpec": {"Image": "coursectl-singleuser:test", "Env": ["JUPYTERHUB_API_TOKEN=0123456789abcdef"]},
                         "Resources": {"Reservations": {"NanoCPUs": 250_000_000u64, "MemoryBytes": 512u64 << 20}}},
                "Status": {"Timestamp": iso(now - Duration::seconds(600 + (i as i64 * 37) % 20_000)),
                           "State": if running {"running"} else {"preparing"}, "Message": "started",
                           "ContainerStatus": {"ContainerID": format!("c{i:063}"), "PID": 1000 + i, "ExitCode": 0}},
                "DesiredState": "running"
            })
        })
        .collect();
    Value::Array(v).to_string()
}

/// The proxy's routes for the running users (plus the hub's default route).
pub fn routes(users: &[HubUser]) -> BTreeMap<String, Route> {
    let mut r = BTreeMap::new();
    r.insert(
        "/".to_string(),
        Route {
            target: "http://127.0.0.1:8081".into(),
            user: None,
            server_name: None,
            last_activity: None,
        },
    );
    for u in users.iter().filter(|u| u.server.is_some()) {
        r.insert(
            format!("/user/{}/", u.name),
            Route {
                target: "http://10.213.7.2:40000".into(),
                user: Some(u.name.clone()),
                server_name: Some(String::new()),
                last_activity: None,
            },
        );
    }
    r
}

/// Parsed users, placement and routes for `n` students on `nodes` nodes.
pub fn data(n: usize, nodes: usize) -> (Vec<HubUser>, Placement, BTreeMap<String, Route>) {
    let now = now();
    let page: crate::hub::UsersPage = serde_json::from_str(&users_page_json(n, 0, n, now))
        .unwrap_or(crate::hub::UsersPage::Bare(vec![]));
    let users = match page {
        crate::hub::UsersPage::Paginated { items, .. } | crate::hub::UsersPage::Bare(items) => {
            items
        }
    };
    // Only running students have a service.
    let running = n.min(n / 10 * 4 + 1);
    let nodes_v: Vec<Node> = serde_json::from_str(&nodes_json(nodes)).unwrap_or_default();
    let services: Vec<Service> = serde_json::from_str(&services_json(running)).unwrap_or_default();
    let tasks: Vec<Task> =
        serde_json::from_str(&tasks_json(running, nodes, now)).unwrap_or_default();
    let m = UserMatcher::new("org.jupyterhub.user", "jupyter-{username}");
    let placement = placement_from_swarm(&nodes_v, &services, &tasks, Some(node_id(0)), &m);
    let r = routes(&users);
    (users, placement, r)
}

/// Activity samples every 5 minutes over 8 days, a daily rhythm.
pub fn activity(now: DateTime<Utc>) -> Vec<Sample> {
    let n = now.timestamp();
    (0..(8 * 288))
        .rev()
        .map(|k| {
            let t = n - k * 300;
            let hour = (t.rem_euclid(86400)) as f32 / 3600.0;
            let day = (9.0..18.0).contains(&hour);
            let base = if day { 40.0 + (hour - 9.0) * 3.0 } else { 4.0 };
            Sample {
                t,
                active5: base * 0.6,
                active15: base,
                active60: base * 1.3,
                running: base * 1.5,
                n: 1,
            }
        })
        .collect()
}

/// An app fed with `n` users on `nodes` nodes through the pollers' messages.
pub fn app(n: usize, nodes: usize) -> App {
    let now = now();
    let mut cfg = crate::config::Config::default();
    cfg.course.name = "Data Science 101 (spring)".into();
    cfg.assignments.assignment = assignments_config(now);
    let mut app = App::new(&cfg, false, now);
    let (users, placement, routes) = data(n, nodes);
    let stats: Vec<String> = placement
        .containers
        .iter()
        .filter(|c| c.local && c.running)
        .filter_map(|c| c.container_id.clone())
        .collect();
    app.update(Msg::Users {
        gen: 1,
        at: now,
        result: Ok(UserListing {
            users,
            page_limit: 200,
            requests: 1,
        }),
    });
    app.update(Msg::Placement {
        gen: 1,
        at: now,
        result: Ok(placement),
    });
    app.update(Msg::Routes {
        gen: 1,
        at: now,
        result: Ok(routes),
    });
    for (k, id) in stats.into_iter().enumerate() {
        app.update(Msg::Stats {
            container_id: id,
            result: Ok(ContainerStats {
                cpu_percent: (k * 7 % 100) as f64 / 3.0,
                memory_bytes: (200 + (k as u64 * 37) % 900) << 20,
                memory_limit_bytes: 2 << 30,
            }),
        });
    }
    app.update(Msg::ActivityHistory(activity(now)));
    let log = |name: &str| LogTail {
        lines: (0..60)
            .map(|k| {
                format!(
                    "[I 2026-03-02 14:{:02}:{:02}.123 {name}] 200 GET /hub/api/users ({k} ms)",
                    k % 60,
                    (k * 7) % 60
                )
            })
            .collect(),
        error: None,
    };
    app.update(Msg::Log(LogKind::Hub, log("JupyterHub log")));
    app.update(Msg::Log(LogKind::Proxy, log("ConfigProxy")));
    app.update(Msg::Assign(AssignMsg::Status {
        gen: 1,
        at: now,
        result: Ok(assignment_status(n, None)),
    }));
    app.update(Msg::Tick(now));
    app
}

/// ps1 (past due, 2 h late window), ps2 (due in 5 days), ps3 (not released), project (no due).
pub fn assignments_config(now: DateTime<Utc>) -> Vec<crate::config::AssignmentConfig> {
    let a = |name: &str, due: Option<DateTime<Utc>>, late_h: Option<u64>| {
        crate::config::AssignmentConfig {
            name: name.into(),
            due,
            late_window: late_h.map(|h| std::time::Duration::from_secs(h * 3600)),
        }
    };
    vec![
        a("ps1", Some(now - Duration::days(2)), Some(2)),
        a("ps2", Some(now + Duration::days(5)), None),
        a("ps3", Some(now + Duration::days(12)), None),
        a("project", None, None),
    ]
}

/// The status poller's answer for `n` students (with `matrix`'s student rows).
pub fn assignment_status(n: usize, matrix: Option<&str>) -> StatusData {
    let now = now();
    let row = |name: &str, rel: Option<i64>, released, collected, late| AssignmentRow {
        name: name.into(),
        due: assignments_config(now)
            .into_iter()
            .find(|a| a.name == name)
            .and_then(|a| a.due),
        released_at: rel.map(|d| now - Duration::days(d)),
        students: n,
        released,
        collected,
        late,
        missing: n - collected,
    };
    StatusData {
        students: n,
        rejected: Vec::new(),
        table: vec![
            row("ps1", Some(9), n, n - n / 10, n / 10),
            row("ps2", Some(1), n, 0, 0),
            row("ps3", None, 0, 0, 0),
            row("project", None, 0, 0, 0),
        ],
        matrix: matrix.map(|a| (a.to_string(), student_rows(n))),
    }
}

/// ps1's student matrix: every 10th missing, every 10th (offset 3) late, every 4th modified.
pub fn student_rows(n: usize) -> Vec<StudentRow> {
    let now = now();
    (0..n)
        .map(|i| {
            let collected = i % 10 != 9;
            StudentRow {
                student: user_name(i),
                released_at: Some(now - Duration::days(9)),
                modified_since_release: Some(i % 4 != 0),
                current_version: collected.then(|| "2026-02-28T14-30-00.000000Z".to_string()),
                versions: usize::from(collected) + usize::from(i % 5 == 0),
                submitted_at: collected
                    .then(|| now - Duration::days(2) - Duration::minutes(30 - (i % 7) as i64 * 20)),
                late: collected.then_some(i % 10 == 3),
            }
        })
        .collect()
}

/// A per-student report as the engine builds it.
pub fn student_report(name: &str, outcome: &str, files: u64, bytes: u64) -> StudentReport {
    let mut r = StudentReport::new(name, outcome);
    r.files = files;
    r.bytes = bytes;
    r
}

/// The release plan of ps1 for `n` students: 19 files each, 3 already have it.
pub fn release_plan(n: usize) -> OpReport {
    let students = (0..n)
        .map(|i| {
            let mut r = student_report(&user_name(i), "would-release", 19, 19 * 40_000);
            if i < 3 {
                r.files = 17;
                r.bytes = 17 * 40_000;
                r.note(
                    Item::new("nb.ipynb", ItemKind::Exists)
                        .with("the student's file: left as it is"),
                );
                r.up_to_date = 1;
            }
            r
        })
        .collect();
    let mut r = OpReport::new(Operation::Release, "ps1", true, now(), students);
    r.finished_at = now();
    r
}

/// A finished release of ps1 with problems (a home symlink, a missing home) and notes.
pub fn release_report(n: usize) -> OpReport {
    let students = (0..n)
        .map(|i| {
            let name = user_name(i);
            let mut r = student_report(&name, "released", 19, 19 * 40_000);
            match i {
                1 => {
                    r.note(
                        Item::new("nb.ipynb", ItemKind::Exists)
                            .with("the student's file: left as it is"),
                    );
                    r.files = 18;
                }
                4 => {
                    r = student_report(&name, "refused", 0, 0);
                    r.note(
                        Item::new("ps1", ItemKind::HomeSymlink)
                            .with("<home>/ps1 is a symlink: refused, nothing written"),
                    );
                }
                7 => {
                    r = student_report(&name, "no-home", 0, 0);
                    r.note(Item::new("", ItemKind::HomeMissing).with("no home directory"));
                }
                _ => {}
            }
            r
        })
        .collect();
    let mut r = OpReport::new(
        Operation::Release,
        "ps1",
        false,
        now() - Duration::seconds(42),
        students,
    );
    r.finished_at = now();
    r
}

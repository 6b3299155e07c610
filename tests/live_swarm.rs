//! Placement against the real 3-node Swarm and real SwarmSpawner servers:
//! every node shown, each student's container on the node Docker reports, a
//! stopped engine shown down within 10 s, a drain followed by the placement.
//! Needs `scripts/testbed up`. The tests share the Swarm, so they run one
//! after another inside one test function.

mod live_support;

use std::time::{Duration, Instant};

use coursectl::swarm::{NodeAvailability, NodeHealth, SwarmClient};
use live_support::{wait_for, Stack, StackOpts};
use serde_json::Value;

fn students(v: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for n in v["nodes"].as_array().into_iter().flatten() {
        for s in n["students"].as_array().into_iter().flatten() {
            if s["running"].as_bool() == Some(true) {
                out.push((
                    s["user"].as_str().unwrap_or("").to_string(),
                    n["hostname"].as_str().unwrap_or("").to_string(),
                ));
            }
        }
    }
    out
}

fn node_of(v: &Value, user: &str) -> Option<String> {
    students(v)
        .into_iter()
        .find(|(u, _)| u == user)
        .map(|(_, n)| n)
}

#[test]
fn placement_on_the_real_swarm() {
    let stack = Stack::new(StackOpts {
        port_base: 18600,
        docker_host: None,
        start: true,
    });
    let names: Vec<String> = (0..4).map(|i| format!("lsw{i}")).collect();
    stack.create_users(&names);
    stack.start_servers(&names, Duration::from_secs(180));

    // 1. Every node, and each student on the node Docker reports.
    let v = stack.json(&["nodes"]);
    let hosts: Vec<String> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["hostname"].as_str().unwrap().to_string())
        .collect();
    let mut docker_hosts: Vec<String> = stack
        .docker(None, &["node", "ls", "--format", "{{.Hostname}}"])
        .lines()
        .map(str::to_string)
        .collect();
    docker_hosts.sort();
    let mut sorted = hosts.clone();
    sorted.sort();
    assert_eq!(sorted, docker_hosts);
    for n in &names {
        let docker_says = stack.docker_node_of(&format!("jupyter-{n}"));
        assert!(
            !docker_says.is_empty(),
            "docker has no running task for {n}"
        );
        assert_eq!(node_of(&v, n).as_deref(), Some(docker_says.as_str()), "{n}");
    }
    // `users` joins the same placement.
    let u = stack.json(&["users"]);
    for n in &names {
        let row = u["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == n.as_str())
            .unwrap();
        assert_eq!(row["server"], "ready");
        assert_eq!(row["node"].as_str(), node_of(&v, n).as_deref());
    }
    // The JSON never carries a service spec or a token.
    let raw = String::from_utf8_lossy(&stack.coursectl(&["--json", "nodes"]).stdout).to_string();
    assert!(!raw.contains("JUPYTERHUB_API_TOKEN") && !raw.contains(&stack.token));

    // 2. Drain a node that holds a student: its containers move, placement follows.
    let (_, victim_node) = students(&v)
        .into_iter()
        .find(|(_, n)| n != "vm")
        .expect("a student on a worker node");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cfg = coursectl::cli::load_config(Some(&stack.config)).unwrap();
    let client = rt.block_on(SwarmClient::connect(&cfg.docker)).unwrap();
    let node_id = rt
        .block_on(client.placement())
        .unwrap()
        .nodes
        .iter()
        .find(|n| n.hostname == victim_node)
        .unwrap()
        .id
        .clone();
    rt.block_on(client.set_availability(&node_id, NodeAvailability::Drain))
        .unwrap();
    let moved = wait_for(
        "drained node's containers to move",
        Duration::from_secs(120),
        || {
            // Every student running again, none on the drained node (another
            // student may have been there too and still be starting).
            let v = stack.json(&["nodes"]);
            let all_moved = names
                .iter()
                .all(|n| node_of(&v, n).is_some_and(|h| h != victim_node));
            all_moved.then_some(v)
        },
    );
    let node = moved["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["hostname"] == victim_node.as_str())
        .unwrap();
    assert_eq!(node["availability"], "drain");
    for n in &names {
        assert_eq!(
            node_of(&moved, n).as_deref(),
            Some(stack.docker_node_of(&format!("jupyter-{n}")).as_str()),
            "{n} after drain"
        );
    }
    rt.block_on(client.set_availability(&node_id, NodeAvailability::Active))
        .unwrap();

    // 3. Stop node3's engine: shown down within 10 s; then restart it.
    // Swarm itself notices a dead node after about 2 heartbeats (default 5 s,
    // so ~11 s): the test Swarm runs with a 2 s heartbeat.
    stack.docker(None, &["swarm", "update", "--dispatcher-heartbeat", "2s"]);
    let pidfile = stack
        .env
        .get("TESTBED_NODE3_PIDFILE")
        .cloned()
        .expect("TESTBED_NODE3_PIDFILE");
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let t0 = Instant::now();
    wait_for("node3 down", Duration::from_secs(10), || {
        let p = rt.block_on(client.placement()).ok()?;
        p.nodes
            .iter()
            .find(|n| n.hostname == "node3")
            .filter(|n| n.state == NodeHealth::Down)
            .map(|_| ())
    });
    eprintln!("node3 shown down after {:?}", t0.elapsed());
    let st = std::process::Command::new(live_support::testbed_script())
        .args(["restart-node", "node3"])
        .status()
        .unwrap();
    assert!(st.success(), "scripts/testbed restart-node node3");
    wait_for("node3 ready again", Duration::from_secs(60), || {
        let p = rt.block_on(client.placement()).ok()?;
        p.nodes
            .iter()
            .find(|n| n.hostname == "node3")
            .filter(|n| n.state == NodeHealth::Ready)
            .map(|_| ())
    });
    stack.stop_servers(&names);
    drop(stack);
    // A server whose task was on the killed node may outlive the hub's stop
    // (its spawner lost track while the node was down): remove what is left
    // of ours so later runs start from a clean Swarm.
    for n in &names {
        let _ = std::process::Command::new("docker")
            .args(["service", "rm", &format!("jupyter-{n}")])
            .output();
    }
}

//! Headless server and node actions against the real hub and Swarm: the
//! same operations the console's keys run. Needs `scripts/testbed up`.

mod support;

use std::time::Duration;

use support::*;

fn json(r: &Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", r.stdout, r.stderr))
}

/// Leaves every node active even when an assertion fails half-way.
struct Reactivate<'a>(&'a Course, String);

impl Drop for Reactivate<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["node", "activate", &self.1]);
    }
}

#[test]
fn start_stop_a_server_and_drain_its_node() {
    let c = Course::swarm("");
    assert_eq!(c.run(&["up"]).code, 0);
    let user = format!("act{}", std::process::id());
    let token = c.hub_token();
    let created = http()
        .post(format!("{}/users/{user}", c.hub_api()))
        .header("Authorization", format!("token {token}"))
        .send()
        .unwrap();
    assert!(created.status().is_success());

    let r = c.run(&["server", "start", &user, "--wait", "--json"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(json(&r)["state"], "ready");
    // Starting a running server is not an error.
    assert_eq!(c.run(&["server", "start", &user]).code, 0);

    // Drain the node it runs on: the report names the student, the server moves.
    let nodes = json(&c.run(&["nodes", "--json"]));
    let host = nodes["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| {
            n["students"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| s["user"] == user.as_str() && s["running"] == true)
        })
        .map(|n| n["hostname"].as_str().unwrap().to_string())
        .expect("the student's container on some node");
    let _guard = Reactivate(&c, host.clone());
    let r = c.run(&["node", "drain", &host, "--json"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = json(&r);
    assert_eq!(v["availability"], "drain");
    assert!(
        v["students"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| *s == user.as_str()),
        "{v}"
    );
    assert_eq!(
        v["equivalent"],
        format!("docker node update --availability drain {host}")
    );
    poll(
        Duration::from_secs(120),
        "the server to move off the drained node",
        || {
            let n = json(&c.run(&["nodes", "--json"]));
            n["nodes"].as_array()?.iter().find_map(|node| {
                let here = node["students"]
                    .as_array()?
                    .iter()
                    .any(|s| s["user"] == user.as_str() && s["running"] == true);
                (here && node["hostname"] != host.as_str()).then_some(())
            })
        },
    );
    let r = c.run(&["node", "activate", &host, "--json"]);
    assert_eq!(json(&r)["availability"], "active");

    let r = c.run(&["server", "stop", &user, "--wait", "--json"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(json(&r)["state"], "stopped");

    // Bad input: a name that is no path component, a node that does not exist.
    assert_eq!(c.run(&["server", "start", "../etc"]).code, 2);
    let r = c.run(&["node", "drain", "no-such-node"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no Swarm node"), "{}", r.stderr);
}

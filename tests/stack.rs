//! Issue 2 against the real stack: `coursectl up` supervising a real
//! JupyterHub (real SwarmSpawner on the 3-node Swarm) and a real
//! configurable-http-proxy. Needs `scripts/testbed up`.

mod support;

use std::time::{Duration, Instant};

use support::*;

fn status_json(c: &Course) -> serde_json::Value {
    let r = c.run(&["status", "--json"]);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("status --json: {e}: {}", r.stdout))
}

/// The student's own server answers `/user/<name>/api` with its version;
/// without a route the hub would answer with a redirect instead.
fn student_route_answers(c: &Course, user: &str) -> bool {
    http()
        .get(format!("{}/user/{user}/api", c.public()))
        .send()
        .ok()
        .filter(|r| r.status() == 200)
        .and_then(|r| r.json::<serde_json::Value>().ok())
        .is_some_and(|v| v.get("version").is_some())
}

fn hub_call(c: &Course, method: reqwest::Method, path: &str) -> reqwest::blocking::Response {
    http()
        .request(method, format!("{}/{path}", c.hub_api()))
        .header("Authorization", format!("token {}", c.hub_token()))
        .send()
        .unwrap()
}

fn docker(args: &[&str]) -> String {
    let o = std::process::Command::new("docker")
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn up_supervises_hub_and_proxy_through_crashes_and_down_leaves_nothing() {
    let c = Course::swarm("");
    let user = format!("stk{}", std::process::id());

    // up on a fresh state dir starts both; the login page answers through the proxy.
    let r = c.run(&["up"]);
    assert_eq!(r.code, 0, "up failed: {}\n{}", r.stdout, r.stderr);
    let st = status_json(&c);
    assert_eq!(st["docker"]["healthy"], true, "{st}");
    for n in ["hub", "proxy", "supervisor"] {
        assert_eq!(st[n]["healthy"], true, "{n} not healthy: {st}");
        assert!(st[n]["pid"].as_u64().is_some(), "{n} has no pid: {st}");
        assert!(
            st[n]["uptime_secs"].as_u64().is_some(),
            "{n} has no uptime: {st}"
        );
    }
    let login = http()
        .get(format!("{}/hub/login", c.public()))
        .send()
        .unwrap();
    assert_eq!(login.status(), 200);
    assert!(
        login.text().unwrap().contains("Sign in"),
        "not the hub's login page"
    );

    // up twice starts nothing new.
    let pids: Vec<_> = ["supervisor", "hub", "proxy"].map(|n| c.pid(n)).to_vec();
    let r = c.run(&["up"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("already running"), "{}", r.stdout);
    assert_eq!(
        pids,
        ["supervisor", "hub", "proxy"].map(|n| c.pid(n)).to_vec()
    );

    // A student's real server on the Swarm, reachable through the proxy.
    assert!(
        hub_call(&c, reqwest::Method::POST, &format!("users/{user}"))
            .status()
            .is_success()
    );
    let s = hub_call(&c, reqwest::Method::POST, &format!("users/{user}/server")).status();
    assert!(s == 201 || s == 202, "spawn answered {s}");
    poll(
        Duration::from_secs(120),
        "the student's server to be reachable",
        || student_route_answers(&c, &user).then_some(()),
    );
    let service = format!("jupyter-{user}");
    let task_before = docker(&[
        "service",
        "ps",
        "-q",
        "--filter",
        "desired-state=running",
        &service,
    ]);
    assert!(!task_before.is_empty(), "no running task for {service}");

    // kill -9 the proxy: restarted, routes resynced, the student answers within 10 s.
    let proxy_pid = c.pid("proxy").unwrap();
    kill9(proxy_pid);
    let t = Instant::now();
    poll(
        Duration::from_secs(10),
        "the student's route after a proxy crash",
        || student_route_answers(&c, &user).then_some(()),
    );
    eprintln!("route back {:?} after proxy kill -9", t.elapsed());
    assert_ne!(c.pid("proxy"), Some(proxy_pid), "proxy was not restarted");

    // kill -9 the hub: restarted; the student's server keeps running throughout.
    let hub_pid = c.pid("hub").unwrap();
    kill9(hub_pid);
    let t = Instant::now();
    let mut served_during_outage = 0;
    poll(Duration::from_secs(30), "the hub after kill -9", || {
        if student_route_answers(&c, &user) {
            served_during_outage += 1;
        }
        let st = status_json(&c);
        (st["hub"]["healthy"] == true && st["hub"]["pid"].as_u64() != Some(hub_pid as u64))
            .then_some(())
    });
    eprintln!("hub back {:?} after kill -9", t.elapsed());
    assert!(
        served_during_outage > 0,
        "the student's server stopped answering while the hub restarted"
    );
    assert!(student_route_answers(&c, &user));
    let task_after = docker(&[
        "service",
        "ps",
        "-q",
        "--filter",
        "desired-state=running",
        &service,
    ]);
    assert_eq!(
        task_before, task_after,
        "the student's container was replaced"
    );
    let u: serde_json::Value = hub_call(&c, reqwest::Method::GET, &format!("users/{user}"))
        .json()
        .unwrap();
    assert_eq!(u["servers"][""]["ready"], true, "hub lost the server: {u}");
    let st = status_json(&c);
    assert!(
        st["hub"]["restarts"].as_u64() >= Some(1) && st["proxy"]["restarts"].as_u64() >= Some(1),
        "{st}"
    );

    // The supervisor itself killed: a new `up` adopts hub and proxy, starts nothing twice.
    let (hub_pid, proxy_pid) = (c.pid("hub").unwrap(), c.pid("proxy").unwrap());
    kill9(c.pid("supervisor").unwrap());
    let r = c.run(&["up"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        (c.pid("hub"), c.pid("proxy")),
        (Some(hub_pid), Some(proxy_pid)),
        "not adopted"
    );

    // No token anywhere: logs, status --json, up output.
    let secrets = [c.hub_token(), c.proxy_token()];
    let mut texts = support::read_all_files(&c.state().join("logs"));
    texts.push((
        "status --json".into(),
        c.run(&["status", "--json"]).stdout.into_bytes(),
    ));
    texts.push(("up".into(), (r.stdout + &r.stderr).into_bytes()));
    for (path, body) in &texts {
        let body = String::from_utf8_lossy(body);
        for s in &secrets {
            assert!(
                !body.contains(s.as_str()),
                "a token appears in {}",
                path.display()
            );
        }
    }

    // down: no hub, proxy, supervisor or student's server process of ours remains.
    let container_pid: u32 = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=org.jupyterhub.user={user}"),
    ])
    .lines()
    .next()
    .map(|id| {
        docker(&["inspect", "-f", "{{.State.Pid}}", id])
            .parse()
            .unwrap()
    })
    .unwrap_or(0);
    let pids: Vec<u32> = ["supervisor", "hub", "proxy"]
        .iter()
        .filter_map(|n| c.pid(n))
        .collect();
    let r = c.run(&["down"]);
    assert_eq!(r.code, 0, "down: {}\n{}", r.stdout, r.stderr);
    for p in &pids {
        assert!(!pid_alive(*p), "pid {p} still alive after down");
    }
    poll(
        Duration::from_secs(30),
        "the student's service to be removed",
        || {
            docker(&[
                "service",
                "ls",
                "-q",
                "--filter",
                &format!("name={service}"),
            ])
            .is_empty()
            .then_some(())
        },
    );
    if container_pid > 0 {
        poll(
            Duration::from_secs(30),
            "the student's container process to exit",
            || (!pid_alive(container_pid)).then_some(()),
        );
    }
}

#[test]
fn a_proxy_that_keeps_crashing_is_given_up_on_loudly() {
    // A real fault of the real proxy: its public port is taken, so it exits at once.
    let blocker = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = blocker.local_addr().unwrap().port();
    let c = Course::swarm("max-restarts = 2\nbackoff-max = \"300ms\"\nhealth-grace = \"1s\"\n");
    let text = std::fs::read_to_string(&c.config).unwrap().replace(
        &format!("public-port = {}", c.public_port),
        &format!("public-port = {taken}"),
    );
    std::fs::write(&c.config, text).unwrap();
    let r = c.run(&["up"]);
    assert_eq!(
        r.code, 1,
        "up must fail when the proxy cannot start: {}",
        r.stdout
    );
    let st = poll(Duration::from_secs(20), "the supervisor to give up", || {
        let st = status_json(&c);
        (st["proxy"]["gave_up"] == true).then_some(st)
    });
    assert!(
        st["proxy"]["detail"].as_str().unwrap().contains("GAVE UP"),
        "{st}"
    );
    let r = c.run(&["status"]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("GAVE UP"), "{}", r.stdout);
    let log = std::fs::read_to_string(c.state().join("logs/supervisor.log")).unwrap();
    assert!(
        log.contains("GAVE UP"),
        "the supervisor log does not say it gave up"
    );
    drop(blocker);
}

#[test]
fn status_says_docker_is_down_when_its_socket_is_missing() {
    let c = Course::swarm("[docker]\nhost = \"unix:///nonexistent/docker.sock\"\n");
    let r = c.run(&["status", "--json"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let st: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(st["docker"]["healthy"], false);
    let detail = st["docker"]["detail"].as_str().unwrap();
    assert!(detail.contains("/nonexistent/docker.sock"), "{detail}");
}

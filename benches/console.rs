//! CPU cost of one console refresh and one frame at course scale: 2,000 hub
//! users (10 pages of 200, as the hub sends them) and 2,000 Swarm tasks over
//! 20 nodes, from synthesised wire JSON. Run by `scripts/bench-console`.
//!
//! refresh = parse the user pages + assemble + parse nodes/services/tasks +
//! placement + `App::update` (join, rows, filter, cross-check); the named
//! baseline is parsing the same bytes into `serde_json::Value`.

use std::time::{Duration, Instant};

use bollard::models::{Node, Service, Task};
use coursectl::hub::{assemble, UserListing, UsersPage};
use coursectl::swarm::{placement_from_swarm, UserMatcher};
use coursectl::tui::app::{Msg, Panel};
use coursectl::tui::fixtures;
use coursectl::tui::theme::Theme;
use coursectl::tui::view::{self, Clock};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const USERS: usize = 2000;
const NODES: usize = 20;
const PAGE: usize = 200;

/// Elapsed time of pure in-memory work on one thread (no I/O, no waits): its CPU time.
fn thread_cpu() -> Instant {
    Instant::now()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// VmHWM from /proc/self/status, in MB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn main() {
    let now = fixtures::now();
    let pages: Vec<String> = (0..USERS)
        .step_by(PAGE)
        .map(|off| fixtures::users_page_json(USERS, off, PAGE, now))
        .collect();
    let nodes = fixtures::nodes_json(NODES);
    let services = fixtures::services_json(USERS);
    let tasks = fixtures::tasks_json(USERS, NODES, now);
    let bytes: usize =
        pages.iter().map(|p| p.len()).sum::<usize>() + nodes.len() + services.len() + tasks.len();
    let m = UserMatcher::new("org.jupyterhub.user", "jupyter-{username}");
    let mut app = fixtures::app(10, 2);
    let routes = fixtures::routes(&[]);
    app.update(Msg::Routes {
        gen: 1,
        at: now,
        result: Ok(routes),
    });

    let runs = 15;
    let mut refresh = Vec::new();
    let mut baseline = Vec::new();
    for gen in 0..runs {
        let t0 = thread_cpu();
        let parsed: Vec<Vec<_>> = pages
            .iter()
            .map(|p| match serde_json::from_str::<UsersPage>(p) {
                Ok(UsersPage::Paginated { items, .. }) | Ok(UsersPage::Bare(items)) => items,
                Err(e) => panic!("page: {e}"),
            })
            .collect();
        let users = assemble(parsed);
        let n: Vec<Node> = serde_json::from_str(&nodes).unwrap_or_default();
        let s: Vec<Service> = serde_json::from_str(&services).unwrap_or_default();
        let t: Vec<Task> = serde_json::from_str(&tasks).unwrap_or_default();
        let placement = placement_from_swarm(&n, &s, &t, Some(fixtures::node_id(0)), &m);
        assert_eq!(users.len(), USERS);
        assert_eq!(placement.containers.len(), USERS);
        app.update(Msg::Users {
            gen: 10 + gen,
            at: now,
            result: Ok(UserListing {
                users,
                page_limit: PAGE,
                requests: pages.len(),
            }),
        });
        app.update(Msg::Placement {
            gen: 10 + gen,
            at: now,
            result: Ok(placement),
        });
        refresh.push(t0.elapsed());

        let t0 = thread_cpu();
        let mut total = 0usize;
        for p in pages.iter().chain([&nodes, &services, &tasks]) {
            let v: serde_json::Value = serde_json::from_str(p).unwrap_or_default();
            total += v.is_object() as usize;
        }
        baseline.push(t0.elapsed());
        assert!(total > 0);
    }
    assert_eq!(app.user_rows.len(), USERS);

    let mut frames = Vec::new();
    let mut term = Terminal::new(TestBackend::new(200, 50)).expect("terminal");
    let theme = Theme::new(true);
    let clock = Clock::utc();
    for panel in [Panel::Users, Panel::Nodes, Panel::Overview] {
        app.panel = panel;
        let mut v = Vec::new();
        for _ in 0..60 {
            let t0 = Instant::now();
            term.draw(|f| view::draw(f, &app, &theme, &clock))
                .expect("draw");
            v.push(t0.elapsed());
        }
        frames.push((panel, median(v)));
    }

    let r = median(refresh);
    let b = median(baseline);
    println!("bench-console: {USERS} users ({} pages of {PAGE}), {USERS} tasks over {NODES} nodes, {:.1} MB of wire JSON", pages.len(), bytes as f64 / 1e6);
    println!(
        "refresh CPU (parse+join+rows+cross-check): {:.2} ms   target <= 25 ms",
        r.as_secs_f64() * 1e3
    );
    println!(
        "baseline serde_json::Value parse of the same bytes: {:.2} ms   ratio {:.2}x",
        b.as_secs_f64() * 1e3,
        r.as_secs_f64() / b.as_secs_f64()
    );
    for (p, d) in frames {
        println!(
            "frame 200x50 {:<9}: {:.3} ms   target <= 3 ms",
            p.title(),
            d.as_secs_f64() * 1e3
        );
    }
    println!("peak RSS: {:.1} MB   target <= 60 MB", peak_rss_mb());
}

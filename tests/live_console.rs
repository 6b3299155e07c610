//! The real console binary in a pseudo-terminal (80x24) against a real hub
//! and proxy started with `coursectl up`: rows from the hub, navigation,
//! filter, help; SIGHUP restores the terminal and leaves hub and proxy
//! running; a killed hub or a missing Docker socket marks panels stale
//! while the UI keeps answering. Needs `scripts/testbed up`.

mod live_support;
mod pty_support;

use std::time::Duration;

use live_support::{Stack, StackOpts};
use pty_support::Console;

fn signal(pid: i32, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig).expect("kill");
}

fn hub_pid(stack: &Stack) -> Option<i32> {
    let v = stack.json(&["status"]);
    v["hub"]["pid"].as_i64().map(|p| p as i32)
}

#[test]
fn console_in_a_pty_shows_users_navigates_and_survives_sighup() {
    let stack = Stack::new(StackOpts {
        port_base: 18700,
        docker_host: None,
        start: true,
    });
    let names: Vec<String> = (0..5).map(|i| format!("pty{i}")).collect();
    stack.create_users(&names);
    let mut c = Console::start(&stack.bin, &stack.config, &[]);
    c.wait_text("header with hub ok", Duration::from_secs(20), |t| {
        t.contains("hub ok") && t.contains("Live test course")
    });
    c.keys("3");
    c.wait_text("users from the hub", Duration::from_secs(20), |t| {
        names.iter().all(|n| t.contains(n.as_str())) && t.contains("Users 6")
    });
    // Sort by name, then move down one row.
    c.keys("o");
    c.wait_text("sorted by name", Duration::from_secs(5), |t| {
        t.contains("sorted by name")
    });
    c.keys("j");
    c.wait_text("selection on pty1", Duration::from_secs(5), |t| {
        t.contains("▶ pty1")
    });
    // Filter.
    c.keys("/pty3\r");
    let t = c.wait_text("filtered to pty3", Duration::from_secs(5), |t| {
        t.contains("(1 shown)") && t.contains("pty3")
    });
    assert!(!t.contains("pty1"), "{t}");
    // Esc clears the filter first.
    c.keys("\x1b");
    c.wait_text("filter cleared", Duration::from_secs(5), |t| {
        t.contains("pty1") && !t.contains("shown)")
    });
    // Help from the keymap.
    c.keys("?");
    c.wait_text("help", Duration::from_secs(5), |t| {
        t.contains("Help") && t.contains("this help") && t.contains("stop the user's server")
    });
    c.keys("q");
    c.wait_text("help closed", Duration::from_secs(5), |t| {
        !t.contains("this help")
    });

    // SSH disconnect: SIGHUP. The terminal is restored and the process exits.
    signal(c.pid(), nix::sys::signal::Signal::SIGHUP);
    c.wait_exit(Duration::from_secs(5));
    let raw = c.raw();
    let tail = String::from_utf8_lossy(&raw[raw.len().saturating_sub(64)..]).to_string();
    let leave = raw.windows(8).rposition(|w| w == b"\x1b[?1049l");
    let enter = raw.windows(8).rposition(|w| w == b"\x1b[?1049h");
    assert!(
        leave.is_some() && leave > enter,
        "alternate screen left: {tail:?}"
    );
    assert!(
        tail.trim_end().ends_with("\x1b[?25h"),
        "cursor shown last: {tail:?}"
    );
    // Hub and proxy keep running.
    let st = stack.json(&["status"]);
    assert_eq!(st["hub"]["healthy"], true);
    assert_eq!(st["proxy"]["healthy"], true);
}

#[test]
fn killed_hub_marks_stale_and_recovers() {
    let stack = Stack::new(StackOpts {
        port_base: 18800,
        docker_host: None,
        start: true,
    });
    stack.create_users(&["stale0".to_string()]);
    let mut c = Console::start(&stack.bin, &stack.config, &[]);
    c.keys("3");
    c.wait_text("users", Duration::from_secs(20), |t| t.contains("stale0"));
    let pid = hub_pid(&stack).expect("hub pid");
    signal(pid, nix::sys::signal::Signal::SIGKILL);
    c.wait_text("hub marked stale", Duration::from_secs(15), |t| {
        t.contains("STALE since") && t.contains("hub DOWN") && t.contains("stale0")
    });
    // The UI answers keys while the hub is down.
    c.keys("2");
    c.wait_text("nodes panel", Duration::from_secs(3), |t| {
        t.contains("Nodes 3")
    });
    c.keys("3");
    c.wait_text("users panel again", Duration::from_secs(3), |t| {
        t.contains("Users")
    });
    // The supervisor restarts the hub; the console recovers by itself.
    c.wait_text("hub back", Duration::from_secs(60), |t| {
        t.contains("hub ok") && !t.contains("STALE")
    });
    c.keys("q");
    let st = c.wait_exit(Duration::from_secs(5));
    assert!(st.success());
}

#[test]
fn missing_docker_socket_marks_nodes_stale() {
    let stack = Stack::new(StackOpts {
        port_base: 18900,
        docker_host: Some("unix:///run/coursectl-test-no-such.sock".into()),
        start: false,
    });
    let mut c = Console::start(&stack.bin, &stack.config, &["--read-only"]);
    c.keys("2");
    c.wait_text("docker stale", Duration::from_secs(15), |t| {
        t.contains("docker DOWN") && t.contains("STALE since") && t.contains("does not exist")
    });
    c.keys("3");
    c.wait_text("users panel answers", Duration::from_secs(3), |t| {
        t.contains("Users") && t.contains("READ-ONLY")
    });
    c.keys("q");
    let st = c.wait_exit(Duration::from_secs(5));
    assert!(st.success());
}

//! The real console binary in a pseudo-terminal (80x24) against a real hub
//! and proxy started with `coursectl up`: rows from the hub, navigation,
//! filter, help; SIGHUP restores the terminal and leaves hub and proxy
//! running; a killed hub or a missing Docker socket marks panels stale
//! while the UI keeps answering. Needs `scripts/testbed up`.

mod live_support;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use live_support::{wait_for, Stack, StackOpts};
use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};

struct Console {
    child: Box<dyn Child + Send + Sync>,
    _master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    screen: Arc<Mutex<(vt100::Parser, Vec<u8>)>>,
}

impl Console {
    fn start(stack: &Stack, extra: &[&str]) -> Console {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 24,
                cols: 80,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("openpty");
        let mut cmd = CommandBuilder::new(&stack.bin);
        cmd.arg("--config");
        cmd.arg(&stack.config);
        for a in extra {
            cmd.arg(a);
        }
        cmd.env("TERM", "xterm-256color");
        cmd.env_remove("NO_COLOR");
        let child = pair.slave.spawn_command(cmd).expect("spawn console");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("reader");
        let writer = pair.master.take_writer().expect("writer");
        let screen = Arc::new(Mutex::new((vt100::Parser::new(24, 80, 0), Vec::new())));
        let s2 = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut g = s2.lock().unwrap();
                g.0.process(&buf[..n]);
                g.1.extend_from_slice(&buf[..n]);
            }
        });
        Console {
            child,
            _master: pair.master,
            writer,
            screen,
        }
    }

    fn text(&self) -> String {
        self.screen.lock().unwrap().0.screen().contents()
    }

    fn raw(&self) -> Vec<u8> {
        self.screen.lock().unwrap().1.clone()
    }

    fn keys(&mut self, s: &str) {
        self.writer.write_all(s.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    fn wait_text(&self, what: &str, timeout: Duration, f: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for(what, timeout, || {
                let t = self.text();
                let ok = f(&t);
                last = t.clone();
                ok.then_some(t)
            })
        }));
        match r {
            Ok(t) => t,
            Err(_) => panic!("timed out waiting for {what}; screen:\n{last}"),
        }
    }

    fn pid(&self) -> i32 {
        self.child.process_id().expect("pid") as i32
    }

    fn wait_exit(&mut self, timeout: Duration) -> portable_pty::ExitStatus {
        let child = &mut self.child;
        wait_for("console exit", timeout, || child.try_wait().ok().flatten())
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
    }
}

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
    let mut c = Console::start(&stack, &[]);
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
    let mut c = Console::start(&stack, &[]);
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
    let mut c = Console::start(&stack, &["--read-only"]);
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

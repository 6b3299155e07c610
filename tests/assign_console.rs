//! End to end: the real console in a pseudo-terminal (80x24), with no hub
//! (an unused port) and no Docker. The Assignments panel releases ps1
//! through its key and confirmation; the files land in every home, the
//! screen shows the result and the audit log has the record. Synchronised
//! by polling the screen and the file system with deadlines, never by sleeps.

mod assign_support;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use assign_support::*;
use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};

struct Console {
    child: Box<dyn Child + Send + Sync>,
    _master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    screen: Arc<Mutex<vt100::Parser>>,
}

impl Console {
    fn start(bin: &std::path::Path, config: &std::path::Path) -> Console {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 24,
                cols: 80,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("openpty");
        let mut cmd = CommandBuilder::new(bin);
        cmd.arg("--config");
        cmd.arg(config);
        cmd.env("TERM", "xterm-256color");
        cmd.env_remove("COURSECTL_CONFIG");
        let child = pair.slave.spawn_command(cmd).expect("spawn console");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("reader");
        let writer = pair.master.take_writer().expect("writer");
        let screen = Arc::new(Mutex::new(vt100::Parser::new(24, 80, 0)));
        let s2 = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                s2.lock().unwrap().process(&buf[..n]);
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
        self.screen.lock().unwrap().screen().contents()
    }

    fn keys(&mut self, s: &str) {
        self.writer.write_all(s.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    fn wait_text(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        let found = poll(Duration::from_secs(20), || {
            last = self.text();
            f(&last)
        });
        assert!(found, "timed out waiting for {what}; screen:\n{last}");
        last
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
    }
}

/// Polls `f` every 50 ms until true or `limit` passed.
fn poll(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    loop {
        if f() {
            return true;
        }
        if t0.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn unused_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn release_from_the_panel_without_a_hub() {
    let hub = unused_port();
    let proxy = unused_port();
    let students = ["amy", "ben", "cat"];
    let c = Course::new(
        &students,
        "",
        &format!(
            "[[assignments.assignment]]\nname = \"ps1\"\ndue = \"2999-01-01T00:00:00Z\"\n\n\
             [hub]\napi-url = \"http://127.0.0.1:{hub}/hub/api\"\n\n\
             [proxy]\napi-port = {proxy}\n\n\
             [docker]\nhost = \"unix:///run/coursectl-test-no-such.sock\"\n"
        ),
    );
    write(&c.release_dir("ps1").join("nb.ipynb"), "{\"cells\": []}");
    write(&c.release_dir("ps1").join("data/x.csv"), "1,2\n");
    // Not a fresh copy: exec'ing a just-written file races with other
    // threads' forks (ETXTBSY).
    let exe = bin();

    let mut con = Console::start(&exe, &c.config);
    con.wait_text("the console", |t| t.contains("Assign"));
    con.keys("4");
    con.wait_text("the assignments table", |t| {
        t.contains("ps1") && t.contains("3 students (list)") && t.contains("0/3")
    });
    // First with the course lock held elsewhere (a cron collect, say): refused as busy.
    let held = coursectl::course::CourseLock::try_acquire(&c.cfg(), "collect ps1").unwrap();
    con.keys("R");
    con.wait_text("the first confirmation", |t| t.contains("> Cancel <"));
    con.keys("\t\r");
    con.wait_text("busy", |t| {
        t.contains("busy: another coursectl operation holds the course lock")
            && t.contains("Result: release ps1 — BUSY")
    });
    assert!(
        !c.home("amy").join("ps1").exists(),
        "nothing released while busy"
    );
    drop(held);
    con.keys("\x1b");
    con.wait_text("back on the table", |t| t.contains("RELEASED AT"));

    con.keys("R");
    let t = con.wait_text("the release confirmation", |t| {
        t.contains("Release ps1?") && t.contains("coursectl release ps1")
    });
    assert!(
        t.contains("Release ps1 to 3 students: 2 files each."),
        "{t}"
    );
    assert!(t.contains("> Cancel <"), "Cancel focused: {t}");
    // Tab to the action, Enter.
    con.keys("\t");
    con.wait_text("focus on release", |t| t.contains("> release ps1 <"));
    con.keys("\r");

    let homes_done = poll(Duration::from_secs(30), || {
        students.iter().all(|s| {
            std::fs::read_to_string(c.home(s).join("ps1/nb.ipynb"))
                .ok()
                .as_deref()
                == Some("{\"cells\": []}")
                && c.home(s).join("ps1/data/x.csv").is_file()
        })
    });
    assert!(homes_done, "files in every home; screen:\n{}", con.text());
    con.wait_text("the result", |t| {
        t.contains("Result: release ps1 — ok")
            && t.contains("3 students, 0 with problems, 0 missing; 6 files")
            && t.contains("no problems")
    });
    // The status refreshes after the operation.
    con.keys("\x1b");
    con.wait_text("released 3/3", |t| t.contains("3/3") && t.contains("last:"));
    let audit = std::fs::read_to_string(c.root().join("state/audit.jsonl")).unwrap();
    assert!(
        audit.contains("\"operation\":\"release\"") && audit.contains("\"exit_code\":0"),
        "{audit}"
    );

    con.keys("q");
    assert!(
        poll(Duration::from_secs(10), || matches!(
            con.child.try_wait(),
            Ok(Some(_))
        )),
        "console exits on q"
    );
}

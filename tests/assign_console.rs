//! End to end: the real console in a pseudo-terminal (80x24), with no hub
//! (an unused port) and no Docker. The Assignments panel releases ps1
//! through its key and confirmation; the files land in every home, the
//! screen shows the result and the audit log has the record. Synchronised
//! by polling the screen and the file system with deadlines, never by sleeps.

mod assign_support;
mod pty_support;

use std::time::{Duration, Instant};

use assign_support::*;
use pty_support::Console;

/// How long the console may take to show a screen.
const WAIT: Duration = Duration::from_secs(20);

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

    let mut con = Console::start(&exe, &c.config, &[]);
    con.wait_text("the console", WAIT, |t| t.contains("Assign"));
    con.keys("4");
    con.wait_text("the assignments table", WAIT, |t| {
        t.contains("ps1") && t.contains("3 students (list)") && t.contains("0/3")
    });
    // First with the course lock held elsewhere (a cron collect, say): refused as busy.
    let held = coursectl::course::CourseLock::try_acquire(&c.cfg(), "collect ps1").unwrap();
    con.keys("R");
    con.wait_text("the first confirmation", WAIT, |t| t.contains("> Cancel <"));
    con.keys("\t\r");
    con.wait_text("busy", WAIT, |t| {
        t.contains("busy: another coursectl operation holds the course lock")
            && t.contains("Result: release ps1 — BUSY")
    });
    assert!(
        !c.home("amy").join("ps1").exists(),
        "nothing released while busy"
    );
    drop(held);
    con.keys("\x1b");
    con.wait_text("back on the table", WAIT, |t| t.contains("RELEASED AT"));

    con.keys("R");
    let t = con.wait_text("the release confirmation", WAIT, |t| {
        t.contains("Release ps1?") && t.contains("coursectl release ps1")
    });
    assert!(
        t.contains("Release ps1 to 3 students: 2 files each."),
        "{t}"
    );
    assert!(t.contains("> Cancel <"), "Cancel focused: {t}");
    // Tab to the action, Enter.
    con.keys("\t");
    con.wait_text("focus on release", WAIT, |t| t.contains("> release ps1 <"));
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
    con.wait_text("the result", WAIT, |t| {
        t.contains("Result: release ps1 — ok")
            && t.contains("3 students, 0 with problems, 0 missing; 6 files")
            && t.contains("no problems")
    });
    // The status refreshes after the operation.
    con.keys("\x1b");
    con.wait_text("released 3/3", WAIT, |t| {
        t.contains("3/3") && t.contains("last:")
    });
    let audit = std::fs::read_to_string(c.root().join("state/audit.jsonl")).unwrap();
    assert!(
        audit.contains("\"operation\":\"release\"") && audit.contains("\"exit_code\":0"),
        "{audit}"
    );

    con.keys("q");
    assert!(
        poll(Duration::from_secs(10), || con.try_wait().is_some()),
        "console exits on q"
    );
}

//! Hostile homes: symlinks to /etc/shadow and into other homes, loops,
//! FIFOs, a 200 MB sparse file, unreadable files, odd names, deep nesting, a
//! home and an assignment dir that are symlinks. Collect must take none of the
//! foreign data, never hang, and report each item; release and return must
//! write nothing through a student's symlink.

mod assign_support;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::PathBuf;
use std::time::Duration;

use assign_support::*;

const LIMIT: Duration = Duration::from_secs(120);
const BOB_MARK: &str = "BOB-PRIVATE-MARKER-7f3a";
const ETC_MARK: &str = "FOREIGN-ETC-STANDIN-91c2";

fn odd_name() -> PathBuf {
    PathBuf::from(OsStr::from_bytes(b"odd\nname\xff.txt"))
}

/// alice: every trick; bob: an honest student; carol: home -> bob's home;
/// dave: ps1 -> bob's ps1.
fn hostile_course() -> Course {
    let c = Course::new(
        &["alice", "bob", "carol", "dave"],
        "max-file-mb = 10\nmax-student-mb = 50\nmax-depth = 64",
        "[[assignments.assignment]]\nname = \"ps1\"\n",
    );
    let etc = c.root().join("fake-etc");
    write(&etc.join("passwd"), ETC_MARK);

    let bob = c.home("bob").join("ps1");
    write(&bob.join("answer.txt"), BOB_MARK);
    write(&bob.join("sub/more.txt"), BOB_MARK);

    let a = c.home("alice").join("ps1");
    write(&a.join("answer.txt"), "alice's answer");
    symlink("/etc/shadow", a.join("shadow")).unwrap();
    symlink(etc.join("passwd"), a.join("passwd")).unwrap();
    symlink(bob.join("answer.txt"), a.join("steal.txt")).unwrap();
    symlink("../../bob/ps1", a.join("bobdir")).unwrap();
    symlink(&bob, a.join("bobdir-abs")).unwrap();
    symlink("loop2", a.join("loop1")).unwrap();
    symlink("loop1", a.join("loop2")).unwrap();
    symlink(".", a.join("self")).unwrap();
    nix::unistd::mkfifo(
        &a.join("pipe"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    let sparse = std::fs::File::create(a.join("sparse.bin")).unwrap();
    sparse.set_len(200 * 1024 * 1024).unwrap();
    write(&a.join("locked.txt"), "LOCKED-CONTENT");
    std::fs::set_permissions(a.join("locked.txt"), std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::write(a.join(odd_name()), "ODD-NAME-CONTENT").unwrap();
    let mut deep = a.join("deep");
    for _ in 0..200 {
        deep.push("d");
    }
    write(&deep.join("bottom.txt"), "TOO-DEEP-CONTENT");
    write(&a.join("deep/d/shallow.txt"), "SHALLOW-CONTENT");
    // A student's own timestamp.txt must not forge the submission time.
    write(&a.join("timestamp.txt"), "1999-01-01 00:00:00.000000 UTC");

    std::fs::remove_dir(c.home("carol")).unwrap();
    symlink(c.home("bob"), c.home("carol")).unwrap();
    std::fs::create_dir_all(c.home("dave")).unwrap();
    symlink(&bob, c.home("dave").join("ps1")).unwrap();
    c
}

#[test]
fn collect_takes_nothing_foreign_and_reports_every_item() {
    let c = hostile_course();
    let bob_before = snapshot(&c.home("bob"));
    let alice_before = snapshot(&c.home("alice"));

    let out = c.run(&["--json", "collect", "ps1"], LIMIT);
    let j = json(&out);
    // Over-cap and too-deep are problems: partial.
    assert_eq!(out.status.code(), Some(3), "{j:#}");

    let alice = student(&j, "alice");
    assert_eq!(alice["outcome"], "collected");
    let notes = items(alice, "skipped");
    let problems = items(alice, "problems");
    for (p, k) in [
        ("shadow", "symlink"),
        ("passwd", "symlink"),
        ("steal.txt", "symlink"),
        ("bobdir", "symlink"),
        ("bobdir-abs", "symlink"),
        ("loop1", "symlink"),
        ("loop2", "symlink"),
        ("self", "symlink"),
        ("pipe", "special"),
        ("timestamp.txt", "reserved"),
    ] {
        assert!(
            notes.contains(&(p.to_string(), k.to_string())),
            "{p} {k} not in {notes:?}"
        );
    }
    assert!(
        problems.contains(&("sparse.bin".into(), "over-file-cap".into())),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|(p, k)| k == "too-deep" && p.starts_with("deep/d/d")),
        "{problems:?}"
    );

    let sub = c.submitted("alice", "ps1");
    assert!(std::fs::symlink_metadata(&sub)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read(sub.join("answer.txt")).unwrap(),
        b"alice's answer"
    );
    // Root reads a mode-000 file: it is the student's work, so it is collected.
    assert_eq!(
        std::fs::read(sub.join("locked.txt")).unwrap(),
        b"LOCKED-CONTENT"
    );
    assert_eq!(
        std::fs::read(sub.join(odd_name())).unwrap(),
        b"ODD-NAME-CONTENT"
    );
    assert_eq!(
        std::fs::read(sub.join("deep/d/shallow.txt")).unwrap(),
        b"SHALLOW-CONTENT"
    );
    for absent in [
        "shadow",
        "passwd",
        "steal.txt",
        "bobdir",
        "bobdir-abs",
        "loop1",
        "pipe",
        "sparse.bin",
        "self",
    ] {
        assert!(
            std::fs::symlink_metadata(sub.join(absent)).is_err(),
            "{absent} was collected"
        );
    }
    let ts = std::fs::read_to_string(sub.join("timestamp.txt")).unwrap();
    assert!(
        !ts.starts_with("1999"),
        "student forged timestamp.txt: {ts}"
    );
    assert!(
        ts.ends_with(" UTC") && ts.len() == "2026-01-01 00:00:00.000000 UTC".len(),
        "{ts}"
    );
    // The odd name is kept byte for byte on disk and escaped in the version's record.
    let version = alice["version"].as_str().unwrap();
    let meta = std::fs::read_to_string(
        c.course()
            .join(format!("collected/alice/ps1/{version}.json")),
    )
    .unwrap();
    assert!(meta.contains("\"odd%0Aname%FF.txt\""), "{meta}");

    // carol's home and dave's ps1 are symlinks: refused, nothing of bob's taken.
    for s in ["carol", "dave"] {
        let r = student(&j, s);
        assert_eq!(r["outcome"], "refused", "{r:#}");
        assert_eq!(items(r, "problems")[0].1, "home-symlink", "{r:#}");
        assert!(std::fs::symlink_metadata(c.submitted(s, "ps1")).is_err());
    }
    assert_eq!(student(&j, "bob")["outcome"], "collected");

    // No foreign content anywhere but in bob's own submission.
    let shadow = std::fs::read("/etc/shadow").unwrap_or_default();
    let shadow_line = shadow
        .split(|b| *b == b'\n')
        .next()
        .unwrap_or_default()
        .to_vec();
    for (p, data) in all_file_contents(&c.course().join("collected")) {
        let is_bob = p.starts_with(c.course().join("collected/bob"));
        assert!(
            is_bob || !contains(&data, BOB_MARK.as_bytes()),
            "bob's data in {p:?}"
        );
        assert!(
            !contains(&data, ETC_MARK.as_bytes()),
            "/etc stand-in in {p:?}"
        );
        assert!(
            shadow_line.is_empty() || !contains(&data, &shadow_line),
            "/etc/shadow in {p:?}"
        );
    }
    // Collect reads; it never changes a home.
    assert_eq!(snapshot(&c.home("bob")), bob_before);
    assert_eq!(snapshot(&c.home("alice")), alice_before);
}

#[test]
fn unreadable_files_are_reported_without_failing_the_run() {
    // Root reads mode-000 files, so run collect without CAP_DAC_OVERRIDE and
    // CAP_DAC_READ_SEARCH (as on an NFS home with root squashing).
    if std::process::Command::new("setpriv")
        .arg("--help")
        .output()
        .is_err()
    {
        eprintln!("skipped: setpriv (util-linux) not installed");
        return;
    }
    let c = Course::new(
        &["erin"],
        "",
        "[[assignments.assignment]]\nname = \"ps1\"\n",
    );
    let a = c.home("erin").join("ps1");
    write(&a.join("ok.txt"), "fine");
    write(&a.join("locked.txt"), "LOCKED");
    std::fs::set_permissions(a.join("locked.txt"), std::fs::Permissions::from_mode(0o000)).unwrap();
    write(&a.join("closed/inner.txt"), "INNER");
    std::fs::set_permissions(a.join("closed"), std::fs::Permissions::from_mode(0o000)).unwrap();
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args([
        "--inh-caps=-dac_override,-dac_read_search",
        "--bounding-set=-dac_override,-dac_read_search",
        "--",
    ])
    .arg(bin())
    .arg("--config")
    .arg(&c.config)
    .args(["--json", "collect", "ps1"]);
    let out = run_with_deadline(&mut cmd, LIMIT);
    let j = json(&out);
    assert_eq!(out.status.code(), Some(3), "{j:#}");
    let erin = student(&j, "erin");
    let problems = items(erin, "problems");
    assert!(
        problems.contains(&("locked.txt".into(), "unreadable".into())),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|(p, k)| p.starts_with("closed") && k == "unreadable"),
        "{problems:?}"
    );
    let sub = c.submitted("erin", "ps1");
    assert_eq!(std::fs::read(sub.join("ok.txt")).unwrap(), b"fine");
    assert!(!sub.join("locked.txt").exists());
}

#[test]
fn release_and_return_never_write_through_a_students_symlink() {
    let c = Course::new(
        &["erin", "frank", "gina"],
        "",
        "[[assignments.assignment]]\nname = \"ps1\"\n",
    );
    write(&c.release_dir("ps1").join("ps1.ipynb"), "{\"cells\": []}");
    write(&c.release_dir("ps1").join("data/table.csv"), "a,b\n1,2\n");
    let etc = c.root().join("fake-etc");
    std::fs::create_dir_all(&etc).unwrap();
    write(&etc.join("passwd"), ETC_MARK);
    let etc_before = snapshot(&etc);
    // erin: <home>/ps1 -> /etc stand-in; frank: <home>/ps1/data -> /etc stand-in;
    // gina: her home itself -> the /etc stand-in.
    symlink(&etc, c.home("erin").join("ps1")).unwrap();
    std::fs::create_dir_all(c.home("frank").join("ps1")).unwrap();
    symlink(&etc, c.home("frank").join("ps1/data")).unwrap();
    std::fs::remove_dir(c.home("gina")).unwrap();
    symlink(&etc, c.home("gina")).unwrap();

    let out = c.run(&["--json", "release", "ps1"], LIMIT);
    let j = json(&out);
    assert_eq!(out.status.code(), Some(3), "{j:#}");
    assert_eq!(student(&j, "erin")["outcome"], "refused");
    assert_eq!(student(&j, "gina")["outcome"], "no-home");
    let frank = student(&j, "frank");
    assert_eq!(frank["outcome"], "released");
    assert!(
        items(frank, "skipped").contains(&("data".into(), "exists".into())),
        "{frank:#}"
    );
    assert!(c.home("frank").join("ps1/ps1.ipynb").is_file());
    assert_eq!(
        snapshot(&etc),
        etc_before,
        "release wrote into the /etc stand-in"
    );

    // Return into the same traps.
    for s in ["erin", "frank", "gina"] {
        write(
            &c.course().join("feedback").join(s).join("ps1/ps1.html"),
            "FEEDBACK",
        );
    }
    std::fs::remove_file(c.home("frank").join("ps1/data")).unwrap();
    symlink(&etc, c.home("frank").join("ps1/feedback")).unwrap();
    let out = c.run(&["--json", "return", "ps1"], LIMIT);
    let j = json(&out);
    assert_eq!(out.status.code(), Some(3), "{j:#}");
    for s in ["erin", "frank"] {
        assert_eq!(student(&j, s)["outcome"], "refused", "{j:#}");
    }
    assert_eq!(
        snapshot(&etc),
        etc_before,
        "return wrote into the /etc stand-in"
    );
}

//! The ordinary life of an assignment through the real binary: release
//! (idempotent, never overwriting, --update only for unmodified files,
//! late joiners), collect (versions, unchanged files linked, late flag),
//! return (read-only, beside older feedback), the lock, the audit log and
//! the exit codes.

mod assign_support;

use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use assign_support::*;

const LIMIT: Duration = Duration::from_secs(60);

fn course() -> Course {
    let c = Course::new(
        &["amy", "ben"],
        "",
        "[[assignments.assignment]]\nname = \"ps1\"\ndue = \"2000-01-01T00:00:00Z\"\n\n\
         [[assignments.assignment]]\nname = \"ps2\"\ndue = \"2999-01-01T00:00:00Z\"\n",
    );
    for a in ["ps1", "ps2"] {
        write(&c.release_dir(a).join("nb.ipynb"), "{\"v\": 1}");
        write(&c.release_dir(a).join("data/x.csv"), "1,2\n");
    }
    c
}

fn code(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

#[test]
fn release_is_idempotent_never_overwrites_and_updates_only_unmodified_files() {
    let c = course();
    // amy already has her own nb.ipynb.
    write(&c.home("amy").join("ps1/nb.ipynb"), "AMY'S OWN");
    let o = c.run(&["--json", "release", "ps1"], LIMIT);
    let j = json(&o);
    assert_eq!(code(&o), 0, "{j:#}");
    assert_eq!(
        std::fs::read_to_string(c.home("amy").join("ps1/nb.ipynb")).unwrap(),
        "AMY'S OWN"
    );
    assert!(items(student(&j, "amy"), "skipped").contains(&("nb.ipynb".into(), "exists".into())));
    let m = std::fs::metadata(c.home("ben").join("ps1/nb.ipynb")).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o600), (1000, 100, 0o600));
    let d = std::fs::metadata(c.home("ben").join("ps1/data")).unwrap();
    assert_eq!((d.uid(), d.gid()), (1000, 100));

    // Again: nothing to do.
    let before = snapshot(&c.home("ben"));
    let j = json(&c.run(&["--json", "release", "ps1"], LIMIT));
    assert_eq!(student(&j, "ben")["outcome"], "up-to-date", "{j:#}");
    assert_eq!(snapshot(&c.home("ben")), before);

    // A new version: ben modified data/x.csv, not nb.ipynb.
    write(&c.home("ben").join("ps1/data/x.csv"), "BEN'S EDIT");
    write(&c.release_dir("ps1").join("nb.ipynb"), "{\"v\": 2}");
    write(&c.release_dir("ps1").join("data/x.csv"), "3,4\n");
    let j = json(&c.run(&["--json", "release", "ps1"], LIMIT));
    let ben = student(&j, "ben");
    assert!(
        items(ben, "skipped").contains(&("nb.ipynb".into(), "outdated".into())),
        "{ben:#}"
    );
    assert_eq!(
        std::fs::read_to_string(c.home("ben").join("ps1/nb.ipynb")).unwrap(),
        "{\"v\": 1}"
    );
    let o = c.run(&["--json", "release", "ps1", "--update"], LIMIT);
    let j = json(&o);
    assert_eq!(code(&o), 0, "{j:#}");
    let ben = student(&j, "ben");
    assert_eq!(
        std::fs::read_to_string(c.home("ben").join("ps1/nb.ipynb")).unwrap(),
        "{\"v\": 2}"
    );
    assert_eq!(
        std::fs::read_to_string(c.home("ben").join("ps1/data/x.csv")).unwrap(),
        "BEN'S EDIT"
    );
    assert!(
        items(ben, "skipped").contains(&("data/x.csv".into(), "modified".into())),
        "{ben:#}"
    );
    assert_eq!(
        std::fs::read_to_string(c.home("amy").join("ps1/nb.ipynb")).unwrap(),
        "AMY'S OWN"
    );

    // A late joiner only.
    std::fs::create_dir_all(c.home("cleo")).unwrap();
    let j = json(&c.run(&["--json", "release", "ps2", "--student", "cleo"], LIMIT));
    assert_eq!(j["report"]["students"].as_array().unwrap().len(), 1);
    assert!(c.home("cleo").join("ps2/nb.ipynb").is_file());
    assert!(!c.home("amy").join("ps2").exists());
    // The release time is recorded.
    let rec =
        std::fs::read_to_string(c.root().join("state/assignments/ps2/released.json")).unwrap();
    assert!(rec.contains("last_released_at"), "{rec}");
}

#[test]
fn collect_versions_link_unchanged_files_and_flag_late() {
    let c = course();
    assert_eq!(code(&c.run(&["release", "ps1"], LIMIT)), 0);
    write(&c.home("amy").join("ps1/answer.py"), "print(1)");
    let o = c.run(&["--json", "collect", "ps1"], LIMIT);
    let j = json(&o);
    assert_eq!(code(&o), 0, "{j:#}");
    let amy = student(&j, "amy");
    assert_eq!(amy["late"], true, "due 2000: late");
    let v1 = amy["version"].as_str().unwrap().to_string();
    let sub = c.submitted("amy", "ps1");
    assert_eq!(
        std::fs::read_to_string(sub.join("answer.py")).unwrap(),
        "print(1)"
    );
    assert_eq!(
        std::fs::metadata(sub.join("answer.py")).unwrap().mode() & 0o222,
        0,
        "read-only"
    );

    // Nothing changed: same version stays current.
    let j = json(&c.run(&["--json", "collect", "ps1"], LIMIT));
    assert_eq!(student(&j, "amy")["outcome"], "unchanged");
    assert_eq!(student(&j, "amy")["version"], v1.as_str());

    // One file changed: a new version, the rest hard-linked from v1.
    write(&c.home("amy").join("ps1/answer.py"), "print(2)");
    let j = json(&c.run(&["--json", "collect", "ps1"], LIMIT));
    let amy = student(&j, "amy");
    let v2 = amy["version"].as_str().unwrap().to_string();
    assert_ne!(v1, v2);
    assert_eq!(amy["files"], 1, "{amy:#}");
    assert_eq!(amy["linked"], 2, "{amy:#}");
    let old = c.course().join("collected/amy/ps1").join(&v1);
    let new = c.course().join("collected/amy/ps1").join(&v2);
    assert_eq!(
        std::fs::read_to_string(old.join("answer.py")).unwrap(),
        "print(1)",
        "v1 kept"
    );
    assert_eq!(
        std::fs::read_to_string(sub.join("answer.py")).unwrap(),
        "print(2)"
    );
    let (a, b) = (
        std::fs::metadata(old.join("nb.ipynb")).unwrap(),
        std::fs::metadata(new.join("nb.ipynb")).unwrap(),
    );
    assert_eq!(a.ino(), b.ino(), "unchanged file linked");
    let live = std::fs::metadata(c.home("amy").join("ps1/nb.ipynb")).unwrap();
    assert_ne!(live.ino(), b.ino(), "never shared with the live home");

    // ps2 is due in 2999: on time; nobody has it: missing, exit 0.
    let o = c.run(&["--json", "collect", "ps2"], LIMIT);
    let j = json(&o);
    assert_eq!(code(&o), 0);
    assert_eq!(j["report"]["totals"]["missing"], 2);

    // Dry run writes nothing.
    write(&c.home("amy").join("ps1/answer.py"), "print(3)");
    let j = json(&c.run(&["--json", "collect", "ps1", "--dry-run"], LIMIT));
    assert_eq!(student(&j, "amy")["outcome"], "would-collect");
    assert_eq!(
        std::fs::read_to_string(sub.join("answer.py")).unwrap(),
        "print(2)"
    );
}

#[test]
fn return_is_read_only_and_newer_feedback_goes_beside() {
    let c = course();
    assert_eq!(code(&c.run(&["release", "ps1"], LIMIT)), 0);
    let fb = c.course().join("feedback/amy/ps1");
    write(&fb.join("nb.html"), "GOOD WORK");
    write(&fb.join("timestamp.txt"), "2026-01-01 10:00:00.000000 UTC");
    let o = c.run(&["--json", "return", "ps1"], LIMIT);
    let j = json(&o);
    assert_eq!(code(&o), 0, "{j:#}");
    assert_eq!(student(&j, "ben")["outcome"], "no-feedback");
    let got = c
        .home("amy")
        .join("ps1/feedback/2026-01-01 10:00:00.000000 UTC/nb.html");
    assert_eq!(std::fs::read_to_string(&got).unwrap(), "GOOD WORK");
    let m = std::fs::metadata(&got).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o777), (0, 0o444));
    // Returned again: up to date. Newer feedback: beside the old one.
    let j = json(&c.run(&["--json", "return", "ps1"], LIMIT));
    assert_eq!(student(&j, "amy")["outcome"], "up-to-date", "{j:#}");
    write(&fb.join("nb.html"), "REGRADED");
    write(&fb.join("timestamp.txt"), "2026-01-02 10:00:00.000000 UTC");
    assert_eq!(code(&c.run(&["return", "ps1"], LIMIT)), 0);
    assert_eq!(std::fs::read_to_string(&got).unwrap(), "GOOD WORK");
    let newer = c
        .home("amy")
        .join("ps1/feedback/2026-01-02 10:00:00.000000 UTC/nb.html");
    assert_eq!(std::fs::read_to_string(newer).unwrap(), "REGRADED");
}

#[test]
fn exit_codes_lock_and_audit() {
    let c = course();
    // Unknown assignment and bad names: 2, nothing done.
    assert_eq!(code(&c.run(&["collect", "nope"], LIMIT)), 2);
    assert_eq!(
        code(&c.run(&["collect", "ps1", "--student", "../x"], LIMIT)),
        2
    );
    assert_eq!(
        code(&c.run(&["release", "ps2", "--student", "a/b"], LIMIT)),
        2
    );

    // The lock held (as the console would): 4.
    let cfg = c.cfg();
    let lock = coursectl::course::CourseLock::try_acquire(&cfg, "test holds it").unwrap();
    let o = c.run(&["collect", "ps1"], LIMIT);
    assert_eq!(code(&o), 4, "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("test holds it"));
    drop(lock);
    assert_eq!(code(&c.run(&["release", "ps1"], LIMIT)), 0);
    assert_eq!(code(&c.run(&["collect", "ps1"], LIMIT)), 0);

    // Text output is plain when not a terminal.
    let o = c.run(&["collect", "ps1"], LIMIT);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(!text.contains('\x1b'), "{text}");
    assert!(text.starts_with("collect ps1:"), "{text}");
    assert!(
        o.stderr.is_empty(),
        "no progress on a non-terminal: {}",
        String::from_utf8_lossy(&o.stderr)
    );

    let j = json(&c.run(&["--json", "audit", "--assignment", "ps1"], LIMIT));
    let recs = j.as_array().unwrap();
    let ops: Vec<&str> = recs
        .iter()
        .map(|r| r["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["release", "collect", "collect"], "{j:#}");
    assert_eq!(recs[0]["uid"], 0);
    assert_eq!(recs[0]["students"], 2);
    let text = String::from_utf8_lossy(&c.run(&["audit"], LIMIT).stdout).to_string();
    assert_eq!(text.lines().count(), 3, "{text}");
}

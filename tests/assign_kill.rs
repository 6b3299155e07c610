//! kill -9 at random points during release and collect, against the real
//! binary: no partial submission is ever current, no student file is changed
//! or lost, and a rerun completes.

mod assign_support;

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use assign_support::*;
use rand::Rng;

const STUDENTS: usize = 24;
const RELEASE_RUNS: usize = 12;
const COLLECT_RUNS: usize = 12;
const LIMIT: Duration = Duration::from_secs(120);

fn names() -> Vec<String> {
    (0..STUDENTS).map(|i| format!("s{i:02}")).collect()
}

fn chown_tree(p: &Path) {
    let _ = std::os::unix::fs::lchown(p, Some(1000), Some(100));
    if std::fs::symlink_metadata(p)
        .map(|m| m.is_dir())
        .unwrap_or(false)
    {
        for e in std::fs::read_dir(p).unwrap().flatten() {
            chown_tree(&e.path());
        }
    }
}

/// Entries under `dir` (a cheap progress probe).
fn count(dir: &Path, depth: u32) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| {
            1 + if depth > 0 && e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                count(&e.path(), depth - 1)
            } else {
                0
            }
        })
        .sum()
}

/// Every entry that existed before is still there, unchanged.
fn assert_kept(before: &BTreeMap<Vec<u8>, String>, after: &BTreeMap<Vec<u8>, String>, when: &str) {
    for (k, v) in before {
        assert_eq!(
            after.get(k),
            Some(v),
            "{when}: {} changed or lost",
            String::from_utf8_lossy(k)
        );
    }
}

/// Each `submitted/<s>/<a>` is absent or our link to a complete version.
fn assert_no_partial_current(c: &Course, a: &str) {
    for s in names() {
        let link = c.submitted(&s, a);
        let Ok(m) = std::fs::symlink_metadata(&link) else {
            continue;
        };
        assert!(m.file_type().is_symlink(), "{link:?} is not a link");
        let target = std::fs::read_link(&link).unwrap();
        let version = target.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            !version.starts_with('.'),
            "current is a temporary build: {target:?}"
        );
        let vdir = c.course().join("collected").join(&s).join(a).join(&version);
        let meta: serde_json::Value = serde_json::from_slice(
            &std::fs::read(vdir.with_file_name(format!("{version}.json"))).expect("version record"),
        )
        .unwrap();
        let files = all_file_contents(&vdir).len() as u64;
        assert_eq!(
            files,
            meta["files"].as_u64().unwrap() + 1,
            "{vdir:?} incomplete"
        );
        assert!(vdir.join("timestamp.txt").is_file());
    }
}

fn no_tmp_left(root: &Path) {
    for k in snapshot(root).keys() {
        assert!(
            !k.windows(15).any(|w| w == b".coursectl-tmp-"),
            "stale temp {}",
            String::from_utf8_lossy(k)
        );
    }
}

/// Starts `args`, kills it with SIGKILL once `probe()` reaches `at` (or it
/// exits). Returns whether it was killed while running.
fn run_and_kill(c: &Course, args: &[&str], probe: &dyn Fn() -> usize, at: usize) -> bool {
    let mut child = c
        .command(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if probe() >= at {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            return true;
        }
        assert!(start.elapsed() < LIMIT, "{args:?} hung");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn kill_9_during_release_and_collect_loses_nothing() {
    let blocks: String = (0..RELEASE_RUNS)
        .map(|i| format!("[[assignments.assignment]]\nname = \"r{i}\"\n\n"))
        .chain(std::iter::once(
            "[[assignments.assignment]]\nname = \"c\"\n".to_string(),
        ))
        .collect();
    let names = names();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let c = Course::new(&refs, "", &blocks);
    let mut rng = rand::rng();
    // A release of 20 files, two of them 256 KB, so a run takes a while.
    for i in 0..RELEASE_RUNS {
        let r = c.release_dir(&format!("r{i}"));
        for f in 0..18 {
            write(
                &r.join(format!("part{}/f{f}.py", f % 3)),
                &format!("# r{i} file {f}\n").repeat(50),
            );
        }
        std::fs::write(r.join("big1.bin"), vec![b'x'; 1 << 18]).unwrap();
        std::fs::write(r.join("big2.bin"), vec![b'y'; 1 << 18]).unwrap();
    }
    write(&c.release_dir("c").join("nb.ipynb"), "{}");
    // Students' own files, some in the way of what will be released.
    for (n, s) in names.iter().enumerate() {
        let h = c.home(s);
        write(&h.join("notes.txt"), &format!("mine {s}"));
        for i in (0..RELEASE_RUNS).filter(|i| (i + n) % 4 == 0) {
            write(
                &h.join(format!("r{i}/part0/f0.py")),
                &format!("{s} edited this"),
            );
        }
        std::fs::create_dir_all(h.join("c")).unwrap();
        for f in 0..10 {
            std::fs::write(h.join(format!("c/work{f}.bin")), vec![n as u8; 100_000]).unwrap();
        }
        chown_tree(&h);
    }

    let homes = c.root().join("homes");
    let mut killed = 0;
    for i in 0..RELEASE_RUNS {
        let a = format!("r{i}");
        let before = snapshot(&homes);
        let at = rng.random_range(0..STUDENTS * 4);
        let probe = || {
            names
                .iter()
                .map(|s| count(&c.home(s).join(&a), 1))
                .sum::<usize>()
                / 6
        };
        killed += usize::from(run_and_kill(&c, &["release", &a], &probe, at));
        assert_kept(
            &before,
            &snapshot(&homes),
            &format!("after kill in release {a}"),
        );
        let o = c.run(&["release", &a], LIMIT);
        assert_eq!(
            o.status.code(),
            Some(0),
            "rerun of release {a}: {} {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        let after = snapshot(&homes);
        assert_kept(&before, &after, &format!("after rerun of release {a}"));
        no_tmp_left(&homes);
        for s in &names {
            let f = c.home(s).join(format!("{a}/big1.bin"));
            assert_eq!(std::fs::metadata(&f).unwrap().len(), 1 << 18, "{f:?}");
        }
    }

    let collected = c.course().join("collected");
    for run in 0..COLLECT_RUNS {
        // Some students keep working between collections.
        for s in &names {
            if !rng.random_bool(0.3) {
                continue;
            }
            let f = rng.random_range(0..10);
            std::fs::write(
                c.home(s).join(format!("c/work{f}.bin")),
                vec![run as u8; 100_001],
            )
            .unwrap();
        }
        let before = snapshot(&homes);
        let at = rng.random_range(0..STUDENTS * 3);
        let probe = || count(&collected, 3);
        killed += usize::from(run_and_kill(&c, &["collect", "c"], &probe, at));
        assert_eq!(snapshot(&homes), before, "collect changed a home");
        assert_no_partial_current(&c, "c");
        let o = c.run(&["collect", "c"], LIMIT);
        assert_eq!(
            o.status.code(),
            Some(0),
            "rerun of collect: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        assert_no_partial_current(&c, "c");
        // The current version is exactly the home now.
        for s in &names {
            let sub = c.submitted(s, "c");
            for f in 0..10 {
                let name = format!("work{f}.bin");
                assert_eq!(
                    std::fs::read(sub.join(&name)).unwrap(),
                    std::fs::read(c.home(s).join("c").join(&name)).unwrap(),
                    "{s}/{name}"
                );
            }
            // Leftover builds were cleaned by the rerun.
            for e in std::fs::read_dir(c.course().join("collected").join(s).join("c"))
                .unwrap()
                .flatten()
            {
                assert!(
                    !e.file_name().as_bytes().starts_with(b"."),
                    "leftover {:?}",
                    e.path()
                );
            }
        }
    }
    eprintln!(
        "{killed} of {} runs were killed while running",
        RELEASE_RUNS + COLLECT_RUNS
    );
    assert!(
        killed >= (RELEASE_RUNS + COLLECT_RUNS) / 3,
        "only {killed} runs killed mid-way"
    );
}

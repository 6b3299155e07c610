//! Shared helpers for the assignment tests: a temporary course (homes,
//! course dir, state dir, config), running the real binary with a deadline,
//! and hashing trees without following symlinks.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Course {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Course {
    /// A course with `students` (each gets an empty home) and extra TOML for `[assignments]`.
    pub fn new(students: &[&str], assignments_extra: &str, assignment_blocks: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("coursectl-assign-")
            .tempdir()
            .unwrap();
        let root = dir.path();
        for d in ["homes", "course/release", "state"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        for s in students {
            std::fs::create_dir_all(root.join("homes").join(s)).unwrap();
        }
        let list = students
            .iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let text = format!(
            "[paths]\nhome = \"{home}/{{username}}\"\ncourse-dir = \"{course}\"\nstate-dir = \"{state}\"\n\n\
             [assignments]\nowner-uid = 1000\nowner-gid = 100\n{assignments_extra}\n\n\
             [assignments.roster]\nfrom = \"list\"\nstudents = [{list}]\n\n{assignment_blocks}\n",
            home = root.join("homes").display(),
            course = root.join("course").display(),
            state = root.join("state").display(),
        );
        let config = root.join("config.toml");
        std::fs::write(&config, text).unwrap();
        Self { dir, config }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    pub fn home(&self, s: &str) -> PathBuf {
        self.root().join("homes").join(s)
    }
    pub fn course(&self) -> PathBuf {
        self.root().join("course")
    }
    pub fn release_dir(&self, a: &str) -> PathBuf {
        self.course().join("release").join(a)
    }
    pub fn submitted(&self, s: &str, a: &str) -> PathBuf {
        self.course().join("submitted").join(s).join(a)
    }
    pub fn cfg(&self) -> coursectl::config::Config {
        coursectl::config::load(Some(&self.config)).unwrap()
    }

    /// Runs `coursectl --config <cfg> args...`, killed (and the test failed) after `limit`.
    pub fn run(&self, args: &[&str], limit: Duration) -> Output {
        let mut cmd = self.command(args);
        run_with_deadline(&mut cmd, limit)
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin());
        cmd.arg("--config").arg(&self.config).args(args);
        cmd.env_remove("COURSECTL_CONFIG");
        cmd
    }
}

/// The binary under test: `CARGO_BIN_EXE_coursectl`, unless
/// `COURSECTL_TEST_BIN` names a copy (worktrees sharing one target dir
/// overwrite each other's binary while tests run).
pub fn bin() -> PathBuf {
    std::env::var_os("COURSECTL_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_coursectl")))
}

pub fn run_with_deadline(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn coursectl");
    let start = Instant::now();
    // Drain the pipes on threads so a chatty child cannot block on them.
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t1 = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let t2 = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "coursectl {:?} did not finish within {limit:?} (hung?)",
                cmd.get_args().collect::<Vec<_>>()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: t1.join().unwrap(),
        stderr: t2.join().unwrap(),
    }
}

/// Relative path (raw bytes) → description of every entry under `root`,
/// without following symlinks: file content hash + mode + owner, link target, type.
pub fn snapshot(root: &Path) -> BTreeMap<Vec<u8>, String> {
    let mut out = BTreeMap::new();
    fn rec(root: &Path, dir: &Path, out: &mut BTreeMap<Vec<u8>, String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .as_os_str()
                .as_bytes()
                .to_vec();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let ft = m.file_type();
            let desc = if ft.is_symlink() {
                format!("link {:?}", std::fs::read_link(&p).unwrap())
            } else if ft.is_dir() {
                rec(root, &p, out);
                format!("dir {:o} {}:{}", m.mode() & 0o7777, m.uid(), m.gid())
            } else if ft.is_file() {
                let data = std::fs::read(&p).unwrap();
                format!(
                    "file {:o} {}:{} {} {:016x}",
                    m.mode() & 0o7777,
                    m.uid(),
                    m.gid(),
                    data.len(),
                    fnv(&data)
                )
            } else if ft.is_fifo() {
                "fifo".into()
            } else {
                "other".into()
            };
            out.insert(rel, desc);
        }
    }
    rec(root, root, &mut out);
    out
}

pub fn fnv(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// Every regular file's content under `root` (symlinks not followed).
pub fn all_file_contents(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    fn rec(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let ft = std::fs::symlink_metadata(&p).unwrap().file_type();
            if ft.is_dir() {
                rec(&p, out);
            } else if ft.is_file() {
                // Sparse test files can be large: read a prefix only.
                let mut f = std::fs::File::open(&p).unwrap();
                let mut v = Vec::new();
                let _ = (&mut f).take(1 << 20).read_to_end(&mut v);
                out.push((p, v));
            }
        }
    }
    rec(root, &mut out);
    out
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): stdout={} stderr={}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The report entry of one student in a `--json` report.
pub fn student<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["report"]["students"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["student"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report:#}"))
}

/// `(path, kind)` pairs of a student's notes or problems.
pub fn items(s: &serde_json::Value, which: &str) -> Vec<(String, String)> {
    s[which]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["path"].as_str().unwrap().to_string(),
                i["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

pub fn write(p: &Path, data: &str) {
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(p, data).unwrap();
}

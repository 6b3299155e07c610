//! Process identity and signals: pidfiles that record the start time, so a
//! recycled pid is never mistaken for ours, and a command-line marker check
//! (pid alone is not proof).

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

/// What a pidfile holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PidRecord {
    pub pid: u32,
    /// `/proc/<pid>/stat` field 22: clock ticks after boot.
    pub start_ticks: u64,
    /// A substring the process's command line must contain.
    pub marker: String,
}

/// Reads `/proc/<pid>/stat`: (state char, start ticks).
fn stat(pid: u32) -> Option<(char, u64)> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and ')' — fields start after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

pub fn cmdline(pid: u32) -> Option<String> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
            .trim()
            .to_string(),
    )
}

pub fn start_ticks(pid: u32) -> Option<u64> {
    stat(pid).map(|(_, t)| t)
}

/// Alive (not a zombie), same start time, command line carries the marker.
pub fn is_ours(rec: &PidRecord) -> bool {
    match stat(rec.pid) {
        Some((state, ticks)) if state != 'Z' && ticks == rec.start_ticks => {
            cmdline(rec.pid).is_some_and(|c| c.contains(&rec.marker))
        }
        _ => false,
    }
}

/// The same process (pid and start time) still exists and is not a zombie.
/// No command-line check: a process that is exiting has an empty one.
pub fn still_running(rec: &PidRecord) -> bool {
    matches!(stat(rec.pid), Some((s, t)) if s != 'Z' && t == rec.start_ticks)
}

/// Any process with this pid that is not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    matches!(stat(pid), Some((s, _)) if s != 'Z')
}

pub fn uptime_secs(rec: &PidRecord) -> Option<u64> {
    let boot_secs: f64 = fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    Some((boot_secs - rec.start_ticks as f64 / hz).max(0.0) as u64)
}

pub fn read_pidfile(path: &Path) -> Option<PidRecord> {
    serde_json::from_str(&fs::read_to_string(path).ok()?).ok()
}

/// Writes atomically (temp file + rename) so a reader never sees half a record.
pub fn write_pidfile(path: &Path, rec: &PidRecord) -> std::io::Result<()> {
    let tmp = path.with_extension("pid.tmp");
    {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)?;
        f.write_all(serde_json::to_string(rec).unwrap_or_default().as_bytes())?;
        f.sync_all()?;
    }
    fs::rename(tmp, path)
}

pub fn signal(pid: u32, sig: Signal) -> bool {
    kill(Pid::from_raw(pid as i32), sig).is_ok()
}

/// Polls until `done()` or the timeout; true if done.
pub fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if done() {
            return true;
        }
        if start.elapsed() >= timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGTERM, wait up to `timeout`, then SIGKILL. `gone` says when it has exited
/// (for our own children that means reaped). True if it had to be killed.
pub fn terminate(pid: u32, timeout: Duration, mut gone: impl FnMut() -> bool) -> bool {
    if gone() {
        return false;
    }
    signal(pid, Signal::SIGTERM);
    if wait_until(timeout, &mut gone) {
        return false;
    }
    signal(pid, Signal::SIGKILL);
    wait_until(Duration::from_secs(5), gone);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_recognised_and_a_wrong_start_time_is_not() {
        let pid = std::process::id();
        let ticks = start_ticks(pid).unwrap();
        let me = cmdline(pid).unwrap();
        let marker = me.split(' ').next().unwrap().to_string();
        let rec = PidRecord {
            pid,
            start_ticks: ticks,
            marker,
        };
        assert!(is_ours(&rec));
        assert!(!is_ours(&PidRecord {
            start_ticks: ticks + 1,
            ..rec.clone()
        }));
        assert!(!is_ours(&PidRecord {
            marker: "no-such-marker".into(),
            ..rec
        }));
    }

    #[test]
    fn pidfile_round_trips() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.pid");
        let rec = PidRecord {
            pid: 1,
            start_ticks: 2,
            marker: "m".into(),
        };
        write_pidfile(&p, &rec).unwrap();
        assert_eq!(read_pidfile(&p), Some(rec));
    }
}

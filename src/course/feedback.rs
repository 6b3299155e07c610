//! Return: copy `feedback/<s>/<a>/` into `<home>/<a>/feedback/<timestamp>/`,
//! like nbgrader's fetch_feedback (the timestamp of the graded submission,
//! from the feedback's timestamp.txt). The files stay root's and read-only
//! (0444 in root-owned directories), so the student can read but not change
//! them. A newer feedback goes beside the older one (another timestamp); a
//! file already there is never overwritten: identical means up to date,
//! anything else is left and reported.

use std::ffi::OsStr;
use std::os::fd::AsFd;

use chrono::Utc;
use nix::sys::stat::{fchmod, Mode};
use rayon::prelude::*;

use crate::config::Config;

use super::layout::Layout;
use super::lock::CourseLock;
use super::release::{mirror, scan_source, Mirror};
use super::report::{Counters, Item, ItemKind, OpReport, Operation, Progress, StudentReport};
use super::safefs::{self, DirRefusal};
use super::CourseError;

#[derive(Debug, Clone, Default)]
pub struct ReturnOptions {}

fn feedback_mode(src: u32) -> u32 {
    if src & 0o111 != 0 {
        0o555
    } else {
        0o444
    }
}

/// The directory name for this feedback: nbgrader's timestamp, or now.
fn stamp_of(layout: &Layout, s: &str, a: &str) -> String {
    let p = layout.feedback_dir(s, a).join("timestamp.txt");
    let t = std::fs::read_to_string(p).unwrap_or_default();
    let t = t.trim();
    let ok = !t.is_empty()
        && t.len() <= 64
        && t != "."
        && t != ".."
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || " :.-+_".contains(c));
    if ok {
        t.to_string()
    } else {
        super::layout::nbgrader_timestamp(Utc::now())
    }
}

pub fn plan_return(
    cfg: &Config,
    assignment: &str,
    students: &[String],
) -> Result<OpReport, CourseError> {
    return_impl(cfg, assignment, students, true, &|_| {})
}

/// Returns feedback for `assignment` to `students`. The caller holds the course lock.
pub fn run_return(
    cfg: &Config,
    _lock: &CourseLock,
    assignment: &str,
    students: &[String],
    _opts: &ReturnOptions,
    progress: impl Fn(Progress) + Sync,
) -> Result<OpReport, CourseError> {
    return_impl(cfg, assignment, students, false, &progress)
}

fn return_impl(
    cfg: &Config,
    assignment: &str,
    students: &[String],
    dry: bool,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<OpReport, CourseError> {
    super::check_assignment(cfg, assignment)?;
    super::check_students(students)?;
    let started = Utc::now();
    let layout = Layout::new(cfg);
    let counters = Counters::new(Operation::Return, students.len(), 0, 0, progress);
    let owner = (cfg.assignments.owner_uid, cfg.assignments.owner_gid);
    let max_depth = cfg.assignments.max_depth;
    let reports: Vec<StudentReport> = students
        .par_iter()
        .map(|s| {
            let r = return_student(&layout, assignment, s, owner, max_depth, dry, &counters);
            counters.student_done(s);
            r
        })
        .collect();
    Ok(OpReport::new(
        Operation::Return,
        assignment,
        dry,
        started,
        reports,
    ))
}

fn return_student(
    layout: &Layout,
    a: &str,
    s: &str,
    owner: (u32, u32),
    max_depth: u32,
    dry: bool,
    counters: &Counters<'_>,
) -> StudentReport {
    let src = layout.feedback_dir(s, a);
    if !src.is_dir() {
        return StudentReport::new(s, "no-feedback");
    }
    let mut rep = StudentReport::new(s, if dry { "would-return" } else { "returned" });
    let (entries, items) = match scan_source(&src, max_depth) {
        Ok(x) => x,
        Err(e) => {
            rep.note(
                Item::new(src.display().to_string(), ItemKind::Unreadable).with(e.to_string()),
            );
            return rep;
        }
    };
    for i in items {
        rep.note(i);
    }
    let stamp = stamp_of(layout, s, a);
    rep.version = Some(stamp.clone());
    let home = match safefs::open_home(&layout.home_template, s) {
        Ok(h) => h,
        Err(r) => {
            rep.outcome = "no-home".into();
            rep.note(r.item());
            return rep;
        }
    };
    let count_all = |rep: &mut StudentReport| {
        for e in entries.iter().filter(|e| !e.dir) {
            rep.files += 1;
            rep.bytes += e.size;
        }
    };
    // <home>/<a>/ and <home>/<a>/feedback/ are the student's; <stamp>/ is ours.
    let mut dir = home;
    for (name, student_owned) in [(a, true), ("feedback", true), (stamp.as_str(), false)] {
        let opened = if dry {
            safefs::open_subdir(dir.as_fd(), OsStr::new(name)).map(|fd| (fd, false))
        } else {
            safefs::make_dir_at(dir.as_fd(), OsStr::new(name), 0o755)
        };
        match opened {
            Ok((fd, created)) => {
                if created && student_owned {
                    let _ = nix::unistd::fchown(
                        &fd,
                        Some(nix::unistd::Uid::from_raw(owner.0)),
                        Some(nix::unistd::Gid::from_raw(owner.1)),
                    );
                }
                dir = fd;
            }
            Err(DirRefusal::Missing) if dry => {
                count_all(&mut rep);
                return rep;
            }
            Err(r) => {
                rep.outcome = "refused".into();
                let mut i = r.item();
                i.detail = Some(format!(
                    "{name}: a symlink or not a directory in the home: refused, nothing written"
                ));
                rep.note(i);
                return rep;
            }
        }
    }
    let m = Mirror {
        src_root: &src,
        entries: &entries,
        owner: None,
        file_mode: feedback_mode,
        dir_mode: 0o755,
        manifest: None,
        update: false,
        dry,
    };
    let keep = dir.try_clone();
    mirror(&m, dir, &mut rep, counters);
    if !dry {
        if let Ok(fd) = keep {
            let _ = fchmod(&fd, Mode::from_bits_truncate(0o555));
        }
        if rep.files == 0 && rep.problems.is_empty() {
            rep.outcome = "up-to-date".into();
        }
    }
    rep
}

//! Collect: snapshot each student's `<home>/<a>/` into a new read-only
//! version under `collected/<s>/<a>/<version>/`, then point
//! `submitted/<s>/<a>` at it by renaming a new symlink over the old one.
//!
//! Atomic per student: the version is built in `.tmp-<version>` and only
//! renamed into place once complete; its record (`<version>.json`) is written
//! first; the `submitted` link switches last. A kill at any point leaves the
//! previous version current; the next run removes the leftovers.
//! Earlier versions are never touched. Files unchanged since the current
//! version (same size, mtime, ctime, inode) are hard-linked from it: both
//! are root-owned, read-only copies, never a student's live file.
//! Nothing is fsynced per student: one `syncfs` at the end makes the whole
//! collection durable in a single flush (a journal commit per student made
//! collect 1.3x slower than `cp -a` + sync). A power cut mid-run may need a
//! re-collect; the homes are untouched either way.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fchmod, fstat, futimens, mkdirat, FileStat, Mode};
use nix::unistd::linkat;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::Config;

use super::layout::{nbgrader_timestamp, version_name, Layout};
use super::lock::CourseLock;
use super::policy::{lateness, Budget, Lateness, Limits};
use super::report::{Counters, Item, ItemKind, OpReport, Operation, Progress, StudentReport};
use super::safefs::{self, escape, DirRefusal, Visitor};
use super::CourseError;

#[derive(Debug, Clone, Default)]
pub struct CollectOptions {
    /// Walk everything once first so progress has totals (a gauge with ETA).
    /// Costs one extra metadata pass; the headless command does it only on a terminal.
    pub count_first: bool,
}

/// What a version took, beside the version dir (so the status query and the
/// next collect need not walk it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VersionMeta {
    pub version: String,
    pub collected_at: DateTime<Utc>,
    /// The newest change in the student's tree (ctime, which a student cannot
    /// set back), capped at the collection time; what timestamp.txt says.
    pub submitted_at: DateTime<Utc>,
    pub lateness: Lateness,
    pub files: u64,
    pub bytes: u64,
    pub skipped: Vec<Item>,
    pub problems: Vec<Item>,
    /// Escaped relative path → identity of the source file when copied.
    pub index: BTreeMap<String, SourceId>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct SourceId {
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub ino: u64,
    pub dev: u64,
}

impl SourceId {
    fn of(st: &FileStat) -> Self {
        Self {
            size: safefs::size_of(st),
            mtime_ns: safefs::mtime_ns(st),
            ctime_ns: safefs::ctime_ns(st),
            ino: st.st_ino,
            dev: st.st_dev,
        }
    }
}

fn limits_of(cfg: &Config) -> Limits {
    Limits::from_config(&cfg.assignments)
}

/// Dry run: what a collect would take and skip, per student. Reads the
/// homes (metadata only), writes nothing.
pub fn plan_collect(
    cfg: &Config,
    assignment: &str,
    students: &[String],
) -> Result<OpReport, CourseError> {
    super::check_assignment(cfg, assignment)?;
    let started = Utc::now();
    let layout = Layout::new(cfg);
    let limits = limits_of(cfg);
    let reports: Vec<StudentReport> = students
        .par_iter()
        .map(|s| scan_student(&layout, assignment, s, &limits, "would-collect"))
        .collect();
    Ok(OpReport::new(
        Operation::Collect,
        assignment,
        true,
        started,
        reports,
    ))
}

/// Opens `<home>/<a>` of a student; `Err(report)` says why not.
fn open_assignment(layout: &Layout, a: &str, s: &str) -> Result<OwnedFd, Box<StudentReport>> {
    let home = match safefs::open_home(&layout.home_template, s) {
        Ok(h) => h,
        Err(DirRefusal::Missing) => return Err(Box::new(StudentReport::new(s, "missing"))),
        Err(r) => {
            let mut rep = StudentReport::new(s, "refused");
            rep.note(r.item());
            return Err(Box::new(rep));
        }
    };
    match safefs::open_subdir(home.as_fd(), OsStr::new(a)) {
        Ok(fd) => Ok(fd),
        Err(DirRefusal::Missing) => Err(Box::new(StudentReport::new(s, "missing"))),
        Err(r) => {
            let mut rep = StudentReport::new(s, "refused");
            rep.note(r.item());
            Err(Box::new(rep))
        }
    }
}

/// Counts what would be taken.
struct Scan<'a> {
    rep: &'a mut StudentReport,
}

impl Visitor for Scan<'_> {
    fn enter(&mut self, _: &Path, _: &OsStr, _: &FileStat) -> bool {
        true
    }
    fn leave(&mut self, _: &Path, _: BorrowedFd<'_>) {}
    fn file(&mut self, _: BorrowedFd<'_>, _: &OsStr, rel: &Path, st: &FileStat) {
        if rel == Path::new("timestamp.txt") {
            self.rep.note(reserved());
            return;
        }
        self.rep.files += 1;
        self.rep.bytes += safefs::size_of(st);
    }
    fn skip(&mut self, item: Item) {
        self.rep.note(item);
    }
}

fn reserved() -> Item {
    Item::new("timestamp.txt", ItemKind::Reserved)
        .with("coursectl writes timestamp.txt itself; the student's file is not taken")
}

fn scan_student(
    layout: &Layout,
    a: &str,
    s: &str,
    limits: &Limits,
    outcome: &str,
) -> StudentReport {
    let dir = match open_assignment(layout, a, s) {
        Ok(d) => d,
        Err(rep) => return *rep,
    };
    let mut rep = StudentReport::new(s, outcome);
    let mut budget = Budget::default();
    safefs::walk(
        dir.as_fd(),
        limits,
        &mut budget,
        &mut Scan { rep: &mut rep },
    );
    rep
}

/// Collects `assignment` from `students`. The caller holds the course lock.
pub fn run_collect(
    cfg: &Config,
    _lock: &CourseLock,
    assignment: &str,
    students: &[String],
    opts: &CollectOptions,
    progress: impl Fn(Progress) + Sync,
) -> Result<OpReport, CourseError> {
    let a_cfg = super::check_assignment(cfg, assignment)?;
    super::check_students(students)?;
    let started = Utc::now();
    let layout = Layout::new(cfg);
    let limits = limits_of(cfg);
    let (files_total, bytes_total) = if opts.count_first {
        let scans: Vec<(u64, u64)> = students
            .par_iter()
            .map(|s| {
                let r = scan_student(&layout, assignment, s, &limits, "");
                (r.files, r.bytes)
            })
            .collect();
        scans
            .iter()
            .fold((0, 0), |(f, b), (f2, b2)| (f + f2, b + b2))
    } else {
        (0, 0)
    };
    let counters = Counters::new(
        Operation::Collect,
        students.len(),
        files_total,
        bytes_total,
        &progress,
    );
    counters.emit(None);
    let ctx = Ctx {
        layout: &layout,
        a: assignment,
        limits,
        due: a_cfg.due,
        window: a_cfg.late_window,
        counters: &counters,
    };
    let reports: Vec<StudentReport> = students
        .par_iter()
        .map(|s| {
            let r = collect_student(&ctx, s);
            counters.student_done(s);
            r
        })
        .collect();
    let root = &layout.course;
    if let Err(e) = std::fs::File::open(root)
        .and_then(|f| nix::unistd::syncfs(&f).map_err(std::io::Error::from))
    {
        return Err(CourseError::io(root, e));
    }
    Ok(OpReport::new(
        Operation::Collect,
        assignment,
        false,
        started,
        reports,
    ))
}

struct Ctx<'a> {
    layout: &'a Layout,
    a: &'a str,
    limits: Limits,
    due: Option<DateTime<Utc>>,
    window: Option<std::time::Duration>,
    counters: &'a Counters<'a>,
}

/// What `submitted/<s>/<a>` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Current {
    None,
    /// Our symlink, to this version.
    Version(String),
    /// Something coursectl did not make (e.g. nbgrader's own collect).
    Foreign,
}

impl Current {
    pub fn version(self) -> Option<String> {
        match self {
            Current::Version(v) => Some(v),
            _ => None,
        }
    }
}

/// The current version of a student's submission.
pub fn current_version(layout: &Layout, s: &str, a: &str) -> Current {
    let link = layout.submitted(s, a);
    match std::fs::symlink_metadata(&link) {
        Err(_) => Current::None,
        Ok(m) if m.file_type().is_symlink() => {
            let Ok(target) = std::fs::read_link(&link) else {
                return Current::Foreign;
            };
            let v = target.file_name().map(|n| n.to_string_lossy().into_owned());
            match v {
                Some(v) if layout.collected_dir(s, a).join(&v).is_dir() => Current::Version(v),
                _ => Current::Foreign,
            }
        }
        Ok(_) => Current::Foreign,
    }
}

pub fn read_meta(layout: &Layout, s: &str, a: &str, version: &str) -> Option<VersionMeta> {
    let p = layout.collected_dir(s, a).join(format!("{version}.json"));
    let text = std::fs::read(p).ok()?;
    serde_json::from_slice(&text).ok()
}

fn collect_student(ctx: &Ctx<'_>, s: &str) -> StudentReport {
    let src = match open_assignment(ctx.layout, ctx.a, s) {
        Ok(d) => d,
        Err(rep) => return *rep,
    };
    let mut rep = StudentReport::new(s, "collected");
    let cdir = ctx.layout.collected_dir(s, ctx.a);
    let fail = |mut rep: StudentReport, path: &Path, e: std::io::Error| {
        rep.outcome = "failed".into();
        rep.note(Item::new(path.display().to_string(), ItemKind::WriteFailed).with(e.to_string()));
        rep
    };
    if let Err(e) = std::fs::create_dir_all(&cdir) {
        return fail(rep, &cdir, e);
    }
    remove_leftovers(&cdir);

    // The current version, to link unchanged files from and to compare with.
    let current = current_version(ctx.layout, s, ctx.a);
    let conflict = match current {
        Current::None | Current::Version(_) => false,
        Current::Foreign => {
            rep.note(
                Item::new(
                    ctx.layout.submitted(s, ctx.a).display().to_string(),
                    ItemKind::Conflict,
                )
                .with(
                    "not coursectl's symlink: left alone; move it aside to let collect switch it",
                ),
            );
            true
        }
    };
    let prev = current.version();
    let prev_meta = prev
        .as_deref()
        .and_then(|v| read_meta(ctx.layout, s, ctx.a, v));
    let prev_fd = prev
        .as_deref()
        .and_then(|v| safefs::open_dir_path(&cdir.join(v)).ok());

    let now = Utc::now();
    let mut version = version_name(now);
    let mut n = 1;
    while cdir.join(&version).exists() || cdir.join(format!("{version}.json")).exists() {
        version = format!("{}-{n}", version_name(now));
        n += 1;
    }
    let tmp = cdir.join(format!(".tmp-{version}"));
    if let Err(e) = std::fs::create_dir(&tmp) {
        return fail(rep, &tmp, e);
    }
    let tmp_fd = match safefs::open_dir_path(&tmp) {
        Ok(fd) => fd,
        Err(e) => return fail(rep, &tmp, e),
    };

    let mut v = Copier {
        dest: vec![tmp_fd],
        prev: prev_fd.as_ref().map(|f| f.as_fd()),
        prev_index: prev_meta.as_ref().map(|m| &m.index),
        index: BTreeMap::new(),
        rep: &mut rep,
        max_ctime: 0,
        counters: ctx.counters,
    };
    if let Ok(st) = fstat(&src) {
        v.max_ctime = safefs::ctime_ns(&st);
    }
    let mut budget = Budget::default();
    safefs::walk(src.as_fd(), &ctx.limits, &mut budget, &mut v);
    let index = std::mem::take(&mut v.index);
    let max_ctime = v.max_ctime;
    let root = v.dest.pop();
    drop(v);

    let submitted_at = Utc.timestamp_nanos(max_ctime).min(now);
    let Some(root) = root else {
        return fail(
            rep,
            &tmp,
            std::io::Error::other("lost the version's directory"),
        );
    };
    if let Err(e) = write_timestamp(root.as_fd(), submitted_at) {
        let _ = std::fs::remove_dir_all(&tmp);
        return fail(rep, &tmp, e);
    }
    let _ = fchmod(&root, Mode::from_bits_truncate(0o555));
    drop(root);

    // Nothing changed since the current version: keep it, drop the new build.
    if let (Some(pm), Some(pv)) = (&prev_meta, &prev) {
        if pm.index == index && pm.skipped == rep.skipped && pm.problems == rep.problems {
            let _ = std::fs::remove_dir_all(&tmp);
            rep.outcome = "unchanged".into();
            rep.version = Some(pv.clone());
            rep.submitted_at = Some(pm.submitted_at);
            rep.late = Some(pm.lateness != Lateness::OnTime);
            rep.linked = 0;
            return rep;
        }
    }

    let late = lateness(submitted_at, ctx.due, ctx.window);
    let meta = VersionMeta {
        version: version.clone(),
        collected_at: now,
        submitted_at,
        lateness: late,
        files: rep.files + rep.linked,
        bytes: rep.bytes,
        skipped: rep.skipped.clone(),
        problems: rep.problems.clone(),
        index,
    };
    let meta_path = cdir.join(format!("{version}.json"));
    let written = serde_json::to_vec_pretty(&meta)
        .map_err(std::io::Error::other)
        .and_then(|b| safefs::write_atomic(&meta_path, &b, false));
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&tmp);
        return fail(rep, &meta_path, e);
    }
    let final_dir = cdir.join(&version);
    if let Err(e) = std::fs::rename(&tmp, &final_dir) {
        let _ = std::fs::remove_dir_all(&tmp);
        let _ = std::fs::remove_file(&meta_path);
        return fail(rep, &final_dir, e);
    }
    rep.version = Some(version.clone());
    rep.submitted_at = Some(submitted_at);
    rep.late = Some(late != Lateness::OnTime);

    if late == Lateness::PastWindow && prev.is_some() {
        rep.outcome = "kept-not-current".into();
        rep.note(Item::new(version.clone(), ItemKind::PastWindow).with(
            "changed after the late window: kept as a version, the earlier one stays current",
        ));
        return rep;
    }
    if conflict {
        return rep;
    }
    if let Err(e) = switch_current(ctx.layout, s, ctx.a, &version) {
        let p = ctx.layout.submitted(s, ctx.a);
        return fail(rep, &p, e);
    }
    rep
}

/// Points `submitted/<s>/<a>` at `version`: a new symlink renamed over the old one.
fn switch_current(layout: &Layout, s: &str, a: &str, version: &str) -> std::io::Result<()> {
    let parent = layout.submitted_parent(s);
    std::fs::create_dir_all(&parent)?;
    let tmp = parent.join(format!(".{a}.coursectl-new-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(Layout::submitted_target(s, a, version), &tmp)?;
    // Durable with the rest of the run (one syncfs at the end of run_collect).
    std::fs::rename(&tmp, layout.submitted(s, a))
}

/// Removes `.tmp-*` builds and temporary records a killed run left behind.
fn remove_leftovers(cdir: &Path) {
    let Ok(rd) = std::fs::read_dir(cdir) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        if !name.to_string_lossy().starts_with('.') {
            continue;
        }
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => {
                let _ = std::fs::remove_dir_all(&p);
            }
            Ok(_) => {
                let _ = std::fs::remove_file(&p);
            }
            Err(_) => {}
        }
    }
}

fn write_timestamp(dir: BorrowedFd<'_>, t: DateTime<Utc>) -> std::io::Result<()> {
    use std::io::Write;
    let fd = openat(
        dir,
        "timestamp.txt",
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o444),
    )?;
    let mut f = std::fs::File::from(fd);
    f.write_all(nbgrader_timestamp(t).as_bytes())?;
    Ok(())
}

/// Copies what the walk takes into the version being built.
struct Copier<'a> {
    /// Destination directory fds, parallel to the walk's depth.
    dest: Vec<OwnedFd>,
    prev: Option<BorrowedFd<'a>>,
    prev_index: Option<&'a BTreeMap<String, SourceId>>,
    index: BTreeMap<String, SourceId>,
    rep: &'a mut StudentReport,
    max_ctime: i64,
    counters: &'a Counters<'a>,
}

impl Copier<'_> {
    fn top(&self) -> Option<BorrowedFd<'_>> {
        self.dest.last().map(|f| f.as_fd())
    }

    fn try_link(&self, rel: &Path, name: &OsStr, id: &SourceId) -> bool {
        let (Some(prev), Some(idx), Some(top)) = (self.prev, self.prev_index, self.top()) else {
            return false;
        };
        if idx.get(&escape(rel)) != Some(id) {
            return false;
        }
        // The previous version is ours (root-owned, read-only): a plain relative path is safe.
        linkat(prev, rel, top, name, AtFlags::empty()).is_ok()
    }

    fn copy(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        rel: &Path,
    ) -> Result<(u64, FileStat), Item> {
        let (mut src, st) = safefs::open_regular_at(parent, name).map_err(|e| match e {
            Errno::ELOOP => {
                Item::new(escape(rel), ItemKind::Symlink).with("changed while collecting")
            }
            Errno::EINVAL => {
                Item::new(escape(rel), ItemKind::Special).with("changed while collecting")
            }
            e => Item::new(escape(rel), ItemKind::Unreadable).with(e.desc()),
        })?;
        let Some(top) = self.top() else {
            return Err(Item::new(escape(rel), ItemKind::WriteFailed));
        };
        let size = safefs::size_of(&st);
        let mode = if st.st_mode & 0o111 != 0 {
            0o555
        } else {
            0o444
        };
        let fd = openat(
            top,
            name,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(mode),
        )
        .map_err(|e| Item::new(escape(rel), ItemKind::WriteFailed).with(e.desc()))?;
        let mut dst = std::fs::File::from(fd);
        use std::io::Read;
        // At most the size the caps were checked against, even if it grows meanwhile.
        let copied = std::io::copy(&mut (&mut src).take(size), &mut dst);
        match copied {
            Ok(n) => {
                let m = safefs::mtime(&st);
                let _ = futimens(&dst, &m, &m);
                Ok((n, st))
            }
            Err(e) => {
                drop(dst);
                let _ = nix::unistd::unlinkat(top, name, nix::unistd::UnlinkatFlags::NoRemoveDir);
                Err(Item::new(escape(rel), ItemKind::Unreadable).with(e.to_string()))
            }
        }
    }
}

impl Visitor for Copier<'_> {
    fn enter(&mut self, rel: &Path, name: &OsStr, st: &FileStat) -> bool {
        self.max_ctime = self.max_ctime.max(safefs::ctime_ns(st));
        let Some(top) = self.top() else { return false };
        let made = mkdirat(top, name, Mode::from_bits_truncate(0o700))
            .and_then(|()| safefs::open_dir_at(top, name));
        match made {
            Ok(fd) => {
                self.dest.push(fd);
                true
            }
            Err(e) => {
                self.rep
                    .note(Item::new(escape(rel), ItemKind::WriteFailed).with(e.desc()));
                false
            }
        }
    }

    fn leave(&mut self, _: &Path, _: BorrowedFd<'_>) {
        if let Some(fd) = self.dest.pop() {
            // Read-only once complete (root still writes; students never see it).
            let _ = fchmod(&fd, Mode::from_bits_truncate(0o555));
        }
    }

    fn file(&mut self, parent: BorrowedFd<'_>, name: &OsStr, rel: &Path, st: &FileStat) {
        if rel == Path::new("timestamp.txt") {
            self.rep.note(reserved());
            return;
        }
        let id = SourceId::of(st);
        if self.try_link(rel, name, &id) {
            self.max_ctime = self.max_ctime.max(id.ctime_ns);
            self.index.insert(escape(rel), id);
            self.rep.linked += 1;
            self.rep.bytes += id.size;
            self.counters.file(id.size);
            return;
        }
        match self.copy(parent, name, rel) {
            Ok((n, st)) => {
                let id = SourceId::of(&st);
                self.max_ctime = self.max_ctime.max(id.ctime_ns);
                self.index.insert(escape(rel), id);
                self.rep.files += 1;
                self.rep.bytes += n;
                self.counters.file(n);
            }
            Err(item) => self.rep.note(item),
        }
    }

    fn skip(&mut self, item: Item) {
        self.rep.note(item);
    }
}

/// All versions of a student's submission, oldest first.
pub fn versions(layout: &Layout, s: &str, a: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(layout.collected_dir(s, a))
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

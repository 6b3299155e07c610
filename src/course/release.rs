//! Release: copy `release/<a>/` into every student's `<home>/<a>/`, owned by
//! the containers' user and writable by the student. A file the student
//! already has is never overwritten or deleted: it is left and reported.
//! `--update` may replace only files unchanged since our last release, known
//! from a per-student manifest (size, mtime, SHA-256) in the state dir.
//!
//! The same mirror engine writes returned feedback (see `feedback.rs`).

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use nix::errno::Errno;
use nix::sys::stat::FileStat;
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, Gid, Uid};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::Config;

use super::layout::Layout;
use super::lock::CourseLock;
use super::policy::{decide_release, Budget, FileFacts, Kind, Limits, ReleaseAction};
use super::report::{Counters, Item, ItemKind, OpReport, Operation, Progress, StudentReport};
use super::safefs::{self, escape, DirRefusal, NewFile, Visitor};
use super::CourseError;

#[derive(Debug, Clone, Default)]
pub struct ReleaseOptions {
    /// Replace files the student has not modified since the last release.
    pub update: bool,
}

/// What we released to one student (state dir), keyed by escaped relative path.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    pub first_released_at: Option<DateTime<Utc>>,
    pub released_at: Option<DateTime<Utc>>,
    pub files: BTreeMap<String, ManifestEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub size: u64,
    pub mtime_ns: i64,
    pub sha256: String,
}

/// When an assignment was released (state dir).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleaseRecord {
    pub first_released_at: DateTime<Utc>,
    pub last_released_at: DateTime<Utc>,
    pub runs: u64,
}

pub fn read_manifest(layout: &Layout, a: &str, s: &str) -> Option<Manifest> {
    let b = std::fs::read(layout.manifest(a, s)).ok()?;
    serde_json::from_slice(&b).ok()
}

pub fn read_release_record(layout: &Layout, a: &str) -> Option<ReleaseRecord> {
    let b = std::fs::read(layout.release_record(a)).ok()?;
    serde_json::from_slice(&b).ok()
}

/// One entry of a tree to mirror (pre-order: a directory before its contents).
#[derive(Debug, Clone)]
pub struct SrcEntry {
    pub rel: PathBuf,
    pub dir: bool,
    pub size: u64,
    pub mode: u32,
    pub mtime: TimeSpec,
    pub sha256: String,
}

/// Lists and hashes an instructor tree (release/<a>, feedback/<s>/<a>).
/// Symlinks and special files in it are skipped (and returned as items).
pub fn scan_source(root: &Path, max_depth: u32) -> std::io::Result<(Vec<SrcEntry>, Vec<Item>)> {
    let fd = safefs::open_dir_path(root)?;
    struct Lister {
        out: Vec<SrcEntry>,
        items: Vec<Item>,
    }
    impl Visitor for Lister {
        fn enter(&mut self, rel: &Path, _: &OsStr, st: &FileStat) -> bool {
            self.out.push(SrcEntry {
                rel: rel.to_path_buf(),
                dir: true,
                size: 0,
                mode: st.st_mode & 0o7777,
                mtime: safefs::mtime(st),
                sha256: String::new(),
            });
            true
        }
        fn leave(&mut self, _: &Path, _: BorrowedFd<'_>) {}
        fn file(&mut self, parent: BorrowedFd<'_>, name: &OsStr, rel: &Path, _: &FileStat) {
            let hashed = safefs::open_regular_at(parent, name)
                .map_err(std::io::Error::from)
                .and_then(|(mut f, st)| Ok((safefs::hash_file(&mut f)?, st)));
            match hashed {
                Ok((sha256, st)) => self.out.push(SrcEntry {
                    rel: rel.to_path_buf(),
                    dir: false,
                    size: safefs::size_of(&st),
                    mode: st.st_mode & 0o7777,
                    mtime: safefs::mtime(&st),
                    sha256,
                }),
                Err(e) => self
                    .items
                    .push(Item::new(escape(rel), ItemKind::Unreadable).with(e.to_string())),
            }
        }
        fn skip(&mut self, item: Item) {
            self.items.push(item);
        }
    }
    let mut l = Lister {
        out: Vec::new(),
        items: Vec::new(),
    };
    let mut budget = Budget::default();
    safefs::walk(
        fd.as_fd(),
        &Limits::unlimited(max_depth),
        &mut budget,
        &mut l,
    );
    Ok((l.out, l.items))
}

/// How the mirror writes.
pub(crate) struct Mirror<'a> {
    pub src_root: &'a Path,
    pub entries: &'a [SrcEntry],
    /// Release: the student's uid:gid. Return: None (stays root's, read-only).
    pub owner: Option<(u32, u32)>,
    pub file_mode: fn(u32) -> u32,
    pub dir_mode: u32,
    pub manifest: Option<&'a Manifest>,
    pub update: bool,
    pub dry: bool,
}

fn release_file_mode(src: u32) -> u32 {
    (src & 0o777) | 0o600
}

/// Mirrors `m.entries` into `target` (already opened safely). Returns the
/// manifest entries of what is now ours in the target.
pub(crate) fn mirror(
    m: &Mirror<'_>,
    target: OwnedFd,
    rep: &mut StudentReport,
    counters: &Counters<'_>,
) -> BTreeMap<String, ManifestEntry> {
    let mut out = m.manifest.map(|x| x.files.clone()).unwrap_or_default();
    // Directory fds by relative path; None = not usable (reported once).
    let mut dirs: HashMap<PathBuf, Option<OwnedFd>> = HashMap::new();
    if !m.dry {
        safefs::remove_stale_tmps(target.as_fd());
    }
    dirs.insert(PathBuf::new(), Some(target));
    for e in m.entries {
        let parent_rel = e.rel.parent().map(Path::to_path_buf).unwrap_or_default();
        let name: OsString = e
            .rel
            .file_name()
            .map(OsStr::to_os_string)
            .unwrap_or_default();
        // A parent we could not open (or that would be created in a dry run).
        let parent = match dirs.get(&parent_rel) {
            Some(Some(fd)) => Some(fd.as_fd()),
            Some(None) => None,
            None => continue,
        };
        if e.dir {
            let fd = match parent {
                None => None,
                Some(p) if m.dry => safefs::open_subdir(p, &name).ok(),
                Some(p) => {
                    match safefs::make_dir_at(p, &name, m.dir_mode) {
                        Ok((fd, created)) => {
                            fix_owner(&fd, created, m.owner);
                            safefs::remove_stale_tmps(fd.as_fd());
                            Some(fd)
                        }
                        Err(r) => {
                            let item = match r {
                            DirRefusal::Symlink(_) => Item::new(escape(&e.rel), ItemKind::Exists)
                                .with("a symlink in the home: not followed, nothing released under it"),
                            DirRefusal::NotADirectory(_) => Item::new(escape(&e.rel), ItemKind::Exists)
                                .with("not a directory in the home: nothing released under it"),
                            other => {
                                let mut i = other.item();
                                i.path = escape(&e.rel);
                                i.kind = ItemKind::WriteFailed;
                                i
                            }
                        };
                            rep.note(item);
                            None
                        }
                    }
                }
            };
            if m.dry && fd.is_none() && parent.is_some() {
                // Would be created: its files would all be new.
                if let Some(p) = parent {
                    if let Ok(st) = safefs::lstat_at(p, &name) {
                        if safefs::kind_of(&st) != Kind::Dir {
                            rep.note(
                                Item::new(escape(&e.rel), ItemKind::Exists)
                                    .with("not a directory in the home: nothing released under it"),
                            );
                            dirs.insert(e.rel.clone(), None);
                            continue;
                        }
                    }
                }
                mark_new_subtree(m, &e.rel, rep, counters, &mut out);
                dirs.insert(e.rel.clone(), None);
                continue;
            }
            dirs.insert(e.rel.clone(), fd);
            continue;
        }
        let Some(parent) = parent else { continue };
        let key = escape(&e.rel);
        counters.file(e.size);
        let home = match safefs::lstat_at(parent, &name) {
            Ok(st) => Some((
                safefs::kind_of(&st),
                FileFacts {
                    size: safefs::size_of(&st),
                    mtime_ns: safefs::mtime_ns(&st),
                },
            )),
            Err(Errno::ENOENT) => None,
            Err(err) => {
                rep.note(Item::new(key, ItemKind::Unreadable).with(err.desc()));
                continue;
            }
        };
        let recorded = m.manifest.and_then(|x| x.files.get(&key));
        let recorded_facts = recorded.map(|r| FileFacts {
            size: r.size,
            mtime_ns: r.mtime_ns,
        });
        let same = recorded.is_some_and(|r| r.sha256 == e.sha256);
        let action = decide_release(e.size, home, recorded_facts.as_ref(), same, m.update);
        let action = match action {
            // --update: the content must still be what we recorded.
            ReleaseAction::Update => match content_hash(parent, &name) {
                Some(h) if recorded.is_some_and(|r| r.sha256 == h) => ReleaseAction::Update,
                _ => ReleaseAction::Leave(ItemKind::Modified),
            },
            ReleaseAction::CompareContent => match content_hash(parent, &name) {
                Some(h) if h == e.sha256 => {
                    if !m.dry {
                        adopt(parent, &name, m.owner, e, &key, &mut out);
                    }
                    ReleaseAction::UpToDate
                }
                _ => ReleaseAction::Leave(ItemKind::Exists),
            },
            other => other,
        };
        match action {
            ReleaseAction::UpToDate => rep.up_to_date += 1,
            ReleaseAction::Leave(kind) => {
                let detail = match kind {
                    ItemKind::Outdated => "unmodified since release; a newer version exists (release --update replaces it)",
                    ItemKind::Modified => "changed by the student: kept",
                    _ => "the student's file: left as it is",
                };
                rep.note(Item::new(key, kind).with(detail));
            }
            ReleaseAction::Create | ReleaseAction::Update if m.dry => {
                rep.files += 1;
                rep.bytes += e.size;
            }
            ReleaseAction::Create | ReleaseAction::Update => {
                let replace = action == ReleaseAction::Update;
                match copy_in(m, parent, &name, e, replace) {
                    Ok(facts) => {
                        rep.files += 1;
                        rep.bytes += e.size;
                        out.insert(
                            key,
                            ManifestEntry {
                                size: facts.size,
                                mtime_ns: facts.mtime_ns,
                                sha256: e.sha256.clone(),
                            },
                        );
                    }
                    Err(err) if err.raw_os_error() == Some(nix::libc::EEXIST) => {
                        rep.note(Item::new(key, ItemKind::Exists).with("appeared meanwhile: left"))
                    }
                    Err(err) => {
                        rep.note(Item::new(key, ItemKind::WriteFailed).with(err.to_string()))
                    }
                }
            }
            ReleaseAction::CompareContent => {}
        }
    }
    // Children fds are dropped here; nothing else to finish.
    out
}

fn mark_new_subtree(
    m: &Mirror<'_>,
    dir: &Path,
    rep: &mut StudentReport,
    counters: &Counters<'_>,
    _out: &mut BTreeMap<String, ManifestEntry>,
) {
    for e in m
        .entries
        .iter()
        .filter(|e| !e.dir && e.rel.starts_with(dir))
    {
        rep.files += 1;
        rep.bytes += e.size;
        counters.file(e.size);
    }
}

/// A root-owned directory in a student's home can only be ours from a killed run.
fn fix_owner(fd: &OwnedFd, created: bool, owner: Option<(u32, u32)>) {
    let Some((u, g)) = owner else { return };
    let ours = created || nix::sys::stat::fstat(fd).is_ok_and(|st| st.st_uid == 0 && u != 0);
    if ours {
        let _ = fchown(fd, Some(Uid::from_raw(u)), Some(Gid::from_raw(g)));
    }
}

fn content_hash(dir: BorrowedFd<'_>, name: &OsStr) -> Option<String> {
    let (mut f, _) = safefs::open_regular_at(dir, name).ok()?;
    safefs::hash_file(&mut f).ok()
}

/// The student has exactly our file but we had no record (a run killed
/// before its manifest was written): record it, and finish its chown.
fn adopt(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    owner: Option<(u32, u32)>,
    e: &SrcEntry,
    key: &str,
    out: &mut BTreeMap<String, ManifestEntry>,
) {
    let Ok((f, st)) = safefs::open_regular_at(dir, name) else {
        return;
    };
    if let Some((u, g)) = owner {
        if st.st_uid == 0 && u != 0 {
            let _ = fchown(&f, Some(Uid::from_raw(u)), Some(Gid::from_raw(g)));
        }
    }
    out.insert(
        key.to_string(),
        ManifestEntry {
            size: safefs::size_of(&st),
            mtime_ns: safefs::mtime_ns(&st),
            sha256: e.sha256.clone(),
        },
    );
}

fn copy_in(
    m: &Mirror<'_>,
    dir: BorrowedFd<'_>,
    name: &OsStr,
    e: &SrcEntry,
    replace: bool,
) -> std::io::Result<FileFacts> {
    let mut src = std::fs::File::open(m.src_root.join(&e.rel))?;
    safefs::write_new(
        dir,
        name,
        &mut src,
        NewFile {
            mode: (m.file_mode)(e.mode),
            owner: m.owner,
            mtime: Some(e.mtime),
            limit: e.size,
            replace,
        },
    )?;
    let st = safefs::lstat_at(dir, name)?;
    Ok(FileFacts {
        size: safefs::size_of(&st),
        mtime_ns: safefs::mtime_ns(&st),
    })
}

/// Dry run: what a release would create, keep and leave, per student.
pub fn plan_release(
    cfg: &Config,
    assignment: &str,
    students: &[String],
    opts: &ReleaseOptions,
) -> Result<OpReport, CourseError> {
    release_impl(cfg, assignment, students, opts, true, &|_| {})
}

/// Releases `assignment` to `students`. The caller holds the course lock.
pub fn run_release(
    cfg: &Config,
    _lock: &CourseLock,
    assignment: &str,
    students: &[String],
    opts: &ReleaseOptions,
    progress: impl Fn(Progress) + Sync,
) -> Result<OpReport, CourseError> {
    release_impl(cfg, assignment, students, opts, false, &progress)
}

fn release_impl(
    cfg: &Config,
    assignment: &str,
    students: &[String],
    opts: &ReleaseOptions,
    dry: bool,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<OpReport, CourseError> {
    super::check_assignment(cfg, assignment)?;
    super::check_students(students)?;
    let started = Utc::now();
    let layout = Layout::new(cfg);
    let src_root = layout.release_dir(assignment);
    if !src_root.is_dir() {
        return Err(CourseError::NoRelease {
            path: src_root,
            assignment: assignment.to_string(),
        });
    }
    let (entries, src_items) = scan_source(&src_root, cfg.assignments.max_depth)
        .map_err(|e| CourseError::io(&src_root, e))?;
    for i in &src_items {
        tracing::warn!(path = %i.path, kind = ?i.kind, "release source item not released");
    }
    let (nfiles, nbytes) = entries
        .iter()
        .filter(|e| !e.dir)
        .fold((0u64, 0u64), |(f, b), e| (f + 1, b + e.size));
    let n = students.len() as u64;
    let counters = Counters::new(
        Operation::Release,
        students.len(),
        nfiles * n,
        nbytes * n,
        progress,
    );
    counters.emit(None);
    let owner = (cfg.assignments.owner_uid, cfg.assignments.owner_gid);
    let allow_update = opts.update && cfg.assignments.allow_update;
    let reports: Vec<StudentReport> = students
        .par_iter()
        .map(|s| {
            let r = release_student(
                &layout,
                assignment,
                s,
                &src_root,
                &entries,
                owner,
                allow_update,
                dry,
                started,
                &counters,
            );
            counters.student_done(s);
            r
        })
        .collect();
    if !dry {
        let rec = match read_release_record(&layout, assignment) {
            Some(r) => ReleaseRecord {
                first_released_at: r.first_released_at,
                last_released_at: started,
                runs: r.runs + 1,
            },
            None => ReleaseRecord {
                first_released_at: started,
                last_released_at: started,
                runs: 1,
            },
        };
        let p = layout.release_record(assignment);
        let b = serde_json::to_vec_pretty(&rec)
            .map_err(|e| CourseError::io(&p, std::io::Error::other(e)))?;
        safefs::write_atomic(&p, &b, true).map_err(|e| CourseError::io(&p, e))?;
    }
    Ok(OpReport::new(
        Operation::Release,
        assignment,
        dry,
        started,
        reports,
    ))
}

#[allow(clippy::too_many_arguments)]
fn release_student(
    layout: &Layout,
    a: &str,
    s: &str,
    src_root: &Path,
    entries: &[SrcEntry],
    owner: (u32, u32),
    update: bool,
    dry: bool,
    now: DateTime<Utc>,
    counters: &Counters<'_>,
) -> StudentReport {
    let mut rep = StudentReport::new(s, if dry { "would-release" } else { "released" });
    let home = match safefs::open_home(&layout.home_template, s) {
        Ok(h) => h,
        Err(r) => {
            rep.outcome = "no-home".into();
            rep.note(r.item());
            return rep;
        }
    };
    let manifest = read_manifest(layout, a, s);
    let target = if dry {
        match safefs::open_subdir(home.as_fd(), OsStr::new(a)) {
            Ok(fd) => Some(fd),
            Err(DirRefusal::Missing) => None,
            Err(r) => {
                rep.outcome = "refused".into();
                rep.note(refused_assignment_dir(r, a));
                return rep;
            }
        }
    } else {
        match safefs::make_dir_at(home.as_fd(), OsStr::new(a), 0o755) {
            Ok((fd, created)) => {
                fix_owner(&fd, created, Some(owner));
                Some(fd)
            }
            Err(r) => {
                rep.outcome = "refused".into();
                rep.note(refused_assignment_dir(r, a));
                return rep;
            }
        }
    };
    let m = Mirror {
        src_root,
        entries,
        owner: Some(owner),
        file_mode: release_file_mode,
        dir_mode: 0o755,
        manifest: manifest.as_ref(),
        update,
        dry,
    };
    let Some(target) = target else {
        // Dry run, nothing there yet: everything would be new.
        for e in entries.iter().filter(|e| !e.dir) {
            rep.files += 1;
            rep.bytes += e.size;
            counters.file(e.size);
        }
        return rep;
    };
    let files = mirror(&m, target, &mut rep, counters);
    if !dry {
        if rep.files == 0 && rep.problems.is_empty() {
            rep.outcome = "up-to-date".into();
        }
        let man = Manifest {
            first_released_at: manifest
                .as_ref()
                .and_then(|x| x.first_released_at)
                .or(Some(now)),
            released_at: Some(now),
            files,
        };
        let p = layout.manifest(a, s);
        let written = serde_json::to_vec(&man)
            .map_err(std::io::Error::other)
            .and_then(|b| safefs::write_atomic(&p, &b, false));
        if let Err(e) = written {
            rep.note(Item::new(p.display().to_string(), ItemKind::WriteFailed).with(e.to_string()));
        }
    }
    rep
}

fn refused_assignment_dir(r: DirRefusal, a: &str) -> Item {
    let mut i = r.item();
    i.path = a.to_string();
    if i.kind == ItemKind::HomeSymlink {
        i.detail = Some(format!("<home>/{a} is a symlink: refused, nothing written"));
    }
    i
}

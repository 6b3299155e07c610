//! What an operation reports: progress events while it runs, and per-student
//! reports at the end. These are the `--json` types; they hold names, counts
//! and escaped paths, never a secret or a file's content.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    Release,
    Collect,
    Return,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Release => "release",
            Operation::Collect => "collect",
            Operation::Return => "return",
        }
    }
}

/// A progress event: enough for a gauge with an ETA.
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    pub operation: Operation,
    /// The student whose work was just finished, if any.
    pub student: Option<String>,
    pub students_done: usize,
    pub students_total: usize,
    pub files_done: u64,
    pub files_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
}

/// Something in a tree that was not simply copied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemKind {
    /// A symlink: never followed, never copied.
    Symlink,
    /// A FIFO, socket or device: never opened.
    Special,
    /// Larger than `max-file-mb`.
    OverFileCap,
    /// Would take the student past `max-student-mb`.
    OverStudentCap,
    /// Deeper than `max-depth`.
    TooDeep,
    /// Past `max-files`.
    TooManyFiles,
    /// Could not be read (permissions, I/O error).
    Unreadable,
    /// Release/return: the student already has something there; left as it is.
    Exists,
    /// Release --update: newer version available but the student changed the file.
    Modified,
    /// Release: newer version available; `--update` would replace it (unmodified).
    Outdated,
    /// The home (or a part of its path) is a symlink: refused, not followed.
    HomeSymlink,
    /// The home does not exist (never logged in?).
    HomeMissing,
    /// The home or assignment path is not a directory.
    NotADirectory,
    /// Writing our copy failed.
    WriteFailed,
    /// submitted/<s>/<a> exists but is not coursectl's symlink.
    Conflict,
    /// A name coursectl writes itself (the student's `timestamp.txt`): not taken.
    Reserved,
    /// Collected, but after the late window: kept, not made current.
    PastWindow,
}

impl ItemKind {
    /// Problems make the run "partial" (exit 3); the rest are notes.
    pub fn is_problem(&self) -> bool {
        !matches!(
            self,
            ItemKind::Symlink
                | ItemKind::Special
                | ItemKind::Exists
                | ItemKind::Outdated
                | ItemKind::Modified
                | ItemKind::Reserved
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// Path relative to the student's assignment dir, escaped (see `safefs::escape`).
    pub path: String,
    pub kind: ItemKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Item {
    pub fn new(path: impl Into<String>, kind: ItemKind) -> Self {
        Self {
            path: path.into(),
            kind,
            detail: None,
        }
    }
    pub fn with(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// What happened for one student.
#[derive(Debug, Clone, Serialize)]
pub struct StudentReport {
    pub student: String,
    /// released / up-to-date / collected / unchanged / missing / returned /
    /// no-feedback / refused / would-* (dry run).
    pub outcome: String,
    /// Files copied (or that would be).
    pub files: u64,
    pub bytes: u64,
    /// Collect: unchanged files hard-linked from the previous version.
    pub linked: u64,
    /// Release/return: files the student already had in the same version.
    pub up_to_date: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub late: Option<bool>,
    /// Notes: things skipped on purpose (symlinks, FIFOs, files left in place).
    pub skipped: Vec<Item>,
    /// Things that went wrong for this student (make the run exit 3).
    pub problems: Vec<Item>,
}

impl StudentReport {
    pub fn new(student: &str, outcome: &str) -> Self {
        Self {
            student: student.to_string(),
            outcome: outcome.to_string(),
            files: 0,
            bytes: 0,
            linked: 0,
            up_to_date: 0,
            version: None,
            submitted_at: None,
            late: None,
            skipped: Vec::new(),
            problems: Vec::new(),
        }
    }
    /// Files an item under notes or problems by its kind.
    pub fn note(&mut self, item: Item) {
        if item.kind.is_problem() {
            self.problems.push(item);
        } else {
            self.skipped.push(item);
        }
    }
}

/// A roster name that was refused, with where it came from.
#[derive(Debug, Clone, Serialize)]
pub struct RejectedName {
    pub name: String,
    pub source: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct OpReport {
    pub operation: Operation,
    pub assignment: String,
    pub dry_run: bool,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub students: Vec<StudentReport>,
    pub rejected_names: Vec<RejectedName>,
    pub totals: Totals,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub students: usize,
    pub with_problems: usize,
    pub missing: usize,
    pub files: u64,
    pub bytes: u64,
    pub linked: u64,
    pub skipped: usize,
    pub problems: usize,
}

impl OpReport {
    pub fn new(
        operation: Operation,
        assignment: &str,
        dry_run: bool,
        started_at: DateTime<Utc>,
        students: Vec<StudentReport>,
    ) -> Self {
        let mut t = Totals {
            students: students.len(),
            ..Totals::default()
        };
        for s in &students {
            t.files += s.files;
            t.bytes += s.bytes;
            t.linked += s.linked;
            t.skipped += s.skipped.len();
            t.problems += s.problems.len();
            if !s.problems.is_empty() {
                t.with_problems += 1;
            }
            if s.outcome.ends_with("missing") {
                t.missing += 1;
            }
        }
        Self {
            operation,
            assignment: assignment.to_string(),
            dry_run,
            started_at,
            finished_at: Utc::now(),
            students,
            rejected_names: Vec::new(),
            totals: t,
        }
    }

    /// Exit 3 material: a student had a problem or a roster name was refused.
    pub fn has_problems(&self) -> bool {
        self.totals.with_problems > 0 || !self.rejected_names.is_empty()
    }

    /// The exit code the headless command gives for this report.
    pub fn exit_code(&self) -> crate::exit::ExitCode {
        if self.has_problems() {
            crate::exit::ExitCode::Partial
        } else {
            crate::exit::ExitCode::Ok
        }
    }

    pub fn missing(&self) -> Vec<&str> {
        self.students
            .iter()
            .filter(|s| s.outcome.ends_with("missing"))
            .map(|s| s.student.as_str())
            .collect()
    }
}

/// Shared progress counters for an operation running over several threads.
pub struct Counters<'p> {
    pub operation: Operation,
    pub students_total: usize,
    pub files_total: u64,
    pub bytes_total: u64,
    pub students_done: std::sync::atomic::AtomicUsize,
    pub files_done: std::sync::atomic::AtomicU64,
    pub bytes_done: std::sync::atomic::AtomicU64,
    pub sink: &'p (dyn Fn(Progress) + Sync),
}

impl<'p> Counters<'p> {
    pub fn new(
        operation: Operation,
        students_total: usize,
        files_total: u64,
        bytes_total: u64,
        sink: &'p (dyn Fn(Progress) + Sync),
    ) -> Self {
        Self {
            operation,
            students_total,
            files_total,
            bytes_total,
            students_done: Default::default(),
            files_done: Default::default(),
            bytes_done: Default::default(),
            sink,
        }
    }

    /// Counts one file; emits an event every 256 files.
    pub fn file(&self, bytes: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.bytes_done.fetch_add(bytes, Relaxed);
        let n = self.files_done.fetch_add(1, Relaxed) + 1;
        if n % 256 == 0 {
            self.emit(None);
        }
    }

    pub fn student_done(&self, student: &str) {
        self.students_done
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.emit(Some(student));
    }

    pub fn emit(&self, student: Option<&str>) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.sink)(Progress {
            operation: self.operation,
            student: student.map(str::to_string),
            students_done: self.students_done.load(Relaxed),
            students_total: self.students_total,
            files_done: self.files_done.load(Relaxed),
            files_total: self.files_total.max(self.files_done.load(Relaxed)),
            bytes_done: self.bytes_done.load(Relaxed),
            bytes_total: self.bytes_total.max(self.bytes_done.load(Relaxed)),
        });
    }
}

/// Bytes for people: "512 B", "4.4 MB" (binary units, as du -h).
pub fn human_bytes(b: u64) -> String {
    const U: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

//! Pure decisions, no I/O: what a walk takes or skips, whether a submission
//! is late, what release does with a file the student may already have.
//! The engines call these for every entry, and `plan_*` uses the same calls,
//! so a dry run shows exactly what a run would do.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::AssignmentsConfig;

use super::report::ItemKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_file_bytes: u64,
    pub max_student_bytes: u64,
    /// Depth of the deepest directory entered; the assignment dir is depth 0.
    pub max_depth: u32,
    pub max_files: u64,
}

impl Limits {
    pub fn from_config(a: &AssignmentsConfig) -> Self {
        const MB: u64 = 1024 * 1024;
        Self {
            max_file_bytes: a.max_file_mb.saturating_mul(MB),
            max_student_bytes: a.max_student_mb.saturating_mul(MB),
            max_depth: a.max_depth,
            max_files: a.max_files,
        }
    }

    /// No caps (release and return copy the instructor's own trees).
    pub fn unlimited(max_depth: u32) -> Self {
        Self {
            max_file_bytes: u64::MAX,
            max_student_bytes: u64::MAX,
            max_depth,
            max_files: u64::MAX,
        }
    }
}

/// What one walk has taken so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Budget {
    pub files: u64,
    pub bytes: u64,
}

/// The type of a directory entry, from `lstat` (never followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Copy the file / enter the directory.
    Take,
    Skip(ItemKind),
}

/// Decides one entry. `depth` is the depth the entry itself has (a child of
/// the assignment dir has depth 1); `size` is the apparent size (`st_size`),
/// so a sparse file counts at its full length. Taking a file charges the budget.
pub fn decide(kind: Kind, size: u64, depth: u32, budget: &mut Budget, limits: &Limits) -> Decision {
    match kind {
        Kind::Symlink => Decision::Skip(ItemKind::Symlink),
        Kind::Fifo | Kind::Socket | Kind::CharDevice | Kind::BlockDevice | Kind::Unknown => {
            Decision::Skip(ItemKind::Special)
        }
        Kind::Dir if depth > limits.max_depth => Decision::Skip(ItemKind::TooDeep),
        Kind::Dir => Decision::Take,
        Kind::File => {
            if budget.files >= limits.max_files {
                return Decision::Skip(ItemKind::TooManyFiles);
            }
            if size > limits.max_file_bytes {
                return Decision::Skip(ItemKind::OverFileCap);
            }
            if budget.bytes.saturating_add(size) > limits.max_student_bytes {
                return Decision::Skip(ItemKind::OverStudentCap);
            }
            budget.files += 1;
            budget.bytes += size;
            Decision::Take
        }
    }
}

/// Where a submission stands against the assignment's due date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Lateness {
    OnTime,
    /// After `due`, within `late-window` (or no window set).
    Late,
    /// After `due + late-window`.
    PastWindow,
}

pub fn lateness(
    submitted_at: DateTime<Utc>,
    due: Option<DateTime<Utc>>,
    late_window: Option<Duration>,
) -> Lateness {
    let Some(due) = due else {
        return Lateness::OnTime;
    };
    if submitted_at <= due {
        return Lateness::OnTime;
    }
    match late_window.and_then(|w| chrono::Duration::from_std(w).ok()) {
        Some(w) if submitted_at > due + w => Lateness::PastWindow,
        _ => Lateness::Late,
    }
}

/// A file's identity as far as release is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFacts {
    pub size: u64,
    pub mtime_ns: i64,
}

/// What release does with one file of release/<a>/.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseAction {
    /// The student has nothing there: create it.
    Create,
    /// Same version the student already has; nothing to do.
    UpToDate,
    /// Unmodified since our last release and a newer version exists: replace (--update).
    Update,
    /// The student has a file of the same size that we did not record
    /// (e.g. a release interrupted before its manifest was written): compare
    /// contents; equal means up to date, otherwise leave it.
    CompareContent,
    /// Leave what the student has and report it.
    Leave(ItemKind),
}

/// Decides one released file.
/// - `home`: what is at that path in the home (`None` = nothing), from lstat;
/// - `recorded`: what we released there last time (manifest), if anything;
/// - `same_as_recorded`: the source's content hash equals the recorded hash.
pub fn decide_release(
    src_size: u64,
    home: Option<(Kind, FileFacts)>,
    recorded: Option<&FileFacts>,
    same_as_recorded: bool,
    update: bool,
) -> ReleaseAction {
    let Some((kind, facts)) = home else {
        return ReleaseAction::Create;
    };
    if kind != Kind::File {
        return ReleaseAction::Leave(ItemKind::Exists);
    }
    match recorded {
        // Unmodified since we released it (size and mtime as we left them).
        Some(r) if *r == facts => {
            if same_as_recorded {
                ReleaseAction::UpToDate
            } else if update {
                ReleaseAction::Update
            } else {
                ReleaseAction::Leave(ItemKind::Outdated)
            }
        }
        // The student changed it after our release: theirs wins.
        Some(_) if !same_as_recorded => ReleaseAction::Leave(ItemKind::Modified),
        Some(_) => ReleaseAction::Leave(ItemKind::Exists),
        None if facts.size == src_size => ReleaseAction::CompareContent,
        None => ReleaseAction::Leave(ItemKind::Exists),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const MB: u64 = 1024 * 1024;

    fn limits() -> Limits {
        Limits {
            max_file_bytes: 10 * MB,
            max_student_bytes: 25 * MB,
            max_depth: 3,
            max_files: 4,
        }
    }

    #[rstest]
    #[case(Kind::Symlink, 1, 1, Decision::Skip(ItemKind::Symlink))]
    #[case(Kind::Fifo, 0, 1, Decision::Skip(ItemKind::Special))]
    #[case(Kind::Socket, 0, 1, Decision::Skip(ItemKind::Special))]
    #[case(Kind::CharDevice, 0, 1, Decision::Skip(ItemKind::Special))]
    #[case(Kind::BlockDevice, 0, 1, Decision::Skip(ItemKind::Special))]
    #[case(Kind::Dir, 0, 3, Decision::Take)]
    #[case(Kind::Dir, 0, 4, Decision::Skip(ItemKind::TooDeep))]
    #[case(Kind::File, 10 * MB, 1, Decision::Take)]
    #[case(Kind::File, 10 * MB + 1, 1, Decision::Skip(ItemKind::OverFileCap))]
    #[case(Kind::File, 200 * MB, 1, Decision::Skip(ItemKind::OverFileCap))]
    #[case(Kind::File, 0, 9, Decision::Take)]
    fn single_entries(
        #[case] kind: Kind,
        #[case] size: u64,
        #[case] depth: u32,
        #[case] want: Decision,
    ) {
        let mut b = Budget::default();
        assert_eq!(decide(kind, size, depth, &mut b, &limits()), want);
        let taken = want == Decision::Take && kind == Kind::File;
        assert_eq!(b.files, u64::from(taken));
    }

    #[test]
    fn student_cap_skips_the_file_that_would_cross_it_but_takes_smaller_ones() {
        let l = limits();
        let mut b = Budget::default();
        assert_eq!(decide(Kind::File, 9 * MB, 1, &mut b, &l), Decision::Take);
        assert_eq!(decide(Kind::File, 9 * MB, 1, &mut b, &l), Decision::Take);
        assert_eq!(
            decide(Kind::File, 9 * MB, 1, &mut b, &l),
            Decision::Skip(ItemKind::OverStudentCap)
        );
        assert_eq!(decide(Kind::File, MB, 1, &mut b, &l), Decision::Take);
        assert_eq!(b.bytes, 19 * MB);
    }

    #[test]
    fn file_count_cap() {
        let l = limits();
        let mut b = Budget::default();
        for _ in 0..4 {
            assert_eq!(decide(Kind::File, 1, 1, &mut b, &l), Decision::Take);
        }
        assert_eq!(
            decide(Kind::File, 1, 1, &mut b, &l),
            Decision::Skip(ItemKind::TooManyFiles)
        );
        // Directories are not files: still entered.
        assert_eq!(decide(Kind::Dir, 0, 1, &mut b, &l), Decision::Take);
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[rstest]
    #[case("2026-01-01T11:00:00Z", None, None, Lateness::OnTime)]
    #[case(
        "2026-01-01T11:00:00Z",
        Some("2026-01-01T12:00:00Z"),
        None,
        Lateness::OnTime
    )]
    #[case(
        "2026-01-01T12:00:00Z",
        Some("2026-01-01T12:00:00Z"),
        None,
        Lateness::OnTime
    )]
    #[case(
        "2026-01-01T12:00:01Z",
        Some("2026-01-01T12:00:00Z"),
        None,
        Lateness::Late
    )]
    #[case(
        "2026-01-05T12:00:01Z",
        Some("2026-01-01T12:00:00Z"),
        None,
        Lateness::Late
    )]
    #[case(
        "2026-01-02T12:00:00Z",
        Some("2026-01-01T12:00:00Z"),
        Some(2),
        Lateness::Late
    )]
    #[case(
        "2026-01-03T12:00:01Z",
        Some("2026-01-01T12:00:00Z"),
        Some(2),
        Lateness::PastWindow
    )]
    fn lateness_table(
        #[case] at: &str,
        #[case] due: Option<&str>,
        #[case] window_days: Option<u64>,
        #[case] want: Lateness,
    ) {
        let w = window_days.map(|d| Duration::from_secs(d * 86400));
        assert_eq!(lateness(t(at), due.map(t), w), want);
    }

    fn f(size: u64, mtime: i64) -> FileFacts {
        FileFacts {
            size,
            mtime_ns: mtime,
        }
    }

    #[rstest]
    // Nothing in the home: create.
    #[case(None, None, false, false, ReleaseAction::Create)]
    // A directory or symlink where the file would go: leave it.
    #[case(Some((Kind::Dir, f(0, 0))), None, false, true, ReleaseAction::Leave(ItemKind::Exists))]
    #[case(Some((Kind::Symlink, f(4, 0))), Some(f(4, 0)), false, true, ReleaseAction::Leave(ItemKind::Exists))]
    // Unmodified since release, same version: nothing to do.
    #[case(Some((Kind::File, f(10, 5))), Some(f(10, 5)), true, false, ReleaseAction::UpToDate)]
    // Unmodified, newer version: update only when asked.
    #[case(Some((Kind::File, f(10, 5))), Some(f(10, 5)), false, true, ReleaseAction::Update)]
    #[case(Some((Kind::File, f(10, 5))), Some(f(10, 5)), false, false, ReleaseAction::Leave(ItemKind::Outdated))]
    // Modified by the student: never replaced, even with --update.
    #[case(Some((Kind::File, f(11, 9))), Some(f(10, 5)), false, true, ReleaseAction::Leave(ItemKind::Modified))]
    #[case(Some((Kind::File, f(10, 9))), Some(f(10, 5)), true, true, ReleaseAction::Leave(ItemKind::Exists))]
    // Not in the manifest: same size may be our interrupted release; compare.
    #[case(Some((Kind::File, f(10, 9))), None, false, true, ReleaseAction::CompareContent)]
    #[case(Some((Kind::File, f(11, 9))), None, false, true, ReleaseAction::Leave(ItemKind::Exists))]
    fn release_table(
        #[case] home: Option<(Kind, FileFacts)>,
        #[case] recorded: Option<FileFacts>,
        #[case] same: bool,
        #[case] update: bool,
        #[case] want: ReleaseAction,
    ) {
        assert_eq!(
            decide_release(10, home, recorded.as_ref(), same, update),
            want
        );
    }
}
